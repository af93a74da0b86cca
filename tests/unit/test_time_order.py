"""Time order: out-of-time splits, forward-chaining folds, the spec's time section and init's proposal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from driftgate.dataset.frames import GAP, SPLIT_COLUMN, assign_splits, ordered_splits, time_order
from driftgate.dataset.infer import InitOptions, infer_spec, looks_like_time
from driftgate.dataset.scenario import plan_batches
from driftgate.dataset.spec import DatasetSpec
from driftgate.dataset.synthetic import make_time_ordered_frame
from driftgate.errors import SpecError
from driftgate.policies import SplitPolicy
from driftgate.tasks.ingest import prepare_batch
from driftgate.tasks.train._folds import ForwardChain

SHARES = (0.7, 0.15, 0.15)


def timed_spec(**time: object) -> DatasetSpec:
    return DatasetSpec.model_validate(
        {
            "name": "timed",
            "task": "classification",
            "target": "direction",
            "model_name": "timed-model",
            "source": "x.csv",
            "metric": {"name": "accuracy", "direction": "maximize"},
            "features": [{"name": c, "type": "numeric"} for c in ("level_0", "signal_0")],
            "time": time or None,
        }
    )


def test_the_latest_rows_test_and_the_rows_before_them_validate() -> None:
    labels = ordered_splits(1000, shares=SHARES, gap_rows=0, keys=None)
    assert list(labels[:700]) == ["train"] * 700
    assert list(labels[700:850]) == ["validation"] * 150
    assert list(labels[850:]) == ["test"] * 150


def test_gap_rows_sit_between_training_and_validation_and_belong_to_no_side() -> None:
    labels = ordered_splits(1000, shares=SHARES, gap_rows=40, keys=None)
    assert list(labels[:660]) == ["train"] * 660
    assert list(labels[660:700]) == [GAP] * 40
    assert (labels[700:850] == "validation").all()
    assert (labels[850:] == "test").all()


def test_a_gap_never_takes_more_than_half_the_training_rows() -> None:
    labels = ordered_splits(100, shares=SHARES, gap_rows=10_000, keys=None)
    assert (labels == "train").sum() == 35
    assert (labels == GAP).sum() == 35


def test_a_group_key_takes_the_side_of_its_first_row() -> None:
    keys = pd.Series(["a"] * 5 + [f"k{i}" for i in range(85)] + ["a"] * 10)  # "a" first seen early, again late
    labels = ordered_splits(100, shares=SHARES, gap_rows=0, keys=keys)
    assert set(labels[keys.to_numpy() == "a"]) == {"train"}
    for key in keys.unique():
        assert len(set(labels[keys.to_numpy() == key])) == 1


def test_assign_splits_without_order_is_todays_random_split() -> None:
    today = assign_splits(500, 3, 42, keys=None)
    assert (assign_splits(500, 3, 42, keys=None, shares=SHARES) == today).all()
    assert set(today[-75:]) != {"test"}  # random: the latest rows are not all test rows


def test_time_order_sorts_by_a_datetime_column_and_keeps_arrival_order_for_ties() -> None:
    frame = pd.DataFrame({"ts": ["2024-01-02 00:00", "2024-01-01 00:00", "2024-01-01 00:00", None], "i": range(4)})
    assert list(time_order(frame, "ts")) == [1, 2, 0, 3]
    assert list(time_order(frame, None)) == [0, 1, 2, 3]


def test_prepare_batch_stores_rows_in_time_order_with_the_latest_testing() -> None:
    spec = timed_spec(column="ts")
    frame = make_time_ordered_frame(400, seed=1).sample(frac=1.0, random_state=0)  # delivered shuffled
    out = prepare_batch(frame, spec, 1, split=SplitPolicy(gap_rows=10))
    times = pd.to_datetime(out["ts"])
    assert times.is_monotonic_increasing
    assert times[out[SPLIT_COLUMN] == "test"].min() > times[out[SPLIT_COLUMN] == "train"].max()
    assert (out[SPLIT_COLUMN] == GAP).sum() == 10


def test_forward_chaining_folds_never_train_on_rows_later_than_they_score() -> None:
    for chain in (ForwardChain(3, gap=5), ForwardChain(gap=5, holdout=0.2)):
        splits = list(chain.split(np.zeros(200)))
        assert len(splits) == chain.get_n_splits()
        for train, scored in splits:
            assert train.max() + 5 < scored.min()


def test_forward_chaining_folds_keep_a_group_off_both_sides() -> None:
    groups = np.repeat(np.arange(20), 10)
    groups[-1] = 0  # group 0's last row is in the scored block
    for train, scored in ForwardChain(gap=0, holdout=0.2).split(np.zeros(200), groups=groups):
        assert not set(groups[train]) & set(groups[scored])


def test_a_time_ordered_source_replays_in_consecutive_slices() -> None:
    spec = timed_spec(column="ts").model_copy(
        update={"scenario": timed_spec().scenario.model_copy(update={"batch_size": 100})}
    )
    frame = make_time_ordered_frame(350, seed=2)
    plan = plan_batches(frame, spec)
    assert [list(p) for p in plan[:2]] == [list(range(100)), list(range(100, 200))]
    assert len(plan[-1]) == 50


def test_the_spec_refuses_a_time_section_that_says_nothing_and_a_time_column_that_is_a_feature() -> None:
    with pytest.raises(ValueError, match="give a 'column' or 'ordered: true'"):
        timed_spec(ordered=False)
    with pytest.raises(ValueError, match="never a feature"):
        timed_spec(column="level_0")
    assert timed_spec(ordered=True).time_ordered
    assert timed_spec(column="ts").key_columns == ["ts"]


def test_init_proposes_a_datetime_column_as_the_time_column_and_says_why() -> None:
    frame = make_time_ordered_frame(300, seed=3)
    inferred = infer_spec(frame, InitOptions(target="direction"), name="m", source="m.csv")
    assert inferred.spec.time_column == "ts"
    assert "ts" not in inferred.spec.feature_names
    decision = next(d for d in inferred.decisions if d.column == "ts")
    assert decision.role == "time"
    assert "(no_time to decline" in decision.why  # the option's name here; the CLI's flag in init
    declined = infer_spec(frame, InitOptions(target="direction", no_time=True), name="m", source="m.csv")
    assert declined.spec.time is None
    ordered = infer_spec(
        frame.drop(columns=["ts"]), InitOptions(target="direction", ordered=True), name="m", source="m.csv"
    )
    assert ordered.spec.time is not None
    assert ordered.spec.time.ordered


def test_init_refuses_a_time_column_that_is_not_in_the_file() -> None:
    with pytest.raises(SpecError, match="time_column column 'when' is not in"):
        infer_spec(
            make_time_ordered_frame(300, seed=3),
            InitOptions(target="direction", time_column="when"),
            name="m",
            source="m.csv",
        )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["2024-01-01 10:00", "2024-01-02 11:30"], True),
        (["01/02/2024", "03/04/2024"], True),
        (["12", "13"], False),
        (["red", "blue"], False),
        ([1.5, 2.5], False),
    ],
)
def test_looks_like_time(values: list[object], expected: bool) -> None:
    assert looks_like_time(pd.Series(values * 10)) is expected
