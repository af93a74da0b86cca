"""Drift of the joint distribution: a domain classifier told to separate reference rows from current rows.

Per-column tests see each marginal; a batch whose columns keep their marginals but lose their
relation (one column shuffled among its rows, a correlation that flips) passes all of them. A
gradient-boosting classifier that learns to tell the two sets apart sees the joint distribution.

How it decides, and how sure it is:
- a seeded sample of at most ``multivariate_rows`` rows per side (the cost is then fixed, whatever
  the batch's size);
- out-of-fold scores over ``multivariate_folds`` stratified folds (each row is scored by a model
  that never saw it);
- a one-sided Mann-Whitney U test of current vs reference scores in each held-out fold (tie-corrected
  normal approximation), the folds' p-values combined by Bonferroni (k times the smallest). Within a
  fold the scores come from one model that never saw those rows, so under no drift the fold's test
  is exact. The folds' tests are not independent, though (each fold's rows trained the others'
  models): summing their U statistics as if they were (van Elteren) alarmed on 12 % of 100
  stationary pairs at 5 % and 4 % at 1 %; Bonferroni holds under any dependence (6 % and 2 % on
  the same pairs, within their binomial noise). The p-value is compared with ``multivariate_alpha``;
- an effect size beside the test, as for the per-column tests: the out-of-fold AUROC must reach
  ``multivariate_auroc`` (0.55; a 0.1 sigma move of one normal column, the per-column threshold, is
  an AUROC of 0.53), else large samples flag differences nobody cares about;
- the columns that tell the sets apart: each column's permutation importance, the fall of the
  held-out fold's AUROC when that column is shuffled in it, averaged over the folds (a column
  separates from a mean fall of 0.01 with a fall in every fold); measured only when the separation
  is significant.

The retrain decision weighs the separating columns by the champion's importance, as it weighs
drifted columns: a joint drift carried by columns the model does not use retrains nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from driftgate.policies import DriftPolicy

TOP_FEATURES = 5
MAX_LEVELS = 250  # HistGradientBoosting's categorical limit is 255 bins; rarer levels share one code
SEPARATING_DROP = 0.01  # mean AUROC lost when a column is shuffled, from which it separates the sets
MIN_ROWS = 50  # per side: below it the classifier's verdict is not worth a fit


@dataclass(frozen=True)
class MultivariateDrift:
    """The domain classifier's verdict: AUROC of its out-of-fold scores, the test's p-value, and why."""

    auroc: float
    p_value: float
    drifted: bool
    threshold: float
    alpha: float
    reference_rows: int  # rows of the sample, per side
    current_rows: int
    folds: int
    # column, AUROC lost when it is shuffled; measured only when the separation is significant
    top_features: list[tuple[str, float]] = field(default_factory=list)
    # the columns that tell the sets apart, strongest first: shuffling one costs >= 0.01 AUROC on
    # average and some AUROC in every fold
    separating: list[str] = field(default_factory=list)
    note: str = ""  # why no verdict was reached (too few rows), else empty


def _sample(frame: pd.DataFrame, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(frame) <= rows:
        return frame
    return frame.iloc[np.sort(rng.choice(len(frame), size=rows, replace=False))]


def _matrix(reference: pd.DataFrame, current: pd.DataFrame, numeric: list[str], categorical: list[str]) -> np.ndarray:
    """Both sides as one float matrix: numeric as is, categoricals as codes shared by both sides (NaN: missing)."""
    both = pd.concat([reference, current], ignore_index=True)
    columns = [pd.to_numeric(both[c], errors="coerce").to_numpy(dtype=float) for c in numeric]
    for c in categorical:
        values = both[c].astype("object").where(both[c].notna())
        frequent = values.value_counts().index[:MAX_LEVELS]
        index = {level: float(i) for i, level in enumerate(frequent)}
        codes = np.array(values.map(index), dtype=float)  # a copy; NaN: missing, or a rare level
        codes[np.isnan(codes) & values.notna().to_numpy()] = MAX_LEVELS  # the rare levels, together
        columns.append(codes)
    return np.column_stack(columns) if columns else np.empty((len(both), 0))


def _u_and_variance(ref_scores: np.ndarray, cur_scores: np.ndarray) -> tuple[float, float]:
    """Mann-Whitney U of current over reference scores and its tie-corrected variance under no drift."""
    from scipy import stats

    n_ref, n_cur = len(ref_scores), len(cur_scores)
    ranks = stats.rankdata(np.concatenate([ref_scores, cur_scores]))
    u = float(ranks[n_ref:].sum() - n_cur * (n_cur + 1) / 2)
    n = n_ref + n_cur
    _, ties = np.unique(ranks, return_counts=True)
    variance = n_ref * n_cur / 12 * ((n + 1) - float(np.sum(ties**3 - ties)) / (n * (n - 1)))
    return u, variance


def _auroc(y: np.ndarray, scores: np.ndarray) -> float:
    u, _ = _u_and_variance(scores[y == 0], scores[y == 1])
    return u / max(int((y == 0).sum()) * int((y == 1).sum()), 1)


def domain_classifier_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    numeric: list[str],
    categorical: list[str],
    policy: DriftPolicy,
) -> MultivariateDrift:
    """Can a classifier tell ``current`` rows from ``reference`` rows? Out-of-fold AUROC and its test.

    Args:
        reference: the reference rows (the champion's training rows).
        current: the rows judged (a batch, live inputs).
        numeric: numeric columns compared (the spec's drift features).
        categorical: categorical columns compared.
        policy: the sample's size and seed, folds, the test's alpha and the AUROC threshold.

    Returns:
        The verdict; ``drifted`` is False with a ``note`` when a side has fewer than 50 rows.
    """
    from scipy import stats
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(policy.multivariate_seed)
    ref = _sample(reference, policy.multivariate_rows, rng)
    cur = _sample(current, policy.multivariate_rows, rng)
    folds = policy.multivariate_folds
    if min(len(ref), len(cur)) < max(MIN_ROWS, folds):
        return MultivariateDrift(
            auroc=0.5,
            p_value=1.0,
            drifted=False,
            threshold=policy.multivariate_auroc,
            alpha=policy.multivariate_alpha,
            reference_rows=len(ref),
            current_rows=len(cur),
            folds=folds,
            note=f"too few rows for a domain classifier: {len(ref)} reference, {len(cur)} current ({MIN_ROWS} a side)",
        )
    columns = [*numeric, *categorical]
    x = _matrix(ref, cur, numeric, categorical)
    y = np.r_[np.zeros(len(ref), dtype=int), np.ones(len(cur), dtype=int)]
    is_categorical = np.r_[np.zeros(len(numeric), dtype=bool), np.ones(len(categorical), dtype=bool)]
    u_sum = pairs = 0.0
    fold_p: list[float] = []
    fitted = []
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=policy.multivariate_seed)
    # one thread: OpenMP over every core is ten times slower on a machine that is busy with other work
    with threadpool_limits(1):
        for train, held in split.split(x, y):
            model = HistGradientBoostingClassifier(
                max_iter=100,
                max_leaf_nodes=15,
                early_stopping=False,
                categorical_features=is_categorical if is_categorical.any() else None,
                random_state=policy.multivariate_seed,
            ).fit(x[train], y[train])
            scores = model.predict_proba(x[held])[:, 1]
            u, variance = _u_and_variance(scores[y[held] == 0], scores[y[held] == 1])
            fold_pairs = int((y[held] == 0).sum()) * int((y[held] == 1).sum())
            fold_p.append(float(stats.norm.sf((u - fold_pairs / 2) / np.sqrt(variance))) if variance > 0 else 1.0)
            u_sum, pairs = u_sum + u, pairs + fold_pairs
            fitted.append((model, held))
        auroc = u_sum / pairs  # the folds' AUROCs, weighted by their pairs of rows
        p_value = min(1.0, folds * min(fold_p))  # Bonferroni: the folds' tests are dependent
        # which columns separate the sets is asked only of a significant separation (it costs a predict per column)
        top: list[tuple[str, float]] = []
        separating: list[str] = []
        if p_value < policy.multivariate_alpha:
            top, separating = _permutation_importance(fitted, x, y, columns, rng)
    return MultivariateDrift(
        auroc=float(auroc),
        p_value=p_value,
        drifted=auroc >= policy.multivariate_auroc and p_value < policy.multivariate_alpha,
        threshold=policy.multivariate_auroc,
        alpha=policy.multivariate_alpha,
        reference_rows=len(ref),
        current_rows=len(cur),
        folds=folds,
        top_features=top,
        separating=separating,
    )


def _permutation_importance(
    fitted: list[tuple[Any, np.ndarray]], x: np.ndarray, y: np.ndarray, columns: list[str], rng: np.random.Generator
) -> tuple[list[tuple[str, float]], list[str]]:
    """On each held-out fold, the AUROC lost when one column is shuffled: the strongest columns with
    their mean loss, and the columns that separate the sets (a mean loss >= 0.01, a loss in every
    fold: on 400-row folds one fold's loss of an unused column reaches 0.01 by chance)."""
    drops = np.zeros((len(fitted), len(columns)))
    for k, (model, held) in enumerate(fitted):
        fold_auroc = _auroc(y[held], model.predict_proba(x[held])[:, 1])
        for j in range(len(columns)):
            shuffled = x[held].copy()
            shuffled[:, j] = rng.permutation(shuffled[:, j])
            drops[k, j] = fold_auroc - _auroc(y[held], model.predict_proba(shuffled)[:, 1])
    mean = drops.mean(axis=0)
    order = np.argsort(-mean, kind="stable")
    separating = [columns[j] for j in order if mean[j] >= SEPARATING_DROP and (drops[:, j] > 0).all()]
    # the five strongest, and every column past them that still separates
    top = [
        (columns[j], round(float(mean[j]), 4))
        for i, j in enumerate(order)
        if i < TOP_FEATURES or columns[j] in separating
    ]
    return top, separating


def describe_multivariate(mv: MultivariateDrift) -> str:
    """The verdict in words: AUROC, threshold, p-value, rows, and the columns that separate the sets."""
    if mv.note:
        return mv.note
    apart = f"; columns that tell them apart: {', '.join(mv.separating)}" if mv.separating else ""
    return (
        f"a domain classifier tells the current rows from the reference at AUROC {mv.auroc:.3f} "
        f"(drift from {mv.threshold}, p={mv.p_value:.2g}; {mv.reference_rows}+{mv.current_rows} rows, "
        f"{mv.folds} folds){apart}"
    )
