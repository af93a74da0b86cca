"""Flow ``monitor-predictions``: drift of live inputs (the service's prediction log) against the champion's data.

Reads the prediction log after the last checkpoint (kept in the lake), compares the live inputs
of the champion's model to the rows the champion was trained on with the same drift policy as
batches, publishes the report, and triggers ``continuous-training`` when the policy says so.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from prefect import flow
from prefect.artifacts import create_markdown_artifact

from driftgate.context import build_context
from driftgate.flows.training import continuous_training
from driftgate.frames import normalize
from driftgate.predictions_db import read_predictions
from driftgate.registry import champion_version, importance, lineage
from driftgate.settings import get_settings
from driftgate.tasks.drift import DriftPolicy
from driftgate.tasks.drift_report import compute_drift, decide
from driftgate.tasks.model_run import reference_rows
from driftgate.tracking import configure_mlflow

log = logging.getLogger(__name__)


def live_inputs(rows: list[dict[str, Any]], features: list[str]) -> pd.DataFrame:
    """The logged inputs as a frame of the model's features (absent fields as missing)."""
    return pd.DataFrame([r["inputs"] for r in rows]).reindex(columns=features)


@flow(name="monitor-predictions")
def monitor_predictions(
    dataset: str | None = None, min_rows: int = 500, trigger: bool = True, ingest: bool = True
) -> dict[str, Any]:
    """Check the live inputs logged since the last check; retrain when they drifted.

    Args:
        dataset: dataset spec name (default: ``DRIFTGATE_DATASET``).
        min_rows: wait until at least this many new predictions are logged (they accumulate).
        trigger: run ``continuous-training`` when the policy asks for retraining.
        ingest: let that run fetch new labelled batches first (off: retrain on what the lake holds).
    """
    ctx = build_context(get_settings(), dataset)
    s, ds = ctx.settings, ctx.spec.name
    state_path = ctx.lake.path("state", ds, "monitor.json")
    state = ctx.lake.read_json(state_path) or {"last_id": 0}
    logged = read_predictions(s.resolved_predictions_db_url(), since_id=int(state["last_id"]))
    rows = [r for r in logged if r["model_name"] == ctx.model_name]
    outcome: dict[str, Any] = {"rows": len(rows), "checked": False, "retrain": False, "reasons": []}
    if len(rows) < min_rows:
        outcome["reasons"] = [f"{len(rows)} new predictions, waiting for {min_rows}"]
        return outcome
    client = configure_mlflow(s)
    mv = champion_version(client, ctx.model_name)
    if mv is None:
        outcome["reasons"] = ["no champion to compare live inputs with"]
        return outcome
    reference = reference_rows(ctx.lake, ctx.spec, lineage(client, mv))
    live = normalize(live_inputs(rows, ctx.spec.feature_names), ctx.spec)
    policy = DriftPolicy.from_settings(s)
    report = compute_drift(reference[ctx.spec.feature_names], live, ctx.spec, policy, importance(client, mv))
    decision = decide(report, policy, ctx.spec, has_champion=True)
    last_id = int(logged[-1]["id"])
    ctx.lake.write_json(state_path, {"last_id": last_id, "champion": str(mv.version)})
    ctx.lake.write_bytes(
        ctx.lake.path("reports", "monitor", ds, f"upto-{last_id}.html"), report.to_html(decision).encode()
    )
    create_markdown_artifact(
        f"# Live inputs of {ctx.model_name} v{mv.version}\n\n{len(rows)} predictions; "
        f"retrain: **{decision.retrain}**\n\n" + "\n".join(f"- {r}" for r in decision.reasons)
        + "\n\n" + report.to_markdown(decision),
        key=f"monitor-{ds}".lower().replace("_", "-"),
    )  # fmt: skip
    outcome.update(checked=True, retrain=decision.retrain, reasons=decision.reasons, drifted=report.drifted,
                   champion=str(mv.version), last_id=last_id)  # fmt: skip
    if decision.retrain and trigger:
        reason = "live inputs drifted (monitor-predictions): " + "; ".join(decision.reasons)
        outcome["training"] = continuous_training(dataset=ds, ingest=ingest, retrain_reason=reason)
    return outcome
