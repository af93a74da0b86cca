"""Plots and a self-contained HTML page of a version's SHAP explanation, logged to MLflow."""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from driftgate.tasks.explain import Explanation

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


def plots(ex: Explanation, top: int = 3) -> dict[str, bytes]:
    """Bar, beeswarm and dependence plots as PNG bytes, keyed by file name."""
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
        base_values=np.full(len(ex.values), ex.base_value),
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
            levels = sorted(x.dropna().unique(), key=str)
            ax.boxplot([ex.values[(x == lv).to_numpy(), i] for lv in levels], tick_labels=[str(lv) for lv in levels])
        ax.set_xlabel(name)
        ax.set_ylabel(f"SHAP value of {name}")
        out[f"dependence_{name}.png"] = _png(fig)
    return out


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>none</p>"
    cols = list(rows[0])
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in cols) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


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
    imgs = "".join(
        f"<figure><img alt='{html.escape(n)}' src='data:image/png;base64,{base64.b64encode(b).decode()}'>"
        f"<figcaption>{html.escape(n.removesuffix('.png').replace('_', ' '))}</figcaption></figure>"
        for n, b in images.items()
    )
    importance = [{"feature": k, "mean |SHAP|": v} for k, v in ex.importance().items()]
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}"
        "td,th{border:1px solid #ccc;padding:3px 6px}table{border-collapse:collapse;margin-bottom:1em}"
        "figure{display:inline-block;margin:0.5em}img{max-width:520px}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p><b>Triggered by:</b> {html.escape(trigger or 'n/a')}<br><b>Gate:</b> {html.escape(gate or 'n/a')}</p>"
        f"<h2>Metrics</h2>{_table([{'metric': k, 'value': v} for k, v in sorted(metrics.items())])}"
        f"<h2>Feature importance (SHAP, {ex.explainer} explainer, {len(ex.values)} test rows)</h2>"
        f"{_table(importance)}<h2>Plots</h2>{imgs}"
        f"<h2>Per-slice test metrics</h2>{_table(slices)}"
        f"<h2>Trained on</h2>{_table(lineage)}</body></html>"
    )


def log_explanation(ex: Explanation, images: dict[str, bytes], page: str) -> None:
    """Log importance, plots and the page under ``explanations/`` of the active run."""
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "importance.json").write_text(json.dumps(ex.importance(), indent=2))
        (d / "report.html").write_text(page)
        for name, data in images.items():
            (d / name).write_bytes(data)
        mlflow.log_artifacts(str(d), ARTIFACT_DIR)
