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
- GX Data Docs are not rendered (the batch's own report page is);
- only expectations that split this way are run so (:data:`PER_PARTITION`, what ``driftgate
  expectations init`` writes); a suite with any other kind (a column's sum, its distinct values,
  an exact row count) is run on the whole batch in the flow's process, as below the threshold;
- the batch's content hash is re-checked: each worker hashes its rows as
  :func:`driftgate.dataset.frames.content_hash` does, and the flow chains them in order and compares the
  result with the manifest's sha256 before any verdict is recorded.
"""

from __future__ import annotations

import hashlib
import json
import logging
from concurrent.futures import CancelledError
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from driftgate.dataset.frames import SPLIT_COLUMN
from driftgate.dataset.spec import DatasetSpec
from driftgate.errors import BatchIntegrityError, DriftgateError
from driftgate.stores.lake import Lake
from driftgate.tasks.validate._validation import (
    Check,
    ClusterValidation,
    Failure,
    ValidationResult,
    load_suite,
    record_verdict,
    validate_frame,
    validate_stored_batch,
)

log = logging.getLogger(__name__)

WHOLE_BATCH = "expect_table_row_count_to_be_between"  # checked on the manifest's row count, once
PER_PARTITION = frozenset(
    {
        "expect_table_columns_to_match_set",
        "expect_compound_columns_to_be_unique",  # within each partition
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_in_type_list",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
        "expect_column_mean_to_be_between",  # a warning in generated suites: judged per partition
    }
)
"""Expectation kinds judged per partition; with the row count, what a batch past one machine may be checked with."""


@dataclass(frozen=True)
class PartResult:
    """What a worker sends back: the partition's checks, and its rows' content hash pieces."""

    checks: list[Check]
    dtypes: str  # the hash's header: the columns and their dtypes, as content_hash writes them
    row_hashes: bytes  # pandas' 8-byte hash of each row, in order


def splits_cleanly(suite: dict[str, Any]) -> bool:
    """Every expectation of the suite can be judged per partition (or, the row count, once)."""
    return all(e.get("type") in PER_PARTITION or e.get("type") == WHOLE_BATCH for e in suite["expectations"])


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
) -> PartResult:
    """On a worker: the suite's checks (all but the row count) on rows ``[start, stop)``, and the rows' hashes."""
    from great_expectations.core import ExpectationSuite

    rows = read_rows(url, storage_options, start, stop)
    data = rows.drop(columns=[SPLIT_COLUMN], errors="ignore")
    header = json.dumps([[c, str(t)] for c, t in data.dtypes.items()])
    hashes = pd.util.hash_pandas_object(data, index=False).to_numpy().tobytes() if len(data) else b""
    partial = {**suite, "expectations": [e for e in suite["expectations"] if e.get("type") != WHOLE_BATCH]}
    checks = validate_frame(rows, ExpectationSuite(**partial), dataset, batch).checks
    return PartResult(checks, header, hashes)


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
        missing = _total([c.missing_count for _, c in group])
        judged = None if elements is None else elements - (missing or 0)  # GX's share is of the non-null rows
        percent = 100 * unexpected / judged if unexpected is not None and judged else shown.unexpected_percent
        # one partition's observed value (a mean, say) is not the batch's: shown only where it failed
        observed = shown.observed if failed or len(group) == 1 else None
        examples = [x for _, c in failed for x in c.examples][:5] if failed else shown.examples
        out.append(
            Check(
                shown.expectation,
                shown.column,
                shown.severity,
                shown.kwargs,
                observed,
                percent,
                not failed,
                shown.message,
                unexpected,
                elements,
                examples,
                partition=", ".join(name for name, _ in failed) if len(group) > 1 else "",
                missing_count=missing,
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

    A suite with an expectation that does not split by partition is run on the whole batch here
    instead (:func:`validate_stored_batch`).

    Raises:
        FileNotFoundError: the batch is not stored.
        SuiteError: the suite file is missing or not a valid GX suite.
        BatchIntegrityError: the stored rows do not hash to the manifest's sha256.
        DriftgateError: the cluster could not validate it (unreachable, a worker lost, the lake not
            readable from the workers).
    """
    manifest = lake.manifest(spec.name, number)
    if manifest is None:
        raise FileNotFoundError(f"batch {number} of {spec.name!r} is not stored")
    gx_suite = load_suite(suite_file)  # a missing or invalid suite fails here, in one line, not on every worker
    suite = json.loads(suite_file.read_text())
    if not splits_cleanly(suite):
        kinds = sorted({e.get("type") for e in suite["expectations"]} - PER_PARTITION - {WHOLE_BATCH})
        log.warning(
            "batch %s of %s: the suite's %s do not split by partition; validating it here", number, spec.name, kinds
        )
        return validate_stored_batch(lake, spec, number, gx_suite)
    url = lake.fs.unstrip_protocol(lake.data_path(spec.name, number))
    ranges = row_ranges(manifest.rows, cluster.partition_rows)
    names = [partition_name(i, len(ranges), a, b) for i, (a, b) in enumerate(ranges)]
    parts = _run_parts(cluster, url, ranges, suite, spec.name, number)
    found = hashlib.sha256(parts[0].dtypes.encode())
    for part in parts:
        found.update(part.row_hashes)
    if found.hexdigest() != manifest.sha256:
        raise BatchIntegrityError(
            f"batch {number} of {spec.name!r} hashes to {found.hexdigest()[:12]}… on the cluster, its manifest "
            f"says {manifest.sha256[:12]}…: refusing to validate it"
        )
    checks = merge_checks([p.checks for p in parts], names)
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


def _run_parts(
    cluster: ClusterValidation, url: str, ranges: list[tuple[int, int]], suite: dict[str, Any], dataset: str, batch: int
) -> list[PartResult]:
    """Each range validated on a worker; a cluster that cannot do it is one clear error, not a traceback."""
    from distributed import Client, KilledWorker

    try:
        with Client(cluster.address, timeout=cluster.connect_timeout_s) as client:  # type: ignore[no-untyped-call]
            futures = [
                client.submit(  # type: ignore[no-untyped-call]
                    validate_part, url, cluster.storage_options, a, b, suite, dataset, batch, pure=False
                )
                for a, b in ranges
            ]
            parts: list[PartResult] = client.gather(futures)  # type: ignore[no-untyped-call]
            return parts
    except (OSError, TimeoutError, KilledWorker, CancelledError) as exc:
        raise DriftgateError(
            f"validating batch {batch} of {dataset!r} on the Dask cluster at {cluster.address} failed "
            f"({type(exc).__name__}: {exc}); check that the scheduler runs and that its workers can read the lake"
        ) from exc
