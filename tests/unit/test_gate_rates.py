"""Rates of the champion gate on simulated model outputs, measured like the drift rates.

Trials do not train models: each simulates two models' predictions of the evaluation rows of a
3-batch window of 5,000-row batches (15 % test: 2,250 rows) with a controlled quality, and runs
the gate's pure verdict on them (the same function the flow's gate calls after scoring).

Classification (ROC AUC, DeLong): the score of model k is ``d_k * y + sqrt(rho) * z + sqrt(1 - rho) * e_k``
with standard normal ``z`` shared by both models and ``e_k`` its own, so ``AUC_k = Phi(d_k / sqrt(2))``.
Regression (RMSE, paired bootstrap): model k's error is ``sigma_k * (sqrt(rho) * z + sqrt(1 - rho) * e_k)``.
``rho = 0.8``: two models trained on the same window share most of their errors.

The bootstrap's weights depend only on the rows, the resamples and the seed, which every trial
shares: they are drawn once (by the gate's own ``resample_weights``) and read by every trial
(``drawn_once``), so each verdict is the one the gate reaches on its own, to the last bit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from driftgate.dataset.spec import load_spec
from driftgate.models.predict import Predictions
from driftgate.policies import GatePolicy, Question
from driftgate.tasks.evaluate import Outcome, _compare
from driftgate.tasks.gate import evaluate_challenger
from tests.conftest import ROOT

CLS = load_spec("synthetic-classification", ROOT / "datasets")
REG = load_spec("synthetic-regression", ROOT / "datasets")
ROWS = 3 * 5000 * 15 // 100  # test rows of a 3-batch window of 5,000-row batches
RHO = 0.8
BASE_AUC = 0.85
LEVELS = np.array(list("abcde"))
SHARES = [0.3, 0.25, 0.2, 0.15, 0.1]
POLICY = GatePolicy(margin=0.0, confidence=0.95, slice_min_rows=200, resamples=1000)
DRAW = _compare.resample_weights
WEIGHTS: dict[tuple[int, int, int], list[np.ndarray]] = {}


def drawn_once(rows: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """``resample_weights``' chunks, drawn by it on the first call for these arguments, read-only after.

    Drawing the 2,250 x 1,000 weights again in every trial was 43 % of a regression trial's CPU time
    (60 ms a trial against 34 ms drawn once, 3 x 60 trials, one thread), the same matrix for each of
    the module's 900 regression trials."""
    if (rows, resamples, seed) not in WEIGHTS:
        chunks = list(DRAW(rows, resamples, seed))
        for chunk in chunks:
            chunk.flags.writeable = False  # a trial that wrote to them would fail, not change the next
        WEIGHTS[rows, resamples, seed] = chunks
    yield from WEIGHTS[rows, resamples, seed]


@pytest.fixture(autouse=True)
def weights_drawn_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_compare, "resample_weights", drawn_once)


def _frame(rng: np.random.Generator, target: np.ndarray, target_name: str) -> pd.DataFrame:
    return pd.DataFrame(
        {"cat_0": rng.choice(LEVELS, ROWS, p=SHARES), "cat_1": rng.choice(LEVELS, ROWS), target_name: target}
    )


def _d(auc: float) -> float:
    return float(np.sqrt(2) * norm.ppf(auc))


def classifier_trial(
    seed: int, champion_auc: float, challenger_auc: float, *, challenger_auc_on_a: float | None = None
) -> tuple[pd.DataFrame, Predictions, Predictions]:
    """Rows and two classifiers' probabilities; optionally the challenger is weaker on ``cat_0=a``."""
    rng = np.random.default_rng(seed)
    y = rng.random(ROWS) < 1 / 3
    rows = _frame(rng, np.where(y, "1", "0"), CLS.target)
    shared = rng.normal(size=ROWS)
    d_challenger = np.full(ROWS, _d(challenger_auc))
    if challenger_auc_on_a is not None:
        d_challenger[rows["cat_0"].to_numpy() == "a"] = _d(challenger_auc_on_a)

    def model(d: np.ndarray | float) -> Predictions:
        score = d * y + np.sqrt(RHO) * shared + np.sqrt(1 - RHO) * rng.normal(size=ROWS)
        p = 1 / (1 + np.exp(-(score - 1)))
        return Predictions(np.where(p > 0.5, "1", "0").astype(object), np.c_[1 - p, p], ["0", "1"])

    return rows, model(_d(champion_auc)), model(d_challenger)


def regressor_trial(
    seed: int, champion_rmse: float, challenger_rmse: float
) -> tuple[pd.DataFrame, Predictions, Predictions]:
    rng = np.random.default_rng(seed)
    y = rng.normal(10, 3, ROWS)
    rows = _frame(rng, y, REG.target)
    shared = rng.normal(size=ROWS)

    def model(sigma: float) -> Predictions:
        err = sigma * (np.sqrt(RHO) * shared + np.sqrt(1 - RHO) * rng.normal(size=ROWS))
        return Predictions(y + err, None, [])

    return rows, model(champion_rmse), model(challenger_rmse)


def promotion_rate(task: str, trials: int, better: float, rule: str = "gate") -> float:
    """Share of trials promoted; ``rule="point"`` is the old gate (any point improvement wins)."""
    promoted = 0
    for i in range(trials):
        if task == "classification":
            spec, (rows, champ, chall) = CLS, classifier_trial(1000 + i, BASE_AUC, BASE_AUC + better)
        else:
            spec, (rows, champ, chall) = REG, regressor_trial(1000 + i, 1.0, 1.0 * (1 - better))
        result = evaluate_challenger(spec, rows, chall, champ, policy=POLICY)
        if rule == "point":
            promoted += spec.better(result.challenger_score, result.champion_score)  # type: ignore[arg-type]
        else:
            promoted += result.promoted
    return promoted / trials


@pytest.mark.slow  # hundreds of simulated gate decisions, each with its bootstrap
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_equal_models_are_promoted_in_at_most_5_percent_of_trials(task: str) -> None:
    assert promotion_rate(task, 200, better=0.0) <= 0.05


@pytest.mark.slow  # hundreds of simulated gate decisions, each with its bootstrap
@pytest.mark.parametrize(
    ("task", "better"),
    [("classification", 0.02), ("regression", 0.05)],
    ids=["roc-auc-plus-0.02", "rmse-5-percent-lower"],
)
def test_a_truly_better_challenger_is_promoted_in_at_least_90_percent_of_trials(task: str, better: float) -> None:
    assert promotion_rate(task, 100, better=better) >= 0.90


def test_the_old_point_rule_promotes_equal_models_about_half_the_time() -> None:
    """The rate test above has teeth: the point comparison it replaced fails it by far."""
    assert promotion_rate("classification", 200, better=0.0, rule="point") > 0.3


def test_a_challenger_better_overall_but_worse_on_one_slice_is_blocked_naming_it() -> None:
    blocked = 0
    for i in range(20):
        rows, champ, chall = classifier_trial(500 + i, BASE_AUC, 0.93, challenger_auc_on_a=0.75)
        result = evaluate_challenger(CLS, rows, chall, champ, policy=POLICY)
        assert result.ci_low is not None
        assert result.ci_low > 0, "the challenger is better overall"
        assert result.outcome is Outcome.NOT_BETTER
        assert [s.name for s in result.blocking] == ["cat_0=a"]
        assert "cat_0=a" in result.reason
        assert "| cat_0=a |" in result.to_markdown()
        assert result.mlflow_tags()["driftgate.gate.blocking"] == '["cat_0=a"]'
        blocked += 1
    assert blocked == 20


# --- non-inferiority: the question a growth retrain is asked ----------------------------------
# Measured (100 trials each, 2,250 rows, rho 0.8) before choosing DRIFTGATE_GATE_NONINFERIORITY_MARGIN:
# share promoted by true relative difference of the challenger (negative: worse)
#   margin  | ROC AUC: -2 %  -1 %  0     +0.5 % | RMSE: -2 %  -1 %  0     +0.5 %
#   0.005   |         0.00  0.00  0.11  0.37   |       0.00  0.01  0.06  0.12
#   0.01    |         0.00  0.04  0.39  0.65   |       0.00  0.01  0.12  0.23
#   0.02    |         0.04  0.38  0.84  0.98   |       0.01  0.12  0.48  0.58
# 0.01 is the widest margin that keeps a model 1 % worse below 5 %: the default.
NI_MARGIN = GatePolicy().noninferiority_margin


def noninferiority_rate(task: str, trials: int, relative: float, question: Question = Question.NONINFERIORITY) -> float:
    """Share of trials promoted when the challenger is ``relative`` better (negative: worse) than the champion."""
    policy = replace(POLICY, noninferiority_margin=NI_MARGIN)
    promoted = 0
    for i in range(trials):
        if task == "classification":
            spec, (rows, champ, chall) = CLS, classifier_trial(2000 + i, BASE_AUC, BASE_AUC * (1 + relative))
        else:
            spec, (rows, champ, chall) = REG, regressor_trial(2000 + i, 1.0, 1.0 * (1 - relative))
        promoted += evaluate_challenger(spec, rows, chall, champ, policy=policy, question=question).promoted
    return promoted / trials


def test_the_default_noninferiority_margin_is_the_measured_one() -> None:
    assert NI_MARGIN == 0.01


@pytest.mark.slow  # hundreds of simulated gate decisions, each with its bootstrap
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_challenger_worse_by_the_margin_is_promoted_in_at_most_5_percent_under_noninferiority(task: str) -> None:
    assert noninferiority_rate(task, 200, relative=-NI_MARGIN) <= 0.05


@pytest.mark.slow  # hundreds of simulated gate decisions, each with its bootstrap
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_noninferiority_promotes_an_equal_challenger_more_often_than_superiority(task: str) -> None:
    """An inconclusive growth retrain would keep the less-informed champion: non-inferiority lets it through."""
    ni = noninferiority_rate(task, 100, relative=0.0)
    sup = noninferiority_rate(task, 100, relative=0.0, question=Question.SUPERIORITY)
    assert ni > sup
    assert sup <= 0.05


def test_the_question_asked_is_recorded_with_the_verdict() -> None:
    rows, champ, chall = classifier_trial(7, BASE_AUC, BASE_AUC + 0.02)
    result = evaluate_challenger(CLS, rows, chall, champ, policy=POLICY, question=Question.NONINFERIORITY)
    assert result.question is Question.NONINFERIORITY
    assert result.mlflow_tags()["driftgate.gate.question"] == "non-inferiority"
    assert "- question: non-inferiority" in result.to_markdown()
    assert result.rows == ROWS  # how many test rows it judged on
    first = evaluate_challenger(CLS, rows, chall, None, policy=POLICY, question=Question.NONINFERIORITY)
    assert first.question is Question.SUPERIORITY  # a first model is compared with the baseline
