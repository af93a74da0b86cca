"""Training-serving skew: logged ``/predict`` answers re-scored by the version that gave them.

The service answers through its own path (the input contract's frame, the model holder, the loop);
batch scoring and the gate go through :func:`driftgate.models.predict.predict` on frames the lake gives. If
the two paths disagree on the same inputs (a column coerced differently, a category the contract maps
another way, a model that is not the version the log names), every number measured offline is about a
model the users never met. ``monitor-predictions`` takes a seeded sample of the logged predictions,
rebuilds each row's inputs as the monitor reads them (:func:`live_inputs`, then the spec's
normalisation), re-scores them with the registry's copy of the version that answered, and reports
every row whose answer differs by more than a float tolerance (``|a - b| > atol + rtol |b|`` for
each number; class probabilities compared class by class; a missing class or a different label is a
mismatch of infinite size).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from driftgate.errors import ModelLoadError
from driftgate.dataset.frames import normalize
from driftgate.models.predict import predict
from driftgate.dataset.spec import DatasetSpec

log = logging.getLogger(__name__)

RTOL = 1e-6  # relative float tolerance: JSON round-trips a float exactly; this leaves room for BLAS threads
ATOL = 1e-9
SHOWN = 20  # mismatching rows kept in the report


@dataclass(frozen=True)
class SkewRow:
    """One logged answer that re-scoring does not reproduce."""

    id: int
    prediction_id: str | None
    version: str
    logged: Any
    rescored: Any
    difference: float  # the largest absolute difference of one number (inf: a label, a class missing)


@dataclass(frozen=True)
class SkewReport:
    """Logged answers re-scored per version, and those that differ."""

    checked: int  # rows re-scored
    versions: dict[str, int]  # rows re-scored per version
    mismatched: int
    rows: list[SkewRow] = field(default_factory=list)  # the first SHOWN mismatches, largest difference first
    skipped: dict[str, str] = field(default_factory=dict)  # version -> why its rows were not re-scored
    rtol: float = RTOL
    atol: float = ATOL

    @property
    def skewed(self) -> bool:
        return self.mismatched > 0

    def describe(self) -> str:
        """The verdict in words."""
        per = ", ".join(f"v{v}: {n}" for v, n in sorted(self.versions.items()))
        skipped = "".join(f"; v{v} not re-scored: {why}" for v, why in sorted(self.skipped.items()))
        if not self.checked:
            return "no logged predictions re-scored" + skipped
        if not self.mismatched:
            return f"all {self.checked} logged answers re-scored to the same output ({per}){skipped}"
        worst = self.rows[0]
        return (
            f"{self.mismatched} of {self.checked} logged answers differ when re-scored ({per}); largest: "
            f"prediction {worst.prediction_id or worst.id} of v{worst.version}, difference {worst.difference:.3g}"
            f"{skipped}"
        )


def _numbers_differ(a: float, b: float, rtol: float, atol: float) -> float:
    """The absolute difference when it is beyond tolerance, else 0 (NaN on one side only: inf)."""
    if math.isnan(a) or math.isnan(b):
        return 0.0 if math.isnan(a) and math.isnan(b) else math.inf
    gap = abs(a - b)
    return gap if gap > atol + rtol * abs(b) else 0.0


def output_difference(logged: Any, rescored: Any, *, rtol: float = RTOL, atol: float = ATOL) -> float:
    """How far a logged output is from the re-scored one beyond tolerance (0: the same).

    Outputs are what the service logs: ``{class: probability}`` for classifiers, a number for regressors.
    """
    if isinstance(logged, dict) and isinstance(rescored, dict):
        if set(map(str, logged)) != set(map(str, rescored)):
            return math.inf
        new = {str(k): v for k, v in rescored.items()}
        return max((_numbers_differ(float(v), float(new[str(k)]), rtol, atol) for k, v in logged.items()), default=0.0)
    if isinstance(logged, int | float) and isinstance(rescored, int | float):
        return _numbers_differ(float(logged), float(rescored), rtol, atol)
    return 0.0 if str(logged) == str(rescored) else math.inf


def live_inputs(rows: list[dict[str, Any]], features: list[str]) -> pd.DataFrame:
    """The logged inputs as a frame of the model's features (absent fields as missing)."""
    return pd.DataFrame([r["inputs"] for r in rows]).reindex(columns=features)


def rescore(model: Any, spec: DatasetSpec, rows: list[dict[str, Any]]) -> list[Any]:
    """Each row's output as the service would log it, from its logged inputs."""
    out = predict(model, spec.task, normalize(live_inputs(rows, spec.feature_names), spec))
    probabilities = out.probability_dicts()
    return list(probabilities) if probabilities is not None else out.labels()


def check_skew(
    rows: list[dict[str, Any]],
    spec: DatasetSpec,
    load: Callable[[str], Any],
    *,
    sample: int,
    seed: int,
    rtol: float = RTOL,
    atol: float = ATOL,
) -> SkewReport:
    """Re-score a seeded sample of logged predictions with the version that answered each; report differences.

    Args:
        rows: logged prediction rows (``id``, ``prediction_id``, ``model_version``, ``inputs``, ``output``).
        spec: the dataset spec (features, task, normalisation).
        load: a version's fitted pipeline from its number (the registry's safe loader); may raise
            :class:`ModelLoadError`, and that version's rows are then skipped, with the reason.
        sample: rows re-scored at most.
        seed: the sample's seed.
    """
    if len(rows) > sample:
        picked = np.sort(np.random.default_rng(seed).choice(len(rows), size=sample, replace=False))
        rows = [rows[i] for i in picked]
    by_version: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_version.setdefault(str(r["model_version"]), []).append(r)
    versions: dict[str, int] = {}
    skipped: dict[str, str] = {}
    mismatches: list[SkewRow] = []
    for version, group in sorted(by_version.items()):
        try:
            model = load(version)
        except ModelLoadError as exc:
            log.warning("skew: version %s does not load, its %s rows are not re-scored: %s", version, len(group), exc)
            skipped[version] = str(exc)
            continue
        for r, new in zip(group, rescore(model, spec, group), strict=True):
            gap = output_difference(r["output"], new, rtol=rtol, atol=atol)
            if gap > 0:
                mismatches.append(SkewRow(int(r["id"]), r.get("prediction_id"), version, r["output"], new, gap))
        versions[version] = len(group)
    mismatches.sort(key=lambda m: (-m.difference, m.id))
    return SkewReport(
        checked=sum(versions.values()),
        versions=versions,
        mismatched=len(mismatches),
        rows=mismatches[:SHOWN],
        skipped=skipped,
        rtol=rtol,
        atol=atol,
    )
