"""Fetch batches from the data API by number and store each one exactly once in the lake."""

from __future__ import annotations

import hashlib
import io
import logging
import random
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

import httpx
import msgspec
import pandas as pd
from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from driftgate.errors import BatchFetchError
from driftgate.dataset.frames import SPLIT_COLUMN, SPLIT_RULE, assign_splits, group_keys, normalize, time_order
from driftgate.stores.lake import BatchManifest, Lake
from driftgate.names import artifact_key
from driftgate.policies import RetryPolicy, SplitPolicy
from driftgate.dataset.spec import DatasetSpec
from driftgate.tasks._fault_point import fault_point
from driftgate.tasks.policy import IO_RETRIES

log = logging.getLogger(__name__)
T = TypeVar("T")
PARQUET = "application/vnd.apache.parquet"


class TransientFetchError(Exception):
    """One attempt failed in a way worth retrying."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def fetch_batch_once(
    client: httpx.Client, number: int, *, fmt: str = "parquet", timeout_s: float = 10.0
) -> pd.DataFrame:
    """One attempt at ``GET /batches/{number}``.

    Raises:
        TransientFetchError: transport error, timeout, 429, 5xx, or a body that is cut short.
        BatchFetchError: an answer that retrying cannot fix (such as 404).
    """
    headers = {"Accept": PARQUET if fmt == "parquet" else "application/json"}
    try:
        response = client.get(f"/batches/{number}", headers=headers, timeout=timeout_s)
    except httpx.TransportError as exc:  # connect errors, timeouts, broken streams
        raise TransientFetchError(f"{type(exc).__name__}: {exc}") from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientFetchError(f"HTTP {response.status_code}", _retry_after(response))
    if response.status_code != 200:
        raise BatchFetchError(f"batch {number}: HTTP {response.status_code}: {response.text[:200]}")
    body = response.content
    expected = response.headers.get("x-content-sha256")
    if expected and hashlib.sha256(body).hexdigest() != expected:
        raise TransientFetchError(f"body of {len(body)} bytes does not match its sha256 (truncated?)")
    try:
        if PARQUET in response.headers.get("content-type", ""):
            return pd.read_parquet(io.BytesIO(body))
        payload = msgspec.json.decode(body)
        return pd.DataFrame.from_records(payload["records"])
    except Exception as exc:  # any decode failure of a damaged body is worth another try
        raise TransientFetchError(f"undecodable body ({type(exc).__name__})") from exc


def with_retries(
    attempt: Callable[[], T],
    policy: RetryPolicy,
    what: str,
    *,
    rng: random.Random | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``attempt`` until it succeeds, retrying :class:`TransientFetchError` with backoff and jitter.

    The one retry policy of every call driftgate makes to a data source over HTTP; a
    ``Retry-After`` carried by the error is honoured.

    Raises:
        BatchFetchError: after ``policy.retries`` retries, naming ``what`` and the last error.
    """
    rng = rng or random.Random()
    for n in range(policy.retries + 1):
        try:
            return attempt()
        except TransientFetchError as exc:
            if n == policy.retries:
                raise BatchFetchError(f"{what}: gave up after {n + 1} attempts; last error: {exc}") from exc
            wait = policy.delay(n, exc.retry_after, rng)
            log.warning("%s: attempt %s failed (%s); retrying in %.2fs", what, n + 1, exc, wait)
            sleep(wait)
    raise AssertionError("unreachable")


def fetch_batch(
    client: httpx.Client,
    number: int,
    policy: RetryPolicy,
    *,
    fmt: str = "parquet",
    rng: random.Random | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> pd.DataFrame:
    """Fetch batch ``number``, retrying transient failures; honours ``Retry-After``.

    Raises:
        BatchFetchError: after ``policy.retries`` retries, naming the batch and the last error.
    """
    return with_retries(
        lambda: fetch_batch_once(client, number, fmt=fmt, timeout_s=policy.timeout_s),
        policy,
        f"batch {number}",
        rng=rng,
        sleep=sleep,
    )


def batch_count_once(client: httpx.Client, timeout_s: float) -> int:
    """One attempt at ``GET /batches``: the number of batches the data API has."""
    try:
        response = client.get("/batches", timeout=timeout_s)
    except httpx.TransportError as exc:
        raise TransientFetchError(f"{type(exc).__name__}: {exc}") from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientFetchError(f"HTTP {response.status_code}", _retry_after(response))
    if response.status_code != 200:
        raise BatchFetchError(f"data API at {client.base_url} answered HTTP {response.status_code} to GET /batches")
    try:
        return int(response.json()["batches"])
    except (ValueError, KeyError, TypeError) as exc:
        raise TransientFetchError(f"undecodable batch count ({type(exc).__name__})") from exc


def batch_count(client: httpx.Client, policy: RetryPolicy, *, sleep: Callable[[float], None] = time.sleep) -> int:
    """How many batches the data API has (``GET /batches``), with the same retries as a fetch."""
    return with_retries(
        lambda: batch_count_once(client, policy.timeout_s),
        policy,
        f"data API at {client.base_url} listing its batches",
        sleep=sleep,
    )


def prepare_batch(
    frame: pd.DataFrame, spec: DatasetSpec, number: int, seed: int = 0, *, split: SplitPolicy | None = None
) -> pd.DataFrame:
    """Canonical dtypes plus the deterministic split column.

    With a time order in the spec, the rows are stored sorted by time (by the time column; arrival
    order kept for ties and for ``ordered: true``) and split out of time: the latest rows test.

    Args:
        seed: the split seed when no ``split`` is given.
        split: the split's seed, shares and gap (the settings' ``split_policy()``).
    """
    split = split or SplitPolicy(seed=seed)
    out = normalize(frame, spec)
    if spec.time_ordered:
        out = out.iloc[time_order(out, spec.time_column)].reset_index(drop=True)
    out[SPLIT_COLUMN] = assign_splits(
        len(out),
        number,
        split.seed,
        keys=group_keys(out, spec),
        shares=split.shares,
        ordered=spec.time_ordered,
        gap_rows=split.gap_rows,
    )
    out.attrs[SPLIT_RULE] = split.describe(spec.time.describe() if spec.time else None, spec.group_key)
    return out


def next_batch_number(lake: Lake, dataset: str, reserved: Iterable[int] = ()) -> int:
    """The number after every stored, ingested or already reserved batch."""
    return max([0, lake.cursor(dataset), *lake.stored_numbers(dataset), *reserved]) + 1


def source_columns(frame: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """The spec's columns (features, target, ids) that a source row carries; others are dropped.

    A missing column is left missing, so validation names it and quarantines the batch.
    """
    known = [*spec.columns, *spec.key_columns]
    dropped = [c for c in frame.columns if c not in known]
    if dropped:
        log.info("dropping columns the spec does not name: %s", dropped)
    return frame[[c for c in known if c in frame.columns]]


def store_batch(lake: Lake, spec: DatasetSpec, number: int, frame: pd.DataFrame) -> tuple[BatchManifest, bool]:
    """Write a fetched batch once, then move the cursor past it."""
    manifest, created = lake.write_batch_once(spec.name, number, frame)
    fault_point("after_store")
    if lake.cursor(spec.name) < number:
        lake.set_cursor(spec.name, number)
    return manifest, created


# --- Prefect wrappers ------------------------------------------------------------------


@task(name="fetch-batch", task_run_name="fetch-batch-{number}", cache_policy=NO_CACHE)
def fetch_batch_task(
    base_url: str, number: int, policy: RetryPolicy, fmt: str, spec: DatasetSpec, split: SplitPolicy
) -> pd.DataFrame:
    # The retry loop lives in fetch_batch: Prefect's task retries cannot honour Retry-After.
    with httpx.Client(base_url=base_url) as client:
        return prepare_batch(fetch_batch(client, number, policy, fmt=fmt), spec, number, split=split)


@task(
    name="store-batch",
    task_run_name="store-batch-{number}",
    cache_policy=NO_CACHE,
    **IO_RETRIES,
)
def store_batch_task(lake: Lake, spec: DatasetSpec, number: int, frame: pd.DataFrame) -> BatchManifest:
    manifest, _ = store_batch(lake, spec, number, frame)
    return manifest


def publish_ingest_table(dataset: str, manifests: list[BatchManifest]) -> None:
    create_table_artifact(
        key=artifact_key("ingested", dataset),
        table=[
            {"batch": m.number, "rows": m.rows, "sha256": m.sha256[:12], "splits": str(m.splits)} for m in manifests
        ],
        description=f"Batches of {dataset} stored by this run",
    )
