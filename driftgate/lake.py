"""The data lake: batches, quarantine, reports and cursors on any fsspec filesystem.

Layout under the lake root::

    raw/<dataset>/batch=<n>/part.parquet        accepted or not yet validated batches
    raw/<dataset>/batch=<n>/_manifest.json      the commit marker: a batch exists iff it has one
    raw/<dataset>/batch=<n>/_validation.json    written by validation when the batch passes
    quarantine/<dataset>/batch=<n>/...          failed batches, with validation.json + report
    reports/<kind>/<dataset>/...                drift and validation reports
    state/<dataset>/...                         cursors and per-batch progress records
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import fsspec
import pandas as pd
from fsspec.implementations.local import LocalFileSystem

from driftgate.errors import BatchConflictError
from driftgate.frames import SPLIT_COLUMN, content_hash

log = logging.getLogger(__name__)


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

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


class Lake:
    """A lake rooted at a URL (``file://`` or ``s3://``), with fsspec underneath."""

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None) -> None:
        self.url = url.rstrip("/")
        self.fs, root = fsspec.core.url_to_fs(self.url, **(storage_options or {}))
        self.root = root.rstrip("/")
        self.local = isinstance(self.fs, LocalFileSystem)

    # --- paths -------------------------------------------------------------------------
    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def uri(self, *parts: str) -> str:
        """A full URL for a path, to show people and record in lineage."""
        return "/".join([self.url, *parts])

    def batch_dir(self, dataset: str, number: int, area: str = "raw") -> str:
        return self.path(area, dataset, f"batch={number}")

    # --- primitive I/O -----------------------------------------------------------------
    def write_bytes(self, path: str, data: bytes) -> None:
        """Write a whole file atomically.

        Local files: write a temporary sibling, then rename (atomic on POSIX). Object stores:
        one PUT, which S3 makes visible whole or not at all.
        """
        if self.local:
            self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            tmp = f"{path}.tmp-{uuid.uuid4().hex}"
            self.fs.pipe_file(tmp, data)
            self.fs.mv(tmp, path)
        else:
            self.fs.pipe_file(path, data)

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
        is a no-op; different content under a stored number raises.

        Raises:
            BatchConflictError: batch ``number`` is stored with different content.
        """
        digest = content_hash(frame)
        existing = self.manifest(dataset, number)
        if existing is not None:
            if existing.sha256 != digest:
                raise BatchConflictError(
                    f"batch {number} of {dataset!r} is already stored with sha256 "
                    f"{existing.sha256[:12]}…, refusing different content {digest[:12]}…"
                )
            log.info("batch %s of %s already stored (same content): nothing to do", number, dataset)
            return existing, False
        data = frame.drop(columns=[SPLIT_COLUMN], errors="ignore")
        manifest = BatchManifest(
            dataset=dataset,
            number=number,
            rows=len(frame),
            sha256=digest,
            schema={c: str(t) for c, t in data.dtypes.items()},
            splits=frame[SPLIT_COLUMN].value_counts().to_dict() if SPLIT_COLUMN in frame else {},
        )
        directory = self.batch_dir(dataset, number)
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        self.write_bytes(f"{directory}/part.parquet", buf.getvalue())
        # the manifest is the commit: a crash before this line leaves an uncommitted part only
        self.write_bytes(f"{directory}/_manifest.json", manifest.to_json().encode())
        log.info("stored batch %s of %s: %s rows, sha256 %s", number, dataset, manifest.rows, digest[:12])
        return manifest, True

    def read_batch(self, dataset: str, number: int, area: str = "raw") -> pd.DataFrame:
        with self.fs.open(f"{self.batch_dir(dataset, number, area)}/part.parquet", "rb") as f:
            return pd.read_parquet(f)

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
        if self.exists(f"{src}/part.parquet"):
            self.write_bytes(f"{dst}/part.parquet", self.fs.cat_file(f"{src}/part.parquet"))
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

    def all_progress(self, dataset: str) -> list[dict[str, Any]]:
        return [p for n in self.stored_numbers(dataset) if (p := self.progress(dataset, n))]
