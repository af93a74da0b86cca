"""The service's own state: what it is (``/``), alive (``/health``), ready (``/ready``), metrics (``/metrics``)."""

from __future__ import annotations

from typing import Any

from litestar import Response, Router, get
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from driftgate import __version__
from driftgate.serving.service import ServiceDep

_METRICS_TYPE = CONTENT_TYPE_LATEST.replace("; charset=utf-8", "")  # Litestar adds the charset to text/* itself


@get("/", sync_to_thread=False)
def welcome(svc: ServiceDep) -> dict[str, Any]:
    """What this service is and which model it serves."""
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
def ready(svc: ServiceDep) -> Response[dict[str, Any]]:
    """200 when a model is loaded (and says when the last reload failed); 503 until then."""
    store = svc.store
    body = {
        "ready": store.current is not None,
        "model": store.name,
        "version": store.current.version if store.current else None,
        "last_reload_error": store.last_error,
        "last_check": store.last_check,
    }
    return Response(body, status_code=HTTP_200_OK if store.current else HTTP_503_SERVICE_UNAVAILABLE)


@get("/metrics", sync_to_thread=False, include_in_schema=False)
def metrics() -> Response[bytes]:
    """Prometheus metrics (text exposition format)."""
    return Response(generate_latest(REGISTRY), media_type=_METRICS_TYPE)


def health_routes() -> Router:
    """``/``, ``/health``, ``/ready``, ``/metrics``."""
    return Router(path="/", route_handlers=[welcome, health, ready, metrics])
