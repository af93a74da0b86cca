"""What monitor-predictions shows: live performance beside live drift, as Markdown, HTML and MLflow metrics."""

from __future__ import annotations

import html
import logging
from typing import TYPE_CHECKING

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

if TYPE_CHECKING:
    from driftgate.tasks.monitor._monitor import LiveDrift, Performance

log = logging.getLogger(__name__)


def _f(v: float | None) -> str:
    return "-" if v is None or v != v else f"{v:.4g}"


def performance_rows(perf: Performance) -> list[list[str]]:
    """One row per version and role: rows, realized value, interval, estimate before labels, error."""
    out = []
    for r in perf.realized:
        error = None if r.estimated is None else r.estimated - r.value
        test = perf.test_score if r.version == perf.champion else None
        out.append([f"v{r.version}", r.role, str(r.rows), _f(r.value), f"{_f(r.low)} to {_f(r.high)}",
                    _f(r.estimated), _f(error), _f(test)])  # fmt: skip
    return out


HEADER = ["version", "role", "labelled rows", "realized", "95% interval", "estimated (CBPE)", "estimate error", "test"]


def performance_markdown(perf: Performance) -> str:
    lines = [f"## Live performance ({perf.metric})", ""]
    if perf.estimated_live is not None:
        lines += [f"Estimated {perf.metric} of champion v{perf.champion} on {perf.estimated_rows} new live rows "
                  f"(no labels needed): **{_f(perf.estimated_live)}**", ""]  # fmt: skip
    if perf.realized:
        lines += ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(row) + " |" for row in performance_rows(perf)]
    else:
        lines.append("No labelled predictions yet (POST /feedback).")
    if perf.paired is not None:
        p = perf.paired
        lines += ["", f"Shadow challenger v{p.challenger} vs champion v{p.champion} on the same {p.rows} labelled "
                  f"rows: {_f(p.challenger_value)} vs {_f(p.champion_value)} (difference 95% interval {_f(p.low)} "
                  f"to {_f(p.high)})"]  # fmt: skip
    if perf.live_gate is not None:
        g, look = perf.live_gate.result, perf.live_gate.look
        lines += ["", f"Gate on fresh labelled live rows (look {look}), v{g.challenger} vs v{g.champion}: "
                  f"**{g.outcome}**: {g.reason}"]  # fmt: skip
    lines += ["", f"Retrain on live performance: **{perf.decision.retrain}**"]
    lines += [f"- {r}" for r in perf.decision.reasons]
    return "\n".join(lines)


def performance_html(perf: Performance) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADER)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in performance_rows(perf)
    )
    est = ""
    if perf.estimated_live is not None:
        est = (
            f"<p>Estimated {html.escape(perf.metric)} of champion v{html.escape(str(perf.champion))} on "
            f"{perf.estimated_rows} new live rows (before labels): <b>{_f(perf.estimated_live)}</b></p>"
        )
    paired = ""
    if perf.paired is not None:
        p = perf.paired
        paired = (f"<p>Shadow challenger v{html.escape(p.challenger)} vs champion v{html.escape(p.champion)} on the "
                  f"same {p.rows} labelled rows: {_f(p.challenger_value)} vs {_f(p.champion_value)} (difference "
                  f"{_f(p.low)} to {_f(p.high)})</p>")  # fmt: skip
    if perf.live_gate is not None:
        g, look = perf.live_gate.result, perf.live_gate.look
        paired += (f"<p>Gate on fresh labelled live rows (look {look}), v{html.escape(g.challenger)} vs "
                   f"v{html.escape(str(g.champion))}: <b>{html.escape(str(g.outcome))}</b>: "
                   f"{html.escape(g.reason)}</p>")  # fmt: skip
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in perf.decision.reasons)
    verdict = "yes" if perf.decision.retrain else "no"
    return (
        f"<section id=performance><h2>Live performance ({html.escape(perf.metric)})</h2>{est}"
        f"<table><tr>{head}</tr>{body}</table>{paired}"
        f"<h3>Retrain on live performance: {verdict}</h3><ul>{reasons}</ul></section>"
    )


def monitor_page(drift: LiveDrift, perf: Performance) -> str:
    """The drift report with live performance beside it (or performance alone when drift waited)."""
    section = performance_html(perf)
    if drift.report is not None:
        page = drift.report.to_html(drift.decision)
        return page.replace("</body>", section + "</body>") if "</body>" in page else page + section
    head = "<!doctype html><html><head><meta charset=utf-8><title>Live performance</title></head>"
    return f"{head}<body>{section}</body></html>"


def log_performance(client: MlflowClient, model_name: str, perf: Performance, step: int) -> None:
    """Realized (and estimated) metrics on each version's own MLflow run, at ``step``."""
    for r in perf.realized:
        try:
            run_id = client.get_model_version(model_name, r.version).run_id
        except MlflowException:
            continue
        if not run_id or r.value != r.value:
            continue
        prefix = "realized" if r.role == "champion" else f"realized_{r.role}"
        client.log_metric(run_id, f"{prefix}_{r.metric}", r.value, step=step)
        client.log_metric(run_id, f"{prefix}_rows", float(r.rows), step=step)
        if r.estimated is not None:
            client.log_metric(run_id, f"estimated_{r.metric}", r.estimated, step=step)
