"""The training loop's events, from its typed results: one call at each decision of ``continuous-training``.

``driftgate.drift.detected`` when a batch's drift asks for a retrain, ``driftgate.model.trained`` for
each challenger registered, and the gate's verdict (``driftgate.model.promoted`` or
``driftgate.gate.refused``). The shapes live in :mod:`driftgate.alerts.events`; this module only reads the
stage results into them, so the flow's calls stay one line each.
"""

from __future__ import annotations

from driftgate.alerts.events import drift_detected, gate_refused, model_promoted, model_trained
from driftgate.context import Context
from driftgate.tasks.drift import DriftReport, Trigger
from driftgate.tasks.gate import GateResult
from driftgate.tasks.loop import BatchOutcome, Window
from driftgate.tasks.train import TrainedVersion


def announce_drift(ctx: Context, outcome: BatchOutcome, report: DriftReport | None, *, champion: str | None) -> bool:
    """``driftgate.drift.detected`` when the batch retrains because it drifted (trigger ``drift``)."""
    if report is None or outcome.trigger != Trigger.DRIFT:
        return False
    return drift_detected(
        ctx.spec.name,
        batch=outcome.batch,
        drift_share=report.drifted_share,
        threshold=report.share_threshold,
        drifted=report.drifted,
        reasons=outcome.reasons,
        rows=report.current_rows,
        reference_rows=report.reference_rows,
        model=ctx.model_name,
        champion=champion,
        source="batch",
        report=outcome.drift_report,
    )


def announce_trained(
    ctx: Context, new: TrainedVersion, outcome: BatchOutcome, *, window: Window, trigger: Trigger
) -> bool:
    """``driftgate.model.trained`` for a challenger just registered."""
    return model_trained(
        new.name,
        new.version,
        dataset=ctx.spec.name,
        batch=outcome.batch,
        trigger=str(trigger),
        reasons=outcome.reasons,
        window=window.batches,
        rows=window.rows,
        run_id=new.run_id,
        metrics=new.metrics,
    )


def announce_verdict(ctx: Context, result: GateResult) -> bool:
    """The gate's verdict on a challenger: ``driftgate.model.promoted`` or ``driftgate.gate.refused``."""
    interval = (result.ci_low, result.ci_high)
    if result.promoted:
        return model_promoted(
            ctx.model_name,
            result.challenger,
            dataset=ctx.spec.name,
            previous=result.champion,
            reason=result.reason,
            metric=result.metric,
            challenger_score=result.challenger_score,
            champion_score=result.champion_score,
            difference=result.difference,
            interval=interval,
            confidence=result.confidence,
            rows=result.rows,
            batches=result.batches,
        )
    return gate_refused(
        ctx.model_name,
        result.challenger,
        dataset=ctx.spec.name,
        champion=result.champion,
        outcome=str(result.outcome),
        reason=result.reason,
        metric=result.metric,
        challenger_score=result.challenger_score,
        champion_score=result.champion_score,
        difference=result.difference,
        interval=interval,
        confidence=result.confidence,
        rows=result.rows,
        batches=result.batches,
    )
