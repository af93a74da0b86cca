"""Drift of the model's reasons: a batch's mean-|SHAP| ranking of the features against the version's own.

When a version is explained (stage ``explain``) its mean |SHAP| per feature is logged with it
(``explanations/importance.json`` in its MLflow run, read back by :func:`driftgate.registry.client.importance`).
On each batch the champion explains a seeded sample of the batch's rows the same way, and the batch's
ranking is scored by NDCG against the version's: the version's mean |SHAP| values are the graded
relevance, so swapping two features of nearly equal weight costs little, and the feature the model
leaned on most falling down the ranking costs much. Inputs whose marginals keep still can still move
the reasons (a relation between columns broken, a feature the trees split on moved into a region where
another decides), which is what this view sees and the per-column tests do not.

A batch's reasons drifted when the NDCG falls below ``attribution_ndcg_min`` (0.9). The SHAP sample is
``attribution_rows`` rows (500: TreeSHAP on a gradient-boosting pipeline takes about 0.1 s for them).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from driftgate.dataset.spec import DatasetSpec
from driftgate.policies import DriftPolicy

log = logging.getLogger(__name__)

SHOWN = 5  # features of each ranking a report shows
SECONDS = 10.0
"""The SHAP sample's time budget per batch: a tree model explains its 500 rows in well under a second;
a model SHAP explains row by row (a cluster-trained LightGBM pipeline: a few rows a second) explains
what fits, and the ranking is compared on those rows (the report says how many)."""


def ndcg(relevance: dict[str, float], ranking: list[str], k: int | None = None) -> float:
    """Normalized discounted cumulative gain of ``ranking`` (most important first) under graded ``relevance``.

    DCG = sum over positions i (from 1) of rel(ranking[i]) / log2(i + 1), over the first ``k``
    positions (all by default); divided by the DCG of the ideal ranking (``relevance`` sorted). Features
    missing from ``relevance`` and negative values count as 0. 1.0 when nothing is relevant.

    Args:
        relevance: each feature's relevance (the version's mean |SHAP|).
        ranking: the features in the order judged.
        k: positions counted (None: every position).
    """
    gains = [max(float(relevance.get(f, 0.0)), 0.0) for f in ranking]
    ideal = sorted((max(float(v), 0.0) for v in relevance.values()), reverse=True)
    depth = len(ranking) if k is None else k
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains[:depth]))
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal[:depth]))
    return dcg / idcg if idcg > 0 else 1.0


@dataclass(frozen=True)
class AttributionDrift:
    """The batch's mean-|SHAP| ranking against the version's: NDCG, the bound, the rankings' heads."""

    ndcg: float
    threshold: float
    drifted: bool
    rows: int  # batch rows explained
    version_top: list[str] = field(default_factory=list)  # the version's most important features, in order
    batch_top: list[str] = field(default_factory=list)  # the batch's
    batch_importance: dict[str, float] = field(default_factory=dict)  # mean |SHAP| per feature on the batch
    note: str = ""  # why no verdict was reached (no explanation of the version, no rows), else empty


def compare_rankings(
    version: dict[str, float], batch: dict[str, float], *, rows: int, threshold: float
) -> AttributionDrift:
    """The verdict on two importance maps (pure): NDCG of the batch's order under the version's relevance."""
    order = sorted(batch, key=lambda f: -batch[f])
    score = ndcg(version, order)
    return AttributionDrift(
        ndcg=score,
        threshold=threshold,
        drifted=score < threshold,
        rows=rows,
        version_top=sorted(version, key=lambda f: -version[f])[:SHOWN],
        batch_top=order[:SHOWN],
        batch_importance={f: round(float(batch[f]), 6) for f in order},
    )


def attribution_drift(
    model: Any,
    spec: DatasetSpec,
    current: pd.DataFrame,
    importance: dict[str, float] | None,
    policy: DriftPolicy,
) -> AttributionDrift:
    """Explain a sample of ``current`` with ``model`` and compare its ranking with the version's ``importance``.

    Args:
        model: the champion's fitted pipeline.
        spec: the dataset spec (its features).
        current: the batch's rows.
        importance: the version's mean |SHAP| per feature, as logged with it (None: it was never explained).
        policy: the sample's size and seed, the NDCG bound.
    """
    from driftgate.tasks.explain import explain_sample

    if not importance:
        return AttributionDrift(
            1.0, policy.attribution_ndcg_min, False, 0, note="the version has no explanation to compare with"
        )
    if current.empty:
        return AttributionDrift(1.0, policy.attribution_ndcg_min, False, 0, note="no rows to explain")
    ex = explain_sample(model, spec, current, policy.attribution_rows, SECONDS, policy.multivariate_seed)
    return compare_rankings(importance, ex.importance(), rows=len(ex.values), threshold=policy.attribution_ndcg_min)


def describe_attribution(ad: AttributionDrift) -> str:
    """The verdict in words: NDCG, the bound, the two rankings' heads."""
    if ad.note:
        return ad.note
    return (
        f"the batch's mean-|SHAP| ranking scores NDCG {ad.ndcg:.3f} against the version's "
        f"({'below' if ad.drifted else 'at or above'} {ad.threshold}; {ad.rows} rows explained): "
        f"version {', '.join(ad.version_top)}; batch {', '.join(ad.batch_top)}"
    )
