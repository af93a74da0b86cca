"""``POST /feedback``: true labels of earlier predictions, by prediction id (see :mod:`driftgate.serving.feedback`)."""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

import msgspec
from litestar import Request, Response, Router, post
from litestar.status_codes import HTTP_200_OK

from driftgate.serving.errors import (
    BodyTooLargeError,
    InvalidBodyError,
    LabelsRefusedError,
    SourceRefusedError,
    WrongApiKeyError,
)
from driftgate.serving.feedback import FeedbackRequest, check_items
from driftgate.serving.guards import feedback_source_problem, json_state_change
from driftgate.serving.schemas import ErrorItem
from driftgate.serving.service import ServiceDep


@post("/feedback", status_code=HTTP_200_OK, guards=[json_state_change], security=[{"apiKey": []}])
async def feedback(request: Request[Any, Any, Any], svc: ServiceDep) -> Response[Any]:
    """Labels of earlier predictions: ``{"labels": [{"id": ..., "label": ...}]}`` (header ``X-API-Key`` when set).

    Answers how many were stored, and which ids were unknown or already labelled. With no admin
    key set, only clients on this machine may send labels (unless ``DRIFTGATE_FEEDBACK_OPEN=true``).
    """
    settings = svc.settings
    key = settings.admin_api_key.get_secret_value() if settings.admin_api_key else None
    if key and not hmac.compare_digest(request.headers.get("x-api-key", "").encode(), key.encode()):
        raise WrongApiKeyError()
    client = request.client.host if request.client else None
    refused = feedback_source_problem(client, has_key=bool(key), open_to_all=settings.feedback_open)
    if refused:
        raise SourceRefusedError(refused, [ErrorItem(field="request", reason=refused)])
    body = await request.body()
    max_bytes = settings.max_records * 256 + 1024  # ~ an id, a label and JSON punctuation per item
    if len(body) > max_bytes:
        reason = f"the body holds {len(body)} bytes; /feedback takes at most {max_bytes}"
        raise BodyTooLargeError(reason, [ErrorItem(field="body", reason=reason)])
    try:
        items = msgspec.json.decode(body, type=FeedbackRequest).labels
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError) as exc:
        reason = f'must be a JSON object {{"labels": [...]}}: {exc}'
        raise InvalidBodyError(f"invalid request body: {reason}", [ErrorItem(field="body", reason=reason)]) from exc
    served = svc.store.current
    pairs, errors = check_items(svc.store.spec, served.classes if served else [], items, settings.max_records)
    if errors:
        raise LabelsRefusedError(f"labels break the target's contract: {errors[0].field}: {errors[0].reason}", errors)
    return Response(await asyncio.to_thread(svc.labels.store, pairs))


def feedback_routes() -> Router:
    """``POST /feedback``."""
    return Router(path="/", route_handlers=[feedback])
