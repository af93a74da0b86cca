"""A batch past one machine is validated partition by partition on a real Dask cluster.

Real parts: a file lake, the spec's generated Great Expectations suite, a ``distributed.LocalCluster``
of two worker processes that read their rows from the lake's Parquet file themselves. Nothing is
mocked; the same suite run on the whole batch in this process is the reference.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftgate.dataset.frames import SPLIT_COLUMN, assign_splits
from driftgate.errors import BatchIntegrityError, DriftgateError
from driftgate.stores.lake import Lake
from driftgate.tasks.validate import (
    ClusterValidation,
    load_suite,
    suite_from_reference,
    validate_batch_task,
    validate_frame,
    write_suite,
)
from driftgate.tasks.validate._partitions import read_rows, row_ranges
from tests.integration.test_dask_window import batch_frame, wide_spec

_WIDE = wide_spec(5, name="parts", model_name="parts-model")
# bounded like the bundled specs: a range drawn from one seeded batch would fail later batches on a single row
SPEC = _WIDE.model_copy(
    update={
        "features": [
            f.model_copy(update={"min": -10.0, "max": 10.0}) if f.type == "numeric" else f for f in _WIDE.features
        ]
    }
)
ROWS, PART = 3_000, 1_000


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None, processes=True) as c:
        yield c.scheduler_address


def _stored(lake: Lake, number: int, frame: pd.DataFrame) -> None:
    frame = frame.copy()
    frame[SPLIT_COLUMN] = assign_splits(len(frame), number, 0, keys=None)
    lake.write_batch_once(SPEC.name, number, frame)


@pytest.fixture
def lake_and_suite(tmp_path: Path) -> tuple[Lake, Path]:
    lake = Lake(f"file://{tmp_path}/lake")
    suite = tmp_path / "parts.json"
    write_suite(suite, suite_from_reference(SPEC, batch_frame(SPEC, 100, ROWS)))
    return lake, suite


def test_row_ranges_cover_every_row_once() -> None:
    assert row_ranges(3_000, 1_000) == [(0, 1_000), (1_000, 2_000), (2_000, 3_000)]
    assert row_ranges(2_500, 1_000) == [(0, 1_000), (1_000, 2_000), (2_000, 2_500)]
    assert row_ranges(0, 1_000) == [(0, 0)]


def test_a_worker_reads_only_its_rows_across_row_groups(tmp_path: Path) -> None:
    frame = batch_frame(SPEC, 1, 2_500)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "b.parquet", row_group_size=400)
    for start, stop in [(0, 1_000), (1_000, 2_000), (2_000, 2_500), (390, 410)]:
        part = read_rows(f"file://{tmp_path}/b.parquet", {}, start, stop)
        expected = frame.iloc[start:stop].reset_index(drop=True)
        pd.testing.assert_frame_equal(part, expected)


def test_a_clean_batch_passes_with_the_same_counts_as_the_whole_batch(
    prefect_harness: None, cluster: str, lake_and_suite: tuple[Lake, Path]
) -> None:
    lake, suite = lake_and_suite
    _stored(lake, 1, batch_frame(SPEC, 1, ROWS))
    result = validate_batch_task(
        lake, SPEC, 1, suite, ClusterValidation(cluster, min_rows=ROWS - 1, partition_rows=PART)
    )

    assert result.success, result.to_markdown()
    assert lake.accepted_numbers(SPEC.name) == [1]
    whole = validate_frame(lake.read_batch(SPEC.name, 1), load_suite(suite), SPEC.name, 1)
    assert result.evaluated == whole.evaluated
    ours = {(c.expectation, c.column): c for c in result.checks}
    for c in whole.checks:
        mine = ours[(c.expectation, c.column)]
        assert mine.success == c.success
        if c.element_count is not None:  # per-row expectations: counts add up over the partitions
            assert (mine.element_count, mine.unexpected_count) == (c.element_count, c.unexpected_count)
    assert ours[("expect_table_row_count_to_be_between", None)].observed == ROWS  # judged once, on the batch
    assert not lake.fs.exists(lake.path("reports", "datadocs", SPEC.name))  # no GX Data Docs: not run here

    # a batch of one partition is validated in this process, Data Docs and all: nothing to split
    _stored(lake, 3, batch_frame(SPEC, 3, PART))
    one = validate_batch_task(lake, SPEC, 3, suite, ClusterValidation(cluster, min_rows=0, partition_rows=PART))
    assert one.success
    assert lake.fs.exists(lake.path("reports", "datadocs", SPEC.name))


def test_a_bad_partition_quarantines_the_batch_and_is_named(
    prefect_harness: None, cluster: str, lake_and_suite: tuple[Lake, Path]
) -> None:
    lake, suite = lake_and_suite
    frame = batch_frame(SPEC, 2, ROWS)
    frame.loc[1_500:1_509, "colour"] = "purple"  # ten rows, all in the second partition
    _stored(lake, 2, frame)
    assert not validate_frame(frame, load_suite(suite), SPEC.name, 2).success  # the whole batch fails too
    result = validate_batch_task(lake, SPEC, 2, suite, ClusterValidation(cluster, min_rows=0, partition_rows=PART))

    assert not result.success
    assert lake.is_quarantined(SPEC.name, 2)
    [failure] = [f for f in result.failures if f.column == "colour"]
    assert failure.partition == "2 of 3 (rows 1,000-1,999)"
    assert "in partition 2 of 3 (rows 1,000-1,999)" in failure.describe()
    assert "purple" in failure.examples
    check = next(c for c in result.checks if c.column == "colour" and not c.success)
    assert (check.unexpected_count, check.element_count) == (10, ROWS)
    page = lake.fs.cat_file(lake.path("reports", "validation", SPEC.name, "batch=2.html")).decode()
    assert "failed in partition 2 of 3 (rows 1,000-1,999)" in page


def test_a_batch_whose_file_was_replaced_is_refused_not_validated(
    prefect_harness: None, cluster: str, lake_and_suite: tuple[Lake, Path]
) -> None:
    lake, suite = lake_and_suite
    _stored(lake, 4, batch_frame(SPEC, 4, ROWS))
    other = batch_frame(SPEC, 5, ROWS)  # same shape, other rows, written over the stored part
    other[SPLIT_COLUMN] = assign_splits(ROWS, 4, 0, keys=None)
    with lake.fs.open(lake.data_path(SPEC.name, 4), "wb") as f:
        other.to_parquet(f, index=False)
    with pytest.raises(BatchIntegrityError, match=r"batch 4 of 'parts' hashes to .* on the cluster, its manifest says"):
        validate_batch_task(lake, SPEC, 4, suite, ClusterValidation(cluster, min_rows=0, partition_rows=PART))
    assert not lake.is_quarantined(SPEC.name, 4)
    assert 4 not in lake.accepted_numbers(SPEC.name)  # no verdict recorded on rows that are not the batch's


def test_a_suite_that_does_not_split_by_partition_runs_on_the_whole_batch(
    prefect_harness: None, cluster: str, tmp_path: Path, lake_and_suite: tuple[Lake, Path]
) -> None:
    lake, suite = lake_and_suite
    edited = json.loads(suite.read_text())
    edited["expectations"].append(  # a column's sum: no partition can judge it alone
        {"type": "expect_column_sum_to_be_between", "kwargs": {"column": "x0", "min_value": -1e9, "max_value": 1e9}}
    )
    custom = tmp_path / "custom.json"
    custom.write_text(json.dumps(edited))
    _stored(lake, 6, batch_frame(SPEC, 6, ROWS))
    result = validate_batch_task(lake, SPEC, 6, custom, ClusterValidation(cluster, min_rows=0, partition_rows=PART))
    assert result.success
    assert result.evaluated == len(edited["expectations"])  # every one, the sum included, on all rows at once
    assert all(not c.partition for c in result.checks)
    assert lake.fs.exists(lake.path("reports", "datadocs", SPEC.name))  # validated here, Data Docs and all


def test_an_unreachable_cluster_is_one_clear_error(prefect_harness: None, lake_and_suite: tuple[Lake, Path]) -> None:
    lake, suite = lake_and_suite
    _stored(lake, 7, batch_frame(SPEC, 7, ROWS))
    with pytest.raises(DriftgateError, match=re.escape("on the Dask cluster at tcp://127.0.0.1:9 failed")):
        validate_batch_task(
            lake,
            SPEC,
            7,
            suite,
            # nothing listens there: the error after 2 s of trying, not the 30 s a real scheduler is given
            ClusterValidation("tcp://127.0.0.1:9", min_rows=0, partition_rows=PART, connect_timeout_s=2),
        )
    assert 7 not in lake.accepted_numbers(SPEC.name)
