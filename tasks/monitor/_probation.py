"""Probation: a champion the gates promoted against the one it replaced, on labelled live rows.

When the gate (or the live gate) moves ``champion``, :func:`driftgate.registry.client.set_champion` opens
a probation (:mod:`driftgate.registry.probation`). Each ``monitor-predictions`` run then takes the labelled
rows the new champion answered since it moved (at most ``DRIFTGATE_PROBATION_ROWS``), scores the
previous champion on the same logged inputs (the safe loader, the contract and the one predict, as
the shadow process scores its challenger), and hands both answers to the gate's own verdict
(:func:`driftgate.tasks.gate.judge_live_pairs`) with the previous champion as the challenger: the
same paired test, margin and slices. The previous champion "promoted" means the new one is worse
with the gate's confidence: ``champion`` moves back by compare-and-set.

Repeated looks spend the gate's error rate by rows: a look at ``n`` of ``N`` probation rows, after
one at ``m``, tests at ``1 - (1 - confidence) (n - m) / N``. The shares sum to ``1 - confidence``
however often the monitor runs, so an equal champion is rolled back at most that often; a version
much worse than the last is caught on the first look of a few hundred rows, a slightly worse one
by the end. At ``N`` rows the probation ends and the champion stays.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from prefect import task
from prefect.cache_policies import NO_CACHE

from driftgate.alerts.events import model_rolled_back
from driftgate.context import Context
from driftgate.dataset.spec import DatasetSpec
from driftgate.errors import ChampionMovedError, ModelRegistryError
from driftgate.models.contract import InputContract
from driftgate.models.model_loader import LoadedModel, load_registered
from driftgate.models.predict import predict
from driftgate.names import PROBATION_RUN_TAG
from driftgate.policies import GatePolicy, ProbationPolicy
from driftgate.registry.client import CHALLENGER, challenger_version, roll_back_champion
from driftgate.registry.probation import Probation, end_probation, probation, record_probation
from driftgate.stores.predictions_db import read_labelled_answers
from driftgate.tasks.gate import GateResult, judge_live_pairs
from driftgate.tasks.monitor._outcome import ProbationSummary

log = logging.getLogger(__name__)

_LINE = "Probation"


class Action(StrEnum):
    """What a look at the probation rows decides."""

    WAIT = "wait"  # too few rows yet, and not worse: look again on the next run
    KEEP = "keep"  # the probation ends and the champion stays
    ROLL_BACK = "roll back"  # worse with the gate's confidence: champion moves back


@dataclass(frozen=True)
class RollbackDecision:
    """One look's verdict, with its reason, the rows it used and the confidence it tested at."""

    action: Action
    reason: str
    rows: int
    confidence: float | None = None
    result: GateResult | None = None  # the gate's verdict, the previous champion as challenger

    @property
    def looked(self) -> bool:
        return self.result is not None


@dataclass(frozen=True)
class ProbationLook:
    """The open probation and what this run's look at it decided."""

    probation: Probation
    decision: RollbackDecision
    rolled_back_to: str | None = None  # set once the rollback is done

    def summary(self) -> ProbationSummary:
        d = self.decision
        return ProbationSummary(
            self.probation.champion, self.probation.previous, str(d.action), d.reason, d.rows, d.confidence
        )


def look_confidence(confidence: float, rows: int, looked_rows: int, probation_rows: int) -> float:
    """The confidence a look at ``rows`` probation rows tests at, after one at ``looked_rows``.

    The error rate is spent in proportion to the rows: all looks together spend ``1 - confidence``.
    """
    n, m = min(rows, probation_rows), min(looked_rows, probation_rows)
    return 1.0 - (1.0 - confidence) * max(n - m, 0) / probation_rows


def waiting(n: int, record: Probation, *, policy: ProbationPolicy, gate: GatePolicy) -> RollbackDecision | None:
    """Wait without looking: fewer rows than a look needs (the gate's smallest), or none new since the last look."""
    first = min(gate.slice_min_rows, policy.rows)
    if n < first:
        why = f"{n} labelled live rows of version {record.champion} since it became champion; a look needs {first}"
        return RollbackDecision(Action.WAIT, why, n)
    if min(n, policy.rows) <= record.looked_rows:
        return RollbackDecision(Action.WAIT, f"no labelled live rows since the last look ({n} of {policy.rows})", n)
    return None


def decide_rollback(
    spec: DatasetSpec,
    pairs: list[tuple[dict[str, Any], dict[str, Any]]],
    record: Probation,
    *,
    policy: ProbationPolicy,
    gate: GatePolicy,
) -> RollbackDecision:
    """Roll back, keep or wait, from the labelled live rows of the probation (pure).

    Args:
        pairs: ``(champion row, previous champion's row)`` of each labelled row the champion answered
            since it moved, oldest first (the first ``policy.rows`` are the probation's).
        record: the open probation (the rows its last look used).
        policy: the probation's length, and whether a rollback may move the alias.
        gate: the gate's policy (confidence, margin, slices, resamples), as the promotion was judged.
    """
    pairs = pairs[: policy.rows]
    n, champion, previous = len(pairs), record.champion, record.previous
    early = waiting(n, record, policy=policy, gate=gate)
    if early is not None:
        return early
    confidence = look_confidence(gate.confidence, n, record.looked_rows, policy.rows)
    result = judge_live_pairs(spec, pairs, champion, previous, policy=replace(gate, confidence=confidence))
    lead = f"[{_num(result.ci_low)}, {_num(result.ci_high)}]"
    shown = (
        f"on {n} labelled live rows (of {policy.rows} probation rows) version {champion} scored "
        f"{_num(result.champion_score)} and version {previous}, the champion it replaced, "
        f"{_num(result.challenger_score)} ({spec.metric.name}; the previous one's lead {lead} at {confidence:.4%})"
    )
    if result.promoted:
        if policy.auto_rollback:
            return RollbackDecision(Action.ROLL_BACK, f"version {champion} is worse: {shown}", n, confidence, result)
        why = f"version {champion} is worse, kept (DRIFTGATE_AUTO_ROLLBACK is off): {shown}"
        return RollbackDecision(Action.KEEP, why, n, confidence, result)
    if n >= policy.rows:
        return RollbackDecision(Action.KEEP, f"probation passed, not worse: {shown}", n, confidence, result)
    return RollbackDecision(Action.WAIT, f"not worse yet: {shown}", n, confidence, result)


def _num(x: float | None) -> str:
    return "-" if x is None or x != x else f"{x:.4g}"


def score_logged(spec: DatasetSpec, loaded: LoadedModel, rows: list[dict[str, Any]]) -> list[Any]:
    """A model's answers to logged champion rows, from their inputs, as the log stores outputs.

    As the shadow process scores them (``serving/shadow/_worker.py``): the contract's frame of the
    logged fields (a null is a missing value), the one predict, probabilities for a classifier.
    """
    if not rows:
        return []
    contract = InputContract.from_spec(spec, len(rows), loaded.columns)
    columns = {c: [math.nan if (v := r["inputs"].get(c)) is None else v for r in rows] for c in contract.names}
    out = predict(loaded.model, spec.task, contract.frame(columns))
    probabilities = out.probability_dicts()
    return probabilities if probabilities is not None else out.labels()


def check_probation(
    ctx: Context, client: MlflowClient, mv: ModelVersion | None, *, policy: ProbationPolicy, gate: GatePolicy
) -> ProbationLook | None:
    """This run's look at the champion's open probation; None when there is none (a stale one is ended)."""
    name, spec = ctx.model_name, ctx.spec
    if mv is None:  # no champion: nothing on probation
        return None
    try:
        record = probation(client, name)
    except ModelRegistryError as exc:  # unreadable: nothing to settle it against
        log.warning("probation: %s; ending it", exc)
        _quietly(end_probation, client, name)
        return None
    except MlflowException as exc:  # no answer (or no model yet): the next run looks again
        log.warning("probation: the registry did not answer (%s)", exc)
        return None
    if record is None:
        return None
    if record.champion != str(mv.version):  # champion moved another way since (by hand): the probation is over
        log.info("probation of version %s ended: version %s is champion now", record.champion, mv.version)
        _quietly(end_probation, client, name)
        return None
    rows = read_labelled_answers(ctx.predictions_db, name, record.champion, since=record.since, limit=policy.rows)
    early = waiting(len(rows), record, policy=policy, gate=gate)
    if early is not None:
        return ProbationLook(record, early)
    try:
        loaded = load_registered(name, record.previous, spec)
    except ModelRegistryError as exc:  # the previous champion no longer loads: nothing to roll back to
        reason = f"version {record.previous}, the champion it replaced, no longer loads: {exc}"
        return ProbationLook(record, RollbackDecision(Action.KEEP, reason, len(rows)))
    theirs = score_logged(spec, loaded, rows)
    pairs = [(r, {**r, "output": out}) for r, out in zip(rows, theirs, strict=True)]
    return ProbationLook(record, decide_rollback(spec, pairs, record, policy=policy, gate=gate))


def _quietly(write: Any, client: MlflowClient, name: str) -> None:
    try:
        write(client, name)
    except MlflowException as exc:  # the next run tries again
        log.warning("probation: the registry did not take the write (%s)", exc)


def settle_probation(ctx: Context, client: MlflowClient, look: ProbationLook) -> str | None:
    """Act on a look: count it, end the probation, or move ``champion`` back; the version rolled back to, if any."""
    name, record, d = ctx.model_name, look.probation, look.decision
    try:
        if d.action is Action.WAIT:
            if d.looked:
                record_probation(client, name, replace(record, looked_rows=d.rows, looks=record.looks + 1))
            return None
        if d.action is Action.KEEP:
            end_probation(client, name)
            outcome = "kept, worse" if d.result is not None and d.result.promoted else "kept"
            _record(client, name, record.champion, outcome, record.previous, d, record.looks + d.looked)
            return None
        roll_back_champion(client, name, to=record.previous, expected=record.champion, spec=ctx.spec)
    except (ChampionMovedError, ModelRegistryError) as exc:  # moved meanwhile, or the previous would be refused
        log.warning("probation of version %s: %s", record.champion, exc)
        return None
    except MlflowException as exc:
        log.warning("probation of version %s: the registry failed (%s)", record.champion, exc)
        return None
    log.warning("rolled %s back from version %s to %s: %s", name, record.champion, record.previous, d.reason)
    looks = record.looks + 1
    try:
        if challenger_version(client, name) == record.champion:  # else the shadow and the live gate take it again
            client.delete_registered_model_alias(name, CHALLENGER)
        _record(client, name, record.champion, "rolled back", record.previous, d, looks)
        _record(client, name, record.previous, "restored", record.champion, d, looks)
    except MlflowException as exc:  # the move is done; its record is what failed
        log.warning("rollback of version %s: could not record it (%s)", record.champion, exc)
    r = d.result
    model_rolled_back(
        name,
        dataset=ctx.spec.name,
        to_version=record.previous,
        from_version=record.champion,
        reason=f"monitor-predictions, probation: {d.reason}",
        metric=r.metric if r else None,
        interval=(r.ci_low, r.ci_high) if r else (None, None),
        rows=d.rows,
        source="monitor",
        confidence=d.confidence,
    )
    return record.previous


def _record(
    client: MlflowClient, name: str, version: str, outcome: str, other: str, d: RollbackDecision, looks: int
) -> None:
    """The verdict on one version: run tags ``driftgate.probation.*`` and one line of its description."""
    mv = client.get_model_version(name, version)
    line = {
        "rolled back": f"{_LINE}: rolled back to version {other}",
        "restored": f"{_LINE}: champion again, version {other} rolled back",
        "kept": f"{_LINE} against version {other}: kept",
        "kept, worse": f"{_LINE} against version {other}: kept (worse; DRIFTGATE_AUTO_ROLLBACK is off)",
    }[outcome]
    kept = [x for x in (mv.description or "").splitlines() if not x.startswith(_LINE)]
    client.update_model_version(name, version, description="\n".join([*kept, f"{line}: {d.reason}"]))
    if not mv.run_id:
        return
    tags = {
        "outcome": outcome,
        "against": other,
        "reason": d.reason[:4000],
        "rows": str(d.rows),
        "looks": str(looks),
        "confidence": "" if d.confidence is None else f"{d.confidence:.6g}",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    for key, value in tags.items():
        client.set_tag(mv.run_id, PROBATION_RUN_TAG + key, value)


# --- Prefect wrapper ---------------------------------------------------------------------


@task(name="probation", task_run_name="probation-{ctx.spec.name}", cache_policy=NO_CACHE)
def probation_task(
    ctx: Context, client: MlflowClient, mv: ModelVersion | None, *, policy: ProbationPolicy, gate_policy: GatePolicy
) -> ProbationLook | None:
    """Look at the champion's probation and settle it; the look (its decision says what was done)."""
    look = check_probation(ctx, client, mv, policy=policy, gate=gate_policy)
    if look is not None:
        look = replace(look, rolled_back_to=settle_probation(ctx, client, look))
    return look
