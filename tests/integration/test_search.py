"""The model search: the halving search on a real Dask cluster, on a 3-class table, and the original kept."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftgate.dataset.frames import normalize
from driftgate.dataset.spec import DatasetSpec, Metric, load_spec
from driftgate.dataset.synthetic import make_frame
from driftgate.policies import SearchSettings
from driftgate.tasks.evaluate import evaluate
from driftgate.tasks.explain import explain_sample
from driftgate.tasks.train import FAMILIES, search, split_xy
from tests.conftest import ROOT
from tests.models import training_rows

SPEC = load_spec("synthetic-regression", ROOT / "datasets")


def three_class_rows(n: int, seed: int) -> tuple[DatasetSpec, pd.DataFrame]:
    """The synthetic regression table with its target cut into three classes."""
    base = load_spec("synthetic-classification", ROOT / "datasets")
    spec = base.model_copy(
        update={"name": "three", "positive_class": None, "metric": Metric(name="f1", direction="maximize")}
    )
    frame = make_frame("regression", n, seed=seed)
    frame["label"] = np.array(["low", "mid", "high"], dtype=object)[np.digitize(frame.pop("y"), [-1.0, 1.0])]
    return spec, normalize(frame[spec.columns], spec)


@pytest.mark.dask
def test_search_on_a_local_dask_cluster_picks_the_same_winner_as_joblib(driftgate_env: Path) -> None:
    from distributed import LocalCluster

    train = training_rows(SPEC, seed=5, n=800)
    cfg = SearchSettings(n_iter=3, cv_folds=2, seed=7)
    assert cfg.strategy == "halving"  # the default search is the one sent to the cluster
    local = search(SPEC, train, cfg)
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None, processes=True) as cluster:
        remote = search(SPEC, train, replace(cfg, dask_address=cluster.scheduler_address))
    assert remote.best_family == local.best_family
    assert remote.best_params == local.best_params
    assert remote.best_cv_score == pytest.approx(local.best_cv_score, rel=1e-9)
    assert [c.cv_score for c in remote.candidates] == pytest.approx([c.cv_score for c in local.candidates], rel=1e-9)
    assert len(local.candidates) == len(FAMILIES) * 3  # every candidate of every family is reported once


@pytest.mark.training  # a halving search over every family
def test_halving_search_on_three_classes_scores_explains_and_warns_about_nothing() -> None:
    spec, rows = three_class_rows(3000, seed=1)
    train, test = rows.iloc[:2400], rows.iloc[2400:]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no pos_label / convergence / future warnings on 3 classes
        result = search(spec, train, SearchSettings(n_iter=2, cv_folds=2, n_jobs=1, holdout_rows=1000))
        X, y = split_xy(test, spec)
        metrics = evaluate(result.model, spec, X, y)
    assert sorted(result.model.classes_) == ["high", "low", "mid"]
    assert metrics["f1"] > 0.6  # a 3-class problem the features explain well; chance is ~0.33
    assert result.best_cv_score == max(c.cv_score for c in result.candidates if c.rank == 1)
    ex = explain_sample(result.model, spec, test, max_rows=50, max_seconds=30)
    assert ex.values.shape == (50, len(spec.features))


@pytest.mark.training  # a random search over every family
def test_the_original_random_search_stays_reachable_and_unknown_strategies_are_refused() -> None:
    train = training_rows(SPEC, seed=3, n=400)
    original = search(SPEC, train, SearchSettings(n_iter=2, cv_folds=2, n_jobs=1, strategy="random"))
    assert {c.family for c in original.candidates} == {"gradient_boosting", "linear"}
    with pytest.raises(ValueError, match="search strategy"):
        search(SPEC, train, SearchSettings(strategy="grid"))
