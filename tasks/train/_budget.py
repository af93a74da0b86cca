"""The default search: successive halving of every family's candidates together, within a time budget.

- each family's preprocessing is fitted **once** on the training rows (``encode_once``; once for
  both gradient-boosting families, whose preprocessing is the same) and the candidates are scored
  on the encoded matrix;
- **one pool** of candidates across families: every candidate first sees a ninth (or so) of
  the rows, only the best third of the pool goes on to the next rung (factor 3), plus each
  family's best unless it is more than ``FAMILY_MARGIN`` (100 %) behind the rung's best (families
  learn at different speeds: a linear model often leads on few rows and trails on many);
  a family far behind after the first rung is dropped and never refitted;
- the **warm start** (the champion's family and parameters, when given) is the first candidate,
  and the families' candidates follow in turns, each family's estimator defaults first, so even
  a budget spent after a few fits has seen the champion's configuration and every family;
- the **budget** (``SearchSettings.budget_s``) bounds the search's wall time: once spent, no
  more candidates or rungs are started; the best candidate of the highest rung reached is
  then **always refitted** on all rows;
- from ``holdout_rows`` rows on, candidates are scored on one 20 % holdout, below on K folds;
  rungs grow a stratified prefix of each split's training rows, scored on the whole of its
  test rows, so scores within a rung compare;
- candidates of a rung run in ``n_jobs`` joblib workers (one thread each; on Dask when configured),
  each scored by :func:`driftgate.models.trials.score_candidate` (a light import for a new worker).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import joblib
import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from driftgate.dataset.spec import DatasetSpec
from driftgate.models.trials import score_candidate
from driftgate.policies import SearchSettings
from driftgate.tasks.train._halving import FACTOR, encode_once, search_splits
from driftgate.tasks.train._pipeline import (
    FAMILIES,
    Candidate,
    SearchResult,
    plain,
    scorer,
    search_spaces,
    split_xy,
)

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator
    from sklearn.pipeline import Pipeline

log = logging.getLogger(__name__)

MIN_RUNG_ROWS = 100  # the first rung never trains on fewer rows than this (or all there are)
# relative: a family's best this close to a rung's best goes on to the next rung. 1.0 keeps every family
# whose best is not twice as far off as the rung's best. Measured on the demo's first diamonds batch
# (5,000 rows): with 0.01 gradient boosting was dropped after the first rung (261 rows, where the linear
# model led) and the search's winner had a test RMSE of 1204; with 1.0 it reached the last rung and won
# at 678.4, in no more time (one candidate more per rung).
FAMILY_MARGIN = 1.0


@dataclass
class _Trial:
    family: str
    params: dict[str, Any]
    scores: list[float] = field(default_factory=list)  # one per rung reached


def _stratified_order(train_idx: np.ndarray, y: np.ndarray | None, seed: int) -> np.ndarray:
    """A shuffled order of ``train_idx`` whose every prefix holds the classes in proportion."""
    rng = np.random.default_rng(seed)
    order = train_idx[rng.permutation(len(train_idx))]
    if y is None:
        return order
    labels = y[order]
    position = np.zeros(len(order))
    for label in np.unique(labels):
        at = np.flatnonzero(labels == label)
        position[at] = (np.arange(len(at)) + 0.5) / len(at)
    return order[np.argsort(position, kind="stable")]


def _pool(
    spaces: dict[str, dict[str, Any]],
    n_iter: int,
    seed: int,
    first: tuple[str, dict[str, Any]] | None,
    defaults: dict[str, dict[str, Any]] | None = None,
) -> list[_Trial]:
    """Each family's candidates in turns, the warm start (if its family is searched) first.

    A family's first candidate is its estimator's own defaults (``defaults``), then sampled ones:
    on the demo's diamonds window scikit-learn's defaults (test RMSE 613) beat the best of four
    sampled settings (633).
    """
    from sklearn.model_selection import ParameterSampler

    drawn: dict[str, list[dict[str, Any]]] = {}
    for family, space in spaces.items():
        sampled = [{k: plain(v) for k, v in p.items()} for p in ParameterSampler(space, n_iter, random_state=seed)]
        start = [dict(defaults[family])] if defaults and family in defaults else []
        drawn[family] = [*start, *[p for p in sampled if p not in start]][:n_iter]
    families = list(drawn)
    if first is not None and first[0] in drawn:
        family, params = first
        drawn[family] = [dict(params), *[p for p in drawn[family] if p != params][: max(n_iter - 1, 0)]]
        families.remove(family)
        families.insert(0, family)
    pool: list[_Trial] = []
    for i in range(max(len(v) for v in drawn.values())):
        pool += [_Trial(f, drawn[f][i]) for f in families if i < len(drawn[f])]
    return pool


def _rung_rows(full: int, candidates: int) -> list[int]:
    """Training rows per rung: factor 3 apart, the last one all of them."""
    rungs = 1 if candidates <= 1 else math.ceil(math.log(candidates, FACTOR)) + 1
    floor = min(full, MIN_RUNG_ROWS)
    return [max(full // FACTOR ** (rungs - 1 - k), floor) for k in range(rungs)]


def _survivors(done: list[_Trial]) -> list[_Trial]:
    """The best third of a rung (best first), plus each family's best when close to the rung's best."""
    keep = done[: max(1, math.ceil(len(done) / FACTOR))]
    top = done[0].scores[-1]
    for family in dict.fromkeys(t.family for t in done):
        best = next(t for t in done if t.family == family)
        if best not in keep and best.scores[-1] >= top - FAMILY_MARGIN * abs(top):
            keep.append(best)
    return keep


def _ranked(trials: list[_Trial]) -> list[Candidate]:
    """Each tried candidate once with its last rung's score; rank 1 is its family's furthest and best."""
    out: list[Candidate] = []
    for family in dict.fromkeys(t.family for t in trials):
        mine = sorted((t for t in trials if t.family == family), key=lambda t: (-len(t.scores), -t.scores[-1]))
        out += [Candidate(family, t.params, t.scores[-1], rank) for rank, t in enumerate(mine, start=1)]
    return out


def budgeted_search(
    spec: DatasetSpec, train: pd.DataFrame, cfg: SearchSettings, *, first: tuple[str, dict[str, Any]] | None = None
) -> SearchResult:
    """Successive halving of all families' candidates within ``cfg.budget_s``; the best is refitted.

    Args:
        spec: the dataset spec.
        train: training rows.
        cfg: search settings (``n_iter`` candidates per family, ``budget_s``, ``n_jobs``, ``holdout_rows``).
        first: a warm start, ``(family, params)``: tried first (the champion's own hyperparameters).

    Returns:
        The search's result; ``model`` is the spec's pipeline (``pre`` + ``model``) fitted on all rows.
    """
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline

    started = time.perf_counter()
    deadline = started + cfg.budget_s if cfg.budget_s is not None else math.inf
    X, y_frame = split_xy(train, spec)
    y = y_frame.to_numpy()
    score = scorer(spec, y_frame)
    families = search_spaces(spec, cfg.seed, cfg.encoding, FAMILIES)
    encoded: dict[str, tuple[Pipeline, Any, BaseEstimator]] = {}
    shared: dict[tuple[str, str], tuple[Pipeline, Any]] = {}  # families with the same preprocessing share its rows
    for family, (pipe, _) in families.items():
        key = (joblib.hash(pipe.named_steps["pre"]), "linear" if family == "linear" else "dense")
        if key not in shared:
            shared[key] = encode_once(pipe, X, y_frame, family)
        pre, Xt = shared[key]
        estimator = clone(pipe.named_steps["model"])
        if family == "gradient_boosting":
            estimator.set_params(early_stopping=True)  # also on the small rungs ('auto' is off below 10k rows)
        encoded[family] = (pre, Xt, estimator)
    stratify = y if spec.task == "classification" else None
    folds = search_splits(spec, train, cfg)  # grouped when the spec has a group key
    splits = [(_stratified_order(tr, stratify, cfg.seed + i), te) for i, (tr, te) in enumerate(folds)]
    spaces = {f: {k.removeprefix("model__"): v for k, v in space.items()} for f, (_, space) in families.items()}
    defaults = {f: {k: plain(encoded[f][2].get_params()[k]) for k in space} for f, space in spaces.items()}
    pool = _pool(spaces, cfg.n_iter, cfg.seed, first, defaults)
    rows = _rung_rows(min(len(order) for order, _ in splits), len(pool))
    alive, spent = pool, False
    for rung, n_rows in enumerate(rows):
        done: list[_Trial] = []
        for at in range(0, len(alive), max(cfg.n_jobs, 1)):
            if done and time.perf_counter() >= deadline:
                spent = True
                break
            batch = alive[at : at + max(cfg.n_jobs, 1)]
            scores = Parallel(n_jobs=min(cfg.n_jobs, len(batch)))(
                delayed(score_candidate)(encoded[t.family][2], t.params, encoded[t.family][1], y, splits, n_rows, score)
                for t in batch
            )
            for trial, value in zip(batch, scores, strict=True):
                trial.scores.append(value)
            done += batch
        done.sort(key=lambda t: -t.scores[-1])
        log.info(
            "rung %s: %s candidates on %s rows, best %s = %.4f (%s)",
            rung,
            len(done),
            n_rows,
            spec.metric.name,
            done[0].scores[-1],
            done[0].family,
        )
        alive = _survivors(done)
        if spent or time.perf_counter() >= deadline:
            if rung < len(rows) - 1:
                log.warning("search budget of %.0fs spent after rung %s of %s", cfg.budget_s, rung + 1, len(rows))
            break
    best = alive[0]
    pre, Xt, estimator = encoded[best.family]
    refit_started = time.perf_counter()
    final = clone(estimator).set_params(**best.params).fit(Xt, y)
    refit = time.perf_counter() - refit_started
    tried = [t for t in pool if t.scores]
    return SearchResult(
        best.family, best.params, best.scores[-1], Pipeline([("pre", pre), ("model", final)]), _ranked(tried), refit
    )


def refit_configuration(
    spec: DatasetSpec, train: pd.DataFrame, cfg: SearchSettings, start: tuple[str, dict[str, Any]]
) -> SearchResult:
    """Fit one configuration (the champion's family and parameters) on all of ``train``, without a search.

    The pipeline is built as :func:`budgeted_search` builds its winner's (the family's preprocessing
    fitted once, gradient boosting with early stopping), so a refit and a searched model of the same
    configuration are the same model. No candidate is scored: the result's ``best_cv_score`` is NaN
    and ``candidates`` is empty (the run then logs no cross-validated score).

    Raises:
        ValueError: the family is not one the search knows.
    """
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline

    family, params = start
    families = search_spaces(spec, cfg.seed, cfg.encoding, FAMILIES)
    if family not in families:
        raise ValueError(f"cannot refit family {family!r}: the search knows {', '.join(families)}")
    X, y_frame = split_xy(train, spec)
    pipe = families[family][0]
    started = time.perf_counter()
    pre, Xt = encode_once(pipe, X, y_frame, family)
    estimator = clone(pipe.named_steps["model"])
    if family == "gradient_boosting":
        estimator.set_params(early_stopping=True)
    final = estimator.set_params(**params).fit(Xt, y_frame.to_numpy())
    refit = time.perf_counter() - started
    log.info("refitted %s %s on %s rows in %.1fs (no search)", family, params, len(X), refit)
    return SearchResult(family, dict(params), math.nan, Pipeline([("pre", pre), ("model", final)]), [], refit)
