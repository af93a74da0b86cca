"""Batches from a landing folder or ``s3://`` prefix: each new file, once, in arrival order.

The lake records, in ``state/<dataset>/landing.json``, which file content (sha256 of its bytes)
became which batch number. The record is written *before* a batch is stored (status
``pending``) and marked ``stored`` after, so a crash between the two is resumed under the same
number, and a file uploaded again with the same bytes is never a new batch.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import fsspec
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from driftgate.dataset.batch_sources import LandingBatches
from driftgate.dataset.sources import read_table
from driftgate.dataset.spec import DatasetSpec
from driftgate.errors import BatchFetchError
from driftgate.policies import SplitPolicy
from driftgate.stores.lake import Lake
from driftgate.tasks.ingest._api import next_batch_number, prepare_batch, source_columns
from driftgate.tasks.policy import IO_RETRIES

log = logging.getLogger(__name__)
STATE = "landing"


@dataclass(frozen=True)
class LandedFile:
    """One file under the landing prefix, as listed."""

    path: str
    size: int
    mtime: float


@dataclass(frozen=True)
class LandingItem:
    """A file content planned as batch ``number``; ``path`` is where that content is now."""

    number: int
    sha256: str
    path: str


def _mtime(info: dict[str, Any]) -> float:
    value = info.get("mtime", info.get("LastModified", info.get("created", 0.0)))
    return value.timestamp() if isinstance(value, datetime) else float(value or 0.0)


def list_landed(fs: Any, root: str, suffixes: list[str]) -> list[LandedFile]:
    """Files under ``root`` ending in one of ``suffixes``, in arrival order (mtime, then name)."""
    fs.invalidate_cache(root)  # s3fs answers from its cached listing: files landed since would be "not found"
    if not fs.exists(root):
        return []
    found = fs.find(root, detail=True)
    files = [
        LandedFile(path, int(info.get("size") or 0), _mtime(info))
        for path, info in found.items()
        if info.get("type") != "directory" and path.lower().endswith(tuple(suffixes))
    ]
    return sorted(files, key=lambda f: (f.mtime, f.path))


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def plan_landing(
    lake: Lake, dataset: str, fs: Any, files: list[LandedFile], max_new: int | None = None
) -> list[LandingItem]:
    """Number the new file contents and record them as pending; returns every pending item.

    Known contents (same sha256, under any name) are skipped. Files whose path, size and mtime
    match the last listing are not read again. Pending items of a crashed run come first.
    """
    state = lake.read_state(dataset, STATE) or {"batches": {}, "seen": {}}
    batches: dict[str, dict[str, Any]] = state["batches"]
    old_seen: dict[str, dict[str, Any]] = state["seen"]
    seen: dict[str, dict[str, Any]] = {}
    reserved = [int(b["batch"]) for b in batches.values()]
    number = next_batch_number(lake, dataset, reserved)
    added = 0
    for f in files:
        prior = old_seen.get(f.path)
        if prior and prior["size"] == f.size and prior["mtime"] == f.mtime:
            digest = str(prior["sha256"])
        else:
            digest = sha256_of(fs.cat_file(f.path))
        seen[f.path] = {"size": f.size, "mtime": f.mtime, "sha256": digest}
        if digest in batches:
            if batches[digest]["path"] != f.path and not prior:
                log.info("%s holds the same bytes as batch %s: not a new batch", f.path, batches[digest]["batch"])
            continue
        if max_new is not None and added >= max_new:
            continue
        batches[digest] = {"batch": number, "path": f.path, "status": "pending"}
        log.info("landing file %s becomes batch %s of %s", f.path, number, dataset)
        number, added = number + 1, added + 1
    lake.write_state(dataset, STATE, {"batches": batches, "seen": seen})  # the intent, before any store
    where = {entry["sha256"]: path for path, entry in seen.items()}
    pending = []
    for digest, b in batches.items():
        if b["status"] != "pending":
            continue
        if digest not in where:  # the number stays reserved: it is stored if the bytes come back
            log.warning("batch %s of %s: its file %s is gone; skipped", b["batch"], dataset, b["path"])
            continue
        pending.append(LandingItem(int(b["batch"]), digest, where[digest]))
    return sorted(pending, key=lambda item: item.number)


def read_landed(fs: Any, item: LandingItem, spec: DatasetSpec, split: SplitPolicy) -> pd.DataFrame:
    """The planned file as a batch frame, after checking it still holds the planned bytes.

    Raises:
        BatchFetchError: the content is gone or changed since it was numbered.
    """
    data = fs.cat_file(item.path)
    if sha256_of(data) != item.sha256:
        raise BatchFetchError(f"batch {item.number}: {item.path} changed after it was numbered; rerun to re-plan")
    with tempfile.TemporaryDirectory(prefix="driftgate-landing-") as tmp:
        local = Path(tmp) / Path(item.path).name
        local.write_bytes(data)
        frame = read_table(local, spec=spec)
    return prepare_batch(source_columns(frame, spec), spec, item.number, split=split)


def mark_landed(lake: Lake, dataset: str, item: LandingItem) -> None:
    """Record that ``item`` is stored (called only after its batch is committed)."""
    state = lake.read_state(dataset, STATE)
    if state is None or item.sha256 not in state["batches"]:
        raise BatchFetchError(f"batch {item.number}: no landing record for {item.sha256[:12]}…")
    state["batches"][item.sha256]["status"] = "stored"
    lake.write_state(dataset, STATE, state)


def landing_fs(source: LandingBatches, storage_options: dict[str, Any]) -> tuple[Any, str]:
    """The filesystem and root path of a landing prefix."""
    fs, root = fsspec.core.url_to_fs(source.path, **storage_options)
    return fs, root.rstrip("/")


# --- Prefect wrappers ------------------------------------------------------------------


@task(name="plan-landing", cache_policy=NO_CACHE, **IO_RETRIES)
def plan_landing_task(
    lake: Lake, spec: DatasetSpec, source: LandingBatches, storage_options: dict[str, Any], max_new: int | None
) -> list[LandingItem]:
    fs, root = landing_fs(source, storage_options)
    return plan_landing(lake, spec.name, fs, list_landed(fs, root, source.suffixes), max_new)


@task(name="read-landed-file", task_run_name="read-landed-{item.number}", cache_policy=NO_CACHE, **IO_RETRIES)
def read_landed_task(
    source: LandingBatches, storage_options: dict[str, Any], item: LandingItem, spec: DatasetSpec, split: SplitPolicy
) -> pd.DataFrame:
    fs, _ = landing_fs(source, storage_options)
    return read_landed(fs, item, spec, split)


@task(name="mark-landed", task_run_name="mark-landed-{item.number}", cache_policy=NO_CACHE, **IO_RETRIES)
def mark_landed_task(lake: Lake, spec: DatasetSpec, item: LandingItem) -> None:
    mark_landed(lake, spec.name, item)
