"""Report pages of the model service (filled in by the SHAP report work)."""

from __future__ import annotations

from typing import Any


def report_routes() -> list[Any]:
    return []
