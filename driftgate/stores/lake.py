"""The data lake: batches, quarantine, reports and cursors on any fsspec filesystem.

Layout under the lake root::

    raw/<dataset>/batch=<n>/part-<id>.parquet   accepted or not yet validated batches (the manifest names it)
    raw/<dataset>/batch=<n>/_manifest.json      the commit marker: a batch exists iff it has one
    raw/<dataset>/batch=<n>/_validation.json    written by validation when the batch passes
    quarantine/<dataset>/batch=<n>/...          failed batches, with validation.json + report
    reports/<kind>/<dataset>/...                drift and validation reports
    state/<dataset>/...                         cursors, per-batch progress records, leases

Concurrency: the manifest is created exclusively (local: a hard link that fails if the name
exists; S3: a conditional put ``If-None-Match: *``), and each writer stores its data under a
name of its own, so two writers of one batch leave exactly one manifest naming its own data.
Dataset names are checked before they become part of a path.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import fsspec
import pandas as pd
from fsspec.implementations.local import LocalFileSystem

from driftgate.dataset.frames import SPLIT_COLUMN, SPLIT_RULE, content_hash
from driftgate.dataset.spec import check_dataset_name
from driftgate.errors import BatchConflictError, BatchIntegrityError, LakeFullError, SpecError

log = logging.getLogger(__name__)

_DATASET_AT = {"raw": 1, "quarantine": 1, "state": 1, "reports": 2}  # where a dataset sits in a path
TEMP_MARK = ".tmp-"
ROW_GROUP_ROWS = 250_000  # a batch's Parquet row groups: what one worker reads to validate one partition
TEMP_MAX_AGE_S = 3600.0  # a temp file older than this belongs to a writer that died


def _check_parts(parts: tuple[str, ...]) -> None:
    for part in parts:
        if any(seg in ("", ".", "..") for seg in part.split("/")) or "\\" in part or "\x00" in part:
            raise SpecError(f"lake path part {part!r} is not allowed (empty, '.', '..', backslash or NUL)")
    at = _DATASET_AT.get(parts[0]) if parts else None
    if at is not None and len(parts) > at:
        check_dataset_name(parts[at])


@dataclass(frozen=True)
class BatchManifest:
    """What the lake knows of one stored batch."""

    dataset: str
    number: int
    rows: int
    sha256: str
    schema: dict[str, str]
    splits: dict[str, int]
    stored_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    file: str = "part.parquet"  # the data file in the batch folder (older lakes: part.parquet)
    split_rule: str = ""  # how the rows were split (older lakes and frames split elsewhere: empty)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


class Lake:
    """A lake rooted at a URL (``file://`` or ``s3://``), with fsspec underneath."""

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None) -> None:
        self.url = url.rstrip("/")
        options = dict(storage_options or {})
        if fsspec.core.split_protocol(self.url)[0] not in (None, "file", "local"):
            # Another process writes here too (a racing run, the service, a Dask worker): a cached
            # listing would hide its files for good (s3fs keeps listings with no expiry), and a
            # lease waiter would spin on a generation it cannot see. Every listing goes to the store.
            options.setdefault("use_listings_cache", False)
        self.fs, root = fsspec.core.url_to_fs(self.url, **options)
        self.root = root.rstrip("/")
        self.local = isinstance(self.fs, LocalFileSystem)

    # --- paths -------------------------------------------------------------------------
    def path(self, *parts: str) -> str:
        """A path under the root; refuses traversal and dataset names that are not plain names."""
        _check_parts(parts)
        return "/".join([self.root, *parts])

    def uri(self, *parts: str) -> str:
        """A full URL for a path, to show people and record in lineage."""
        _check_parts(parts)
        return "/".join([self.url, *parts])

    def batch_dir(self, dataset: str, number: int, area: str = "raw") -> str:
        return self.path(area, dataset, f"batch={number}")

    # --- primitive I/O -----------------------------------------------------------------
    def write_bytes(self, path: str, data: bytes) -> None:
        """Write a whole file atomically.

        Local files: write a temporary sibling, fsync it, rename it (atomic on POSIX), fsync the
        folder; the temporary file never outlives a failed write. Object stores: one PUT, which S3
        makes visible whole or not at all.
        """
        if self.local:
            tmp = self._local_temp(path, data)
            try:
                os.replace(tmp, path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            _fsync_dir(os.path.dirname(path))
        else:
            self.fs.pipe_file(path, data)

    def create_exclusive(self, path: str, data: bytes) -> bool:
        """Create ``path`` holding ``data`` unless it exists; True if this call created it.

        Local files: a complete, fsynced temporary file is hard-linked to the name (``link``
        fails if the name exists, so readers never see a partial file). S3: a conditional put
        (``If-None-Match: *``; AWS S3, MinIO and moto honour it).
        """
        if not self.local:
            try:
                self.fs.pipe_file(path, data, mode="create")
            except FileExistsError:
                return False
            return True
        tmp = self._local_temp(path, data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        _fsync_dir(os.path.dirname(path))
        return True

    def _local_temp(self, path: str, data: bytes) -> str:
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        tmp = f"{path}{TEMP_MARK}{uuid.uuid4().hex}"
        try:
            with open(tmp, "xb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise LakeFullError(
                    f"the lake is full: writing {path} ({len(data) / 1e6:.1f} MB) failed: {exc.strerror}; "
                    "nothing of it was kept: free space and run again"
                ) from exc
            raise
        return tmp

    def remove_leftovers(self, folder: str, keep: str, max_age_s: float = TEMP_MAX_AGE_S) -> list[str]:
        """Delete data files of writers that lost a race or died, and their old temp files.

        ``part-*.parquet`` other than ``keep`` go at once (a committed manifest never names them);
        temp files only when older than ``max_age_s`` (a live writer may still be renaming one).
        """
        removed: list[str] = []
        try:
            entries = self.fs.ls(folder, detail=True)
        except FileNotFoundError:
            return removed
        now = time.time()
        for entry in entries:
            name = str(entry["name"]).rstrip("/").rsplit("/", 1)[-1]
            stale_part = name.startswith("part-") and name.endswith(".parquet") and name != keep
            stale_temp = TEMP_MARK in name and now - _mtime(entry, now) > max_age_s
            if stale_part or stale_temp:
                with contextlib.suppress(FileNotFoundError):
                    self.fs.rm_file(entry["name"])
                removed.append(name)
        if removed:
            log.info("removed leftovers in %s: %s", folder, ", ".join(sorted(removed)))
        return removed

    def write_json(self, path: str, obj: Any) -> None:
        self.write_bytes(path, json.dumps(obj, indent=2, default=str).encode())

    def read_json(self, path: str) -> Any | None:
        try:
            return json.loads(self.fs.cat_file(path))
        except FileNotFoundError:
            return None

    def exists(self, path: str) -> bool:
        return bool(self.fs.exists(path))

    # --- batches -----------------------------------------------------------------------
    def manifest(self, dataset: str, number: int) -> BatchManifest | None:
        """The manifest of a stored batch, accepted or quarantined; None if never stored."""
        for area in ("raw", "quarantine"):
            raw = self.read_json(f"{self.batch_dir(dataset, number, area)}/_manifest.json")
            if raw is not None:
                return BatchManifest(**raw)
        return None

    def write_batch_once(self, dataset: str, number: int, frame: pd.DataFrame) -> tuple[BatchManifest, bool]:
        """Store a batch exactly once.

        Returns the manifest and whether this call created it. Storing the same content again
        is a no-op; different content under a stored number raises. Safe against a concurrent
        writer of the same batch: the data goes to a file of this writer's own, and only the
        writer that creates the manifest (exclusively) commits; the other one removes its file.

        Raises:
            BatchConflictError: batch ``number`` is stored with different content.
        """
        digest = content_hash(frame)
        existing = self.manifest(dataset, number)
        if existing is not None:
            return self._stored_already(existing, digest), False
        data = frame.drop(columns=[SPLIT_COLUMN], errors="ignore")
        manifest = BatchManifest(
            dataset=dataset,
            number=number,
            rows=len(frame),
            sha256=digest,
            schema={c: str(t) for c, t in data.dtypes.items()},
            splits=frame[SPLIT_COLUMN].value_counts().to_dict() if SPLIT_COLUMN in frame else {},
            file=f"part-{uuid.uuid4().hex[:16]}.parquet",
            split_rule=str(frame.attrs.get(SPLIT_RULE, "")),
        )
        directory = self.batch_dir(dataset, number)
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False, row_group_size=ROW_GROUP_ROWS)
        self.write_bytes(f"{directory}/{manifest.file}", buf.getvalue())
        # the manifest is the commit: a crash before it leaves an unnamed data file, removed later
        if not self.create_exclusive(f"{directory}/_manifest.json", manifest.to_json().encode()):
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(f"{directory}/{manifest.file}")
            winner = self.manifest(dataset, number)
            if winner is None:  # committed and quarantined+moved in between: read it there
                raise BatchConflictError(f"batch {number} of {dataset!r} was stored and moved by another writer")
            log.info("batch %s of %s was stored by a concurrent writer", number, dataset)
            return self._stored_already(winner, digest), False
        self.remove_leftovers(directory, keep=manifest.file)
        log.info("stored batch %s of %s: %s rows, sha256 %s", number, dataset, manifest.rows, digest[:12])
        return manifest, True

    def _stored_already(self, existing: BatchManifest, digest: str) -> BatchManifest:
        if existing.sha256 != digest:
            raise BatchConflictError(
                f"batch {existing.number} of {existing.dataset!r} is already stored with sha256 "
                f"{existing.sha256[:12]}…, refusing different content {digest[:12]}…"
            )
        log.info("batch %s of %s already stored (same content): nothing to do", existing.number, existing.dataset)
        return existing

    def data_path(self, dataset: str, number: int, area: str = "raw") -> str:
        """The data file a committed batch's manifest names.

        Raises:
            FileNotFoundError: the batch has no manifest in ``area``.
        """
        directory = self.batch_dir(dataset, number, area)
        raw = self.read_json(f"{directory}/_manifest.json")
        if raw is None:
            raise FileNotFoundError(f"batch {number} of {dataset!r} is not stored in {area}/")
        return f"{directory}/{BatchManifest(**raw).file}"

    def read_batch(self, dataset: str, number: int, area: str = "raw") -> pd.DataFrame:
        """The rows of a committed batch, after checking them against the manifest's sha256.

        Raises:
            FileNotFoundError: the batch has no manifest in ``area``.
            BatchIntegrityError: the stored rows do not hash to the manifest's sha256.
        """
        directory = self.batch_dir(dataset, number, area)
        raw = self.read_json(f"{directory}/_manifest.json")
        if raw is None:
            raise FileNotFoundError(f"batch {number} of {dataset!r} is not stored in {area}/")
        manifest = BatchManifest(**raw)
        with self.fs.open(f"{directory}/{manifest.file}", "rb") as f:
            frame = pd.read_parquet(f)
        found = content_hash(frame)
        if found != manifest.sha256:
            raise BatchIntegrityError(
                f"batch {number} of {dataset!r} in {area}/ hashes to {found[:12]}…, "
                f"its manifest says {manifest.sha256[:12]}…: refusing to use it"
            )
        return frame

    def batch_numbers(self, dataset: str, area: str = "raw") -> list[int]:
        """Committed batches in an area, in order."""
        base = self.path(area, dataset)
        if not self.fs.exists(base):
            return []
        numbers = []
        for entry in self.fs.ls(base, detail=False):
            name = entry.rstrip("/").rsplit("/", 1)[-1]
            if name.startswith("batch=") and self.fs.exists(f"{entry}/_manifest.json"):
                numbers.append(int(name.removeprefix("batch=")))
        return sorted(numbers)

    def stored_numbers(self, dataset: str) -> list[int]:
        return sorted({*self.batch_numbers(dataset, "raw"), *self.batch_numbers(dataset, "quarantine")})

    def is_quarantined(self, dataset: str, number: int) -> bool:
        return self.exists(f"{self.batch_dir(dataset, number, 'quarantine')}/_manifest.json")

    def quarantine(self, dataset: str, number: int, result: dict[str, Any], report_html: str) -> str:
        """Move a committed batch out of ``raw`` with its validation result beside it.

        Safe to repeat after a crash: the copy is written before the original is removed.
        """
        src = self.batch_dir(dataset, number, "raw")
        dst = self.batch_dir(dataset, number, "quarantine")
        self.write_json(f"{dst}/validation.json", result)
        self.write_bytes(f"{dst}/report.html", report_html.encode())
        raw = self.read_json(f"{src}/_manifest.json")
        if raw is not None:
            name = BatchManifest(**raw).file
            self.write_bytes(f"{dst}/{name}", self.fs.cat_file(f"{src}/{name}"))
            self.write_bytes(f"{dst}/_manifest.json", self.fs.cat_file(f"{src}/_manifest.json"))
            self.fs.rm(src, recursive=True)
        log.warning("batch %s of %s quarantined at %s", number, dataset, dst)
        return self.uri("quarantine", dataset, f"batch={number}")

    def accepted_numbers(self, dataset: str) -> list[int]:
        """Batches that passed validation (never a quarantined one)."""
        return [
            n
            for n in self.batch_numbers(dataset, "raw")
            if self.exists(f"{self.batch_dir(dataset, n)}/_validation.json")
        ]

    def mark_accepted(self, dataset: str, number: int, result: dict[str, Any]) -> None:
        self.write_json(f"{self.batch_dir(dataset, number)}/_validation.json", result)

    # --- cursors and progress ----------------------------------------------------------
    def cursor(self, dataset: str) -> int:
        """The last batch number ingested (0 when none)."""
        state = self.read_json(self.path("state", dataset, "cursor.json"))
        return int(state["last_batch"]) if state else 0

    def set_cursor(self, dataset: str, number: int) -> None:
        self.write_json(self.path("state", dataset, "cursor.json"), {"last_batch": number})

    def progress(self, dataset: str, number: int) -> dict[str, Any] | None:
        return self.read_json(self.path("state", dataset, "processed", f"batch={number}.json"))

    def set_progress(self, dataset: str, number: int, record: dict[str, Any]) -> None:
        self.write_json(self.path("state", dataset, "processed", f"batch={number}.json"), record)

    def pending_numbers(self, dataset: str) -> list[int]:
        """Stored batches the loop has not recorded an outcome for yet, oldest first."""
        return [n for n in self.stored_numbers(dataset) if self.progress(dataset, n) is None]

    def all_progress(self, dataset: str) -> list[dict[str, Any]]:
        return [p for n in self.stored_numbers(dataset) if (p := self.progress(dataset, n))]

    def read_state(self, dataset: str, name: str) -> Any | None:
        """A source's bookkeeping record ``state/<dataset>/<name>.json`` (None before the first write)."""
        return self.read_json(self.path("state", dataset, f"{name}.json"))

    def write_state(self, dataset: str, name: str, record: Any) -> None:
        """Replace ``state/<dataset>/<name>.json`` whole (atomic: readers see the old or the new record)."""
        self.write_json(self.path("state", dataset, f"{name}.json"), record)


def _fsync_dir(folder: str) -> None:
    """Make a rename or link in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _mtime(entry: dict[str, Any], default: float) -> float:
    """Modification time of an fsspec ``ls`` entry in seconds (local: ``mtime``; S3: ``LastModified``)."""
    value = entry.get("mtime", entry.get("LastModified"))
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value) if isinstance(value, int | float) else default
