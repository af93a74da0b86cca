"""Drift of a batch against the champion's training data, and the retraining decision.

A feature drifts only when an effect size passes its threshold *and* a two-sample test is
significant: on 15,000-row batches tests alone flag differences nobody cares about, and
effect sizes alone flag noise on small batches.

Defaults and why:
- numeric: Wasserstein-1 distance divided by the reference's standard deviation >= 0.1
  (Evidently's default; a 0.1 sigma move of the whole distribution) and KS p < alpha.
- categorical: Jensen-Shannon distance (base 2) >= 0.05 and chi-square p < alpha. A 10-point
  move of one category's share gives 0.085-0.12, so Evidently's 0.1 would miss half of them;
  sampling noise at 15,000 rows is ~0.015. PSI is reported beside it, read with the usual
  convention (< 0.1 stable, 0.1-0.25 moderate, > 0.25 major).
- missing values: the missing rate moves by >= 5 points and a two-proportion z-test agrees.
- many features, one family: the features' distribution tests are adjusted together
  (Benjamini-Hochberg) and a feature's test passes when its adjusted p-value is below
  ``fdr_q`` (0.05): among the features flagged, at most 5 % are expected to be false discoveries,
  and on a batch with no drift at all the chance that any feature's test passes is at most 5 %,
  however many features the table has. The target's test and the missing-value tests are single
  tests at alpha = 0.01.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from driftgate.policies import DriftPolicy

Kind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class FeatureDrift:
    """One column's verdict, with what decided it."""

    column: str
    kind: Kind
    statistic: str
    value: float
    threshold: float
    p_value: float
    drifted: bool
    missing_ref: float = 0.0
    missing_cur: float = 0.0
    missing_drifted: bool = False
    psi: float | None = None
    histogram: dict[str, list[Any]] = field(default_factory=dict)
    p_adjusted: float | None = None  # Benjamini-Hochberg over the report's features (None: a single test)

    @property
    def any_drift(self) -> bool:
        return self.drifted or self.missing_drifted


# --- per-column tests --------------------------------------------------------------------


def benjamini_hochberg(p_values: list[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values, in the order given (a test passes at FDR q when <= q)."""
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return []
    order = np.argsort(p)
    ranked = p[order] * p.size / np.arange(1, p.size + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1.0)
    out = np.empty_like(p)
    out[order] = adjusted
    return out.tolist()


def adjust_for_many(features: list[FeatureDrift], fdr_q: float) -> list[FeatureDrift]:
    """The features' verdicts, their p-values adjusted together: drifted = effect >= threshold and adjusted p < q."""
    adjusted = benjamini_hochberg([f.p_value for f in features])
    return [
        replace(f, p_adjusted=a, drifted=f.value >= f.threshold and a < fdr_q)
        for f, a in zip(features, adjusted, strict=True)
    ]


def _ks_pvalue(d: float, n_a: int, n_b: int) -> float:
    """Asymptotic two-sample KS p-value with Stephens' small-sample correction."""
    from scipy import special

    en = np.sqrt(n_a * n_b / (n_a + n_b))
    return float(special.kolmogorov((en + 0.12 + 0.11 / en) * d))


def ks_and_wasserstein(ref_sorted: np.ndarray, cur_sorted: np.ndarray) -> tuple[float, float]:
    """KS statistic and Wasserstein-1 distance of two sorted samples, in one O(n) merge."""
    n_a, n_b = len(ref_sorted), len(cur_sorted)
    merged = np.concatenate([ref_sorted, cur_sorted])
    order = np.argsort(merged, kind="stable")  # two sorted runs: timsort merges them in O(n)
    values = merged[order]
    from_ref = order < n_a
    cdf_a = np.cumsum(from_ref) / n_a
    cdf_b = np.cumsum(~from_ref) / n_b
    last_of_tie = np.append(values[1:] != values[:-1], True)  # evaluate CDFs after each tie
    gap = np.abs(cdf_a - cdf_b)[last_of_tie]
    steps = np.diff(values[last_of_tie])
    return float(gap.max()), float(np.sum(gap[:-1] * steps))


def sorted_histogram(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``np.histogram(values, edges)[0]`` of already sorted ``values``, without sorting them again.

    numpy's histogram over given edges sorts its input, then counts with ``searchsorted`` (the last
    bin closed); the columns here are sorted once for the KS test, so only the count is left.
    """
    cuts = np.concatenate([values.searchsorted(edges[:-1], "left"), values.searchsorted(edges[-1:], "right")])
    return np.diff(cuts)


def numeric_drift(
    column: str, ref: np.ndarray, cur: np.ndarray, policy: DriftPolicy, *, ref_sorted: np.ndarray | None = None
) -> FeatureDrift:
    """Wasserstein / reference std (effect) and KS (test) of a numeric column."""
    ref_ok = np.sort(ref[~np.isnan(ref)]) if ref_sorted is None else ref_sorted
    cur_ok = np.sort(cur[~np.isnan(cur)])
    miss_ref, miss_cur = 1 - len(ref_ok) / max(len(ref), 1), 1 - len(cur_ok) / max(len(cur), 1)
    if len(ref_ok) == 0 or len(cur_ok) == 0:
        value, p = float("inf"), 0.0
    else:
        d, w = ks_and_wasserstein(ref_ok, cur_ok)
        scale = float(np.std(ref_ok)) or 1.0
        value, p = w / scale, _ks_pvalue(d, len(ref_ok), len(cur_ok))
    lo, hi = np.quantile(ref_ok, [0.01, 0.99]) if len(ref_ok) else (0.0, 1.0)
    edges = np.linspace(lo, hi if hi > lo else lo + 1, 21)
    hist = {
        "edges": [round(float(e), 4) for e in edges],
        "reference": (sorted_histogram(np.clip(ref_ok, lo, hi), edges) / max(len(ref_ok), 1)).round(4).tolist(),
        "current": (sorted_histogram(np.clip(cur_ok, lo, hi), edges) / max(len(cur_ok), 1)).round(4).tolist(),
    }
    return FeatureDrift(
        column,
        "numeric",
        "wasserstein/std",
        value,
        policy.numeric_threshold,
        p,
        drifted=value >= policy.numeric_threshold and p < policy.alpha,
        missing_ref=miss_ref,
        missing_cur=miss_cur,
        missing_drifted=_missing_drift(miss_ref, miss_cur, len(ref), len(cur), policy),
        histogram=hist,
    )


def categorical_drift(column: str, ref: pd.Series, cur: pd.Series, policy: DriftPolicy) -> FeatureDrift:
    """Jensen-Shannon distance (effect) and chi-square (test) of category frequencies."""
    from scipy import stats
    from scipy.spatial.distance import jensenshannon

    ref_counts = ref.value_counts(dropna=True)
    cur_counts = cur.value_counts(dropna=True)
    levels = sorted(set(ref_counts.index) | set(cur_counts.index), key=str)  # unseen ones too
    a = ref_counts.reindex(levels, fill_value=0).to_numpy(dtype=float)
    b = cur_counts.reindex(levels, fill_value=0).to_numpy(dtype=float)
    miss_ref, miss_cur = float(ref.isna().mean()) if len(ref) else 0.0, float(cur.isna().mean()) if len(cur) else 0.0
    if a.sum() == 0 or b.sum() == 0:
        value, p, psi = float("inf"), 0.0, float("inf")
    else:
        pa, pb = a / a.sum(), b / b.sum()
        value = float(jensenshannon(pa, pb, base=2))
        eps = 1e-4
        psi = float(np.sum((pb - pa) * np.log((pb + eps) / (pa + eps))))
        table = np.vstack([a, b])
        table = table[:, table.sum(axis=0) > 0]
        p = float(stats.chi2_contingency(table)[1]) if table.shape[1] > 1 else 1.0
    hist = {
        "levels": [str(x) for x in levels],
        "reference": (a / max(a.sum(), 1)).round(4).tolist(),
        "current": (b / max(b.sum(), 1)).round(4).tolist(),
    }
    return FeatureDrift(
        column,
        "categorical",
        "jensen-shannon",
        value,
        policy.categorical_threshold,
        p,
        drifted=value >= policy.categorical_threshold and p < policy.alpha,
        missing_ref=miss_ref,
        missing_cur=miss_cur,
        missing_drifted=_missing_drift(miss_ref, miss_cur, len(ref), len(cur), policy),
        psi=psi,
        histogram=hist,
    )


def _missing_drift(p_a: float, p_b: float, n_a: int, n_b: int, policy: DriftPolicy) -> bool:
    from scipy import stats

    if abs(p_a - p_b) < policy.missing_threshold or n_a == 0 or n_b == 0:
        return False
    pooled = (p_a * n_a + p_b * n_b) / (n_a + n_b)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    return bool(se == 0 or 2 * stats.norm.sf(abs(p_a - p_b) / se) < policy.alpha)
