"""The monitor's events: live drift that asks for a retrain, and a champion whose live metric fell."""

from __future__ import annotations

from typing import TYPE_CHECKING

from driftgate.alerts.events import drift_detected, model_promoted, monitor_degraded
from driftgate.context import Context

if TYPE_CHECKING:
    from driftgate.tasks.gate import LiveLook
    from driftgate.tasks.monitor._monitor import LiveDrift, Performance


def announce_live_drift(ctx: Context, drift: LiveDrift, champion: str | None) -> None:
    """``driftgate.drift.detected`` (source ``live``) when the live inputs ask for a retrain."""
    report = drift.report
    if report is None or not drift.decision.retrain:
        return
    drift_detected(
        ctx.spec.name,
        batch=None,
        drift_share=report.drifted_share,
        threshold=report.share_threshold,
        drifted=report.drifted,
        reasons=drift.decision.reasons,
        rows=report.current_rows,
        reference_rows=report.reference_rows,
        model=ctx.model_name,
        champion=champion,
        source="live",
    )


def announce_degraded(ctx: Context, perf: Performance, min_labels: int) -> None:
    """``driftgate.monitor.degraded`` when the champion's live metric (realized, else estimated) asks for a retrain."""
    if not perf.decision.retrain or perf.champion is None:
        return
    realized = perf.champion_realized()
    interval: tuple[float | None, float | None]
    if realized is not None and realized.rows >= min_labels:
        kind, value, interval, rows = "realized", realized.value, (realized.low, realized.high), realized.rows
    elif perf.estimated_live is not None:
        kind, value, interval, rows = "estimated", perf.estimated_live, (None, None), perf.estimated_rows
    else:
        return
    monitor_degraded(
        ctx.model_name,
        perf.champion,
        dataset=ctx.spec.name,
        metric=perf.metric,
        kind=kind,
        value=value,
        interval=interval,
        held_out=perf.test_score,
        rows=rows,
        reasons=perf.decision.reasons,
    )


def announce_live_promotion(ctx: Context, live: LiveLook) -> None:
    """``driftgate.model.promoted`` when the live gate moved ``champion`` to the shadow challenger."""
    r = live.result
    model_promoted(
        ctx.model_name,
        r.challenger,
        dataset=ctx.spec.name,
        previous=r.champion,
        reason=f"live gate, look {live.look}: {r.reason}",
        metric=r.metric,
        challenger_score=r.challenger_score,
        champion_score=r.champion_score,
        difference=r.difference,
        interval=(r.ci_low, r.ci_high),
        confidence=r.confidence,
        rows=r.rows,
    )
