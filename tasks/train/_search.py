"""The search entry point: budgeted halving (default), per-family halving or randomised search, local or on Dask."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pandas as pd

from driftgate.dataset.spec import DatasetSpec
from driftgate.policies import SearchSettings
from driftgate.tasks.train._budget import budgeted_search
from driftgate.tasks.train._halving import family_halving_search, kfolds, search_groups
from driftgate.tasks.train._pipeline import (
    STRATEGIES,
    Candidate,
    SearchResult,
    plain,
    scorer,
    search_spaces,
    split_xy,
)

if TYPE_CHECKING:
    from sklearn.model_selection import RandomizedSearchCV

log = logging.getLogger(__name__)


@contextlib.contextmanager
def _parallel(dask_address: str | None) -> Iterator[None]:
    """Run joblib's trials on a Dask cluster when one is configured, else locally."""
    if not dask_address:
        yield
        return
    import joblib
    from distributed import Client

    client = Client(dask_address)  # type: ignore[no-untyped-call]
    with client, joblib.parallel_backend("dask"):
        yield


def search(
    spec: DatasetSpec, train: pd.DataFrame, cfg: SearchSettings, *, first: tuple[str, dict[str, Any]] | None = None
) -> SearchResult:
    """Search every model family and refit the winner on all of ``train``.

    Args:
        spec: the dataset spec (task, features, primary metric).
        train: training rows (features and target).
        cfg: ``cfg.strategy`` picks the budgeted successive halving (``"halving"``), the previous
            per-family halving (``"family-halving"``) or the full randomised search (``"random"``);
            see docs/pipeline.md's "Training and the search".
        first: a warm start ``(family, params)``, tried first by the ``"halving"`` search (the
            champion's hyperparameters on a retrain); the other searches ignore it.

    Returns:
        The winning family, its parameters and score, the fitted pipeline and every candidate.
    """
    if cfg.strategy not in STRATEGIES:
        raise ValueError(f"search strategy must be one of {STRATEGIES}, not {cfg.strategy!r}")
    if cfg.strategy == "halving":
        with _parallel(cfg.dask_address):
            return budgeted_search(spec, train, cfg, first=first)
    if cfg.strategy == "family-halving":
        with _parallel(cfg.dask_address):
            return family_halving_search(spec, train, cfg)
    return random_search(spec, train, cfg)


def random_search(spec: DatasetSpec, train: pd.DataFrame, cfg: SearchSettings) -> SearchResult:
    """The original search: randomised search under CV for every family, each refitted; the best CV score wins."""
    from sklearn.model_selection import RandomizedSearchCV

    X, y = split_xy(train, spec)
    groups = search_groups(train, spec)
    folds = kfolds(spec, cfg, groups)
    candidates: list[Candidate] = []
    best: tuple[float, str, RandomizedSearchCV] | None = None
    with _parallel(cfg.dask_address):
        for family, (pipe, space) in search_spaces(spec, cfg.seed, cfg.encoding).items():
            rs = RandomizedSearchCV(
                pipe,
                space,
                n_iter=cfg.n_iter,
                cv=folds,
                scoring=scorer(spec, y),
                n_jobs=cfg.n_jobs,
                random_state=cfg.seed,
                refit=True,
                error_score="raise",
            )
            rs.fit(X, y, groups=groups)
            res = rs.cv_results_
            for i, params in enumerate(res["params"]):
                clean = {k.removeprefix("model__"): plain(v) for k, v in params.items()}
                candidates.append(
                    Candidate(family, clean, float(res["mean_test_score"][i]), int(res["rank_test_score"][i]))
                )
            log.info("%s: best CV %s = %.4f", family, spec.metric.name, rs.best_score_)
            if best is None or rs.best_score_ > best[0]:
                best = (float(rs.best_score_), family, rs)
    assert best is not None
    score, family, rs = best
    params = {k.removeprefix("model__"): plain(v) for k, v in rs.best_params_.items()}
    return SearchResult(family, params, score, rs.best_estimator_, candidates)
