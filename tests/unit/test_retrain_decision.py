"""Named retrain triggers under each policy, the row-counted window and the gate's question (pure functions)."""

from __future__ import annotations

import pytest

from driftgate.dataset.spec import load_spec
from driftgate.policies import DriftPolicy, GatePolicy, Question, RetrainPolicy, WindowPolicy
from driftgate.tasks.drift import DriftReport, Growth, Trigger, decide
from driftgate.tasks.loop import choose_window, gate_question, growth_since, history_window, next_regime_start
from tests.conftest import ROOT

SPEC = load_spec("synthetic-regression", ROOT / "datasets")
STABLE = DriftReport(SPEC.name, 2, 1000, 1000, [], None, {}, 0.2)
DRIFTED = DriftReport(SPEC.name, 2, 1000, 1000, [], None, {}, 0.0)  # share 0 >= threshold 0: dataset drift
GREW = Growth(champion_rows=1000, new_rows=500, new_batches=[2])
LITTLE = Growth(champion_rows=1000, new_rows=300, new_batches=[2])


@pytest.mark.parametrize(
    ("policy", "report", "growth", "trigger"),
    [
        ("drift+growth", STABLE, GREW, Trigger.GROWTH),
        ("drift+growth", STABLE, LITTLE, None),
        ("drift+growth", DRIFTED, GREW, Trigger.DRIFT),  # drift names the retrain when both fire
        ("drift", STABLE, GREW, None),
        ("drift", DRIFTED, LITTLE, Trigger.DRIFT),
        ("always", STABLE, LITTLE, Trigger.ALWAYS),
        ("always", STABLE, GREW, Trigger.GROWTH),
        ("never", DRIFTED, GREW, None),
    ],
)
def test_each_policy_names_the_trigger_that_fired(
    policy: str, report: DriftReport, growth: Growth, trigger: Trigger | None
) -> None:
    decision = decide(report, DriftPolicy(), SPEC, has_champion=True, retrain=RetrainPolicy(policy), growth=growth)  # type: ignore[arg-type]
    assert decision.trigger is trigger
    assert decision.retrain is (trigger is not None)
    assert decision.reasons  # a decision carries its reasons


def test_growth_reason_says_how_many_rows_and_of_what() -> None:
    decision = decide(
        STABLE, DriftPolicy(), SPEC, has_champion=True, retrain=RetrainPolicy("drift+growth"), growth=GREW
    )
    assert decision.reasons == [
        "500 accepted rows the champion never saw (batches 2) are 50% of the 1000 rows it trained on "
        "(growth threshold 50%)"
    ]
    kept = decide(STABLE, DriftPolicy(), SPEC, has_champion=True, retrain=RetrainPolicy("drift+growth"), growth=LITTLE)
    assert kept.reasons[-1].startswith("not enough new rows: 300 accepted rows")


def test_no_champion_is_first_and_a_request_is_forced_under_every_policy() -> None:
    for name in ("never", "drift", "drift+growth", "always"):
        policy = RetrainPolicy(name)  # type: ignore[arg-type]
        assert decide(None, DriftPolicy(), SPEC, has_champion=False, retrain=policy).trigger is Trigger.FIRST
        forced = decide(STABLE, DriftPolicy(), SPEC, has_champion=True, retrain=policy, forced="asked")
        assert (forced.trigger, forced.reasons) == (Trigger.FORCED, ["asked"])


def test_the_metric_floor_is_its_own_trigger() -> None:
    floor = DriftPolicy(metric_floor=1.0)  # RMSE: lower is better, so 2.0 is worse than the floor
    decision = decide(STABLE, floor, SPEC, has_champion=True, champion_score=2.0, retrain=RetrainPolicy("drift"))
    assert decision.trigger is Trigger.METRIC


ROWS = dict.fromkeys(range(1, 7), 100)


@pytest.mark.parametrize(
    ("regime", "max_rows", "max_batches", "batches"),
    [
        (None, 10_000, None, [1, 2, 3, 4, 5, 6]),  # a stable regime learns from all of it
        (4, 10_000, None, [4, 5, 6]),  # after a drift at 4: from the drifted batch on
        (None, 250, None, [5, 6]),  # capped in rows, newest first
        (None, 10_000, 2, [5, 6]),  # DRIFTGATE_TRAIN_WINDOW: a cap in batches
        (None, 50, None, [6]),  # at least one batch
    ],
)
def test_the_window_is_every_batch_of_the_regime_up_to_the_caps(
    regime: int | None, max_rows: int, max_batches: int | None, batches: list[int]
) -> None:
    window = choose_window(ROWS, 6, regime, WindowPolicy(max_rows=max_rows, max_batches=max_batches))
    assert window.batches == batches
    assert window.rows == 100 * len(batches)


@pytest.mark.parametrize(
    ("below", "regime", "expected"),
    [
        (250, 5, [1, 2, 3, 4, 5, 6]),  # the drifted window [5, 6] (200 rows) is small: the whole history beside it
        (200, 5, None),  # 200 rows are not fewer than 200: no second challenger
        (0, 5, None),  # off
        (10_000, None, None),  # the window already holds the whole history
    ],
)
def test_a_small_drift_window_gets_a_whole_history_challenger(
    below: int, regime: int | None, expected: list[int] | None
) -> None:
    limit = WindowPolicy(history_below_rows=below)
    recent = choose_window(ROWS, 6, regime, limit)
    history = history_window(ROWS, 6, recent, limit)
    assert (history.batches if history else None) == expected


def test_two_challengers_split_the_gates_confidence() -> None:
    policy = GatePolicy(confidence=0.95)
    assert policy.for_candidates(1) is policy
    assert policy.for_candidates(2).confidence == pytest.approx(0.975)  # Bonferroni: 5 % in all, 2.5 % each


def test_growth_counts_the_accepted_rows_after_the_champions_batches() -> None:
    rows = {1: 100, 2: 100, 4: 100, 5: 50}  # batch 3 was quarantined
    growth = growth_since(rows, trained=[1, 2], newest=5)
    assert (growth.champion_rows, growth.new_rows, growth.new_batches) == (200, 150, [4, 5])
    assert growth.share == 0.75


def test_a_drift_starts_a_regime_unless_the_previous_drift_was_not_promoted() -> None:
    assert next_regime_start(Trigger.FIRST, 1, None, previous_trigger=None, previous_promoted=False) == 1
    assert next_regime_start(Trigger.GROWTH, 5, 1, previous_trigger="first", previous_promoted=True) == 1
    assert next_regime_start(None, 5, 1, previous_trigger=None, previous_promoted=False) == 1
    assert next_regime_start(Trigger.DRIFT, 5, 1, previous_trigger="growth", previous_promoted=True) == 5
    assert next_regime_start(Trigger.DRIFT, 6, 5, previous_trigger="drift", previous_promoted=False) == 5
    assert next_regime_start(Trigger.DRIFT, 6, 5, previous_trigger="drift", previous_promoted=True) == 6


def test_only_more_of_the_same_is_asked_non_inferiority() -> None:
    assert gate_question(Trigger.GROWTH, [1, 2, 3], [1, 2]) is Question.NONINFERIORITY
    assert gate_question(Trigger.ALWAYS, [1, 2, 3], [1, 2]) is Question.NONINFERIORITY
    assert gate_question(Trigger.GROWTH, [2, 3], [1, 2]) is Question.SUPERIORITY  # not a superset
    for trigger in (Trigger.DRIFT, Trigger.METRIC, Trigger.FORCED, Trigger.FIRST):
        assert gate_question(trigger, [1, 2, 3], [1, 2]) is Question.SUPERIORITY
