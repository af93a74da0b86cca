"""The probation's decision (#37): a newly promoted champion against the one it replaced, on labelled live rows."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from driftgate.dataset.spec import load_spec
from driftgate.policies import GatePolicy, ProbationPolicy
from driftgate.registry.probation import Probation
from driftgate.tasks.monitor import Action, decide_rollback, look_confidence
from tests.conftest import ROOT

SPEC = load_spec("synthetic-regression", ROOT / "datasets")  # rmse, lower is better
GATE = GatePolicy(resamples=300)
RECORD = Probation(champion="4", previous="3", since="2026-01-01T00:00:00+00:00")


def pairs(n: int, champion_noise: float, previous_noise: float, seed: int = 0) -> list[tuple[dict[str, Any], ...]]:
    """``n`` labelled live rows: the champion's and the previous champion's answers, each off by its noise."""
    rng = np.random.default_rng(seed)
    y = rng.normal(0, 3, n)
    shared = rng.normal(0, 1, n)  # both models err together on a row, as two models of one task do
    cats = rng.choice(list("abcde"), n)
    out = []
    for i in range(n):
        row = {"id": i + 1, "inputs": {"cat_0": str(cats[i]), "cat_1": "a"}, "label": float(y[i])}
        champ = {**row, "output": float(y[i] + shared[i] + rng.normal(0, champion_noise))}
        prev = {**row, "output": float(y[i] + shared[i] + rng.normal(0, previous_noise))}
        out.append((champ, prev))
    return out


@pytest.mark.parametrize(
    ("rows", "champion_noise", "auto", "record", "action"),
    [
        # much worse on 300 of 2,000 rows: caught on the first look, well within the probation
        (300, 3.0, True, RECORD, Action.ROLL_BACK),
        # as good, all probation rows in: inconclusive for the previous one, the champion stays
        (2000, 1.0, True, RECORD, Action.KEEP),
        # as good, fewer rows than the probation: look again later
        (600, 1.0, True, RECORD, Action.WAIT),
        # fewer rows than a look needs (the gate's smallest, 200): wait without looking
        (150, 3.0, True, RECORD, Action.WAIT),
        # no new rows since the last look
        (300, 3.0, True, Probation("4", "3", RECORD.since, looked_rows=300, looks=1), Action.WAIT),
        # worse with confidence, DRIFTGATE_AUTO_ROLLBACK off: kept, the verdict recorded
        (300, 3.0, False, RECORD, Action.KEEP),
    ],
    ids=["worse-rolls-back", "inconclusive-keeps", "fewer-rows-waits", "too-few-to-look", "no-new-rows", "auto-off"],
)
def test_a_look_at_the_probation_rows_rolls_back_keeps_or_waits(
    rows: int, champion_noise: float, auto: bool, record: Probation, action: Action
) -> None:
    policy = ProbationPolicy(rows=2000, auto_rollback=auto)
    d = decide_rollback(SPEC, pairs(rows, champion_noise, 1.0), record, policy=policy, gate=GATE)
    assert d.action is action, d.reason
    assert d.rows == rows
    if action is Action.ROLL_BACK:
        assert d.result is not None
        assert d.result.promoted
        assert "version 4 is worse" in d.reason
        assert d.confidence == pytest.approx(1 - 0.05 * 300 / 2000)  # 300 of 2,000 rows: 15 % of the error rate
    if not auto:
        assert "DRIFTGATE_AUTO_ROLLBACK is off" in d.reason


def test_only_the_first_probation_rows_are_judged() -> None:
    """Rows past the probation's length are not its rows: a decision at 2,000 rows is final."""
    policy = ProbationPolicy(rows=400)
    d = decide_rollback(SPEC, pairs(1000, 1.0, 1.0), RECORD, policy=policy, gate=GATE)
    assert (d.action, d.rows) == (Action.KEEP, 400)


def test_looks_spend_the_gates_error_rate_by_rows_whatever_their_number() -> None:
    at = [0, 250, 300, 1200, 2000, 2600]
    spent = [1 - look_confidence(0.95, n, m, 2000) for m, n in itertools.pairwise(at)]
    assert sum(spent) == pytest.approx(0.05)  # five looks, one at the end past it: the gate's 5 % in all
    assert look_confidence(0.95, 2000, 0, 2000) == pytest.approx(0.95)  # one look at the end: the gate's own
    assert look_confidence(0.95, 300, 300, 2000) == 1.0  # no new rows: nothing spent


@pytest.mark.slow  # a simulation of the error rate (80 paired bootstraps), like the gate's own rates
def test_an_equal_champion_is_rolled_back_at_most_as_often_as_the_gate_errs() -> None:
    """Seeded: equal models, a look every 500 rows up to 2,000; a rollback on any look counts once."""
    policy, gate = ProbationPolicy(rows=2000), GatePolicy(resamples=200)
    rolled = 0
    for seed in range(20):
        rows, record = pairs(2000, 1.0, 1.0, seed=seed), RECORD
        for n in range(500, 2001, 500):
            d = decide_rollback(SPEC, rows[:n], record, policy=policy, gate=gate)
            if d.action is Action.ROLL_BACK:
                rolled += 1
                break
            record = Probation("4", "3", RECORD.since, looked_rows=n, looks=record.looks + 1)
    assert rolled <= 3  # 5 % of 20 is 1; binomial room for a seeded run (measured: docs/alerts.md)
