"""Estimated (CBPE) and realized performance on seeded synthetic data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from driftgate.dataset.spec import load_spec
from driftgate.dataset.synthetic import Shift, make_frame
from driftgate.models.predict import predict
from driftgate.policies import GatePolicy
from driftgate.tasks.evaluate import (
    Outcome,
    Realized,
    Scored,
    compare_on_live,
    decide_realized,
    evaluate,
    realized_metrics,
)
from driftgate.tasks.evaluate import bootstrap as realized_bootstrap
from driftgate.tasks.evaluate import score as realized_score
from driftgate.tasks.gate import gate_on_live, spent_confidence
from driftgate.tasks.monitor import estimate, fit_calibration, fit_multiclass_calibration
from tests.conftest import ROOT

SPEC = load_spec("synthetic-classification", ROOT / "datasets")
FEATURES = SPEC.feature_names


def _frame(n: int, seed: int, shift: Shift | None = None) -> tuple[pd.DataFrame, pd.Series]:
    df = make_frame("classification", n, seed, shift)
    return df[FEATURES], df["label"].astype(str)


@pytest.fixture(scope="module")
def model() -> Pipeline:
    X, y = _frame(8000, seed=1)
    pre = ColumnTransformer([("cat", OneHotEncoder(), SPEC.categorical)], remainder="passthrough")
    return Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=500))]).fit(X, y)


@pytest.mark.parametrize("metric", ["roc_auc", "accuracy", "f1"])
def test_estimate_is_within_0_02_of_realized_when_inputs_shift_but_the_relation_does_not(
    model: Pipeline, metric: str
) -> None:
    spec = SPEC.model_copy(update={"metric": SPEC.metric.model_copy(update={"name": metric})})
    X_val, y_val = _frame(5000, seed=2)  # the champion's validation rows: the base distribution
    val = predict(model, "classification", X_val)
    classes = [str(c) for c in val.classes]
    assert val.proba is not None
    cal = fit_calibration(val.proba[:, classes.index("1")], y_val.to_numpy(), "1", classes)
    X_live, y_live = _frame(10000, seed=3, shift=Shift(mean={"num_0": -1.5}))
    live = predict(model, "classification", X_live)
    assert live.proba is not None
    estimated = estimate(spec, cal, live.proba, classes)
    realized = evaluate(model, spec, X_live, y_live)[metric]
    base = evaluate(model, spec, X_val, y_val)[metric]
    assert estimated is not None
    assert abs(estimated - realized) < 0.02, (estimated, realized)
    assert abs(base - realized) > abs(estimated - realized)  # the shift moved the metric; the estimate followed


def test_estimate_cannot_see_concept_drift_but_realized_performance_does(model: Pipeline) -> None:
    X_val, y_val = _frame(5000, seed=2)
    val = predict(model, "classification", X_val)
    classes = [str(c) for c in val.classes]
    assert val.proba is not None
    cal = fit_calibration(val.proba[:, classes.index("1")], y_val.to_numpy(), "1", classes)
    X_live, y_live = _frame(3000, seed=4, shift=Shift(concept=-2.0))  # the signal flips sign
    live = predict(model, "classification", X_live)
    assert live.proba is not None
    rows = [
        {"model_version": "1", "role": "champion", "output": dict(zip(classes, p, strict=True)), "label": lab}
        for p, lab in zip(live.proba.tolist(), y_live, strict=True)
    ]
    [realized] = realized_metrics(SPEC, rows, window=2000, n_boot=100)
    estimated = estimate(SPEC, cal, live.proba, classes)
    assert estimated is not None
    assert estimated > 0.75
    assert realized.rows == 2000
    assert realized.value < 0.4
    assert realized.low <= realized.value <= realized.high


@pytest.mark.parametrize(
    ("value", "low", "high", "rows", "retrain"),
    [
        (0.70, 0.66, 0.74, 500, True),  # confidently below test 0.85 - 0.05
        (0.79, 0.74, 0.84, 500, False),  # the interval reaches the bar: not sure
        (0.60, 0.50, 0.70, 50, False),  # too few labels: inconclusive
    ],
)
def test_realized_decision_needs_confidence_and_enough_labels(
    value: float, low: float, high: float, rows: int, retrain: bool
) -> None:
    r = Realized("3", "champion", "roc_auc", rows, value, low, high)
    decision = decide_realized(SPEC, r, test_score=0.85, floor=None, margin=0.05, min_rows=200)
    assert decision.retrain is retrain, decision.reasons
    if rows < 200:
        assert decision.reasons[0].startswith("inconclusive")


def test_the_shadow_challenger_is_compared_with_the_champion_on_the_same_labelled_rows(model: Pipeline) -> None:
    X, y = _frame(800, seed=5)
    good = predict(model, "classification", X)
    assert good.proba is not None
    classes = [str(c) for c in good.classes]
    noise = np.random.default_rng(0).random(len(X))  # a challenger that guesses
    rows = []
    for i, (p, lab) in enumerate(zip(good.proba.tolist(), y, strict=True)):
        rows.append(
            {
                "prediction_id": str(i),
                "model_version": "1",
                "role": "champion",
                "label": lab,
                "output": dict(zip(classes, p, strict=True)),
            }
        )
        rows.append(
            {
                "prediction_id": str(i),
                "model_version": "2",
                "role": "shadow",
                "label": lab,
                "output": {"0": 1 - noise[i], "1": noise[i]},
            }
        )
    paired = compare_on_live(SPEC, rows, "1", n_boot=200)
    assert paired is not None
    assert (paired.challenger, paired.rows) == ("2", 800)
    assert paired.champion_value > 0.8
    assert abs(paired.challenger_value - 0.5) < 0.1
    assert paired.verdict(SPEC) == "champion better"
    assert compare_on_live(SPEC, [r for r in rows if r["role"] == "champion"], "1") is None


def _live_rows(model: Pipeline, n: int, challenger_guesses: bool) -> list[dict[str, object]]:
    """Labelled live rows as read_labelled returns them: champion v1 answered, shadow v2 scored the same ids."""
    X, y = _frame(n, seed=7)
    good = predict(model, "classification", X)
    assert good.proba is not None
    classes = [str(c) for c in good.classes]
    noise = np.random.default_rng(1).random(n)
    guess = [{"0": 1 - u, "1": u} for u in noise]
    skilled = [dict(zip(classes, p, strict=True)) for p in good.proba.tolist()]
    champion, shadow = (skilled, guess) if challenger_guesses else (guess, skilled)
    rows: list[dict[str, object]] = []
    for i, (inputs, lab) in enumerate(zip(X.to_dict(orient="records"), y, strict=True)):
        rows.append(
            {
                "id": 2 * i + 1,
                "prediction_id": str(i),
                "model_version": "1",
                "role": "champion",
                "label": lab,
                "inputs": inputs,
                "output": champion[i],
            }
        )
        rows.append(
            {
                "id": 2 * i + 2,
                "prediction_id": str(i),
                "model_version": "2",
                "role": "shadow",
                "label": lab,
                "inputs": {},
                "output": shadow[i],
            }
        )
    return rows


def test_the_gate_on_live_rows_promotes_a_challenger_that_is_better_there(model: Pipeline) -> None:
    policy = GatePolicy(margin=0.0, confidence=0.95, slice_min_rows=200, resamples=200, seed=0)
    rows = _live_rows(model, 1000, challenger_guesses=False)
    better = gate_on_live(SPEC, rows, "1", "2", policy=policy)
    assert better is not None
    result = better.result
    assert (result.outcome, result.challenger, result.champion, result.rows) == (Outcome.PROMOTED, "2", "1", 1000)
    assert (better.look, better.last_row) == (1, 1999)  # the newest champion row it used
    assert result.slices, "the categorical levels of the logged inputs are the gate's slices"
    worse = gate_on_live(SPEC, _live_rows(model, 1000, challenger_guesses=True), "1", "2", policy=policy)
    assert worse is not None
    assert worse.result.outcome == Outcome.NOT_BETTER
    assert (
        gate_on_live(SPEC, _live_rows(model, 150, challenger_guesses=False), "1", "2", policy=policy) is None
    )  # < 200
    assert gate_on_live(SPEC, rows, "1", "3", policy=policy) is None  # not the version the shadow scored with
    assert gate_on_live(SPEC, rows, "2", "2", policy=policy) is None  # the challenger is the champion
    # a later look uses only rows no earlier look used, at a stricter confidence
    later = gate_on_live(SPEC, rows, "1", "2", policy=policy, after_row=1399, look=3)
    assert later is not None
    assert later.result.rows == 300
    assert later.result.confidence == pytest.approx(1 - 0.05 / 12)
    assert gate_on_live(SPEC, rows, "1", "2", policy=policy, after_row=1601) is None  # 199 fresh rows: 200 needed


def test_the_looks_of_the_live_gate_spend_no_more_than_the_gates_error_rate() -> None:
    spent = [1 - spent_confidence(0.95, k) for k in range(1, 10_001)]
    assert spent[0] == pytest.approx(0.025)
    assert sum(spent) < 0.05
    assert sum(spent) == pytest.approx(0.05, rel=1e-3)


def _three_classes(n: int, seed: int, shift: float = 0.0) -> tuple[pd.DataFrame, np.ndarray]:
    """Inputs ~ N(0, I) (feature a moved by ``shift``); the class drawn from one fixed softmax relation."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    X["a"] += shift
    W = np.array([[1.2, -0.4, 0.3], [-0.8, 1.0, -0.2], [-0.4, -0.6, -0.1]])
    logits = X.to_numpy() @ W.T
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = np.array([rng.choice(["x", "y", "z"], p=row) for row in p])
    return X, y


@pytest.mark.parametrize("metric", ["roc_auc", "accuracy", "f1", "log_loss"])
def test_multi_class_estimate_is_within_0_02_of_realized_when_inputs_shift_but_the_relation_does_not(
    metric: str,
) -> None:
    X_train, y_train = _three_classes(6000, seed=1)
    model = LogisticRegression(max_iter=500).fit(X_train, y_train)
    classes = [str(c) for c in model.classes_]
    X_val, y_val = _three_classes(5000, seed=2)  # the champion's validation rows
    cal = fit_multiclass_calibration(model.predict_proba(X_val), y_val, classes)
    X_live, y_live = _three_classes(5000, seed=3, shift=1.0)  # inputs moved by 1 sd, same relation
    proba = model.predict_proba(X_live)
    spec = SPEC.model_copy(update={"metric": SPEC.metric.model_copy(update={"name": metric})})
    estimated = estimate(spec, cal, proba, classes)
    shuffled = [2, 0, 1]  # the service's outputs may list classes in any order
    assert estimate(spec, cal, proba[:, shuffled], [classes[i] for i in shuffled]) == pytest.approx(estimated)
    realized = realized_score(spec, Scored(y_live.astype(object), proba, None, classes))
    assert estimated is not None
    assert abs(estimated - realized) <= 0.02, (metric, estimated, realized)
    before = estimate(spec, cal, model.predict_proba(X_val), classes)
    assert before is not None
    assert abs(before - estimated) > 0.005 or metric == "log_loss", (
        "the shift must move the metric for the test to mean much"
    )


def _sklearn(metric: str, labels: np.ndarray, proba: np.ndarray, classes: list[str], pos: str) -> float:
    pred = np.asarray(classes)[proba.argmax(axis=1)]
    if metric == "accuracy":
        return float(accuracy_score(labels, pred))
    if metric == "f1":
        return float(
            f1_score(labels, pred, pos_label=pos) if len(classes) == 2 else f1_score(labels, pred, average="macro")
        )
    if metric == "log_loss":
        return float(log_loss(labels, proba, labels=classes))
    if len(classes) == 2:
        return float(roc_auc_score(labels == pos, proba[:, classes.index(pos)]))
    return float(roc_auc_score(labels, proba, multi_class="ovr", labels=classes))


@pytest.mark.parametrize("metric", ["roc_auc", "accuracy", "f1", "log_loss"])
def test_realized_scores_equal_scikit_learns_and_their_interval_holds_them(metric: str) -> None:
    X_train, y_train = _three_classes(3000, seed=1)
    X, y = _three_classes(800, seed=4)
    spec = SPEC.model_copy(update={"metric": SPEC.metric.model_copy(update={"name": metric}), "positive_class": "x"})
    binary = np.where(y == "x", "x", "o")  # x against the rest
    for labels, model in (
        (y, LogisticRegression(max_iter=500).fit(X_train, y_train)),
        (binary, LogisticRegression(max_iter=500).fit(X_train, np.where(y_train == "x", "x", "o"))),
    ):
        proba, classes = model.predict_proba(X), [str(c) for c in model.classes_]
        expected = _sklearn(metric, labels, proba, classes, "x")
        s = Scored(labels.astype(object), proba, None, classes)
        assert realized_score(spec, s) == pytest.approx(expected, abs=1e-9)
        low, high = realized_bootstrap(spec, s, 300, seed=0)
        assert low < expected < high
        assert high - low < 0.2
    one = Scored(np.array(["x"], dtype=object), proba[:1], None, classes)
    assert math.isnan(realized_score(spec, one)) == (metric in ("roc_auc", "log_loss"))
