"""Flow ``monitor-predictions``: the service's live traffic against the champion.

Input drift of the logged inputs since the last check, realized performance per version from
labels sent to ``/feedback`` (and the label-free estimate before they arrive), the shadow
challenger on the same rows (promoted when the gate finds it better there), a newly promoted
champion against the one it replaced (rolled back when the gate finds it worse there), labelled
rows into a ``feedback`` batch; ``continuous-training``
when drift or realized performance asks for it. The work lives in the ``monitor`` stage (``driftgate.tasks.monitor``).
"""

from __future__ import annotations

from prefect import flow

from driftgate.context import build_context
from driftgate.flows._cluster import reference_cap
from driftgate.flows.training import continuous_training
from driftgate.registry.client import champion_version
from driftgate.settings import get_settings
from driftgate.tasks.monitor import (
    LiveGateSummary,
    MonitorOutcome,
    feedback_batch_task,
    live_drift_task,
    live_gate_task,
    performance_task,
    probation_task,
    publish_monitor_task,
    skew_task,
)
from driftgate.registry.tracking import configure_mlflow


@flow(name="monitor-predictions")
def monitor_predictions(
    dataset: str | None = None, min_rows: int = 500, trigger: bool = True, ingest: bool = True
) -> MonitorOutcome:
    """Check live traffic since the last check; retrain when inputs drifted or realized performance fell.

    Args:
        dataset: dataset spec name (default: ``DRIFTGATE_DATASET``).
        min_rows: check input drift once at least this many new predictions are logged.
        trigger: run ``continuous-training`` when drift or live performance asks for retraining.
        ingest: let that run fetch new labelled batches first (off: retrain on what the lake holds).
    """
    ctx = build_context(get_settings(), dataset)
    client = configure_mlflow(ctx.settings)
    mv = champion_version(client, ctx.model_name)
    s, policy = ctx.settings, ctx.settings.monitor_policy()
    drift = live_drift_task(ctx, client, mv, min_rows, policy=s.drift_policy(), reference_max_rows=reference_cap(s))
    perf = performance_task(ctx, client, mv, drift.rows, policy=policy, gate_policy=s.gate_policy())
    skew = skew_task(ctx, drift.rows, policy=policy)
    promoted = live_gate_task(ctx, client, perf, move=policy.promote_shadow)
    # a challenger that beat the champion on live rows replaced it, and its own probation starts now;
    # else the champion's probation: is it worse than the one it replaced?
    look = None
    if promoted is None:
        look = probation_task(ctx, client, mv, policy=s.probation_policy(), gate_policy=s.gate_policy())
    rolled_back = look.rolled_back_to if look else None
    batch = feedback_batch_task(ctx, policy=policy)
    report = publish_monitor_task(
        ctx, client, drift, perf, batch, trigger=trigger, promoted=promoted, probation=look, skew=skew
    )
    champ, live = perf.champion_realized(), perf.live_gate
    # a challenger that proved itself on the live rows, or the champion before, replaced the one that fell
    performance_retrain = perf.decision.retrain and promoted is None and rolled_back is None
    outcome = MonitorOutcome(
        rows=len(drift.rows),
        checked=drift.checked,
        drift_retrain=drift.decision.retrain,
        performance_retrain=performance_retrain,
        reasons=drift.decision.reasons + perf.decision.reasons,
        drifted=drift.report.drifted if drift.report else [],
        champion=perf.champion,
        last_id=drift.last_id,
        report=report,
        realized=champ.value if champ else None,
        estimated=perf.estimated_live,
        feedback_batch=batch.number if batch else None,
        live_gate=None
        if live is None
        else LiveGateSummary(
            challenger=live.result.challenger,
            look=live.look,
            outcome=str(live.result.outcome),
            reason=live.result.reason,
            rows=live.result.rows,
        ),
        promoted=promoted,
        probation=look.summary() if look else None,
        rolled_back=rolled_back,
    )
    if outcome.retrain and trigger:
        why = []
        if drift.decision.retrain:
            why.append("live inputs drifted (monitor-predictions): " + "; ".join(drift.decision.reasons))
        if performance_retrain:
            why.append("live performance fell (monitor-predictions): " + "; ".join(perf.decision.reasons))
        outcome.training = continuous_training(dataset=ctx.spec.name, ingest=ingest, retrain_reason=" | ".join(why))
    return outcome
