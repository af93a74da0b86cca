"""SHAP explanations of a pipeline, in terms of the original features.

Tree models get ``TreeExplainer``, linear ones ``LinearExplainer``, anything else a
permutation explainer with a bounded budget. Values are in the model's raw output space
(log-odds for classifiers), where they add up exactly: base + sum(values) = raw output.

Which output is explained is said, not implied: a binary classifier's log-odds of its second
class (the one ``decision_function`` scores), and for a multi-class model each row's predicted
class (``explained_class`` per row), with the importance of every class kept for the report.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from driftgate.dataset.spec import DatasetSpec

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

log = logging.getLogger(__name__)


@dataclass
class Explanation:
    """SHAP values per original feature for some rows."""

    features: list[str]
    values: np.ndarray  # (rows, features)
    base_values: np.ndarray  # (rows,): the expected raw output of each row's explained class
    data: pd.DataFrame  # the explained rows, original columns
    raw_output: np.ndarray  # the model's raw output for those rows (of the explained class)
    explainer: str
    explained_class: list[str] | None = None  # per row; None for regressors
    class_importance: dict[str, dict[str, float]] | None = None  # multi-class: mean |SHAP| per class

    @property
    def base_value(self) -> float:
        """The base value of the first row (the same for every row unless the class differs)."""
        return float(self.base_values[0]) if len(self.base_values) else 0.0

    def importance(self) -> dict[str, float]:
        """Mean |SHAP| per feature, largest first."""
        return _ranked(self.features, self.values)


def _ranked(features: list[str], values: np.ndarray) -> dict[str, float]:
    mean_abs = np.abs(values).mean(axis=0) if len(values) else np.zeros(len(features))
    return dict(sorted(zip(features, mean_abs.tolist(), strict=True), key=lambda p: -p[1]))


def fold_map(model: Pipeline, spec: DatasetSpec) -> np.ndarray:
    """For each transformed column, the index of the original feature it came from.

    A numeric column is its feature; a one-hot feature owns its levels' columns (the grouped
    infrequent levels one more); a target-encoded feature owns its one column, or one per class
    for a multi-class target (``TargetEncoder`` then encodes each class's share).
    """
    pre = model.named_steps["pre"]
    owner: list[int] = []
    for name, transformer, columns in pre.transformers_:
        if name == "remainder" or transformer == "drop" or len(columns) == 0:
            continue
        if name == "num":
            owner += [spec.feature_names.index(c) for c in columns]
        elif name == "target":
            encoder = transformer.named_steps["target"]
            per_feature = len(encoder.classes_) if encoder.target_type_ == "multiclass" else 1
            for col in columns:
                owner += [spec.feature_names.index(col)] * per_feature
        else:
            onehot = transformer.named_steps["onehot"]
            infrequent = getattr(onehot, "infrequent_categories_", None) or [None] * len(columns)
            for col, cats, rare in zip(columns, onehot.categories_, infrequent, strict=True):
                n_rare = 0 if rare is None else len(rare)
                owner += [spec.feature_names.index(col)] * (len(cats) - n_rare + (1 if n_rare else 0))
    return np.asarray(owner)


def _explainer(est: Any, background: np.ndarray) -> tuple[Any, str]:
    import shap
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, Ridge

    if isinstance(est, HistGradientBoostingRegressor | HistGradientBoostingClassifier) or _is_lightgbm(est):
        return shap.TreeExplainer(est), "tree"  # exact TreeSHAP of the raw output (log-odds for classifiers)
    if isinstance(est, LogisticRegression | Ridge):
        return shap.LinearExplainer(est, background), "linear"
    fn = est.decision_function if hasattr(est, "decision_function") else est.predict
    return shap.PermutationExplainer(fn, background), "permutation"


def _is_lightgbm(est: Any) -> bool:
    """A LightGBM estimator (a version trained on a Dask cluster), without importing LightGBM."""
    return type(est).__module__.startswith("lightgbm.")


def raw_output(est: Any, Xt: np.ndarray) -> np.ndarray:
    """What SHAP explains: decision function (log-odds) of classifiers, predictions of regressors."""
    if _is_lightgbm(est):
        return np.asarray(est.predict(Xt, raw_score=True))  # LightGBM's log-odds (it has no decision_function)
    return est.decision_function(Xt) if hasattr(est, "decision_function") else est.predict(Xt)


class PipelineExplainer:
    """A reusable explainer of one fitted pipeline (the service keeps one per model)."""

    def __init__(self, model: Pipeline, spec: DatasetSpec, background: pd.DataFrame) -> None:
        self.model, self.spec = model, spec
        self.pre, self.est = model.named_steps["pre"], model.named_steps["model"]
        self.owner = fold_map(model, spec)
        bg = self.pre.transform(background[spec.feature_names].head(100))
        self.explainer, self.kind = _explainer(self.est, bg)

    def _fold(self, values: np.ndarray) -> np.ndarray:
        """SHAP values of transformed columns summed per original feature."""
        folded = np.zeros((values.shape[0], len(self.spec.feature_names)))
        np.add.at(folded.T, self.owner, values.T)
        return folded

    def explain(self, X: pd.DataFrame) -> Explanation:
        Xt = np.asarray(self.pre.transform(X[self.spec.feature_names]), dtype=float)
        sv = self.explainer(Xt) if self.kind == "permutation" else self.explainer.shap_values(Xt)
        values = np.asarray(getattr(sv, "values", sv))
        base = np.asarray(self.explainer.expected_value if self.kind != "permutation" else sv.base_values)
        raw = np.asarray(raw_output(self.est, Xt), dtype=float).reshape(len(X), -1)
        classes = [str(c) for c in getattr(self.est, "classes_", [])]
        rows = np.arange(len(X))
        per_class, explained = None, None
        if values.ndim == 3:  # multi-class: (rows, columns, classes); explain each row's predicted class
            chosen = raw.argmax(axis=1)
            per_class = {c: _ranked(self.spec.feature_names, self._fold(values[..., k])) for k, c in enumerate(classes)}
            base_rows = base.reshape(len(X), -1)[rows, chosen] if base.ndim == 2 else base.reshape(-1)[chosen]
            values, raw_rows = values[rows, :, chosen], raw[rows, chosen]
            explained = [classes[k] for k in chosen]
        else:
            flat = np.ravel(base)
            base_rows = flat if flat.size == len(X) else np.full(len(X), flat[0] if flat.size else 0.0)
            raw_rows = raw[:, -1]
            explained = [classes[-1]] * len(X) if classes else None  # binary: log-odds of the second class
        return Explanation(
            self.spec.feature_names,
            self._fold(values),
            np.asarray(base_rows, dtype=float),
            X.reset_index(drop=True),
            raw_rows,
            self.kind,
            explained,
            per_class,
        )


def explain_sample(
    model: Pipeline, spec: DatasetSpec, rows: pd.DataFrame, max_rows: int, max_seconds: float, seed: int = 0
) -> Explanation:
    """Explain a sample of ``rows`` within a row budget and a time budget."""
    X = rows[spec.feature_names]
    sample = X.sample(min(max_rows, len(X)), random_state=seed) if len(X) > max_rows else X
    explainer = PipelineExplainer(model, spec, sample)
    started = time.perf_counter()
    probe = explainer.explain(sample.head(20))
    per_row = (time.perf_counter() - started) / max(len(probe.values), 1)
    affordable = int(max_seconds / per_row) if per_row > 0 else len(sample)
    if affordable < len(sample):
        log.warning("SHAP budget: %s of %s rows fit in %.0fs", affordable, len(sample), max_seconds)
        sample = sample.head(max(affordable, 20))
    return explainer.explain(sample)
