"""Done when: labels arriving later through /feedback catch a concept drift that input drift cannot see.

The service answers a stream of synthetic-classification records; their true labels are sent to
/feedback afterwards. Half-way the relation between features and label flips (the inputs keep
their distribution): input drift stays quiet, the champion's realized metric drops,
monitor-predictions retrains on the labelled live rows (a ``feedback`` batch), and the new
champion's realized metric on the new relation recovers.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from driftgate.context import Context, build_context
from driftgate.dataset.sources import load_source
from driftgate.dataset.spec import load_spec
from driftgate.dataset.synthetic import Shift, make_frame
from driftgate.local.data_api import create_data_api
from driftgate.local.servers import ServerThread
from driftgate.serving.app import create_app
from driftgate.settings import get_settings
from driftgate.stores.predictions_db import read_predictions
from driftgate.tasks.monitor import FEEDBACK_FIRST, feedback_records
from tests.conftest import ROOT

DATASET = "synthetic-classification"
ROWS = 600
FLIPPED = Shift(concept=-2.0)  # the signal changes sign: same inputs, opposite relation


def wait(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.fixture
def trained(prefect_harness: None, driftgate_env: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from driftgate.flows.training import continuous_training

    spec = load_spec(DATASET, ROOT / "datasets")
    with ServerThread(create_data_api(load_source(spec), spec)) as api:
        for name, value in {
            "DATA_API_URL": api.url,
            "DATASET": DATASET,
            "POLL_SECONDS": "0.3",
            "TRAIN_WINDOW": "1",
            "MONITOR_WINDOW": "500",
            "MONITOR_MIN_LABELS": "200",
            "SHADOW": "false",
            "GATE_SLICE_MIN_ROWS": "50",
        }.items():
            monkeypatch.setenv(f"DRIFTGATE_{name}", value)
        get_settings.cache_clear()
        continuous_training(max_batches=1)
        yield build_context(get_settings())


def serve_and_label(url: str, ctx: Context, seed: int, shift: Shift | None) -> None:
    """Predict ROWS records, then (later) send their true labels to /feedback."""
    frame = make_frame("classification", ROWS, seed, shift)
    records = frame[ctx.spec.feature_names].astype(object).to_dict(orient="records")
    ids: list[str] = []
    for i in range(0, ROWS, 50):
        r = httpx.post(f"{url}/predict", json={"records": records[i : i + 50]}, timeout=30)
        assert r.status_code == 200, r.text
        ids += r.json()["ids"]
    db = ctx.settings.resolved_predictions_db_url()
    wait(lambda: {r["prediction_id"] for r in read_predictions(db)} >= set(ids))
    labels = [{"id": pid, "label": str(y)} for pid, y in zip(ids, frame["label"], strict=True)]
    answer = httpx.post(f"{url}/feedback", json={"labels": labels}, timeout=30).json()
    assert answer["stored"] == ROWS, answer


def test_concept_drift_seen_only_through_delayed_labels_is_retrained_away(trained: Context) -> None:
    from driftgate.flows.monitor import monitor_predictions

    ctx = trained
    with ServerThread(create_app(ctx.settings)) as srv:
        wait(lambda: httpx.get(f"{srv.url}/ready").status_code == 200)
        serve_and_label(srv.url, ctx, seed=101, shift=None)
        before = monitor_predictions(min_rows=500, ingest=False)
        assert before.checked
        assert not before.retrain, before.reasons
        assert before.realized > 0.75
        assert abs(before.estimated - before.realized) < 0.1
        assert before.feedback_batch == FEEDBACK_FIRST

        serve_and_label(srv.url, ctx, seed=102, shift=FLIPPED)  # the relation flips; the inputs do not move
        after = monitor_predictions(min_rows=500, ingest=False)
        assert after.checked
        assert not after.drift_retrain, after.reasons  # input drift is quiet
        assert after.realized < 0.5
        assert after.performance_retrain
        assert any(o.retrained for o in after.training)
        new = str(after.training[-1].champion)
        assert new != before.champion
        wait(lambda: httpx.get(f"{srv.url}/ready").json()["version"] == new)

        serve_and_label(srv.url, ctx, seed=103, shift=FLIPPED)
        recovered = monitor_predictions(min_rows=500, trigger=False)
    assert recovered.champion == new
    assert recovered.realized > 0.75
    assert not recovered.performance_retrain
    records = feedback_records(ctx.lake, DATASET)
    assert sorted(records) == [FEEDBACK_FIRST, FEEDBACK_FIRST + 1, FEEDBACK_FIRST + 2]
    ids = [i for r in records.values() for i in r["ids"]]
    assert len(ids) == len(set(ids)) == 3 * ROWS  # every labelled prediction in exactly one batch
    assert all(n in ctx.lake.accepted_numbers(DATASET) for n in records)
    assert ctx.lake.exists(ctx.lake.path("reports", "monitor", DATASET))
