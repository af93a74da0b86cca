"""``/explain``'s work: SHAP contributions of the served model for some records, off the event loop.

SHAP on 100 records costs far more than a prediction, so explanations run on a
:class:`~driftgate.serving.limits.BoundedExecutor` of their own; one explainer is kept, the
served version's (building one costs a background sample's worth of model calls).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from driftgate.dataset.spec import DatasetSpec
from driftgate.serving.model_store import ServedModel
from driftgate.serving.schemas import Contribution, Explained

if TYPE_CHECKING:
    from driftgate.tasks.explain import PipelineExplainer


def _plain(value: Any) -> Any:
    """A frame cell as JSON: numpy scalars unwrapped, NaN as null."""
    value = value.item() if hasattr(value, "item") else value
    return None if isinstance(value, float) and value != value else value


class Explainers:
    """The served version's SHAP explainer, built on first use and replaced when the version changes."""

    def __init__(self) -> None:
        self._by_version: dict[str, PipelineExplainer] = {}

    def _explainer(self, served: ServedModel, spec: DatasetSpec) -> PipelineExplainer:
        # shap is imported on the first explanation, not when the service starts
        from driftgate.tasks.explain import PipelineExplainer

        explainer = self._by_version.get(served.version)
        if explainer is None:
            explainer = PipelineExplainer(served.model, spec, served.example_frame())
            self._by_version = {served.version: explainer}  # only the served version is worth keeping
        return explainer

    def explain(
        self, served: ServedModel, columns: dict[str, list[Any]], *, spec: DatasetSpec, top: int
    ) -> list[Explained]:
        """The prediction, the ``top`` contributions by size and the rest, per record (a blocking call)."""
        X = served.contract.frame(columns)
        ex = self._explainer(served, spec).explain(X)
        preds, _ = served.predict(X)
        out = []
        for i, row in enumerate(ex.values):
            order = sorted(range(len(ex.features)), key=lambda j: -abs(row[j]))
            out.append(
                Explained(
                    prediction=preds[i],
                    base_value=float(ex.base_values[i]),
                    raw_output=float(ex.raw_output[i]),
                    top=[
                        Contribution(
                            feature=ex.features[j], value=_plain(X.iloc[i][ex.features[j]]), shap=float(row[j])
                        )
                        for j in order[:top]
                    ],
                    rest=float(sum(row[j] for j in order[top:])),
                    explained_class=ex.explained_class[i] if ex.explained_class else None,
                )
            )
        return out
