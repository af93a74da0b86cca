"""The web console's pages (``/console/...``) and the assets they load (``/static/...``)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import MediaType, Response, Router, get
from litestar.params import PathParameter

from driftgate.models.contract import InputContract
from driftgate.serving import console
from driftgate.serving.console import batch_row, html_page, not_found, report_file, static_asset
from driftgate.serving.lake_reader import content_type
from driftgate.serving.service import ServiceDep


@get("/console", sync_to_thread=True)
def console_home(svc: ServiceDep) -> Response[str]:
    """The champion's card, the service's state, the latest batches, links to the other UIs."""
    s, store = svc.settings, svc.store
    served = store.current
    urls = (("Prefect UI", s.prefect_ui_url), ("MLflow UI", s.mlflow_ui_url))
    return html_page(
        "console/home.html",
        "/console",
        title=f"{store.name}: champion",
        champion=svc.console.versions.champion(),
        served=served.version if served else None,
        last_error=store.last_error,
        recent=[batch_row(r) for r in svc.console.reader.progress()[-5:][::-1]],
        links=[(label, url) for label, url in urls if url],
        metric=store.spec.metric.name,
    )


@get("/console/predict", sync_to_thread=False)
def console_predict(svc: ServiceDep) -> Response[str]:
    """A form generated from the input contract, pre-filled with a typical row of the champion's training rows."""
    served = svc.store.current
    contract = served.contract if served else InputContract.from_spec(svc.store.spec, svc.settings.max_records)
    typical = console.typical_row(served.input_example if served else None, contract.names)
    return html_page(
        "console/predict.html",
        "/console/predict",
        title="Try a prediction",
        fields=console.predict_form(contract, typical),
        version=served.version if served else None,
        task=svc.store.spec.task,
    )


@get("/console/timeline", sync_to_thread=True)
def console_timeline(svc: ServiceDep) -> Response[str]:
    """One row per batch with links to its reports, and the metric and drift share over batches."""
    context = console.timeline(svc.console, svc.store.spec)
    return html_page("console/timeline.html", "/console/timeline", title="Timeline of batches", **context)


@get("/console/monitor", sync_to_thread=True)
def console_monitor(svc: ServiceDep) -> Response[str]:
    """Live-input drift reports and the monitor's state (realized performance when recorded)."""
    context = console.monitor(svc.console.reader)
    return html_page("console/monitor.html", "/console/monitor", title="Monitor: live predictions", **context)


@get("/console/lake/{path:path}", sync_to_thread=True)
def console_lake_file(svc: ServiceDep, path: Annotated[str, PathParameter()]) -> Response[Any]:
    """A report file of the lake (``reports/`` only; any other path, ``..`` included, is a 404)."""
    data = svc.console.reader.read(path)
    if data is None:
        return not_found("no such report in the lake")
    return report_file(data, content_type(path))


@get("/static/{path:path}", sync_to_thread=False, include_in_schema=False)
def static_file(path: Annotated[str, PathParameter()]) -> Response[Any]:
    """The stylesheet, the console's script and Swagger UI's assets (served here: works offline)."""
    found = static_asset(path)
    if found is None:
        return Response(b"not found", status_code=404, media_type=MediaType.TEXT)
    data, media_type = found
    return Response(data, media_type=media_type, headers={"cache-control": "max-age=3600"})


def console_routes() -> Router:
    """The console's pages."""
    return Router(
        path="/", route_handlers=[console_home, console_predict, console_timeline, console_monitor, console_lake_file]
    )


def static_routes() -> Router:
    """The console's and Swagger UI's assets."""
    return Router(path="/", route_handlers=[static_file])
