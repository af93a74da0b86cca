"""Prefect events for every decision driftgate makes: what happened, to which resource, and the numbers.

Each event concerns one resource, ``driftgate.dataset.<name>`` (a batch arrived, was quarantined, drifted)
or ``driftgate.model.<name>`` (a version was trained, promoted, refused, rolled back, degraded). Related
resources name the batch (``driftgate.batch.<dataset>.<n>``), the versions (``driftgate.model.<name>.<v>``,
role ``version``, ``champion`` or ``previous``) and the flow run when there is one; Prefect adds the
flow, deployment and tags of the run itself. The payload holds the numbers a person needs: the reason
line, the metric, its interval, the drift share, the rows.

An event is a notice, never a step: :func:`emit` logs a warning when one cannot be sent and returns
False; it never raises into a flow. Nothing is sent inside a ``backtest`` flow run (a replay in
temporary homes) or a :func:`muted` block. The builders below are the only names the flows call, so
each event's shape lives here once (``docs/alerts.md`` lists them).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

log = logging.getLogger(__name__)

PREFIX = "driftgate."
INGESTED = "driftgate.batch.ingested"
QUARANTINED = "driftgate.batch.quarantined"
DRIFT_DETECTED = "driftgate.drift.detected"
TRAINED = "driftgate.model.trained"
PROMOTED = "driftgate.model.promoted"
REFUSED = "driftgate.gate.refused"
ROLLED_BACK = "driftgate.model.rolled-back"
DEGRADED = "driftgate.monitor.degraded"
EVENTS = (INGESTED, QUARANTINED, DRIFT_DETECTED, TRAINED, PROMOTED, REFUSED, ROLLED_BACK, DEGRADED)

Resource = dict[str, str]
REASON_CHARS = 2000  # a reason line is for a person; the whole account lives in the reports
# a replay's decisions are not the system's: `driftgate backtest` runs the loop's stages in temporary
# homes, and its quarantines and promotions must not notify anyone or start runs
REPLAY_FLOWS = frozenset({"backtest"})
_MUTED: ContextVar[bool] = ContextVar("driftgate_events_muted", default=False)


@contextmanager
def muted() -> Iterator[None]:
    """Send no event inside this block (a replay, a dry run); :func:`emit` returns False there."""
    token = _MUTED.set(True)
    try:
        yield
    finally:
        _MUTED.reset(token)


def silenced() -> bool:
    """Inside :func:`muted`, or inside a flow run of a replay (:data:`REPLAY_FLOWS`)."""
    if _MUTED.get():
        return True
    from prefect.context import FlowRunContext

    run = FlowRunContext.get()
    return run is not None and run.flow is not None and run.flow.name in REPLAY_FLOWS


def dataset_resource(dataset: str) -> Resource:
    """``driftgate.dataset.<name>``, labelled with its name (automations match on ``driftgate.dataset``)."""
    return {
        "prefect.resource.id": f"driftgate.dataset.{dataset}",
        "prefect.resource.name": dataset,
        "driftgate.dataset": dataset,
    }


def model_resource(model: str, dataset: str | None = None) -> Resource:
    """``driftgate.model.<name>``, labelled with its name and dataset."""
    out = {"prefect.resource.id": f"driftgate.model.{model}", "prefect.resource.name": model, "driftgate.model": model}
    if dataset:
        out["driftgate.dataset"] = dataset
    return out


def batch_related(dataset: str, batch: int) -> Resource:
    return {
        "prefect.resource.id": f"driftgate.batch.{dataset}.{batch}",
        "prefect.resource.role": "batch",
        "prefect.resource.name": f"{dataset} batch {batch}",
    }


def version_related(model: str, version: str, role: str = "version") -> Resource:
    return {
        "prefect.resource.id": f"driftgate.model.{model}.{version}",
        "prefect.resource.role": role,
        "prefect.resource.name": f"{model} v{version}",
    }


def flow_run_related() -> list[Resource]:
    """The flow run this code runs in, if any (``prefect.runtime.flow_run.id``)."""
    try:
        from prefect.runtime import flow_run

        run_id = flow_run.id
    except Exception as exc:  # the runtime is a nicety of the event, never a failure
        log.debug("no flow run context for an event: %s", exc)
        return []
    if not run_id:
        return []
    return [{"prefect.resource.id": f"prefect.flow-run.{run_id}", "prefect.resource.role": "flow-run"}]


def emit(
    event: str, *, resource: Resource, related: Sequence[Resource] = (), payload: dict[str, Any] | None = None
) -> bool:
    """Send one event to Prefect; True when it was handed to Prefect's events worker.

    Never raises: a failure (no server, an event too large, a bad resource) is logged as a warning.

    Args:
        event: the event name, ``driftgate.<noun>.<verb>``.
        resource: the resource it concerns (``prefect.resource.id`` and labels).
        related: other resources it concerns, each with a ``prefect.resource.role``.
        payload: the numbers behind it (JSON-serialisable).
    """
    try:
        if silenced():
            log.debug("event %s about %s not sent: a replay", event, resource["prefect.resource.id"])
            return False
        from prefect.events import emit_event

        sent = emit_event(event, resource=resource, related=[*related, *flow_run_related()], payload=payload or {})
    except Exception as exc:  # an event that cannot be sent never fails a flow
        log.warning("event %s about %s not sent: %s", event, resource.get("prefect.resource.id"), exc)
        return False
    if sent is None:  # events are off in this Prefect configuration: nothing failed
        log.info("event %s about %s not sent: Prefect sends no events here", event, resource["prefect.resource.id"])
        return False
    return True


def _reason(reasons: str | Sequence[str]) -> str:
    text = reasons if isinstance(reasons, str) else "; ".join(reasons)
    return text[:REASON_CHARS]


def _rounded(value: float | None, digits: int = 6) -> float | None:
    return None if value is None or value != value else round(float(value), digits)


def batch_ingested(dataset: str, batch: int, *, rows: int, content_hash: str, source: str, subflow: bool) -> bool:
    """A new batch was stored in the lake.

    ``subflow``: stored by an ``ingest-batches`` run inside another flow (``continuous-training``
    ingests first and trains in the same run); the resource label ``driftgate.ingest.subflow`` lets the
    train-on-arrival automation skip those.
    """
    resource = {**dataset_resource(dataset), "driftgate.ingest.subflow": str(subflow).lower()}
    payload = {"dataset": dataset, "batch": batch, "rows": rows, "content_hash": content_hash, "source": source}
    return emit(INGESTED, resource=resource, related=[batch_related(dataset, batch)], payload=payload)


def batch_quarantined(
    dataset: str, batch: int, *, rows: int | None, failures: Sequence[str], evaluated: int, report: str | None = None
) -> bool:
    """A batch failed its suite and was moved to quarantine; ``failures`` describe each failed expectation."""
    payload = {
        "dataset": dataset,
        "batch": batch,
        "rows": rows,
        "reason": _reason(failures) or "failed validation",
        "failed": len(failures),
        "evaluated": evaluated,
        "report": report,
    }
    return emit(
        QUARANTINED, resource=dataset_resource(dataset), related=[batch_related(dataset, batch)], payload=payload
    )


def drift_detected(
    dataset: str,
    *,
    batch: int | None,
    drift_share: float,
    threshold: float,
    drifted: Sequence[str],
    reasons: str | Sequence[str],
    rows: int,
    reference_rows: int,
    model: str | None = None,
    champion: str | None = None,
    source: str = "batch",
    report: str | None = None,
) -> bool:
    """A batch (``source="batch"``) or the service's live inputs (``source="live"``, no batch) drifted
    from the champion's training rows enough to ask for a retrain."""
    related = [batch_related(dataset, batch)] if batch is not None else []
    if model and champion:
        related.append(version_related(model, champion, "champion"))
    payload = {
        "dataset": dataset,
        "batch": batch,
        "source": source,
        "reason": _reason(reasons),
        "drift_share": _rounded(drift_share, 4),
        "threshold": threshold,
        "drifted": list(drifted),
        "rows": rows,
        "reference_rows": reference_rows,
        "champion": champion,
        "report": report,
    }
    return emit(DRIFT_DETECTED, resource=dataset_resource(dataset), related=related, payload=payload)


def model_trained(
    model: str,
    version: str,
    *,
    dataset: str,
    batch: int,
    trigger: str,
    reasons: str | Sequence[str],
    window: Sequence[int],
    rows: int,
    run_id: str,
    metrics: dict[str, float] | None = None,
) -> bool:
    """A challenger version was trained and registered (the gate decides next)."""
    payload = {
        "dataset": dataset,
        "version": version,
        "batch": batch,
        "trigger": trigger,
        "reason": _reason(reasons),
        "window": list(window),
        "rows": rows,
        "run_id": run_id,
        "metrics": {k: _rounded(v) for k, v in (metrics or {}).items()},
    }
    related = [version_related(model, version), batch_related(dataset, batch)]
    return emit(TRAINED, resource=model_resource(model, dataset), related=related, payload=payload)


def _verdict(
    *,
    dataset: str,
    version: str,
    champion: str | None,
    outcome: str,
    reason: str,
    metric: str | None,
    challenger_score: float | None,
    champion_score: float | None,
    difference: float | None,
    interval: tuple[float | None, float | None],
    confidence: float,
    rows: int,
    batches: Sequence[int],
) -> dict[str, Any]:
    return {
        "dataset": dataset,
        "version": version,
        "champion": champion,
        "outcome": outcome,
        "reason": _reason(reason),
        "metric": metric,
        "challenger_score": _rounded(challenger_score),
        "champion_score": _rounded(champion_score),
        "difference": _rounded(difference),
        "interval": [_rounded(interval[0]), _rounded(interval[1])],
        "confidence": confidence,
        "rows": rows,
        "batches": list(batches),
    }


def _gate_related(
    model: str, dataset: str, version: str, champion: str | None, batches: Sequence[int]
) -> list[Resource]:
    related = [version_related(model, version)]
    if champion:
        related.append(version_related(model, champion, "champion"))
    if batches:
        related.append(batch_related(dataset, max(batches)))
    return related


def model_promoted(
    model: str,
    version: str,
    *,
    dataset: str,
    previous: str | None,
    reason: str,
    metric: str | None = None,
    challenger_score: float | None = None,
    champion_score: float | None = None,
    difference: float | None = None,
    interval: tuple[float | None, float | None] = (None, None),
    confidence: float = 0.0,
    rows: int = 0,
    batches: Sequence[int] = (),
) -> bool:
    """``champion`` moved to ``version`` (from ``previous``, None for the first): by the gate, the live
    gate or a person (``reason`` says which)."""
    payload = _verdict(
        dataset=dataset,
        version=version,
        champion=previous,
        outcome="promoted",
        reason=reason,
        metric=metric,
        challenger_score=challenger_score,
        champion_score=champion_score,
        difference=difference,
        interval=interval,
        confidence=confidence,
        rows=rows,
        batches=batches,
    )
    related = _gate_related(model, dataset, version, None, batches)
    if previous:
        related.append(version_related(model, previous, "previous"))
    return emit(PROMOTED, resource=model_resource(model, dataset), related=related, payload=payload)


def gate_refused(
    model: str,
    version: str,
    *,
    dataset: str,
    champion: str | None,
    outcome: str,
    reason: str,
    metric: str,
    challenger_score: float,
    champion_score: float | None,
    difference: float | None,
    interval: tuple[float | None, float | None],
    confidence: float,
    rows: int,
    batches: Sequence[int] = (),
) -> bool:
    """The gate kept the champion: the challenger was not better, or the evidence was inconclusive (``outcome``)."""
    payload = _verdict(
        dataset=dataset,
        version=version,
        champion=champion,
        outcome=outcome,
        reason=reason,
        metric=metric,
        challenger_score=challenger_score,
        champion_score=champion_score,
        difference=difference,
        interval=interval,
        confidence=confidence,
        rows=rows,
        batches=batches,
    )
    related = _gate_related(model, dataset, version, champion, batches)
    return emit(REFUSED, resource=model_resource(model, dataset), related=related, payload=payload)


def model_rolled_back(
    model: str,
    *,
    dataset: str,
    to_version: str,
    from_version: str | None,
    reason: str,
    metric: str | None = None,
    interval: tuple[float | None, float | None] = (None, None),
    rows: int | None = None,
    source: str = "command",
    confidence: float | None = None,
) -> bool:
    """``champion`` moved back to an earlier version ``to_version`` (from ``from_version``): by a person
    (``source="command"``) or by ``monitor-predictions`` at the end of a probation (``source="monitor"``:
    ``interval`` is the previous champion's lead at ``confidence`` on ``rows`` labelled live rows)."""
    related = [version_related(model, to_version, "champion")]
    if from_version:
        related.append(version_related(model, from_version, "previous"))
    payload = {
        "dataset": dataset,
        "version": to_version,
        "previous": from_version,
        "reason": _reason(reason),
        "metric": metric,
        "interval": [_rounded(interval[0]), _rounded(interval[1])],
        "rows": rows,
        "source": source,
        "confidence": _rounded(confidence),
    }
    return emit(ROLLED_BACK, resource=model_resource(model, dataset), related=related, payload=payload)


def monitor_degraded(
    model: str,
    version: str,
    *,
    dataset: str,
    metric: str,
    kind: str,
    value: float,
    interval: tuple[float | None, float | None],
    held_out: float | None,
    rows: int,
    reasons: str | Sequence[str],
) -> bool:
    """The champion's live metric (``kind``: ``realized`` from labels, or ``estimated`` before they
    arrive) is worse than its held-out score (or the floor) beyond the monitor's margin and confidence."""
    payload = {
        "dataset": dataset,
        "version": version,
        "kind": kind,
        "reason": _reason(reasons),
        "metric": metric,
        "value": _rounded(value),
        "interval": [_rounded(interval[0]), _rounded(interval[1])],
        "held_out": _rounded(held_out),
        "rows": rows,
    }
    related = [version_related(model, version, "champion")]
    return emit(DEGRADED, resource=model_resource(model, dataset), related=related, payload=payload)
