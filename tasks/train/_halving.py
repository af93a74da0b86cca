"""The previous default search (``family-halving``): scikit-learn's successive halving per family.

Kept for comparison with the default, budgeted search (``_budget.py``), which shares the first
three points below and searches all families' candidates together. What makes it cheaper than
the original randomised search (``random_search``), measured in ``bench/train.py``:

- each family's preprocessing (imputation, one-hot) is fitted **once** on the training rows and
  the candidates are searched on the encoded matrix, instead of refitting it in every fold;
- **successive halving** (``HalvingRandomSearchCV``, resource = rows, factor 3): every candidate
  first sees a third of the rows, only the best third goes on to all of them;
- from ``holdout_rows`` training rows on, candidates are scored on **one 20 % holdout** instead
  of K folds (at 10,000+ rows the holdout's noise is smaller than the gaps between candidates);
- gradient boosting **stops early** on its own validation split, also on small rungs;
- the linear family fits on a **sparse** copy of the one-hot matrix (same numbers, ~6x fewer);
- only the **winning family** is refitted on all rows (the original refits both);
- candidates run in ``n_jobs`` joblib workers, each limited to one BLAS/OpenMP thread by
  joblib, so workers and threads do not oversubscribe the cores.

The preprocessing is fitted on all training rows before the candidates are scored: its
statistics (medians, frequent levels) do not look at the target, so the candidates' ranking
is not biased towards any of them. A target encoder does look at it: its training rows are
encoded cross-fitted (``fit_transform``), so no row's encoding has seen its own target.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from driftgate.dataset.frames import group_keys
from driftgate.dataset.spec import DatasetSpec
from driftgate.policies import SearchSettings
from driftgate.tasks.train._folds import ForwardChain
from driftgate.tasks.train._pipeline import (
    Candidate,
    SearchResult,
    cv_folds,
    plain,
    scorer,
    search_spaces,
    split_xy,
)

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator
    from sklearn.model_selection import (
        BaseCrossValidator,
        BaseShuffleSplit,
        GroupKFold,
        KFold,
        StratifiedGroupKFold,
        StratifiedKFold,
    )
    from sklearn.pipeline import Pipeline

log = logging.getLogger(__name__)

HOLDOUT_SHARE = 0.2
FACTOR = 3
SPARSE_BELOW = 0.3  # density under which the linear family fits on a sparse matrix


def search_groups(train: pd.DataFrame, spec: DatasetSpec) -> np.ndarray | None:
    """Each training row's group for the search's splits (the spec's ``group_key``), None without one.

    Rows whose key is missing (live feedback carries none) are each a group of their own, as
    :func:`driftgate.dataset.frames.assign_splits` splits them by position. Fewer than two groups cannot
    be kept apart: None, and the splits are the plain ones.
    """
    keys = group_keys(train, spec)
    if keys is None:
        return None
    present = keys.notna().to_numpy()
    codes = np.empty(len(keys), dtype=np.int64)
    codes[present], _ = pd.factorize(keys[present].map(str))  # as assign_splits hashes them: 7 and "7" agree
    codes[~present] = -1 - np.arange(int((~present).sum()))
    if len(np.unique(codes)) < 2:
        log.warning("group key %r has fewer than 2 groups in the training rows: folds ignore it", spec.group_key)
        return None
    return codes


def kfolds(
    spec: DatasetSpec, cfg: SearchSettings, groups: np.ndarray | None = None
) -> KFold | StratifiedKFold | GroupKFold | StratifiedGroupKFold:
    """Shuffled K folds (stratified for classifiers); with ``groups``, no group in two folds.

    A dataset with a time order gets forward-chaining folds instead (:class:`ForwardChain`).
    """
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

    if spec.time_ordered:
        return ForwardChain(cfg.cv_folds, gap=cfg.gap_rows)  # type: ignore[return-value]
    if groups is None:
        return cv_folds(spec, cfg)
    folds = min(cfg.cv_folds, len(np.unique(groups)))
    if spec.task == "classification":
        return StratifiedGroupKFold(folds, shuffle=True, random_state=cfg.seed)
    return GroupKFold(folds, shuffle=True, random_state=cfg.seed)


def splitter(
    spec: DatasetSpec, rows: int, cfg: SearchSettings, groups: np.ndarray | None = None
) -> KFold | StratifiedKFold | BaseShuffleSplit | BaseCrossValidator:
    """One holdout split for many rows, K folds for few; with ``groups``, no group on both sides of a split.

    Grouped, the holdout is group-shuffled: stratified holdouts do not exist for groups, and at
    ``holdout_rows`` rows the classes balance on their own. Pass the same ``groups`` to the
    splitter's ``split`` (or to the search's ``fit``).
    """
    from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit, StratifiedShuffleSplit

    if rows < cfg.holdout_rows:
        return kfolds(spec, cfg, groups)
    if spec.time_ordered:  # the latest rows score, as the gate's do
        return ForwardChain(gap=cfg.gap_rows, holdout=HOLDOUT_SHARE)  # type: ignore[return-value]
    if groups is not None:
        return GroupShuffleSplit(n_splits=1, test_size=HOLDOUT_SHARE, random_state=cfg.seed)
    cls = StratifiedShuffleSplit if spec.task == "classification" else ShuffleSplit
    return cls(n_splits=1, test_size=HOLDOUT_SHARE, random_state=cfg.seed)


def search_splits(spec: DatasetSpec, train: pd.DataFrame, cfg: SearchSettings) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (training, validation) row positions the budgeted search scores candidates on.

    The same :func:`splitter` and :func:`search_groups` the other searches give their CV, so a
    patient's repeat visits never sit on both sides of a fold.
    """
    X, y = split_xy(train, spec)
    groups = search_groups(train, spec)
    return list(splitter(spec, len(X), cfg, groups).split(np.zeros(len(X)), y.to_numpy(), groups))


def encode_once(pipe: Pipeline, X: pd.DataFrame, y: pd.Series, family: str) -> tuple[Pipeline, Any]:
    """Fit the family's preprocessing once; the fitted step and the encoded rows (sparse for linear).

    ``fit_transform``, not ``fit`` then ``transform``: a target encoder's training rows are then
    encoded cross-fitted, as the pipeline's own ``fit`` would encode them.
    """
    from scipy import sparse
    from sklearn.base import clone

    pre = clone(pipe.named_steps["pre"])
    Xt = np.asarray(pre.fit_transform(X, y), dtype=np.float64)
    if family == "linear" and Xt.size and np.count_nonzero(Xt) / Xt.size < SPARSE_BELOW:
        return pre, sparse.csr_matrix(Xt)
    return pre, Xt


def _family_candidates(family: str, res: dict[str, Any]) -> list[Candidate]:
    """Each candidate once, with the score of the last rung it reached; rank 1 is the family's best."""
    last: dict[str, tuple[int, float, dict[str, Any]]] = {}
    for i, params in enumerate(res["params"]):
        clean = {k: plain(v) for k, v in params.items()}
        last[repr(sorted(clean.items()))] = (int(res["iter"][i]), float(res["mean_test_score"][i]), clean)
    ordered = sorted(last.values(), key=lambda t: (-t[0], -t[1]))
    return [Candidate(family, params, score, rank) for rank, (_, score, params) in enumerate(ordered, start=1)]


def family_halving_search(spec: DatasetSpec, train: pd.DataFrame, cfg: SearchSettings) -> SearchResult:
    """Successive halving per family on encoded rows; the best last-rung score wins and is refitted.

    Args:
        spec: the dataset spec.
        train: training rows.
        cfg: search settings (``n_iter`` candidates per family, ``n_jobs``, ``holdout_rows``, seed).

    Returns:
        The search's result; ``model`` is the spec's pipeline (``pre`` + ``model``) fitted on all rows.
    """
    from sklearn.base import clone
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401  (makes HalvingRandomSearchCV importable)
    from sklearn.model_selection import HalvingRandomSearchCV
    from sklearn.pipeline import Pipeline

    X, y = split_xy(train, spec)
    groups = search_groups(train, spec)
    split = splitter(spec, len(X), cfg, groups)
    candidates: list[Candidate] = []
    best: tuple[float, str, dict[str, Any], Pipeline, BaseEstimator, Any] | None = None
    for family, (pipe, space) in search_spaces(spec, cfg.seed, cfg.encoding).items():
        pre, Xt = encode_once(pipe, X, y, family)
        estimator = clone(pipe.named_steps["model"])
        if family == "gradient_boosting":
            estimator.set_params(early_stopping=True)  # also on the small rungs ('auto' is off below 10k rows)
        hs = HalvingRandomSearchCV(
            estimator,
            {k.removeprefix("model__"): v for k, v in space.items()},
            n_candidates=cfg.n_iter,
            factor=FACTOR,
            resource="n_samples",
            min_resources="exhaust",
            cv=split,
            scoring=scorer(spec, y),
            refit=False,
            error_score="raise",
            return_train_score=False,
            random_state=cfg.seed,
            n_jobs=cfg.n_jobs,
        )
        hs.fit(Xt, y, groups=groups)
        found = _family_candidates(family, hs.cv_results_)
        candidates += found
        top = found[0]
        log.info("%s: best %s = %.4f (halving, %s rungs)", family, spec.metric.name, top.cv_score, hs.n_iterations_)
        if best is None or top.cv_score > best[0]:
            best = (top.cv_score, family, top.params, pre, estimator, Xt)
    assert best is not None
    score, family, params, pre, estimator, Xt = best
    started = time.perf_counter()
    final = clone(estimator).set_params(**params).fit(Xt, y)
    model = Pipeline([("pre", pre), ("model", final)])
    return SearchResult(family, params, score, model, candidates, time.perf_counter() - started)
