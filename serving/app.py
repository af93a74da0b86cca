"""The model service: serves whatever ``champion`` points to, and follows it without a restart."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import logging
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from litestar import Litestar, MediaType, Request, Response, get, post
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import (
    Components,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
    SecurityScheme,
)
from litestar.params import QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_400_BAD_REQUEST, HTTP_503_SERVICE_UNAVAILABLE
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from threadpoolctl import threadpool_limits

from driftgate import __version__
from driftgate.contract import ContractError, InputContract, Problem
from driftgate.serving.batcher import MicroBatcher
from driftgate.serving.body import MalformedBodyError, parse_records
from driftgate.serving.console import console_routes, swagger_offline
from driftgate.serving.feedback import feedback_routes
from driftgate.serving.guards import admin_call, json_body, json_state_change
from driftgate.serving.ids import IdLedger, take_ids_marked
from driftgate.serving.limits import BoundedExecutor, BusyError
from driftgate.serving.model_store import ModelStore, ServedModel
from driftgate.serving.prediction_log import PredictionLog
from driftgate.serving.reports import report_routes
from driftgate.serving.schemas import (
    Contribution,
    ErrorBody,
    ErrorItem,
    Explained,
    ExplainResponse,
    ModelRef,
    PredictResponse,
)
from driftgate.serving.shadow import ShadowProcess, shadow_lifespan
from driftgate.serving.telemetry import HttpMetrics, telemetry
from driftgate.settings import Settings, get_settings
from driftgate.spec import load_spec
from driftgate.tracking import configure_mlflow

log = logging.getLogger(__name__)


def _plain(value: Any) -> Any:
    """A frame cell as JSON: numpy scalars unwrapped, NaN as null."""
    value = value.item() if hasattr(value, "item") else value
    return None if isinstance(value, float) and value != value else value


@dataclass
class Service:
    """What the handlers share: the settings, the model store, the batcher, the prediction log."""

    settings: Settings
    store: ModelStore
    batcher: MicroBatcher
    predlog: PredictionLog
    explainers: BoundedExecutor
    ids: IdLedger
    shadow: ShadowProcess | None = None

    _explainers: dict[str, Any] = field(default_factory=dict)

    def explain(self, served: ServedModel, columns: dict[str, list[Any]], top: int) -> list[Explained]:
        """SHAP contributions of the served model for some records (one explainer per version)."""
        from driftgate.tasks.explain import PipelineExplainer

        explainer = self._explainers.get(served.version)
        if explainer is None:
            explainer = PipelineExplainer(served.model, self.store.spec, served.example_frame())
            self._explainers = {served.version: explainer}  # only the served version is worth keeping
        X = served.contract.frame(columns)
        ex = explainer.explain(X)
        preds, _ = served.predict(X)
        out = []
        for i, row in enumerate(ex.values):
            order = sorted(range(len(ex.features)), key=lambda j: -abs(row[j]))
            shown = order[:top]
            out.append(
                Explained(
                    prediction=preds[i],
                    base_value=float(ex.base_values[i]),
                    raw_output=float(ex.raw_output[i]),
                    top=[Contribution(ex.features[j], _plain(X.iloc[i][ex.features[j]]), float(row[j])) for j in shown],
                    rest=float(sum(row[j] for j in order[top:])),
                    explained_class=ex.explained_class[i] if ex.explained_class else None,
                )
            )
        return out

    def served(self) -> ServedModel:
        model = self.store.current
        if model is None:
            detail = f"no model to serve yet: model {self.store.name!r} has no 'champion' alias"
            if self.store.last_error:
                detail += f" that loads ({self.store.last_error})"
            raise HTTPException(status_code=HTTP_503_SERVICE_UNAVAILABLE, detail=detail)
        return model


def _service(request: Request[Any, Any, Any]) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


def _error(status: int, detail: str, errors: list[ErrorItem] | None = None) -> Response[ErrorBody]:
    return Response(ErrorBody(status, detail, errors or []), status_code=status)


_MSGSPEC_PATH = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$")


def _validation_handler(_: Request[Any, Any, Any], exc: ValidationException) -> Response[ErrorBody]:
    """Litestar's own body errors (malformed JSON, missing ``records``) in the service's error shape."""
    items = []
    sources = []
    for extra in exc.extra if isinstance(exc.extra, list) else []:
        message = str(extra.get("message", exc.detail)) if isinstance(extra, dict) else str(extra)
        m = _MSGSPEC_PATH.match(message)
        reason = m.group("reason") if m else message
        field = (extra.get("key") if isinstance(extra, dict) else None) or (m.group("path") if m else "") or "body"
        items.append(ErrorItem(field=str(field).lstrip(".") or "body", reason=reason))
        source = extra.get("source", "body") if isinstance(extra, dict) else "body"
        sources.append(str(getattr(source, "value", source)))  # Litestar's ParamType, or "body"
    if not items:
        missing = _MISSING_PARAM.match(str(exc.detail))  # Litestar's words for a parameter left out
        if missing:
            items.append(ErrorItem(field=missing.group("name"), reason="is required"))
            sources.append(missing.group("source"))
        else:
            items.append(ErrorItem(field="body", reason=str(exc.detail)))
            sources.append("body")
    what = _SOURCE_NAMES.get(sources[0], "request")
    return _error(HTTP_400_BAD_REQUEST, f"invalid {what}: {items[0].field}: {items[0].reason}", items)


_MISSING_PARAM = re.compile(r"^Missing required (?P<source>\w+) parameter '(?P<name>[^']*)'")
_SOURCE_NAMES = {
    "body": "request body",
    "query": "query parameter",
    "path": "path parameter",
    "header": "header",
    "cookie": "cookie",
}


def _contract_problem(exc: ContractError, route: str) -> Response[ErrorBody]:
    telemetry().rejected.labels(route).inc()
    items = [ErrorItem(p.field, p.reason, p.record) for p in exc.problems]
    return _error(422, f"records break the model's input contract: {exc}", items)


@get("/", sync_to_thread=False)
def welcome(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """What this service is and which model it serves."""
    svc = _service(request)
    model = svc.store.current
    return {
        "service": "driftgate model service",
        "version": __version__,
        "model": {"name": svc.store.name, "version": model.version if model else None, "alias": "champion"},
        "links": {
            "console": "/console",
            "openapi": "/schema/openapi.json",
            "docs": "/schema",
            "model": "/model",
            "predict": "/predict",
            "feedback": "/feedback",
            "reports": "/reports",
            "metrics": "/metrics",
            "ready": "/ready",
        },
    }


@get("/health", sync_to_thread=False)
def health() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@get("/ready", sync_to_thread=False)
def ready(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """200 when a model is loaded (and says when the last reload failed); 503 until then."""
    store = _service(request).store
    body = {
        "ready": store.current is not None,
        "model": store.name,
        "version": store.current.version if store.current else None,
        "last_reload_error": store.last_error,
        "last_check": store.last_check,
    }
    return Response(body, status_code=HTTP_200_OK if store.current else HTTP_503_SERVICE_UNAVAILABLE)


@get("/model", sync_to_thread=False)
def model_info(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The served model: name, version, alias, run, metrics, input schema, load time; the shadow challenger."""
    svc = _service(request)
    served = svc.served()
    return {
        **served.describe(),
        "example_request": {"records": [served.contract.example()]},
        "last_reload_error": svc.store.last_error,
        "shadow": None if svc.shadow is None else {"version": svc.shadow.version, "last_error": svc.shadow.last_error},
    }


_RECORDS_BODY = RequestBody(
    required=True,
    description="1 to DRIFTGATE_MAX_RECORDS records; every model input is required (null means missing and is "
    "imputed). GET /model shows the input schema and an example request.",
    content={
        "application/json": OpenAPIMediaType(
            schema=Schema(
                type=OpenAPIType.OBJECT,
                required=["records"],
                additional_properties=False,
                properties={
                    "records": Schema(type=OpenAPIType.ARRAY, min_items=1, items=Schema(type=OpenAPIType.OBJECT))
                },
            )
        )
    },
)


@dataclass
class RecordsOperation(Operation):
    """OpenAPI of a route that reads ``{"records": [...]}`` itself (to report NaN/Infinity per field)."""

    def __post_init__(self) -> None:
        self.request_body = _RECORDS_BODY


@dataclass
class Records:
    """A request's records as read: the records, their columns, prediction ids and the caller's among them."""

    records: list[Any]
    columns: dict[str, list[Any]]
    ids: list[str]
    callers: list[str]


async def read_records(
    request: Request[Any, Any, Any], served: ServedModel, route: str, limit: int | None = None
) -> Records | Response[ErrorBody]:
    """The request's records, their columns and prediction ids, or the 4xx answer that says what is wrong."""
    svc = _service(request)
    id_columns: list[str] = getattr(svc.store.spec, "id_columns", None) or []
    ids: list[str] = []
    callers: list[str] = []
    try:
        records = parse_records(await request.body(), limit or served.contract.max_records)
        if svc.settings.prediction_ids or id_columns:  # id columns are never features: always taken out
            header = request.headers.get(svc.settings.id_header)
            ids, callers = take_ids_marked(records, id_columns, header, svc.settings.id_header)
        if limit is not None and isinstance(records, list) and len(records) > limit:
            raise ContractError([Problem("records", f"holds {len(records)} records; {route} takes at most {limit}")])
        columns = served.contract.decode(records)
    except MalformedBodyError as exc:
        return _error(HTTP_400_BAD_REQUEST, str(exc), [ErrorItem(field="body", reason=str(exc))])
    except ContractError as exc:
        return _contract_problem(exc, route)
    if not svc.settings.prediction_ids:
        ids, callers = [], []
    return Records(records, columns, ids, callers)


def _id_taken(svc: Service, taken: list[str]) -> Response[ErrorBody]:
    reason = (
        f"prediction id {taken[0]!r} is already taken: an id names one prediction, so a label cannot land on "
        f"another (send a new {svc.settings.id_header}, or none for generated ids)"
    )
    more = f" (and {len(taken) - 1} more)" if len(taken) > 1 else ""
    return _error(409, reason + more, [ErrorItem("id", f"{pid!r} is already taken") for pid in taken[:20]])


async def _claim(svc: Service, callers: list[str]) -> Response[ErrorBody] | None:
    """Claim the caller's ids for this request; the 409 answer when one was used before."""
    taken = svc.ids.claim_here(callers)
    if not taken:
        try:
            taken = await asyncio.to_thread(svc.ids.taken_in_log, callers)
        except BaseException:
            svc.ids.release(callers)
            raise
        if taken:
            svc.ids.release(callers)
    return _id_taken(svc, taken) if taken else None


@post("/predict", status_code=HTTP_200_OK, operation_class=RecordsOperation, guards=[json_state_change])
async def predict(request: Request[Any, Any, Any]) -> Response[Any]:
    """Predict with the champion. Answers the predictions and the model version that made them.

    An id of the caller's (``X-Request-Id`` prefix or an id column) that was used before is 409.
    """
    started = time.perf_counter()
    svc = _service(request)
    served = svc.served()
    read = await read_records(request, served, "/predict")
    if isinstance(read, Response):
        return read
    logged = svc.settings.prediction_log
    if read.callers and logged:  # before anything is predicted or logged
        refused = await _claim(svc, read.callers)
        if refused is not None:
            return refused
    try:
        preds, probs = await svc.batcher.predict(served, read.columns, len(read.records))
    except BaseException:
        if read.callers and logged:
            svc.ids.release(read.callers)
        raise
    latency_ms = (time.perf_counter() - started) * 1000
    if logged:
        outputs = probs if probs is not None else preds
        svc.predlog.append(served.name, served.version, latency_ms, read.records, outputs, read.ids)
    return Response(PredictResponse(preds, ModelRef(served.name, served.version), probs, read.ids or None))


MAX_EXPLAIN_RECORDS = 100


@post("/explain", status_code=HTTP_200_OK, operation_class=RecordsOperation, guards=[json_body])
async def explain(
    request: Request[Any, Any, Any],
    top: Annotated[int, QueryParameter(ge=1, le=100, description="Contributions listed per record")] = 5,
) -> Response[Any]:
    """The prediction and the top SHAP contributions per record, from the served model.

    For each record ``base_value + sum(top) + rest == raw_output`` (the model's raw output:
    the prediction of a regressor, the log-odds of a classifier's positive class).
    """
    svc = _service(request)
    served = svc.served()
    read = await read_records(request, served, "/explain", MAX_EXPLAIN_RECORDS)
    if isinstance(read, Response):
        return read
    columns = read.columns
    try:  # its own threads, a few at a time: explanations never starve the poller or the prediction log
        result = await svc.explainers.run(svc.explain, served, columns, top)
    except BusyError as exc:
        reason = f"{svc.settings.explain_concurrency} explanations are running; retry after {exc.retry_after} s"
        return Response(
            ErrorBody(429, reason, [ErrorItem("request", reason)]),
            status_code=429,
            headers={"retry-after": str(exc.retry_after)},
        )
    return Response(ExplainResponse(result, ModelRef(served.name, served.version)))


@get("/metrics", sync_to_thread=False, include_in_schema=False)
def metrics() -> Response[bytes]:
    """Prometheus metrics (text exposition format)."""
    return Response(generate_latest(REGISTRY), media_type=_METRICS_TYPE)


_METRICS_TYPE = CONTENT_TYPE_LATEST.replace("; charset=utf-8", "")  # Litestar adds the charset to text/* itself


@post("/admin/reload", status_code=HTTP_200_OK, guards=[admin_call], security=[{"apiKey": []}])
async def admin_reload(request: Request[Any, Any, Any]) -> Response[Any]:
    """Reload the champion now (header ``X-API-Key``)."""
    svc = _service(request)
    key = svc.settings.admin_api_key.get_secret_value() if svc.settings.admin_api_key else ""
    if not hmac.compare_digest(request.headers.get("x-api-key", "").encode(), key.encode()):  # constant time
        return _error(401, "missing or wrong X-API-Key", [ErrorItem("X-API-Key", "wrong or missing")])
    changed = await asyncio.to_thread(svc.store.refresh, True)
    model = svc.store.current
    return Response(
        {"reloaded": changed, "version": model.version if model else None, "last_reload_error": svc.store.last_error},
        status_code=409 if not changed and svc.store.last_error else HTTP_200_OK,
    )


_API_KEY_SCHEME = SecurityScheme(
    type="apiKey",
    name="X-API-Key",
    security_scheme_in="header",
    description="DRIFTGATE_ADMIN_API_KEY: admin routes, and /feedback when it is set",
)


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the service for ``settings`` (default: from the environment)."""
    settings = settings or get_settings()
    spec = load_spec(settings.dataset, settings.datasets_dir)
    client = configure_mlflow(settings)
    tel = telemetry()
    name = settings.model_name or spec.model_name
    store = ModelStore(client, spec, name, settings.max_records, tel)
    predlog = PredictionLog(settings.resolved_predictions_db_url(), tel)
    ids = IdLedger(predlog.logged_ids)
    predlog.on_done = ids.release  # an id written to the log is answered for by the log from then on
    svc = Service(
        settings,
        store,
        MicroBatcher(tel, settings.batch_wait_ms / 1000, in_thread=settings.model_in_thread),
        predlog,
        BoundedExecutor(settings.explain_concurrency, "driftgate-explain"),
        ids,
    )
    if settings.shadow and settings.prediction_log:  # the challenger scores the logged requests (serving/shadow.py)
        svc.shadow = ShadowProcess(settings, client, name, tel, store.current_version)
    elif settings.shadow:
        log.warning("shadow scoring needs the prediction log (DRIFTGATE_PREDICTION_LOG=false): no shadow")

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        threadpool_limits(limits=1)  # one-row latency doubles with OpenMP threads fighting the event loop
        gc.freeze()  # the imported world (mlflow, pandas, sklearn) leaves the GC's scans: shorter pauses
        gc.set_threshold(10_000, 10, 10)  # young collections 14x rarer: ~3x less GC time (bench/serve.py)
        app.state.service = svc
        svc.batcher.start()
        svc.predlog.start()
        poller = asyncio.create_task(store.run(settings.poll_seconds), name="driftgate-model-poll")
        try:
            yield
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
            await svc.batcher.stop()
            await asyncio.to_thread(svc.predlog.stop)
            svc.explainers.close()

    handlers: list[Any] = [welcome, health, ready, model_info, predict, explain, metrics, *report_routes()]
    handlers.extend(console_routes())
    handlers.extend(feedback_routes(settings, store, tel))  # POST /feedback: labels of earlier predictions
    if settings.admin_api_key:
        handlers.append(admin_reload)
    app = Litestar(
        route_handlers=handlers,
        lifespan=[lifespan, *shadow_lifespan(svc.shadow, settings.poll_seconds)],
        middleware=[HttpMetrics],
        exception_handlers={
            ValidationException: _validation_handler,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
        openapi_config=OpenAPIConfig(
            title=f"driftgate model service ({spec.name})",
            version=__version__,
            render_plugins=[swagger_offline()],
            components=Components(security_schemes={"apiKey": _API_KEY_SCHEME}),
        ),
        debug=False,
        request_max_body_size=settings.max_body_bytes,  # 413 on Content-Length or streamed bytes, before parsing
    )
    _add_examples(app, InputContract.from_spec(spec, settings.max_records))
    return app


def _add_examples(app: Litestar, contract: InputContract) -> None:
    """Request examples of this dataset in the app's OpenAPI document (built once, per app)."""
    from copy import deepcopy

    example = {"records": [contract.example()]}
    for path in ("/predict", "/explain"):
        item = app.openapi_schema.paths[path] if app.openapi_schema.paths else None
        if item is None or item.post is None or not isinstance(item.post.request_body, RequestBody):
            continue
        body = deepcopy(item.post.request_body)  # the handlers' RequestBody object is shared by every app
        body.content["application/json"].example = example
        item.post.request_body = body


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    """Every HTTP error in one shape: status, detail, and the fields at fault when known."""
    if exc.status_code >= 500 and exc.status_code != HTTP_503_SERVICE_UNAVAILABLE:
        if exc.detail == _CLIENT_GONE:  # the read deadline (or the client) closed the connection mid-body
            log.info("%s %s: %s", request.method, request.url.path, exc.detail)
        else:
            log.error("server error on %s %s: %s", request.method, request.url.path, exc.detail, exc_info=exc)
    return _error(
        exc.status_code,
        str(exc.detail),
        [] if exc.status_code >= 500 else [ErrorItem(field="request", reason=str(exc.detail))],
    )


_CLIENT_GONE = "client disconnected prematurely"  # Litestar's words when the body never arrived whole


def _internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    """Anything no handler turned into an HTTP error: logged with its traceback here, told to no client."""
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _error(500, "internal server error (logged on the server)")


__all__ = ["MediaType", "create_app"]
