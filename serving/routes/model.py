"""The served model: what it is (``GET /model``) and, for admins, reloading it now (``POST /admin/reload``)."""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.status_codes import HTTP_200_OK

from driftgate.serving.errors import WrongApiKeyError
from driftgate.serving.guards import admin_call
from driftgate.serving.service import ServiceDep


@get("/model", sync_to_thread=False)
def model_info(svc: ServiceDep) -> dict[str, Any]:
    """The served model: name, version, alias, run, metrics, input schema, load time; the shadow challenger."""
    served = svc.served()
    return {
        **served.describe(),
        "example_request": {"records": [served.contract.example()]},
        "last_reload_error": svc.store.last_error,
        "shadow": None if svc.shadow is None else {"version": svc.shadow.version, "last_error": svc.shadow.last_error},
    }


@post("/admin/reload", status_code=HTTP_200_OK, guards=[admin_call], security=[{"apiKey": []}])
async def admin_reload(request: Request[Any, Any, Any], svc: ServiceDep) -> Response[Any]:
    """Reload the champion now (header ``X-API-Key``)."""
    key = svc.settings.admin_api_key.get_secret_value() if svc.settings.admin_api_key else ""
    if not hmac.compare_digest(request.headers.get("x-api-key", "").encode(), key.encode()):  # constant time
        raise WrongApiKeyError()
    changed = await asyncio.to_thread(svc.store.refresh, True)
    model = svc.store.current
    return Response(
        {
            "reloaded": changed,
            "version": model.version if model else None,
            "last_reload_error": svc.store.last_error,
        },
        status_code=409 if not changed and svc.store.last_error else HTTP_200_OK,
    )


def model_routes() -> Router:
    """``GET /model``."""
    return Router(path="/", route_handlers=[model_info])


def admin_routes() -> Router:
    """``POST /admin/reload`` (mounted only when an admin key is set)."""
    return Router(path="/", route_handlers=[admin_reload])
