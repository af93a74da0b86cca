"""The web console's pages: what they show, and how (templates, a strict CSP, the service's own assets).

Read-only pages from templates (:mod:`driftgate.pages.render`); everything a page needs comes from this
service (no external URL), from the registry through the model store, and from the lake's
``reports/`` and ``state/`` areas through :class:`~driftgate.serving.lake_reader.LakeReader`.
The routes are in :mod:`driftgate.serving.routes.console` and :mod:`driftgate.serving.routes.reports`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from litestar import MediaType, Response
from litestar.openapi.plugins import SwaggerRenderPlugin

from driftgate.dataset.spec import DatasetSpec
from driftgate.models.contract import InputContract
from driftgate.pages.charts import Panel, line_panels
from driftgate.pages.render import METRIC_NAMES, number, render, static_dir
from driftgate.serving.lake_reader import LakeReader
from driftgate.serving.versions import VersionViews

# Console pages run only the service's own script and style; lake reports are shown sandboxed
# (their inline style only: Data Docs' CDN links and any script stay blocked).
CONSOLE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox; frame-ancestors 'none'"
NAV = [
    ("/console", "Home"),
    ("/console/predict", "Try a prediction"),
    ("/console/timeline", "Timeline"),
    ("/reports", "Versions"),
    ("/console/monitor", "Monitor"),
    ("/schema", "API docs"),
]
SWAGGER_DIR = "swagger"


@dataclass(frozen=True)
class Console:
    """What the console's pages read: the lake's reports and state, and the registry's versions (both cached)."""

    reader: LakeReader
    versions: VersionViews


def html_page(template: str, here: str, status: int = 200, **context: Any) -> Response[str]:
    """A console page: the nav bar, the one stylesheet, a strict Content-Security-Policy."""
    body = render(template, nav=NAV, here=here, **context)
    return Response(
        body, media_type=MediaType.HTML, status_code=status, headers={"content-security-policy": CONSOLE_CSP}
    )


def not_found(what: str) -> Response[str]:
    return html_page("console/not_found.html", "", status=404, title="Not found", what=what)


def report_file(data: bytes | str, media_type: str) -> Response[Any]:
    """A report as written (a lake file, a logged explanation), sandboxed: its inline style only."""
    return Response(data, media_type=media_type, headers={"content-security-policy": REPORT_CSP})


RECORD_FIELDS = (
    "rows",
    "valid",
    "drift",
    "drifted",
    "retrained",
    "reasons",
    "version",
    "gate",
    "gate_reason",
    "promoted",
    "champion",
    "metric",
    "trigger",
    "window",
    "window_rows",
    "question",
    "next_batch",
)


def batch_row(record: dict[str, Any]) -> dict[str, Any]:
    """A progress record with every field the pages show (older records lack some)."""
    row = dict.fromkeys(RECORD_FIELDS) | record
    row["batch"] = int(record.get("batch") or 0)
    return row


def typical_row(rows: pd.DataFrame | None, names: list[str]) -> dict[str, Any]:
    """The median of each numeric feature and the most common value of each other one, over the rows the
    champion keeps as its input example (real training rows, in memory already: no lake read per page)."""
    if rows is None or rows.empty:
        return {}
    out: dict[str, Any] = {}
    for name in names:
        col = rows[name].dropna() if name in rows.columns else pd.Series(dtype=object)
        if col.empty:
            continue
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            out[name] = float(col.median())
        else:
            out[name] = str(col.mode().iloc[0])
    return out


def timeline(console: Console, spec: DatasetSpec) -> dict[str, Any]:
    """The timeline page's context: one row per batch with its reports, the metric and drift drawn over batches."""
    r = console.reader
    index = console.versions.index()
    heldout = {v["version"]: v["metric"] for v in index}
    rows = []
    for rec in map(batch_row, r.progress()):
        n = rec["batch"]
        rows.append(
            {
                "rec": rec,
                "batch": n,
                "validation": r.validation_page(n),
                "drift": r.drift_page(n),
                "reasons": rec.get("reasons") or [],
                "trigger": rec.get("trigger"),
                "window": _window(rec),
                # what the versions serving before this batch delivered on it, beside what they promised
                "served": [(v, score, heldout.get(v)) for v, score in (rec.get("next_batch") or {}).items()],
            }
        )
    points: dict[int, dict[str, float | None]] = {}
    for row in rows:  # a forced retrain repeats a batch number: the last record of a batch wins
        points[row["batch"]] = {"metric": row["rec"].get("metric"), "drift": row["rec"].get("drift")}
    quarantined = sorted({row["batch"] for row in rows if row["rec"].get("valid") is False})
    xs = [x for x in sorted(points) if x not in quarantined]
    spec_metric = spec.metric
    better = "higher is better" if spec_metric.direction == "maximize" else "lower is better"
    chart = line_panels(
        xs,
        [
            Panel(
                f"{METRIC_NAMES.get(spec_metric.name, spec_metric.name)} of the champion after each batch, on its "
                f"test rows ({better})",
                [points[x]["metric"] for x in xs],
            ),
            Panel(
                "drift share: importance-weighted share of drifted features (%)",
                [points[x]["drift"] for x in xs],
                unit="%",
                cls="s2",
            ),
        ],
        gaps=quarantined,
    )
    backtests = [p for p in r.reports("backtest") if p.endswith(".html")]
    refused = {v["version"]: v["refused"] for v in index if v.get("refused")}
    return {
        "rows": rows,
        "chart": chart if xs else None,
        "dataset": r.dataset,
        "backtest": backtests[-1] if backtests else None,
        "refused": refused,
    }


def _window(rec: dict[str, Any]) -> str | None:
    """The training window of a record, in words (records written before windows were recorded: None)."""
    window, rows = rec.get("window"), rec.get("window_rows")
    if not window and rows is None:
        return None
    if isinstance(window, list) and window and all(isinstance(b, int) for b in window):
        span = f"batches {window[0]} to {window[-1]}" if len(window) > 1 else f"batch {window[0]}"
    else:
        span = str(window) if window else ""
    count = f"{rows:,} rows" if isinstance(rows, int) else ""
    return ", ".join(p for p in (span, count) if p)


def monitor(reader: LakeReader) -> dict[str, Any]:
    """The monitor page's context: live-input drift reports, the newest summary, the monitor's state."""
    found = sorted(reader.reports("monitor"), key=_report_order, reverse=True)
    reports = [p for p in found if p.endswith(".html")]
    summaries = [p for p in found if p.endswith(".json")]
    last = _json(reader.read(summaries[0])) if summaries else None
    page = summaries[0].removesuffix(".json") + ".html" if last else None
    return {
        "reports": reports,
        "state": reader.state("monitor.json"),
        "last": last,
        "last_page": page if page in reports else None,
    }


def _json(data: bytes | None) -> dict[str, Any] | None:
    """A summary file the monitor wrote (None when missing or unreadable: the page says so)."""
    try:
        value = json.loads(data) if data else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _report_order(path: str) -> tuple[int, str]:
    digits = "".join(ch for ch in path.rsplit("/", 1)[-1] if ch.isdigit())
    return (int(digits) if digits else -1, path)


def static_asset(path: str) -> tuple[bytes, str] | None:
    """The bytes and media type of a stylesheet, the console's script or a Swagger UI asset (None: no such file)."""
    name = path.strip("/")
    if name.startswith(f"{SWAGGER_DIR}/"):
        import swagger_ui  # the swagger-ui-py package: Swagger UI 5 (OpenAPI 3.1) static files

        folder, name = Path(swagger_ui.__file__).parent / "static", name.removeprefix(f"{SWAGGER_DIR}/")
    else:
        folder = static_dir()
    data = _static(str(folder), name)
    if data is None:
        return None
    kind = {"js": "text/javascript", "css": "text/css", "png": "image/png"}.get(name.rsplit(".", 1)[-1], "")
    return data, kind or "application/octet-stream"


_STATIC: dict[tuple[str, str], bytes] = {}


def _static(folder: str, name: str) -> bytes | None:
    """A file of a fixed folder, by plain name only (read once; misses are not remembered)."""
    key = (folder, name)
    if key not in _STATIC:
        ok = name and "/" not in name and "\\" not in name and not name.startswith(".")
        f = Path(folder) / name
        if not (ok and f.is_file()):
            return None
        _STATIC[key] = f.read_bytes()
    return _STATIC[key]


def swagger_offline() -> SwaggerRenderPlugin:
    """Swagger UI at ``/schema`` with its JS/CSS from this service (the PyPI swagger-ui-py copy)."""
    base = f"/static/{SWAGGER_DIR}"
    return SwaggerRenderPlugin(
        js_url=f"{base}/swagger-ui-bundle.js",
        css_url=f"{base}/swagger-ui.css",
        standalone_preset_js_url=f"{base}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{base}/favicon-32x32.png'>",
        path="/swagger",
    )


def predict_form(contract: InputContract, typical: dict[str, Any]) -> list[dict[str, Any]]:
    """The try-a-prediction form's fields, from the input contract, pre-filled with a typical row."""
    example = contract.example() | typical
    return [
        {
            "name": r.name,
            "kind": r.kind,
            "min": r.min,
            "max": r.max,
            "choices": sorted(r.values),
            "value": number(example.get(r.name)).replace(",", "") if r.kind == "numeric" else example.get(r.name),
        }
        for r in contract.fields
    ]
