"""The web console: home, try a prediction, timeline of batches, monitor, lake reports, static files.

Read-only pages from templates (:mod:`driftgate.pages`); everything a page needs comes from this
service (no external URL), from the registry through the model store, and from the lake's
``reports/`` and ``state/`` areas through :class:`~driftgate.serving.lake_reader.LakeReader`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from litestar import MediaType, Request, Response, get
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.params import PathParameter

from driftgate.charts import Panel, line_panels
from driftgate.contract import InputContract
from driftgate.lake import Lake
from driftgate.pages import METRIC_NAMES, number, render, static_dir
from driftgate.serving.lake_reader import LakeReader, content_type
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


class Console:
    """What the console's handlers share: the lake reader and the registry views."""

    def __init__(self, svc: Any) -> None:
        self.svc = svc
        s = svc.settings
        self.reader = LakeReader(Lake(s.resolved_lake_url(), s.storage_options()), svc.store.spec.name)
        self.versions = VersionViews(svc.store)


def console_of(request: Request[Any, Any, Any]) -> Console:
    state = request.app.state
    if "console" not in state:
        state.console = Console(state.service)
    return state.console  # type: ignore[no-any-return]


def html_page(template: str, here: str, status: int = 200, **context: Any) -> Response[str]:
    """A console page: the nav bar, the one stylesheet, a strict Content-Security-Policy."""
    body = render(template, nav=NAV, here=here, **context)
    return Response(
        body, media_type=MediaType.HTML, status_code=status, headers={"content-security-policy": CONSOLE_CSP}
    )


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
)


def batch_row(record: dict[str, Any]) -> dict[str, Any]:
    """A progress record with every field the pages show (older records lack some)."""
    row = dict.fromkeys(RECORD_FIELDS) | record
    row["batch"] = int(record.get("batch") or 0)
    return row


def not_found(what: str) -> Response[str]:
    return html_page("console/not_found.html", "", status=404, title="Not found", what=what)


@get("/console", sync_to_thread=True)
def console_home(request: Request[Any, Any, Any]) -> Response[str]:
    """The champion's card, the service's state, the latest batches, links to the other UIs."""
    con = console_of(request)
    s = con.svc.settings
    store = con.svc.store
    served = store.current
    links = [(label, url) for label, url in (("Prefect UI", s.prefect_ui_url), ("MLflow UI", s.mlflow_ui_url)) if url]
    return html_page(
        "console/home.html",
        "/console",
        title=f"{store.name}: champion",
        champion=con.versions.champion(),
        served=served.version if served else None,
        last_error=store.last_error,
        recent=[batch_row(r) for r in con.reader.progress()[-5:][::-1]],
        links=links,
        metric=store.spec.metric.name,
    )


@get("/console/predict", sync_to_thread=False)
def console_predict(request: Request[Any, Any, Any]) -> Response[str]:
    """A form generated from the input contract, pre-filled with a typical row of the champion's training rows."""
    con = console_of(request)
    served = con.svc.store.current
    contract = served.contract if served else InputContract.from_spec(con.svc.store.spec, con.svc.settings.max_records)
    example = contract.example() | typical_row(served.input_example if served else None, contract.names)
    fields = [
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
    return html_page(
        "console/predict.html",
        "/console/predict",
        title="Try a prediction",
        fields=fields,
        version=served.version if served else None,
        task=con.svc.store.spec.task,
    )


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


@get("/console/timeline", sync_to_thread=True)
def console_timeline(request: Request[Any, Any, Any]) -> Response[str]:
    """One row per batch with links to its reports, and the metric and drift share over batches."""
    con = console_of(request)
    r = con.reader
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
            }
        )
    points: dict[int, dict[str, float | None]] = {}
    for row in rows:  # a forced retrain repeats a batch number: the last record of a batch wins
        points[row["batch"]] = {"metric": row["rec"].get("metric"), "drift": row["rec"].get("drift")}
    quarantined = sorted({row["batch"] for row in rows if row["rec"].get("valid") is False})
    xs = [x for x in sorted(points) if x not in quarantined]
    spec_metric = con.svc.store.spec.metric
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
    refused = {v["version"]: v["refused"] for v in con.versions.index() if v.get("refused")}
    return html_page(
        "console/timeline.html",
        "/console/timeline",
        title="Timeline of batches",
        rows=rows,
        chart=chart if xs else None,
        dataset=r.dataset,
        backtest=backtests[-1] if backtests else None,
        refused=refused,
    )


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


@get("/console/monitor", sync_to_thread=True)
def console_monitor(request: Request[Any, Any, Any]) -> Response[str]:
    """Live-input drift reports and the monitor's state (realized performance when recorded)."""
    con = console_of(request)
    r = con.reader
    found = sorted(r.reports("monitor"), key=_report_order, reverse=True)
    reports = [p for p in found if p.endswith(".html")]
    summaries = [p for p in found if p.endswith(".json")]
    last = _json(r.read(summaries[0])) if summaries else None
    page = summaries[0].removesuffix(".json") + ".html" if last else None
    return html_page(
        "console/monitor.html",
        "/console/monitor",
        title="Monitor: live predictions",
        reports=reports,
        state=r.state("monitor.json"),
        last=last,
        last_page=page if page in reports else None,
    )


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


@get("/console/lake/{path:path}", sync_to_thread=True)
def console_lake_file(request: Request[Any, Any, Any], path: Annotated[str, PathParameter()]) -> Response[Any]:
    """A report file of the lake (``reports/`` only; any other path, ``..`` included, is a 404)."""
    data = console_of(request).reader.read(path)
    if data is None:
        return not_found("no such report in the lake")
    return Response(data, media_type=content_type(path), headers={"content-security-policy": REPORT_CSP})


@get("/static/{path:path}", sync_to_thread=False, include_in_schema=False)
def static_file(path: Annotated[str, PathParameter()]) -> Response[Any]:
    """The stylesheet, the console's script and Swagger UI's assets (served here: works offline)."""
    name = path.strip("/")
    if name.startswith(f"{SWAGGER_DIR}/"):
        import swagger_ui  # the swagger-ui-py package: Swagger UI 5 (OpenAPI 3.1) static files

        folder, name = Path(swagger_ui.__file__).parent / "static", name.removeprefix(f"{SWAGGER_DIR}/")
    else:
        folder = static_dir()
    data = _static(str(folder), name)
    if data is None:
        return Response(b"not found", status_code=404, media_type=MediaType.TEXT)
    kind = {"js": "text/javascript", "css": "text/css", "png": "image/png"}.get(name.rsplit(".", 1)[-1], "")
    return Response(data, media_type=kind or "application/octet-stream", headers={"cache-control": "max-age=3600"})


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


def console_routes() -> list[Any]:
    return [console_home, console_predict, console_timeline, console_monitor, console_lake_file, static_file]


__all__ = ["console_routes", "html_page", "not_found", "swagger_offline"]
