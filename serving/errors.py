"""Every error the service answers, in one shape (:class:`ErrorBody`), from one handler map.

Handlers raise where they find the problem; :data:`EXCEPTION_HANDLERS` turns each kind into
``{"status_code", "detail", "errors"}``:

- :class:`ServiceError` and its subclasses: the refusals the service decides itself (401, 403,
  409, 413, 422 on labels, 429, 503), each with its status, detail and the fields at fault.
- :class:`~driftgate.serving.body.MalformedBodyError`: a body that is not JSON at all (400).
- :class:`~driftgate.models.contract.ContractError`: records that break the model's input contract (422,
  counted in ``driftgate_rejected_records`` by route).
- Litestar's ``ValidationException`` (malformed JSON, a bad query parameter) and any other
  ``HTTPException`` (the guards' 403 and 415, 404, 405, 413): 4xx with the field at fault.
- Anything else: 500, logged with its traceback here and told to no client.
"""

from __future__ import annotations

import logging
import re
from typing import Any, ClassVar

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_400_BAD_REQUEST, HTTP_503_SERVICE_UNAVAILABLE
from litestar.types import ExceptionHandlersMap

from driftgate.models.contract import ContractError
from driftgate.serving.body import MalformedBodyError
from driftgate.serving.schemas import ErrorBody, ErrorItem
from driftgate.serving.telemetry import telemetry

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """A request the service refuses: ``status_code``, ``detail``, the fields at fault, extra headers."""

    status_code: ClassVar[int] = HTTP_400_BAD_REQUEST

    def __init__(self, detail: str, errors: list[ErrorItem] | None = None, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.headers = headers


class InvalidBodyError(ServiceError):
    """400: a body that does not decode to the route's request type."""


class WrongApiKeyError(ServiceError):
    """401: the ``X-API-Key`` header is missing or wrong."""

    status_code = 401

    def __init__(self) -> None:
        super().__init__("missing or wrong X-API-Key", [ErrorItem(field="X-API-Key", reason="wrong or missing")])


class SourceRefusedError(ServiceError):
    """403: this client may not send this request (labels from outside with no key set)."""

    status_code = 403


class IdTakenError(ServiceError):
    """409: a prediction id of the caller's names an earlier prediction."""

    status_code = 409


class BodyTooLargeError(ServiceError):
    """413: a body past the route's own limit (beside Litestar's ``request_max_body_size``)."""

    status_code = 413


class LabelsRefusedError(ServiceError):
    """422: labels that break the target's contract."""

    status_code = 422


class TooBusyError(ServiceError):
    """429: every slot of an expensive route is taken; ``retry-after`` says when to come back."""

    status_code = 429

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason, [ErrorItem(field="request", reason=reason)], headers={"retry-after": str(retry_after)})


class NoModelError(ServiceError):
    """503: no champion loaded yet (the reason says why, when a load failed)."""

    status_code = HTTP_503_SERVICE_UNAVAILABLE


def error_response(
    status: int, detail: str, errors: list[ErrorItem] | None = None, headers: dict[str, str] | None = None
) -> Response[ErrorBody]:
    """The one error shape: status, detail, the fields at fault."""
    return Response(ErrorBody(status, detail, errors or []), status_code=status, headers=headers)


def _service_error(_: Request[Any, Any, Any], exc: ServiceError) -> Response[ErrorBody]:
    return error_response(exc.status_code, exc.detail, exc.errors, exc.headers)


def _malformed_body(_: Request[Any, Any, Any], exc: MalformedBodyError) -> Response[ErrorBody]:
    return error_response(HTTP_400_BAD_REQUEST, str(exc), [ErrorItem(field="body", reason=str(exc))])


def _contract_error(request: Request[Any, Any, Any], exc: ContractError) -> Response[ErrorBody]:
    telemetry().rejected.labels(request.scope.get("path_template") or request.scope["path"]).inc()
    items = [ErrorItem(field=p.field, reason=p.reason, record=p.record) for p in exc.problems]
    return error_response(422, f"records break the model's input contract: {exc}", items)


_MSGSPEC_PATH = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$")
_MISSING_PARAM = re.compile(r"^Missing required (?P<source>\w+) parameter '(?P<name>[^']*)'")
_SOURCE_NAMES = {
    "body": "request body",
    "query": "query parameter",
    "path": "path parameter",
    "header": "header",
    "cookie": "cookie",
}


def _validation_error(_: Request[Any, Any, Any], exc: ValidationException) -> Response[ErrorBody]:
    """Litestar's own body and parameter errors (malformed JSON, a bad ``top``) in the service's shape."""
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
    return error_response(HTTP_400_BAD_REQUEST, f"invalid {what}: {items[0].field}: {items[0].reason}", items)


_CLIENT_GONE = "client disconnected prematurely"  # Litestar's words when the body never arrived whole


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    """Litestar's and the guards' HTTP errors: status, detail, and ``request`` as the field at fault."""
    if exc.status_code >= 500 and exc.status_code != HTTP_503_SERVICE_UNAVAILABLE:
        if exc.detail == _CLIENT_GONE:  # the read deadline (or the client) closed the connection mid-body
            log.info("%s %s: %s", request.method, request.url.path, exc.detail)
        else:
            log.error("server error on %s %s: %s", request.method, request.url.path, exc.detail, exc_info=exc)
    return error_response(
        exc.status_code,
        str(exc.detail),
        [] if exc.status_code >= 500 else [ErrorItem(field="request", reason=str(exc.detail))],
    )


def _internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    """Anything no handler turned into an HTTP error: logged with its traceback here, told to no client."""
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal server error (logged on the server)")


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    ServiceError: _service_error,
    MalformedBodyError: _malformed_body,
    ContractError: _contract_error,
    ValidationException: _validation_error,
    HTTPException: _http_error,
    Exception: _internal_error,
}

__all__ = [
    "EXCEPTION_HANDLERS",
    "BodyTooLargeError",
    "IdTakenError",
    "InvalidBodyError",
    "LabelsRefusedError",
    "NoModelError",
    "ServiceError",
    "SourceRefusedError",
    "TooBusyError",
    "WrongApiKeyError",
    "error_response",
]
