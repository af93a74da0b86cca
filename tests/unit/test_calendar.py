"""Calendar features: a timestamp time column teaches its hour, day of week and month, the same way everywhere.

Training derives them where rows become a batch (``normalize``), the service from a record's time,
batch scoring from a file's time column; drift never tests them, and the raw time is never a feature.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftgate.dataset.frames import add_calendar, normalize
from driftgate.dataset.infer import InitOptions, infer_spec
from driftgate.dataset.sources import load_source
from driftgate.dataset.spec import DatasetSpec
from driftgate.dataset.synthetic import make_time_ordered_frame
from driftgate.models.contract import ContractError, InputContract
from driftgate.policies import DriftPolicy, SplitPolicy
from driftgate.stores.lake import Lake
from driftgate.tasks.drift import compute_drift
from driftgate.tasks.ingest import prepare_batch
from driftgate.tasks.scoring import check_rows, read_input

FEATURES = ["level_0", "level_1", "signal_0", "signal_1", "noise_0"]
CALENDAR = ["ts_hour", "ts_day_of_week", "ts_month"]


def calendar_spec(source: str = "x.csv", calendar: tuple[str, ...] = ("hour", "day_of_week", "month")) -> DatasetSpec:
    return DatasetSpec.model_validate(
        {
            "name": "cal",
            "task": "classification",
            "target": "direction",
            "model_name": "cal-model",
            "source": source,
            "metric": {"name": "accuracy", "direction": "maximize"},
            "features": [{"name": c, "type": "numeric"} for c in [*FEATURES, *(f"ts_{p}" for p in calendar)]],
            "time": {"column": "ts", "calendar": list(calendar)},
        }
    )


def spanning(days: float, rows: int = 1200, seed: int = 1) -> pd.DataFrame:
    """The seeded table with its ``rows`` times spread evenly over ``days`` days (not on whole hours)."""
    frame = make_time_ordered_frame(rows, seed=seed)
    times = pd.Timestamp("2022-01-03 00:17") + pd.to_timedelta(np.linspace(0, days, rows), unit="D")
    return frame.assign(ts=times.strftime("%Y-%m-%d %H:%M"))


def test_init_learns_the_hour_day_and_month_of_a_timestamp_and_says_so() -> None:
    frame = spanning(days=950)
    inferred = infer_spec(frame, InitOptions(target="direction"), name="cal", source="x.csv")
    spec = inferred.spec
    assert spec.time is not None
    assert spec.time.calendar == ["hour", "day_of_week", "month"]
    assert spec.feature_names == [*FEATURES, *CALENDAR]  # the raw time is not among them
    assert spec.calendar_features == {"ts_hour": "hour", "ts_day_of_week": "day_of_week", "ts_month": "month"}
    assert [(f.min, f.max) for f in spec.features[-3:]] == [(0, 23), (0, 6), (1, 12)]
    table = inferred.table()
    assert "the hour of ts (no_calendar to leave" in table
    assert "day of week (Monday 0) of ts" in table
    declined = infer_spec(frame, InitOptions(target="direction", no_calendar=True), name="cal", source="x.csv")
    assert declined.spec.time_column == "ts"
    assert declined.spec.feature_names == FEATURES


def test_init_learns_only_the_parts_a_file_sees_recur() -> None:
    weeks = infer_spec(spanning(days=60), InitOptions(target="direction"), name="cal", source="x.csv")
    assert weeks.spec.time is not None
    assert weeks.spec.time.calendar == ["hour", "day_of_week"]
    month = next(d for d in weeks.decisions if d.column == "ts_month")
    assert month.role == "left out"
    assert month.why == "ts spans 60 days; its month needs 730 (each value seen twice)"
    days = infer_spec(spanning(days=8), InitOptions(target="direction"), name="cal", source="x.csv")
    assert days.spec.time is not None
    assert days.spec.time.calendar == ["hour"]
    midnights = make_time_ordered_frame(800, seed=1).assign(
        ts=pd.date_range("2022-01-01", periods=800, freq="D").strftime("%Y-%m-%d")
    )
    daily = infer_spec(midnights, InitOptions(target="direction"), name="cal", source="x.csv")
    assert daily.spec.time is not None
    assert daily.spec.time.calendar == ["day_of_week", "month"]
    assert "no hour to learn" in next(d.why for d in daily.decisions if d.column == "ts_hour")


def test_a_time_column_of_numbers_teaches_no_calendar() -> None:
    frame = make_time_ordered_frame(400, seed=1).assign(step=np.arange(400)).drop(columns=["ts"])
    spec = infer_spec(frame, InitOptions(target="direction", time_column="step"), name="cal", source="x.csv").spec
    assert spec.time is not None
    assert spec.time.calendar == []
    assert spec.feature_names == FEATURES


def test_the_spec_refuses_calendar_parts_without_a_column_or_a_numeric_feature() -> None:
    base = calendar_spec(calendar=("hour",)).model_dump()
    with pytest.raises(ValueError, match="needs a time 'column'"):
        DatasetSpec.model_validate({**base, "time": {"ordered": True, "calendar": ["hour"]}})
    with pytest.raises(ValueError, match=r"'ts_hour' .* must be listed as a numeric feature"):
        DatasetSpec.model_validate({**base, "features": [f for f in base["features"] if f["name"] != "ts_hour"]})
    with pytest.raises(ValueError, match="repeats a part"):
        DatasetSpec.model_validate({**base, "time": {"column": "ts", "calendar": ["hour", "hour"]}})


def test_parts_are_derived_from_the_time_and_kept_where_a_row_has_none() -> None:
    spec = calendar_spec()
    frame = pd.DataFrame(
        {
            "ts": ["2026-03-02 14:30", "2026-12-06T23:59:00+00:00", None, "not a time"],
            "ts_hour": [np.nan, np.nan, 7.0, np.nan],  # row 2: a value logged by the service, no time
        }
    )
    out = add_calendar(frame, spec)
    assert out["ts_hour"].tolist()[:3] == [14.0, 23.0, 7.0]
    assert np.isnan(out["ts_hour"].iloc[3])
    assert out["ts_day_of_week"].tolist()[:2] == [0.0, 6.0]  # a Monday, a Sunday
    assert out["ts_month"].tolist()[:2] == [3.0, 12.0]
    assert "ts_hour" not in frame or np.isnan(frame["ts_hour"].iloc[0])  # the input is left as it was


def test_a_time_with_an_offset_is_read_in_utc_as_training_reads_it() -> None:
    spec = calendar_spec(calendar=("hour",))
    out = add_calendar(pd.DataFrame({"ts": ["2026-03-02T14:30:00+02:00"]}), spec)
    assert out["ts_hour"].tolist() == [12.0]


def test_a_batch_carries_its_calendar_features_and_its_manifest_the_split_rule(tmp_path: Path) -> None:
    spec = calendar_spec()
    raw = make_time_ordered_frame(200, seed=2)
    batch = prepare_batch(raw, spec, 1, split=SplitPolicy(gap_rows=5))
    assert batch["ts_hour"].tolist()[:3] == [0.0, 0.0, 1.0]
    assert batch["ts_month"].dtype == np.float64
    lake = Lake(tmp_path.as_uri())
    manifest, _ = lake.write_batch_once(spec.name, 1, batch)
    assert manifest.split_rule == (
        "out of time, ordered by column 'ts': latest 15% test, the 15% before them validation, "
        "5 gap rows before those, the rest train"
    )
    stored = lake.manifest(spec.name, 1)
    assert stored is not None
    assert stored.split_rule == manifest.split_rule
    untimed = spec.model_copy(update={"time": None, "features": spec.features[:5]})
    random_batch = prepare_batch(raw.drop(columns=["ts"]), untimed, 2)
    assert lake.write_batch_once(spec.name, 2, random_batch)[0].split_rule == (
        "random 70% train / 15% validation / 15% test (seed 0)"
    )


def test_a_source_file_with_only_the_time_becomes_rows_with_the_parts(tmp_path: Path) -> None:
    path = tmp_path / "market.csv"
    make_time_ordered_frame(120, seed=4).to_csv(path, index=False)
    spec = calendar_spec(str(path), calendar=("hour", "month"))
    rows = load_source(spec)
    assert {"ts_hour", "ts_month"} <= set(rows.columns)
    assert rows["ts_hour"].iloc[:3].tolist() == [0.0, 0.0, 1.0]


def test_the_service_contract_takes_the_time_instead_of_the_parts() -> None:
    spec = calendar_spec()
    contract = InputContract.from_spec(spec, 10)
    record = dict.fromkeys(FEATURES, 0.0)
    columns = contract.decode([{**record, "ts": "2026-03-02T14:30:00"}, {**record, "ts": None}])
    assert columns["ts_hour"][0] == 14.0
    assert columns["ts_day_of_week"][0] == 0.0
    assert columns["ts_month"][0] == 3.0
    assert all(np.isnan(columns[c][1]) for c in CALENDAR)  # no time: missing, imputed as in training
    sent = contract.decode([{**record, "ts_hour": 5, "ts_day_of_week": 1, "ts_month": 2}])  # the parts themselves
    assert sent["ts_hour"] == [5.0]
    with pytest.raises(ContractError) as bad:
        contract.decode([{**record, "ts": 1700000000}, {**record, "ts": "yesterday-ish"}, record])
    problems = [p.to_dict() for p in bad.value.problems]
    assert problems == [
        {"field": "ts", "reason": "must be a date-time string, got a number", "record": 0},
        {"field": "ts", "reason": "'yesterday-ish' is not a date-time", "record": 1},
        *(
            {"field": c, "reason": "is required (or send 'ts', the time it is derived from)", "record": 2}
            for c in CALENDAR
        ),
    ]
    schema = contract.json_schema()
    assert schema["required"] == FEATURES
    assert schema["properties"]["ts"]["format"] == "date-time"


def test_batch_scoring_derives_the_parts_from_a_files_time_column(tmp_path: Path) -> None:
    import fsspec

    spec = calendar_spec()
    path = tmp_path / "to_score.csv"
    make_time_ordered_frame(30, seed=5).drop(columns=["direction"]).to_csv(path, index=False)
    file = read_input(fsspec.filesystem("file"), str(path), spec)
    check = check_rows(file, InputContract.from_spec(spec, 100), spec.key_columns)
    assert check.valid.all()
    assert check.missing_columns == []
    assert check.unexpected_columns == []
    assert check.model_input["ts_hour"].tolist()[:3] == [0.0, 0.0, 1.0]


def test_drift_never_tests_the_calendar_parts() -> None:
    spec = calendar_spec()
    frame = normalize(make_time_ordered_frame(3000, seed=6), spec)
    january, later = frame.iloc[:1400], frame.iloc[1600:]  # months apart: the month column moved entirely
    report = compute_drift(january, later, spec, DriftPolicy())
    assert [f.column for f in report.features] == FEATURES
    assert set(report.weights) == set(FEATURES)
