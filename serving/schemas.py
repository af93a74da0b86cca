"""Request and response bodies of the model service (msgspec structs: fast to encode)."""

from __future__ import annotations

from typing import Any

import msgspec


class PredictRequest(msgspec.Struct, forbid_unknown_fields=True):
    records: list[dict[str, Any]]


class ModelRef(msgspec.Struct):
    name: str
    version: str


class PredictResponse(msgspec.Struct, omit_defaults=True):
    predictions: list[Any]
    model: ModelRef
    probabilities: list[dict[str, float]] | None = None
    ids: list[str] | None = None  # one prediction id per record (for POST /feedback)


class Contribution(msgspec.Struct):
    feature: str
    value: Any
    shap: float


class Explained(msgspec.Struct):
    prediction: Any
    base_value: float
    raw_output: float
    top: list[Contribution]
    rest: float
    explained_class: str | None = None  # classifiers: the class whose log-odds raw_output is


class ExplainResponse(msgspec.Struct):
    explanations: list[Explained]
    model: ModelRef


class ErrorItem(msgspec.Struct, omit_defaults=True):
    field: str
    reason: str
    record: int | None = None


class ErrorBody(msgspec.Struct):
    status_code: int
    detail: str
    errors: list[ErrorItem] = []
