"""Realized performance: the primary metric of logged predictions once their labels arrived.

Scores the outputs the service stored (probabilities or values), never a re-scoring, so the
number is exactly what callers were told. Every value carries a bootstrap interval; a decision
made on too few labelled rows says so instead of guessing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from driftgate.dataset.spec import DatasetSpec
from driftgate.models.predict import Predictions
from driftgate.tasks.evaluate._compare import paired_differences, resample_weights
from driftgate.tasks.evaluate._metrics import positive_class
from driftgate.tasks.evaluate._scorers import Scorer, scorer


@dataclass(frozen=True)
class Scored:
    """Stored outputs of one model on labelled rows, ready to score."""

    y: np.ndarray  # labels (str for classifiers, float for regressors)
    proba: np.ndarray | None  # (rows, classes) for classifiers
    values: np.ndarray | None  # regression predictions
    classes: list[str]


def scored_rows(spec: DatasetSpec, outputs: Sequence[Any], labels: Sequence[Any]) -> Scored:
    """Stored outputs (``{class: p}`` dicts or numbers) and labels as arrays."""
    if spec.task == "classification":
        classes = [str(c) for c in outputs[0]] if outputs else []
        proba = np.array([[float(o[c]) for c in classes] for o in outputs], dtype=float).reshape(len(outputs), -1)
        return Scored(np.array([str(v) for v in labels], dtype=object), proba, None, classes)
    return Scored(np.asarray(labels, dtype=float), None, np.asarray(outputs, dtype=float), [])


def _scorer(spec: DatasetSpec, s: Scored) -> Scorer | None:
    """The gate's weighted scorer of the primary metric on ``s``; None where the metric is undefined.

    Undefined: no rows; for a classifier's ROC AUC and log loss, fewer than two classes among the
    labels or a label the model has no probability for.
    """
    if len(s.y) == 0 or (spec.metric.name == "r2" and len(s.y) < 2):
        return None
    if s.proba is None:
        return scorer(spec.metric.name, s.y, as_predictions(s))
    present = set(np.unique(s.y))
    if spec.metric.name in ("roc_auc", "log_loss") and (len(present) < 2 or not present <= set(s.classes)):
        return None
    return scorer(spec.metric.name, s.y, as_predictions(s), positive_class(spec, classes=s.classes))


def score(spec: DatasetSpec, s: Scored) -> float:
    """The spec's primary metric of ``s`` (as the gate and scikit-learn score it); NaN where undefined."""
    f = _scorer(spec, s)
    if f is None:
        return math.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(f(np.ones((1, len(s.y))))[0])


def bootstrap(spec: DatasetSpec, s: Scored, n: int, seed: int, alpha: float = 0.05) -> tuple[float, float]:
    """Percentile interval of the metric over ``n`` resamples of the rows (NaN-free resamples only)."""
    f = _scorer(spec, s)
    if f is None or len(s.y) < 2 or n < 1:
        return math.nan, math.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.concatenate([f(W) for W in resample_weights(len(s.y), n, seed)])
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return math.nan, math.nan
    return float(np.quantile(finite, alpha / 2)), float(np.quantile(finite, 1 - alpha / 2))


@dataclass(frozen=True)
class Realized:
    """The realized metric of one model version in one role over its newest labelled rows."""

    version: str
    role: str
    metric: str
    rows: int
    value: float
    low: float
    high: float
    estimated: float | None = None  # CBPE on the same rows, before looking at the labels


def realized_metrics(
    spec: DatasetSpec, rows: list[dict[str, Any]], window: int, n_boot: int = 200, seed: int = 0
) -> list[Realized]:
    """Realized metric per (version, role) over each one's newest ``window`` labelled rows."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((str(r["model_version"]), str(r["role"])), []).append(r)
    out = []
    for (version, role), group in sorted(groups.items(), key=lambda kv: (_num(kv[0][0]), kv[0][1])):
        newest = group[-window:]
        s = scored_rows(spec, [r["output"] for r in newest], [r["label"] for r in newest])
        low, high = bootstrap(spec, s, n_boot, seed)
        out.append(Realized(version, role, spec.metric.name, len(newest), score(spec, s), low, high))
    return out


def _num(version: str) -> float:
    try:
        return float(version)
    except ValueError:
        return math.inf


def confidently_worse(spec: DatasetSpec, r: Realized, bar: float) -> bool:
    """True when the whole interval of ``r`` is on the wrong side of ``bar``."""
    if spec.metric.direction == "maximize":
        return r.high == r.high and r.high < bar
    return r.low == r.low and r.low > bar


@dataclass(frozen=True)
class RealizedDecision:
    """Whether live labels ask for retraining, and why, in words."""

    retrain: bool
    reasons: list[str]


def decide_realized(
    spec: DatasetSpec,
    champion: Realized | None,
    test_score: float | None,
    floor: float | None,
    margin: float,
    min_rows: int,
) -> RealizedDecision:
    """Retrain when the champion's realized metric is confidently below the floor or its test score minus ``margin``."""
    name = spec.metric.name
    if champion is None or champion.rows < min_rows:
        have = champion.rows if champion else 0
        return RealizedDecision(False, [f"inconclusive: {have} labelled predictions of the champion, need {min_rows}"])
    shown = f"realized {name} {champion.value:.4g} (95% interval {champion.low:.4g} to {champion.high:.4g}, "
    shown += f"{champion.rows} rows) of version {champion.version}"
    reasons = []
    if floor is not None and confidently_worse(spec, champion, floor):
        reasons.append(f"{shown} is below the floor {floor:.4g}")
    if test_score is not None and test_score == test_score:
        bar = test_score - margin if spec.metric.direction == "maximize" else test_score + margin
        if confidently_worse(spec, champion, bar):
            reasons.append(f"{shown} is worse than its test score {test_score:.4g} by more than {margin:g}")
    if reasons:
        return RealizedDecision(True, reasons)
    return RealizedDecision(False, [f"{shown}: within the floor and the margin"])


@dataclass(frozen=True)
class Paired:
    """Champion and shadow challenger scored on the same labelled live rows (the gate's paired test)."""

    champion: str
    challenger: str
    metric: str
    rows: int
    champion_value: float
    challenger_value: float
    low: float  # interval of challenger - champion
    high: float

    def verdict(self, spec: DatasetSpec) -> str:
        sign = 1.0 if spec.metric.direction == "maximize" else -1.0
        lo, hi = sorted((sign * self.low, sign * self.high))
        if lo > 0:
            return "challenger better"
        if hi < 0:
            return "champion better"
        return "inconclusive"


def live_pairs(
    rows: list[dict[str, Any]], champion: str, challenger: str | None = None
) -> tuple[str, list[tuple[dict[str, Any], dict[str, Any]]]] | None:
    """``(champion row, shadow row)`` of the same labelled prediction id, for ``challenger`` (default: the
    newest shadow version); None when there are none."""
    mine = {r["prediction_id"]: r for r in rows if r["role"] == "champion" and str(r["model_version"]) == champion}
    shadow = [r for r in rows if r["role"] == "shadow" and r["prediction_id"] in mine]
    if challenger is None and shadow:
        challenger = max({str(r["model_version"]) for r in shadow}, key=_num)
    pairs = [(mine[r["prediction_id"]], r) for r in shadow if str(r["model_version"]) == challenger]
    return (str(challenger), pairs) if pairs else None


def scored_pairs(spec: DatasetSpec, pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> tuple[Scored, Scored]:
    """The champion's and the shadow's stored outputs of the same labelled rows, ready to score."""
    labels = [c["label"] for c, _ in pairs]
    return (
        scored_rows(spec, [c["output"] for c, _ in pairs], labels),
        scored_rows(spec, [s["output"] for _, s in pairs], labels),
    )


def compare_on_live(
    spec: DatasetSpec, rows: list[dict[str, Any]], champion: str, n_boot: int = 200, seed: int = 0
) -> Paired | None:
    """The newest shadow version against ``champion`` on the labelled rows both scored; None without any."""
    found = live_pairs(rows, champion)
    if found is None:
        return None
    challenger, pairs = found
    a, b = scored_pairs(spec, pairs)
    pos = positive_class(spec, classes=a.classes) if a.classes else None
    groups = {"all": np.ones(len(pairs), dtype=bool)}  # the gate's paired machinery, on the live rows
    d = paired_differences(
        spec.metric.name,
        a.y,
        as_predictions(a),
        as_predictions(b),
        groups,
        resamples=max(n_boot, 100),
        seed=seed,
        positive=pos,
    )["all"]
    return Paired(champion, challenger, spec.metric.name, len(pairs), d.champion, d.challenger, d.ci_low, d.ci_high)


def as_predictions(s: Scored) -> Predictions:
    if s.proba is None:
        return Predictions(values=np.asarray(s.values, dtype=float), proba=None, classes=[])
    values = np.asarray(s.classes, dtype=object)[s.proba.argmax(axis=1)]
    return Predictions(values=values, proba=s.proba, classes=list(s.classes))
