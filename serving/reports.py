"""SHAP report pages served by the model service: the versions, one version, two compared.

Plain server-rendered HTML; images are inline (data: URIs) so a browser fetches nothing else.
Every page reads the registry and the runs' ``explanations/`` artifacts written at training.
"""

from __future__ import annotations

import html
import logging
from typing import Annotated, Any

import mlflow
from litestar import MediaType, Request, Response, get
from litestar.params import PathParameter, QueryParameter
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from driftgate.registry import CHAMPION, champion_version

log = logging.getLogger(__name__)

STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:1100px}td,th{border:1px solid #ccc;padding:3px 8px}"
    "table{border-collapse:collapse;margin-bottom:1em}.bar{background:#4a7ab5;height:10px;display:inline-block}"
    ".champion{font-weight:bold;color:#1a7f37}"
)


def page(title: str, body: str, status: int = 200) -> Response[str]:
    doc = (
        f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><p><a href='/reports'>all versions</a></p>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return Response(doc, media_type=MediaType.HTML, status_code=status)


def not_found(what: str) -> Response[str]:
    return page("Not found", f"<p>{html.escape(what)}</p>", status=404)


def _store(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.service.store


def _version(store: Any, version: str) -> ModelVersion | None:
    if not version.isdigit():
        return None
    try:
        return store.client.get_model_version(store.name, version)  # type: ignore[no-any-return]
    except MlflowException:
        return None


def _run_artifact(run_id: str | None, path: str) -> Any:
    if not run_id:
        return None
    try:
        if path.endswith(".json"):
            return mlflow.artifacts.load_dict(f"runs:/{run_id}/{path}")
        return mlflow.artifacts.load_text(f"runs:/{run_id}/{path}")
    except Exception:  # not logged (e.g. explanation skipped or still running): the page says so
        return None


@get("/reports", sync_to_thread=True)
def reports_index(request: Request[Any, Any, Any]) -> Response[str]:
    """Every registered version with its test metrics; the champion marked."""
    store = _store(request)
    metric = f"test_{store.spec.metric.name}"
    try:
        versions = store.client.search_model_versions(f"name = '{store.name}'")
    except MlflowException:
        versions = []
    champ = champion_version(store.client, store.name)
    rows = []
    for mv in sorted(versions, key=lambda v: -int(v.version)):
        run = store.client.get_run(mv.run_id) if mv.run_id else None
        metrics = run.data.metrics if run else {}
        is_champ = champ is not None and champ.version == mv.version
        value = metrics.get(metric)
        rows.append(
            f"<tr><td><a href='/reports/{mv.version}'>version {mv.version}</a></td>"
            f"<td class='{'champion' if is_champ else ''}'>{CHAMPION if is_champ else ''}</td>"
            f"<td>{'' if value is None else f'{value:.4g}'}</td>"
            f"<td>{html.escape(mv.description or '')}</td></tr>"
        )
    compare = ""
    if len(versions) >= 2:
        newest = sorted(int(v.version) for v in versions)[-2:]
        compare = f"<p><a href='/reports/compare?a={newest[0]}&b={newest[1]}'>compare the two newest versions</a></p>"
    table = (
        f"<table><tr><th>version</th><th>alias</th><th>{html.escape(metric)}</th><th>what made it</th></tr>"
        f"{''.join(rows)}</table>"
        if rows
        else "<p>No registered versions yet: run <code>driftgate run</code>.</p>"
    )
    return page(f"{store.name}: model versions", table + compare)


@get("/reports/compare", sync_to_thread=True)
def reports_compare(
    request: Request[Any, Any, Any],
    a: Annotated[str, QueryParameter(description="First version")],
    b: Annotated[str, QueryParameter(description="Second version")],
) -> Response[str]:
    """Two versions' mean |SHAP| importance side by side: how the model's reasoning moved."""
    store = _store(request)
    found = {v: _version(store, v) for v in (a, b)}
    missing = [v for v, mv in found.items() if mv is None]
    if missing:
        return not_found(f"model {store.name} has no version {missing[0]}")
    imp = {v: _run_artifact(mv.run_id, "explanations/importance.json") for v, mv in found.items() if mv}
    if any(i is None for i in imp.values()):
        return not_found("one of these versions has no logged explanation")
    ia, ib = imp[a], imp[b]
    top = max([*ia.values(), *ib.values(), 1e-12])
    features = sorted(set(ia) | set(ib), key=lambda f: -max(ia.get(f, 0.0), ib.get(f, 0.0)))

    def cell(v: float) -> str:
        return f"<td>{v:.4g} <span class='bar' style='width:{int(200 * v / top)}px'></span></td>"

    rows = "".join(
        f"<tr><td>{html.escape(f)}</td>{cell(ia.get(f, 0.0))}{cell(ib.get(f, 0.0))}"
        f"<td>{ib.get(f, 0.0) - ia.get(f, 0.0):+.4g}</td></tr>"
        for f in features
    )
    body = (
        f"<table><tr><th>feature</th><th>version {html.escape(a)}</th><th>version {html.escape(b)}</th>"
        f"<th>change</th></tr>{rows}</table>"
    )
    return page(f"{store.name}: version {a} vs {b} (mean |SHAP|)", body)


@get("/reports/{version:str}", sync_to_thread=True)
def report_version(request: Request[Any, Any, Any], version: Annotated[str, PathParameter()]) -> Response[str]:
    """One version's explanation page (plots, importance, metrics, slices, lineage, trigger)."""
    store = _store(request)
    mv = _version(store, version)
    if mv is None:
        return not_found(f"model {store.name} has no version {version}")
    text = _run_artifact(mv.run_id, "explanations/report.html")
    if text is None:
        return not_found(f"version {version} has no logged explanation (yet)")
    return Response(text, media_type=MediaType.HTML)


def report_routes() -> list[Any]:
    return [reports_index, reports_compare, report_version]
