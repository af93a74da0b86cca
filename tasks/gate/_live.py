"""The gate on live rows: the shadow challenger becomes champion when labelled live traffic says so.

The version under the ``challenger`` alias was scored in the shadow on the same live requests as
the champion (serving/shadow.py), after both were trained, so every labelled live row is a row
neither model trained on. ``monitor-predictions`` hands those rows to the gate's own decision
(:func:`driftgate.tasks.gate._gate.evaluate_challenger`: the same paired test, margin, confidence and
slices, with the categorical levels of the logged inputs as slices). When it says **promoted**, the
champion alias moves by compare-and-set against the champion that was compared, and the verdict is
recorded on the challenger: registry description, run tags ``driftgate.gate.live.*`` and the
artifact ``gate-live.json``. Any other verdict changes nothing; it is reported by the monitor.

Repeated looks: every monitor run could test the challenger again, and with enough looks at
equal models one would promote by luck. So each look uses only rows no earlier look used (the
challenger's run remembers the last row, ``driftgate.gate.live.last_row``), needs at least
``DRIFTGATE_GATE_SLICE_MIN_ROWS`` of them, and spends a shrinking share of the gate's error rate:
look ``k`` tests at ``1 - (1 - confidence) / (k (k + 1))``. Those shares sum to ``1 - confidence``
over all looks, so the chance that any look promotes an equal challenger stays within the gate's
own. ``DRIFTGATE_MONITOR_PROMOTE_SHADOW=false`` records the verdicts without promoting.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, replace
from typing import Any

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from driftgate.dataset.spec import DatasetSpec
from driftgate.models.model_loader import check_servable
from driftgate.policies import GatePolicy
from driftgate.registry.client import challenger_version, set_champion
from driftgate.tasks.evaluate import as_predictions, live_pairs, scored_pairs
from driftgate.tasks.gate._gate import evaluate_challenger
from driftgate.tasks.gate._result import GateResult

log = logging.getLogger(__name__)

LIVE_TAG = "driftgate.gate.live."
_LINE = "Gate on labelled live rows (shadow)"


@dataclass(frozen=True)
class LiveLook:
    """One look of the gate at the challenger's fresh labelled live rows."""

    result: GateResult
    look: int  # 1 for the first look at this challenger
    last_row: int  # the newest prediction row it used (the next look starts after it)


def spent_confidence(confidence: float, look: int) -> float:
    """The confidence look ``look`` tests at: the error rates of all looks sum to ``1 - confidence``."""
    return 1.0 - (1.0 - confidence) / (look * (look + 1))


def earlier_looks(client: MlflowClient, name: str, version: str) -> tuple[int, int]:
    """How many looks the gate took at ``version`` on live rows, and the last row they used."""
    mv = client.get_model_version(name, version)
    tags = client.get_run(mv.run_id).data.tags if mv.run_id else {}
    return int(tags.get(LIVE_TAG + "looks", 0)), int(tags.get(LIVE_TAG + "last_row", 0))


def challenger_alias(client: MlflowClient, name: str) -> str | None:
    """The version the ``challenger`` alias points to; None when there is none or the registry failed."""
    try:
        return challenger_version(client, name)
    except MlflowException as exc:  # no live look this run; the next run looks again
        log.warning("live gate: the registry did not answer (%s)", exc)
        return None


def gate_on_live(
    spec: DatasetSpec,
    rows: list[dict[str, Any]],
    champion: str,
    challenger: str,
    *,
    policy: GatePolicy,
    after_row: int = 0,
    look: int = 1,
) -> LiveLook | None:
    """The gate's verdict on the fresh labelled live rows both versions scored (pure).

    Args:
        rows: labelled prediction rows of every role (``read_labelled``), each with its ``id`` and ``inputs``.
        champion: the champion version that answered them.
        challenger: the version the shadow scored them with.
        policy: the gate's policy; its confidence is spent over looks (:func:`spent_confidence`).
        after_row: only rows after this prediction row id (the rows earlier looks used are spent).
        look: the number of this look at ``challenger``.

    Returns:
        None when the challenger is the champion or fewer than ``policy.slice_min_rows`` fresh rows exist.
    """
    if challenger == champion:
        return None
    found = live_pairs([r for r in rows if int(r["id"]) > after_row or r["role"] != "champion"], champion, challenger)
    if found is None or len(found[1]) < policy.slice_min_rows:
        return None
    _, pairs = found
    spent = replace(policy, confidence=spent_confidence(policy.confidence, look))
    result = judge_live_pairs(spec, pairs, champion, challenger, policy=spent)
    last_row = max(int(c["id"]) for c, _ in pairs)
    return LiveLook(result, look, last_row)


def judge_live_pairs(
    spec: DatasetSpec,
    pairs: list[tuple[dict[str, Any], dict[str, Any]]],
    champion: str,
    challenger: str,
    *,
    policy: GatePolicy,
) -> GateResult:
    """The gate's verdict on labelled live rows both versions answered (pure).

    Args:
        pairs: ``(champion row, other row)`` of the same prediction (:func:`live_pairs`): the champion
            row's ``inputs`` (the slices' levels), ``label`` and ``output``, the other row's ``output``.
        policy: the gate's policy, at the confidence this look spends.
    """
    ours, theirs = scored_pairs(spec, pairs)
    frame = pd.DataFrame([c["inputs"] for c, _ in pairs])  # the logged inputs: the slices' levels
    for col in spec.categorical:
        if col not in frame:
            frame[col] = None
    frame[spec.target] = ours.y
    result = evaluate_challenger(spec, frame, as_predictions(theirs), as_predictions(ours), policy=policy)
    return replace(result, challenger=challenger, champion=champion)


def promote_on_live(
    client: MlflowClient, name: str, live: LiveLook, move: bool = True, spec: DatasetSpec | None = None
) -> bool:
    """Record the look on the challenger; move the alias (compare-and-set) when it promotes and ``move``.

    Returns:
        Whether the champion alias moved.

    Raises:
        ChampionMovedError: the champion moved since it was compared (nothing is moved then).
        ModelLoadError: with ``spec``, the service would refuse the challenger (nothing is moved then).
    """
    result = live.result
    if not result.challenger:
        raise ValueError("a live gate result must name its challenger")
    moved = False
    if result.promoted and move:
        if spec is not None:  # the service must be able to load it
            check_servable(name, result.challenger, spec)
        set_champion(client, name, result.challenger, expected=result.champion)
        moved = True
        log.info("live gate: %s v%s promoted over v%s: %s", name, result.challenger, result.champion, result.reason)
    mv = client.get_model_version(name, result.challenger)
    kept = [line for line in (mv.description or "").splitlines() if not line.startswith(_LINE)]
    verdict = f"{_LINE}, look {live.look} ({result.rows} rows): {result.outcome}: {result.reason}"
    client.update_model_version(name, result.challenger, description="\n".join([*kept, verdict]))  # one line, replaced
    if mv.run_id:
        tags = {
            "outcome": str(result.outcome),
            "promoted": str(result.promoted),
            "reason": result.reason[:4000],
            "rows": str(result.rows),
            "champion": str(result.champion),
            "looks": str(live.look),
            "last_row": str(live.last_row),
            "confidence": f"{result.confidence:.6g}",
        }
        for key, value in tags.items():
            client.set_tag(mv.run_id, LIVE_TAG + key, value)
        client.log_text(mv.run_id, json.dumps(asdict(result), default=str, indent=1), f"gate-live-{live.look}.json")
    return moved
