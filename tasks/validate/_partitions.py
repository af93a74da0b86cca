"""Validation of a batch past one machine: its suite runs partition by partition on Dask workers.

A batch of more than ``DRIFTGATE_DASK_MIN_ROWS`` rows, with ``DRIFTGATE_DASK_ADDRESS`` set, is not
read into the flow's process to be validated. Each worker reads one range of its rows from the
lake's Parquet file (only the row groups that hold them) and runs the suite on it; only the checks'
results come back. They are merged per expectation:

- an expectation fails the batch when it fails in any partition; the merged check names those
  partitions (``3 of 12 (rows 500,000-749,999)``), adds up the unexpected and element counts, and
  shows the first failing partition's observed value and examples;
- a ``mostly`` threshold holds per partition (stricter than on the whole batch: bad rows bunched in
  one partition fail it even when they are a small share of the batch);
- the table's row count is checked once, on the manifest's count, not per partition;
- uniqueness across rows is checked within each partition only: a duplicate pair split across two
  partitions is not seen;
- GX Data Docs are not rendered (the batch's own report page is).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from driftgate.lake import Lake
from driftgate.spec import DatasetSpec
from driftgate.tasks.validate._validation import (
    Check,
    ClusterValidation,
    Failure,
    ValidationResult,
    load_suite,
    record_verdict,
    validate_frame,
)

log = logging.getLogger(__name__)

WHOLE_BATCH = "expect_table_row_count_to_be_between"  # checked on the manifest's row count, once


def row_ranges(rows: int, partition_rows: int) -> list[tuple[int, int]]:
    """``[start, stop)`` ranges of at most ``partition_rows`` rows covering ``rows`` rows (one for none)."""
    step = max(1, partition_rows)
    return [(start, min(start + step, rows)) for start in range(0, rows, step)] or [(0, 0)]


def partition_name(index: int, count: int, start: int, stop: int) -> str:
    """How a report names a partition: ``2 of 3 (rows 1,000-1,999)``."""
    return f"{index + 1} of {count} (rows {start:,}-{max(start, stop - 1):,})"


def read_rows(url: str, storage_options: dict[str, Any], start: int, stop: int) -> pd.DataFrame:
    """Rows ``[start, stop)`` of a Parquet file, reading only the row groups that hold them."""
    import fsspec
    import pyarrow.parquet as pq

    with fsspec.open(url, "rb", **storage_options) as f:
        parquet = pq.ParquetFile(f)
        groups: list[int] = []
        first, offset = 0, 0
        for g in range(parquet.metadata.num_row_groups):
            n = parquet.metadata.row_group(g).num_rows
            if offset < stop and offset + n > start:
                first = offset if not groups else first
                groups.append(g)
            offset += n
        table = parquet.read_row_groups(groups) if groups else parquet.schema_arrow.empty_table()
    return table.slice(start - first, stop - start).to_pandas()


def validate_part(
    url: str, storage_options: dict[str, Any], start: int, stop: int, suite: dict[str, Any], dataset: str, batch: int
) -> list[Check]:
    """On a worker: the suite's checks (all but the row count) on rows ``[start, stop)`` of the batch."""
    from great_expectations.core import ExpectationSuite

    rows = read_rows(url, storage_options, start, stop)
    partial = {**suite, "expectations": [e for e in suite["expectations"] if e.get("type") != WHOLE_BATCH]}
    return validate_frame(rows, ExpectationSuite(**partial), dataset, batch).checks


def row_count_check(expectation: dict[str, Any], rows: int) -> Check:
    """The suite's row-count expectation judged on the batch's row count (the manifest's)."""
    kwargs = {k: v for k, v in expectation.get("kwargs", {}).items() if v is not None}
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    success = (low is None or rows >= low) and (high is None or rows <= high)
    return Check(WHOLE_BATCH, None, str(expectation.get("severity", "critical")), kwargs, rows, None, success)


def _key(check: Check) -> str:
    return json.dumps([check.expectation, check.column, check.kwargs], sort_keys=True, default=str)


def _total(counts: list[int | None]) -> int | None:
    """The sum of the partitions' counts; None when a partition has none (an expectation without counts)."""
    known = [c for c in counts if c is not None]
    return sum(known) if len(known) == len(counts) else None


def merge_checks(parts: list[list[Check]], names: list[str]) -> list[Check]:
    """One check per expectation over every partition (see the module's docstring for how)."""
    merged: dict[str, list[tuple[str, Check]]] = {}
    for name, checks in zip(names, parts, strict=True):
        for check in checks:
            merged.setdefault(_key(check), []).append((name, check))
    out = []
    for group in merged.values():
        failed = [(name, c) for name, c in group if not c.success]
        shown = failed[0][1] if failed else group[0][1]
        unexpected = _total([c.unexpected_count for _, c in group])
        elements = _total([c.element_count for _, c in group])
        percent = 100 * unexpected / elements if unexpected is not None and elements else shown.unexpected_percent
        examples = [x for _, c in failed for x in c.examples][:5] if failed else shown.examples
        out.append(
            Check(
                shown.expectation,
                shown.column,
                shown.severity,
                shown.kwargs,
                shown.observed,
                percent,
                not failed,
                shown.message,
                unexpected,
                elements,
                examples,
                partition=", ".join(name for name, _ in failed) if len(group) > 1 else "",
            )
        )
    return out


def result_of(dataset: str, batch: int, checks: list[Check]) -> ValidationResult:
    """The batch's verdict from its merged checks: a failed critical check fails it, a warning is reported."""
    failures: list[Failure] = []
    warnings: list[Failure] = []
    for c in checks:
        if c.success:
            continue
        f = Failure(
            c.expectation, c.column, c.severity, c.observed, c.unexpected_percent, c.examples, c.message, c.partition
        )
        (warnings if c.severity in ("warning", "info") else failures).append(f)
    return ValidationResult(dataset, batch, not failures, len(checks), failures, warnings, checks)


def validate_on_cluster(
    cluster: ClusterValidation, lake: Lake, spec: DatasetSpec, number: int, suite_file: Path
) -> ValidationResult:
    """Validate stored batch ``number`` partition by partition on the cluster; accept or quarantine it.

    Raises:
        FileNotFoundError: the batch is not stored.
        SuiteError: the suite file is missing or not a valid GX suite.
    """
    from distributed import Client

    manifest = lake.manifest(spec.name, number)
    if manifest is None:
        raise FileNotFoundError(f"batch {number} of {spec.name!r} is not stored")
    load_suite(suite_file)  # a missing or invalid suite fails here, in one line, not on every worker
    suite = json.loads(suite_file.read_text())
    url = lake.fs.unstrip_protocol(lake.data_path(spec.name, number))
    ranges = row_ranges(manifest.rows, cluster.partition_rows)
    names = [partition_name(i, len(ranges), a, b) for i, (a, b) in enumerate(ranges)]
    with Client(cluster.address) as client:  # type: ignore[no-untyped-call]
        futures = [
            client.submit(  # type: ignore[no-untyped-call]
                validate_part, url, cluster.storage_options, a, b, suite, spec.name, number, pure=False
            )
            for a, b in ranges
        ]
        parts: list[list[Check]] = client.gather(futures)  # type: ignore[no-untyped-call]
    checks = merge_checks(parts, names)
    whole = [row_count_check(e, manifest.rows) for e in suite["expectations"] if e.get("type") == WHOLE_BATCH]
    result = result_of(spec.name, number, [*whole, *checks])
    log.info(
        "validated batch %s of %s on the cluster in %s partitions: %s",
        number,
        spec.name,
        len(ranges),
        "passed" if result.success else f"failed ({len(result.failures)} expectations)",
    )
    return record_verdict(lake, spec, number, result)
