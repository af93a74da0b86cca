"""Answers from the champion: ``POST /predict`` and ``POST /explain``.

Both read ``{"records": [...]}`` themselves (to report NaN/Infinity and bad ids per field) and
take the service from :func:`~driftgate.serving.service.service_of` directly: on the request
path a ``Provide`` dependency costs ~10 µs per request (measured), a few percent of throughput.
"""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, Response, Router, post
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import QueryParameter
from litestar.status_codes import HTTP_200_OK

from driftgate.models.contract import ContractError, Problem
from driftgate.serving.body import parse_records
from driftgate.serving.errors import IdTakenError, TooBusyError
from driftgate.serving.guards import json_body, json_state_change
from driftgate.serving.ids import take_ids_marked
from driftgate.serving.limits import BusyError
from driftgate.serving.model_store import ServedModel
from driftgate.serving.schemas import ErrorItem, ExplainResponse, ModelRef, PredictResponse
from driftgate.serving.service import Service, service_of

MAX_EXPLAIN_RECORDS = 100

RECORDS_BODY = RequestBody(
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
        self.request_body = RECORDS_BODY


@dataclass
class Records:
    """A request's records as read: the records, their columns, prediction ids and the caller's among them."""

    records: list[Any]
    columns: dict[str, list[Any]]
    ids: list[str]
    callers: list[str]


async def read_records(
    request: Request[Any, Any, Any], svc: Service, served: ServedModel, *, route: str, limit: int | None = None
) -> Records:
    """The request's records, their columns and prediction ids.

    Raises:
        MalformedBodyError: the body is not JSON (400).
        ContractError: the records break the input contract, or hold more than ``limit`` (422).
    """
    id_columns: list[str] = getattr(svc.store.spec, "id_columns", None) or []
    ids: list[str] = []
    callers: list[str] = []
    records = parse_records(await request.body(), limit or served.contract.max_records)
    if svc.settings.prediction_ids or id_columns:  # id columns are never features: always taken out
        header = request.headers.get(svc.settings.id_header)
        ids, callers = take_ids_marked(records, id_columns, header, svc.settings.id_header)
    if limit is not None and isinstance(records, list) and len(records) > limit:
        raise ContractError(
            [Problem(field="records", reason=f"holds {len(records)} records; {route} takes at most {limit}")]
        )
    columns = served.contract.decode(records)
    if not svc.settings.prediction_ids:
        ids, callers = [], []
    return Records(records=records, columns=columns, ids=ids, callers=callers)


async def claim_ids(svc: Service, callers: list[str]) -> None:
    """Claim the caller's ids for this request.

    Raises:
        IdTakenError: one of them was used before (by a logged prediction, or a request on its way to the log).
    """
    taken = svc.ids.claim_here(callers)
    if not taken:
        try:
            taken = await asyncio.to_thread(svc.ids.taken_in_log, callers)
        except BaseException:
            svc.ids.release(callers)
            raise
        if taken:
            svc.ids.release(callers)
    if taken:
        reason = (
            f"prediction id {taken[0]!r} is already taken: an id names one prediction, so a label cannot land on "
            f"another (send a new {svc.settings.id_header}, or none for generated ids)"
        )
        more = f" (and {len(taken) - 1} more)" if len(taken) > 1 else ""
        raise IdTakenError(
            reason + more, [ErrorItem(field="id", reason=f"{pid!r} is already taken") for pid in taken[:20]]
        )


@post("/predict", status_code=HTTP_200_OK, operation_class=RecordsOperation, guards=[json_state_change])
async def predict(request: Request[Any, Any, Any]) -> Response[Any]:
    """Predict with the champion. Answers the predictions and the model version that made them.

    An id of the caller's (``X-Request-Id`` prefix or an id column) that was used before is 409.
    """
    started = time.perf_counter()
    svc = service_of(request)
    served = svc.served()
    read = await read_records(request, svc, served, route="/predict")
    logged = svc.settings.prediction_log
    if read.callers and logged:  # before anything is predicted or logged
        await claim_ids(svc, read.callers)
    try:
        preds, probs = await svc.batcher.predict(served, read.columns, len(read.records))
    except BaseException:
        if read.callers and logged:
            svc.ids.release(read.callers)
        raise
    latency_ms = (time.perf_counter() - started) * 1000
    if logged:
        svc.predlog.append(
            served.name,
            served.version,
            latency_ms=latency_ms,
            records=read.records,
            outputs=probs if probs is not None else preds,
            ids=read.ids,
        )
    model = ModelRef(name=served.name, version=served.version)
    return Response(PredictResponse(predictions=preds, model=model, probabilities=probs, ids=read.ids or None))


@post("/explain", status_code=HTTP_200_OK, operation_class=RecordsOperation, guards=[json_body])
async def explain(
    request: Request[Any, Any, Any],
    top: Annotated[int, QueryParameter(ge=1, le=100, description="Contributions listed per record")] = 5,
) -> Response[Any]:
    """The prediction and the top SHAP contributions per record, from the served model.

    For each record ``base_value + sum(top) + rest == raw_output`` (the model's raw output:
    the prediction of a regressor, the log-odds of a classifier's positive class).
    """
    svc = service_of(request)
    served = svc.served()
    read = await read_records(request, svc, served, route="/explain", limit=MAX_EXPLAIN_RECORDS)
    explain = functools.partial(svc.explaining.explain, spec=svc.store.spec, top=top)
    try:  # its own threads, a few at a time: explanations never starve the poller or the prediction log
        result = await svc.explainers.run(explain, served, read.columns)
    except BusyError as exc:
        reason = f"{svc.settings.explain_concurrency} explanations are running; retry after {exc.retry_after} s"
        raise TooBusyError(reason, exc.retry_after) from exc
    return Response(ExplainResponse(explanations=result, model=ModelRef(name=served.name, version=served.version)))


def prediction_routes() -> Router:
    """``POST /predict``, ``POST /explain``."""
    return Router(path="/", route_handlers=[predict, explain])
