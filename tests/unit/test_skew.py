"""Training-serving skew: logged answers re-scored by the version that gave them; differences reported with rows."""

from __future__ import annotations

import math
from typing import Any

import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from driftgate.errors import ModelLoadError
from driftgate.models.predict import predict
from driftgate.dataset.sources import load_source
from driftgate.dataset.spec import load_spec
from driftgate.dataset.synthetic import make_frame
from driftgate.tasks.evaluate import RealizedDecision
from driftgate.tasks.monitor import check_skew, output_difference
from driftgate.tasks.monitor._monitor import LiveDrift, Performance
from driftgate.tasks.monitor._report import MonitorRun, monitor_page, monitor_summary
from driftgate.tasks.train import build_pipeline
from tests.conftest import ROOT

DIAMONDS = load_spec("diamonds", ROOT / "datasets")
SYNTHETIC = load_spec("synthetic-classification", ROOT / "datasets")


def logged_rows(model: Any, spec: Any, frame: Any, version: str, first_id: int = 1) -> list[dict[str, Any]]:
    """Prediction-log rows as the service writes them: JSON-ready inputs, output as logged."""
    X = frame[spec.feature_names]
    out = predict(model, spec.task, X)
    outputs = out.probability_dicts() or out.labels()
    records = X.astype(object).where(X.notna(), None).to_dict(orient="records")
    return [
        {
            "id": first_id + i,
            "prediction_id": f"p-{version}-{i}",
            "model_name": spec.model_name,
            "model_version": version,
            "inputs": {k: (v.item() if hasattr(v, "item") else v) for k, v in rec.items()},
            "output": o,
        }
        for i, (rec, o) in enumerate(zip(records, outputs, strict=True))
    ]


def test_output_difference_within_and_beyond_tolerance() -> None:
    assert output_difference(1000.0, 1000.0 + 1e-4) == 0.0  # 1e-7 relative: float noise
    assert output_difference(1000.0, 1000.5) == pytest.approx(0.5)
    assert output_difference({"a": 0.2, "b": 0.8}, {"a": 0.2, "b": 0.8}) == 0.0
    assert output_difference({"a": 0.2, "b": 0.8}, {"a": 0.25, "b": 0.75}) == pytest.approx(0.05)
    assert output_difference({"a": 0.2, "b": 0.8}, {"a": 0.2, "c": 0.8}) == math.inf  # a class missing
    assert output_difference("yes", "no") == math.inf
    assert output_difference(float("nan"), float("nan")) == 0.0


def test_a_regressors_logged_answers_reproduce_and_a_tampered_one_is_reported() -> None:
    frame = load_source(DIAMONDS).sample(1200, random_state=0)
    model = build_pipeline(DIAMONDS, HistGradientBoostingRegressor(max_iter=30, random_state=0), scale=False)
    model.fit(frame[DIAMONDS.feature_names].iloc[:1000], frame[DIAMONDS.target].iloc[:1000])
    rows = logged_rows(model, DIAMONDS, frame.iloc[1000:], "3")
    clean = check_skew(rows, DIAMONDS, lambda v: model, sample=500, seed=0)
    assert (clean.checked, clean.mismatched, clean.versions) == (200, 0, {"3": 200})
    assert not clean.skewed
    assert clean.describe() == "all 200 logged answers re-scored to the same output (v3: 200)"

    rows[7]["output"] += 12.5  # the service answered something the registry's version does not
    skewed = check_skew(rows, DIAMONDS, lambda v: model, sample=500, seed=0)
    assert skewed.mismatched == 1
    (row,) = skewed.rows
    assert (row.id, row.prediction_id, row.version) == (8, "p-3-7", "3")
    assert row.difference == pytest.approx(12.5)
    assert row.logged - row.rescored == pytest.approx(12.5)
    assert skewed.describe().startswith(
        "1 of 200 logged answers differ when re-scored (v3: 200); largest: prediction p-3-7"
    )


def test_a_classifier_served_by_another_model_than_its_version_is_reported_row_by_row() -> None:
    frame = make_frame("classification", 1400, seed=1)
    fit = frame.iloc[:1000]
    served = build_pipeline(SYNTHETIC, HistGradientBoostingClassifier(max_iter=20, random_state=0), scale=False)
    registered = build_pipeline(SYNTHETIC, HistGradientBoostingClassifier(max_iter=40, random_state=0), scale=False)
    for m in (served, registered):
        m.fit(fit[SYNTHETIC.feature_names], fit[SYNTHETIC.target])
    rows = logged_rows(served, SYNTHETIC, frame.iloc[1000:], "5") + logged_rows(
        registered, SYNTHETIC, frame.iloc[1000:1100], "6", first_id=1000
    )
    models = {"5": registered, "6": registered}  # v5's rows were answered by a model that is not v5
    report = check_skew(rows, SYNTHETIC, models.__getitem__, sample=300, seed=0)
    assert report.checked == sum(report.versions.values()) == 300  # a seeded sample of 300 of the 500 rows
    assert set(report.versions) == {"5", "6"}
    assert report.mismatched == report.versions["5"]  # every row of v5, no row of v6
    assert {m.version for m in report.rows} == {"5"}
    assert len(report.rows) == 20  # the report keeps the largest 20
    assert report.rows[0].difference >= report.rows[-1].difference > 0
    perf = Performance("roc_auc", "6", None, [], RealizedDecision(False, []))
    summary = monitor_summary(LiveDrift([]), perf, MonitorRun("synthetic", skew=report))
    assert summary["skew"]["mismatched"] == report.versions["5"]
    assert summary["skew"]["rows"][0]["version"] == "5"
    page = monitor_page(LiveDrift([]), perf, MonitorRun("synthetic", skew=report))
    assert "Logged answers that re-scoring does not reproduce" in page
    assert "p-5-" in page


def test_a_version_that_does_not_load_is_skipped_and_said() -> None:
    frame = make_frame("classification", 1100, seed=2)
    model = build_pipeline(SYNTHETIC, HistGradientBoostingClassifier(max_iter=10, random_state=0), scale=False)
    model.fit(frame[SYNTHETIC.feature_names].iloc[:1000], frame[SYNTHETIC.target].iloc[:1000])
    rows = logged_rows(model, SYNTHETIC, frame.iloc[1000:], "1") + logged_rows(
        model, SYNTHETIC, frame.iloc[1000:1010], "2", first_id=500
    )

    def load(version: str) -> Any:
        if version == "1":
            raise ModelLoadError("version 1: signature no longer matches the spec")
        return model

    report = check_skew(rows, SYNTHETIC, load, sample=1000, seed=0)
    assert report.versions == {"2": 10}
    assert report.skipped == {"1": "version 1: signature no longer matches the spec"}
    assert not report.skewed
    assert "v1 not re-scored" in report.describe()
