"""The model service: serves whatever ``champion`` points to, and follows it without a restart.

:func:`create_app` assembles the app: the route groups (:mod:`driftgate.serving.routes`), the
service's state built in the lifespan (:mod:`driftgate.serving.service`), the one error shape
(:mod:`driftgate.serving.errors`) and the OpenAPI document with this dataset's example request.
"""

from __future__ import annotations

from copy import deepcopy

from litestar import Litestar
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, RequestBody, SecurityScheme
from litestar.types import ControllerRouterHandler

from driftgate import __version__
from driftgate.dataset.spec import load_spec
from driftgate.models.contract import InputContract
from driftgate.serving.console import swagger_offline
from driftgate.serving.errors import EXCEPTION_HANDLERS
from driftgate.serving.routes import (
    admin_routes,
    console_routes,
    feedback_routes,
    health_routes,
    model_routes,
    prediction_routes,
    report_routes,
    static_routes,
)
from driftgate.serving.service import SERVICE_DEPENDENCY, service_lifespan
from driftgate.serving.telemetry import HttpMetrics
from driftgate.settings import Settings, get_settings

_API_KEY_SCHEME = SecurityScheme(
    type="apiKey",
    name="X-API-Key",
    security_scheme_in="header",
    description="DRIFTGATE_ADMIN_API_KEY: admin routes, and /feedback when it is set",
)


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the service for ``settings`` (default: from the environment); its parts start with the app."""
    settings = settings or get_settings()
    spec = load_spec(settings.dataset, settings.datasets_dir)
    handlers: list[ControllerRouterHandler] = [  # in this order in the OpenAPI document
        health_routes(),
        model_routes(),
        prediction_routes(),
        report_routes(),
        console_routes(),
        static_routes(),
        feedback_routes(),
    ]
    if settings.admin_api_key:
        handlers.append(admin_routes())
    app = Litestar(
        route_handlers=handlers,
        dependencies=SERVICE_DEPENDENCY,
        lifespan=[service_lifespan(settings, spec)],
        middleware=[HttpMetrics],
        exception_handlers=EXCEPTION_HANDLERS,
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
    example = {"records": [contract.example()]}
    for path in ("/predict", "/explain"):
        item = app.openapi_schema.paths[path] if app.openapi_schema.paths else None
        if item is None or item.post is None or not isinstance(item.post.request_body, RequestBody):
            continue
        body = deepcopy(item.post.request_body)  # the handlers' RequestBody object is shared by every app
        body.content["application/json"].example = example
        item.post.request_body = body


__all__ = ["create_app"]
