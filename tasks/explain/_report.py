"""Plots and a self-contained HTML page of a version's SHAP explanation, logged to MLflow."""

from __future__ import annotations

import io
import json
import logging
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient
from prefect import task
from prefect.cache_policies import NO_CACHE

from driftgate.stores.lake import Lake
from driftgate.names import FIT_TAG
from driftgate.pages.render import metric_rows, png_data_uri, render_standalone
from driftgate.policies import ExplainSettings
from driftgate.registry.client import lineage
from driftgate.dataset.spec import DatasetSpec
from driftgate.tasks._fault_point import fault_point
from driftgate.tasks.evaluate import slice_metrics
from driftgate.tasks.explain._shap import Explanation, explain_sample
from driftgate.tasks.train import TrainedVersion, TrainingData, load_window, split_xy

log = logging.getLogger(__name__)

ARTIFACT_DIR = "explanations"


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _numeric_view(ex: Explanation) -> np.ndarray:
    """Feature values as numbers for colouring (category codes for categoricals)."""
    cols = []
    for c in ex.features:
        s = ex.data[c]
        cols.append(
            s.astype("category").cat.codes.to_numpy(dtype=float)
            if not pd.api.types.is_numeric_dtype(s)
            else s.to_numpy(dtype=float)
        )
    return np.column_stack(cols) if cols else np.zeros((0, 0))


def plots(ex: Explanation, top: int = 3, order: dict[str, list[str]] | None = None) -> dict[str, bytes]:
    """Bar, beeswarm and dependence plots as PNG bytes, keyed by file name.

    Args:
        order: each categorical feature's levels in the spec's order (ordered categories plot in their order).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import shap

    out: dict[str, bytes] = {}
    imp = ex.importance()
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(imp) + 1))
    names = list(imp)[::-1]
    ax.barh(names, [imp[n] for n in names], color="#1f77b4")
    ax.set_xlabel("mean |SHAP value|")
    out["bar.png"] = _png(fig)

    sx = shap.Explanation(
        values=ex.values,
        base_values=ex.base_values,
        data=_numeric_view(ex),
        feature_names=ex.features,
    )
    plt.figure()
    shap.plots.beeswarm(sx, show=False, max_display=len(ex.features))
    out["beeswarm.png"] = _png(plt.gcf())

    for name in list(imp)[:top]:
        i = ex.features.index(name)
        fig, ax = plt.subplots(figsize=(5, 3.5))
        x = ex.data[name]
        if pd.api.types.is_numeric_dtype(x):
            ax.scatter(x, ex.values[:, i], s=6, alpha=0.5)
        else:
            seen = {str(v): v for v in x.dropna().unique()}
            spec_order = [seen.pop(v) for v in (order or {}).get(name, []) if v in seen]
            levels = spec_order + sorted(seen.values(), key=str)
            ax.boxplot([ex.values[(x == lv).to_numpy(), i] for lv in levels], tick_labels=[str(lv) for lv in levels])
        ax.set_xlabel(name)
        ax.set_ylabel(f"SHAP value of {name}")
        out[f"dependence_{name}.png"] = _png(fig)
    return out


def report_html(
    *,
    title: str,
    ex: Explanation,
    images: dict[str, bytes],
    metrics: dict[str, float],
    slices: list[dict[str, Any]],
    lineage: list[dict[str, Any]],
    trigger: str,
    gate: str,
) -> str:
    """One page, images inline: opens offline from disk, MLflow or the service."""
    return render_standalone(
        "report_explanation.html",
        title=title,
        trigger=trigger,
        gate=gate,
        metrics=[{"metric": label, "value": value} for label, value in metric_rows(metrics)],
        explainer=ex.explainer,
        rows=len(ex.values),
        importance=[{"feature": k, "mean |SHAP|": v} for k, v in ex.importance().items()],
        explained=_explained_text(ex),
        class_importance=[
            {"feature": f, **{c: imp[f] for c, imp in (ex.class_importance or {}).items()}} for f in ex.importance()
        ]
        if ex.class_importance
        else [],
        images=[(n.removesuffix(".png").replace("_", " "), png_data_uri(b)) for n, b in images.items()],
        slices=slices,
        lineage=lineage,
    )


def _explained_text(ex: Explanation) -> str:
    """Which output the importance explains (classifiers), in words."""
    if not ex.explained_class:
        return ""
    if ex.class_importance:
        return "Multi-class: each row is explained for its predicted class; per-class importance below."
    return f"Explained: the log-odds of class {ex.explained_class[0]!r}."


def log_explanation(ex: Explanation, images: dict[str, bytes], page: str) -> None:
    """Log importance, plots and the page under ``explanations/`` of the active run."""

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "importance.json").write_text(json.dumps(ex.importance(), indent=2))
        (d / "report.html").write_text(page)
        for name, data in images.items():
            (d / name).write_bytes(data)
        mlflow.log_artifacts(str(d), ARTIFACT_DIR)


def explain_version(
    spec: DatasetSpec,
    trained: TrainedVersion,
    model: Any,
    *,
    data: TrainingData,
    trigger: list[str],
    gate_reason: str,
    budget: ExplainSettings,
) -> dict[str, float]:
    """SHAP on the version's test rows, its report page, all logged to its run; the importance.

    Args:
        budget: rows and seconds at most of the SHAP sample, and its seed.
    """
    ex = explain_sample(model, spec, data.test, budget.rows, budget.seconds, budget.seed)
    fault_point("in_shap")
    images = plots(ex, order={f.name: f.values for f in spec.features if f.values})
    X, y = split_xy(data.test, spec)
    page = report_html(
        title=f"{trained.name} version {trained.version}",
        ex=ex,
        images=images,
        metrics=trained.metrics,
        slices=slice_metrics(model, spec, X, y),
        lineage=[asdict(b) for b in data.batches],
        trigger="; ".join(trigger),
        gate=gate_reason,
    )
    with mlflow.start_run(run_id=trained.run_id):
        log_explanation(ex, images, page)
    return ex.importance()


def explain_registered(
    client: MlflowClient, lake: Lake, spec: DatasetSpec, mv: ModelVersion, model: Any, *, budget: ExplainSettings
) -> dict[str, float]:
    """Explain a registered version after the fact, on the test rows of the batches that trained it.

    For a champion whose run holds no explanation: a process killed after ``champion`` moved and
    before SHAP was logged (the rerun finds the batch trained and does not train it again). What
    the run recorded (its metrics, trigger and gate verdict) fills the report.
    """
    run = client.get_run(str(mv.run_id))
    tags = run.data.tags
    trained = TrainedVersion(
        name=str(mv.name),
        version=str(mv.version),
        run_id=str(mv.run_id),
        family=run.data.params.get("family", ""),
        params={},
        metrics=dict(run.data.metrics),
        fit=tags.get(FIT_TAG, ""),
    )
    data = load_window(lake, spec, [b.number for b in lineage(client, mv)])
    reasons = tags.get("driftgate.reasons") or tags.get("driftgate.trigger", "")
    gate_reason = tags.get("driftgate.gate.reason", "")
    log.info("explaining version %s of %s: its run holds no explanation", mv.version, mv.name)
    return explain_version(spec, trained, model, data=data, trigger=[reasons], gate_reason=gate_reason, budget=budget)


# --- Prefect wrappers ------------------------------------------------------------------


# Runs after the gate, so explaining never delays a promotion.
explain_task = task(
    name="explain-model", task_run_name="explain-{spec.name}-v{trained.version}", cache_policy=NO_CACHE
)(explain_version)

explain_registered_task = task(
    name="explain-registered", task_run_name="explain-{spec.name}-v{mv.version}", cache_policy=NO_CACHE
)(explain_registered)
