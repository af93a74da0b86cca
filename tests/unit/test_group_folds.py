"""The search keeps a group key's rows together: no patient's visits on both sides of a fold or holdout.

The held-out test split already hashes each key to one side (driftgate.dataset.frames.assign_splits); these
tests check the splits the search itself scores candidates on, through :func:`search_splits`, the
function the budgeted search calls (the other searches build their splitter from the same parts).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from driftgate.dataset.spec import DatasetSpec, load_spec
from driftgate.policies import SearchSettings
from driftgate.tasks.train import search_splits
from tests.conftest import ROOT
from tests.models import training_rows


def with_group_key(name: str) -> DatasetSpec:
    raw = load_spec(name, ROOT / "datasets").model_dump()
    raw["group_key"] = "patient"
    return DatasetSpec.model_validate(raw)


def visits(spec: DatasetSpec, n: int, seed: int) -> pd.DataFrame:
    """Rows with a patient key: 1 to 6 visits per patient, a few rows without a key (live feedback)."""
    rows = training_rows(spec, seed=seed, n=n)
    rng = np.random.default_rng(seed)
    patients = np.repeat(np.arange(n), rng.integers(1, 7, size=n))[:n]
    rows["patient"] = pd.Series(patients, index=rows.index).map(lambda p: f"P{p}").astype(object)
    rows.loc[rows.index[:7], "patient"] = None
    return rows


@pytest.mark.parametrize("dataset", ["synthetic-classification", "synthetic-regression"])
@pytest.mark.parametrize(("n", "holdout_rows"), [(600, 10_000), (600, 300)], ids=["k-folds", "holdout"])
def test_no_group_sits_on_both_sides_of_a_search_split(dataset: str, n: int, holdout_rows: int) -> None:
    spec = with_group_key(dataset)
    rows = visits(spec, n, seed=4)
    cfg = SearchSettings(cv_folds=3, holdout_rows=holdout_rows)
    splits = search_splits(spec, rows, cfg)
    assert len(splits) == (3 if n < holdout_rows else 1)
    keys = rows["patient"].to_numpy()
    for train, valid in splits:
        assert not set(train) & set(valid)
        seen = {k for k in keys[train] if k is not None}
        assert seen.isdisjoint(k for k in keys[valid] if k is not None)
        assert len(valid) > 0


def test_without_a_group_key_the_folds_are_the_plain_stratified_ones() -> None:
    spec = load_spec("synthetic-classification", ROOT / "datasets")
    rows = visits(spec, 600, seed=5)  # the column is there, but the spec names no group key
    splits = search_splits(spec, rows, SearchSettings(cv_folds=3))
    shared = sum(
        len(set(rows["patient"].to_numpy()[t]) & set(rows["patient"].to_numpy()[v]) - {None}) for t, v in splits
    )
    assert shared > 0  # plain folds split patients: what the grouped ones exist to prevent


@pytest.mark.training  # a whole search per strategy
@pytest.mark.parametrize("strategy", ["halving", "family-halving", "random"])
def test_every_search_strategy_trains_with_a_group_key(strategy: str) -> None:
    from driftgate.tasks.train import search

    spec = with_group_key("synthetic-classification")
    cfg = SearchSettings(n_iter=2, cv_folds=3, n_jobs=1, strategy=strategy)  # type: ignore[arg-type]
    result = search(spec, visits(spec, 600, seed=6), cfg)
    assert np.isfinite(result.best_cv_score)
