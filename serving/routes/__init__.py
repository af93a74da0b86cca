"""The service's routes, one small module per concern, each a group (a Litestar ``Router``) that ``create_app`` mounts.

- :func:`health_routes`: ``/``, ``/health``, ``/ready``, ``/metrics``: the service's own state.
- :func:`model_routes`: ``/model``; :func:`admin_routes`: ``/admin/reload`` (only with an admin key).
- :func:`prediction_routes`: ``/predict``, ``/explain``: answers from the champion.
- :func:`report_routes`: ``/reports/...``: the console's Versions pages.
- :func:`console_routes`: ``/console/...``; :func:`static_routes`: ``/static/...`` (the pages' assets).
- :func:`feedback_routes`: ``/feedback``: labels of earlier predictions.

Each call builds a new group (a Router belongs to one app). Handlers take the service's state as
``svc`` (:data:`~driftgate.serving.service.ServiceDep`), except the prediction routes (see there).
"""

from driftgate.serving.routes.console import console_routes, static_routes
from driftgate.serving.routes.feedback import feedback_routes
from driftgate.serving.routes.health import health_routes
from driftgate.serving.routes.model import admin_routes, model_routes
from driftgate.serving.routes.predict import prediction_routes
from driftgate.serving.routes.reports import report_routes

__all__ = [
    "admin_routes",
    "console_routes",
    "feedback_routes",
    "health_routes",
    "model_routes",
    "prediction_routes",
    "report_routes",
    "static_routes",
]
