"""Labelled live predictions become feedback batches exactly once, also across a crash (file lake and S3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from driftgate.dataset.spec import DatasetSpec, load_spec
from driftgate.dataset.synthetic import make_frame
from driftgate.names import suite_path
from driftgate.stores.lake import Lake
from driftgate.stores.predictions_db import CHAMPION_ROLE, connect, insert_prediction_rows, store_labels
from driftgate.tasks.monitor import FEEDBACK_FIRST, feedback_records, store_feedback_batch
from tests.conftest import ROOT

SPEC = load_spec("synthetic-classification", ROOT / "datasets")
SUITE = suite_path(ROOT / "expectations", SPEC.name)


def _serve_and_label(db: str, spec: DatasetSpec, start: int, n: int) -> None:
    """What the service and /feedback leave behind: champion rows with ids, and their labels."""
    frame = make_frame("classification", n, seed=start)
    engine = connect(db)
    rows, labels = [], []
    for i, rec in enumerate(frame[spec.feature_names].to_dict(orient="records")):
        pid = f"p{start + i}"
        rows.append(("t", spec.model_name, "1", 1.0, json.dumps(rec), '{"0": 0.5, "1": 0.5}', pid, CHAMPION_ROLE))
        labels.append((pid, str(frame[spec.target].iloc[i])))
    insert_prediction_rows(engine, rows)
    store_labels(engine, labels)
    engine.dispose()


def test_a_feedback_batch_interrupted_after_its_record_is_finished_with_the_same_rows(
    lake_target: tuple[str, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, options = lake_target
    lake = Lake(url, options)
    db = f"sqlite:///{tmp_path / 'predictions.db'}"
    _serve_and_label(db, SPEC, 0, 300)

    def crash(*_: object, **__: object) -> None:
        raise RuntimeError("crashed between the record and the rows")

    # the one injected fault: a process dying between two writes cannot be caused for real here
    monkeypatch.setattr(Lake, "write_batch_once", crash)
    with pytest.raises(RuntimeError, match="crashed"):
        store_feedback_batch(lake, SPEC, db, SPEC.model_name, suite_file=SUITE, min_rows=100, seed=0)
    monkeypatch.undo()
    assert list(feedback_records(lake, SPEC.name)) == [FEEDBACK_FIRST]
    assert lake.manifest(SPEC.name, FEEDBACK_FIRST) is None

    _serve_and_label(db, SPEC, 300, 150)  # more labels arrive before the rerun: not in the unfinished batch
    finished = store_feedback_batch(lake, SPEC, db, SPEC.model_name, suite_file=SUITE, min_rows=100, seed=0)
    assert finished is not None
    assert (finished.number, finished.rows, finished.accepted) == (FEEDBACK_FIRST, 300, True)
    first = lake.read_batch(SPEC.name, FEEDBACK_FIRST)
    expected = make_frame("classification", 300, seed=0)
    assert first["num_0"].tolist() == pytest.approx(expected["num_0"].tolist(), abs=1e-12)  # the logged rows, in order

    second = store_feedback_batch(lake, SPEC, db, SPEC.model_name, suite_file=SUITE, min_rows=100, seed=0)
    assert second is not None
    assert (second.number, second.rows) == (FEEDBACK_FIRST + 1, 150)
    records = feedback_records(lake, SPEC.name)
    assert records[FEEDBACK_FIRST]["ids"] == [f"p{i}" for i in range(300)]
    assert records[FEEDBACK_FIRST + 1]["ids"] == [f"p{i}" for i in range(300, 450)]
    assert store_feedback_batch(lake, SPEC, db, SPEC.model_name, suite_file=SUITE, min_rows=100, seed=0) is None
    assert len(lake.read_batch(SPEC.name, FEEDBACK_FIRST)) == 300  # finished once, never rewritten
