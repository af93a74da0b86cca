"""An event is a notice: a failure to send one is a logged warning, never an exception in a flow."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from driftgate.alerts import events


def test_a_failure_to_send_is_a_warning_and_false(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import prefect.events

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the events client is gone")

    monkeypatch.setattr(prefect.events, "emit_event", refuse)
    with caplog.at_level(logging.WARNING, logger="driftgate.alerts.events"):
        sent = events.batch_quarantined("ds", 7, rows=10, failures=["x"], evaluated=3)
    assert sent is False
    (record,) = [r for r in caplog.records if r.name == "driftgate.alerts.events"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "event driftgate.batch.quarantined about driftgate.dataset.ds not sent: the events client is gone"
    )


def test_an_event_too_large_is_a_warning_too(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    import prefect.events
    from prefect.exceptions import EventTooLarge

    def too_large(*args: Any, **kwargs: Any) -> None:
        raise EventTooLarge(2_000_000, 1_500_000)

    monkeypatch.setattr(prefect.events, "emit_event", too_large)
    with caplog.at_level(logging.WARNING, logger="driftgate.alerts.events"):
        assert events.batch_ingested("ds", 1, rows=1, content_hash="h", source="api", subflow=False) is False
    assert "driftgate.batch.ingested" in caplog.text


def test_resources_and_reasons_have_their_shape() -> None:
    assert events.dataset_resource("diamonds")["prefect.resource.id"] == "driftgate.dataset.diamonds"
    assert events.model_resource("m", "d") == {
        "prefect.resource.id": "driftgate.model.m",
        "prefect.resource.name": "m",
        "driftgate.model": "m",
        "driftgate.dataset": "d",
    }
    assert events.version_related("m", "3", "previous")["prefect.resource.role"] == "previous"
    assert events.flow_run_related() == []  # outside a flow run: no run to name
    assert len(events._reason(["x" * 3000])) == events.REASON_CHARS
    assert events._rounded(float("nan")) is None


def test_nothing_is_sent_inside_a_muted_block(monkeypatch: pytest.MonkeyPatch) -> None:
    import prefect.events

    def must_not_send(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("sent while muted")

    monkeypatch.setattr(prefect.events, "emit_event", must_not_send)
    with events.muted():
        assert events.model_promoted("m", "2", dataset="d", previous="1", reason="replay") is False
    assert not events.silenced()
