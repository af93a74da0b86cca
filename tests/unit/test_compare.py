"""The gate's statistics: every metric as a function of resample weights equals scikit-learn's; DeLong agrees with
the bootstrap; the rows that would decide an inconclusive comparison."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from driftgate.models.predict import Predictions
from driftgate.tasks.evaluate import BOOTSTRAP, DELONG, Difference, paired_differences, rows_to_decide, scorer

RNG = np.random.default_rng(0)
N = 3000
Y2 = RNG.integers(0, 2, N)
P2 = np.clip(np.round(0.3 + 0.4 * Y2 + RNG.normal(0, 0.25, N), 2), 0, 1)  # rounded: ties
BINARY = Predictions(np.array(["0", "1"], dtype=object)[(P2 > 0.5).astype(int)], np.c_[1 - P2, P2], ["0", "1"])
Y3 = RNG.integers(0, 3, N)
P3 = RNG.dirichlet([1, 1, 1], N)
P3[np.arange(N), Y3] += 0.4
P3 /= P3.sum(axis=1, keepdims=True)
MULTI = Predictions(np.array(["0", "1", "2"], dtype=object)[P3.argmax(axis=1)], P3, ["0", "1", "2"])
YR = RNG.normal(size=N)
REG = Predictions(YR + RNG.normal(0, 0.5, N), None, [])
S2, S3 = Y2.astype(str), Y3.astype(str)
CASES = {
    "roc_auc-binary": ("roc_auc", S2, BINARY, lambda y, p: skm.roc_auc_score(y == "1", p.proba[:, 1])),
    "roc_auc-multiclass": ("roc_auc", S3, MULTI, lambda y, p: skm.roc_auc_score(y, p.proba, multi_class="ovr")),
    "accuracy": ("accuracy", S2, BINARY, lambda y, p: skm.accuracy_score(y, p.values.astype(str))),
    "f1-binary": ("f1", S2, BINARY, lambda y, p: skm.f1_score(y, p.values.astype(str), pos_label="1")),
    "f1-macro": ("f1", S3, MULTI, lambda y, p: skm.f1_score(y, p.values.astype(str), average="macro")),
    "log_loss": ("log_loss", S2, BINARY, lambda y, p: skm.log_loss(y, p.proba, labels=["0", "1"])),
    "rmse": ("rmse", YR, REG, lambda y, p: skm.root_mean_squared_error(y, p.values)),
    "mae": ("mae", YR, REG, lambda y, p: skm.mean_absolute_error(y, p.values)),
    "r2": ("r2", YR, REG, lambda y, p: skm.r2_score(y, p.values)),
}


@pytest.mark.parametrize("case", CASES)
def test_every_metric_equals_scikit_learn_on_all_rows_and_on_a_resample(case: str) -> None:
    metric, y, pred, reference = CASES[case]
    f = scorer(metric, y, pred, positive="1" if len(pred.classes) == 2 else None)
    assert f(np.ones((1, N)))[0] == pytest.approx(reference(y, pred), rel=1e-9)
    drawn = np.random.default_rng(1).integers(0, N, N)  # a resample: repeated rows count as weights
    weights = np.bincount(drawn, minlength=N)[None, :].astype(float)
    proba = pred.proba[drawn] if pred.proba is not None else None
    again = Predictions(pred.values[drawn], proba, pred.classes)
    assert f(weights)[0] == pytest.approx(reference(y[drawn], again), rel=1e-9)


def test_delong_and_the_bootstrap_agree_on_a_paired_auc_difference() -> None:
    other = np.clip(P2 * 0.7 + 0.3 * RNG.random(N), 0, 1)
    challenger = Predictions(BINARY.values, np.c_[1 - other, other], ["0", "1"])
    groups = {"all": np.ones(N, dtype=bool), "half": np.arange(N) < N // 2}
    exact = paired_differences("roc_auc", S2, BINARY, challenger, groups, positive="1", test=DELONG)
    boot = paired_differences("roc_auc", S2, BINARY, challenger, groups, positive="1", test=BOOTSTRAP)
    for name in groups:
        assert exact[name].difference == pytest.approx(boot[name].difference, rel=1e-12)
        width = exact[name].ci_high - exact[name].ci_low
        assert boot[name].ci_low == pytest.approx(exact[name].ci_low, abs=0.1 * width)
        assert boot[name].ci_high == pytest.approx(exact[name].ci_high, abs=0.1 * width)


def test_rows_to_decide_follow_the_square_root_law() -> None:
    # improvement 0.01 with half-width 0.02 at 1,000 rows: (0.02 / 0.01)^2 x 1,000 = 4,000 rows, 3,000 more
    d = Difference(rows=1000, champion=0.80, challenger=0.81, difference=0.01, ci_low=-0.01, ci_high=0.03)
    assert rows_to_decide(d, threshold=0.0, maximize=True) == 3000
    assert rows_to_decide(d, threshold=0.01, maximize=True) is None  # the point sits on the threshold
