"""The gate on live rows: the shadow challenger becomes champion when labelled live traffic says so.

The version under the ``challenger`` alias was scored in the shadow on the same live requests as
the champion (serving/shadow.py), after both were trained, so every labelled live row is a row
neither model trained on. ``monitor-predictions`` hands those rows to the gate's own decision
(:func:`driftgate.tasks.gate.evaluate_challenger`: the same paired test, margin, confidence and
slices, with the categorical levels of the logged inputs as slices). When it says **promoted**, the
champion alias moves by compare-and-set against the champion that was compared, and the verdict is
recorded on the challenger: registry description, run tags ``driftgate.gate.live.*`` and the
artifact ``gate-live.json``. Any other verdict changes nothing; it is reported by the monitor.

Each monitor run looks at the newest window again, so a challenger gets several looks at
overlapping rows; the margin (``DRIFTGATE_GATE_MARGIN``) and the slice minimum are what keep a
lucky look from promoting it. ``DRIFTGATE_MONITOR_PROMOTE_SHADOW=false`` reports without promoting.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, replace
from typing import Any

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from driftgate.registry import CHALLENGER, set_champion
from driftgate.spec import DatasetSpec
from driftgate.tasks._gate_result import GatePolicy, GateResult
from driftgate.tasks.gate import evaluate_challenger
from driftgate.tasks.realized import as_predictions, live_pairs, scored_pairs

log = logging.getLogger(__name__)

LIVE_TAG = "driftgate.gate.live."


def challenger_alias(client: MlflowClient, name: str) -> str | None:
    """The version the ``challenger`` alias points to, or None."""
    try:
        return str(client.get_model_version_by_alias(name, CHALLENGER).version)
    except MlflowException:
        return None


def gate_on_live(
    spec: DatasetSpec, rows: list[dict[str, Any]], champion: str, challenger: str, policy: GatePolicy
) -> GateResult | None:
    """The gate's verdict on the labelled live rows both versions scored (pure); None without any.

    Args:
        rows: labelled prediction rows of every role (``read_labelled``), each with its ``inputs``.
        champion: the champion version that answered them.
        challenger: the version the shadow scored them with.
    """
    if challenger == champion:
        return None
    found = live_pairs(rows, champion, challenger)
    if found is None:
        return None
    _, pairs = found
    ours, theirs = scored_pairs(spec, pairs)
    frame = pd.DataFrame([c["inputs"] for c, _ in pairs])  # the logged inputs: the slices' levels
    for col in spec.categorical:
        if col not in frame:
            frame[col] = None
    frame[spec.target] = ours.y
    result = evaluate_challenger(spec, frame, as_predictions(theirs), as_predictions(ours), policy)
    return replace(result, challenger=challenger, champion=champion)


def promote_on_live(client: MlflowClient, name: str, result: GateResult, move: bool = True) -> bool:
    """Record the live verdict on the challenger; move the alias (compare-and-set) when it promotes and ``move``.

    Returns:
        Whether the champion alias moved.

    Raises:
        ChampionMovedError: the champion moved since it was compared (nothing is moved then).
    """
    if not result.challenger:
        raise ValueError("a live gate result must name its challenger")
    moved = False
    if result.promoted and move:
        set_champion(client, name, result.challenger, expected=result.champion)
        moved = True
        log.info("live gate: %s v%s promoted over v%s: %s", name, result.challenger, result.champion, result.reason)
    mv = client.get_model_version(name, result.challenger)
    verdict = f"Gate on {result.rows} labelled live rows (shadow): {result.outcome}: {result.reason}"
    if verdict not in (mv.description or ""):
        client.update_model_version(name, result.challenger, description=f"{mv.description or ''}\n{verdict}")
    if mv.run_id:
        tags = {"outcome": str(result.outcome), "promoted": str(result.promoted), "reason": result.reason[:4000],
                "rows": str(result.rows), "champion": str(result.champion)}  # fmt: skip
        for key, value in tags.items():
            client.set_tag(mv.run_id, LIVE_TAG + key, value)
        client.log_text(mv.run_id, json.dumps(asdict(result), default=str, indent=1), "gate-live.json")
    return moved
