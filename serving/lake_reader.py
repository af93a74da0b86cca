"""The console's narrow, cached view of the lake: the ``reports/`` and ``state/`` areas, never raw batches.

Every path a request names goes through :func:`report_path`, which accepts only plain segments under
``reports/`` (no ``..``, no empty or dot segments, no backslashes) with a known file type, so a
request cannot reach batches, quarantine or anything outside the lake. On a local lake a file is
served only when it is a regular file reached through no symlink and its resolved path is inside
the lake: a symlink planted under ``reports/`` (to ``/etc/passwd``, or to a folder elsewhere) is a 404.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
from collections.abc import Callable
from typing import Any, TypeVar

from driftgate.serving.ttl_cache import TtlCache
from driftgate.stores.lake import Lake

log = logging.getLogger(__name__)

T = TypeVar("T")

CONTENT_TYPES = {
    ".html": "text/html",  # Litestar adds "; charset=utf-8" to text/* types itself
    ".json": "application/json",
    ".css": "text/css",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
_SEGMENT = re.compile(r"^[A-Za-z0-9_=.@+-]+$")


def report_path(rel: str) -> list[str] | None:
    """The segments of a path under ``reports/``, or None when it could leave that area.

    >>> report_path("reports/drift/ds/3.html")
    ['reports', 'drift', 'ds', '3.html']
    >>> report_path("reports/../raw/ds/batch=1/part.parquet") is None
    True
    """
    parts = rel.strip("/").split("/")
    if len(parts) < 2 or parts[0] != "reports":
        return None
    if any(p in ("", ".", "..") or not _SEGMENT.match(p) for p in parts):
        return None
    if not any(parts[-1].endswith(ext) for ext in CONTENT_TYPES):
        return None
    return parts


def content_type(name: str) -> str:
    return next((t for ext, t in CONTENT_TYPES.items() if name.endswith(ext)), "application/octet-stream")


class LakeReader:
    """Reads progress records, report listings and report files, each cached for ``ttl`` seconds."""

    def __init__(self, lake: Lake, dataset: str, ttl: float = 3.0) -> None:
        self.lake = lake
        self.dataset = dataset
        self.ttl = ttl
        self._cache = TtlCache(ttl)

    def _cached(self, key: str, load: Callable[[], T]) -> T:
        return self._cache.get(key, load)

    def _files(self, *parts: str) -> list[str]:
        """Paths (relative to the lake root) of the files under a folder of reports/ or state/."""
        if not parts or parts[0] not in ("reports", "state"):
            raise ValueError(f"the console reads reports/ and state/ only, not {parts[:1]}")
        base = self.lake.path(*parts)
        try:
            found = self.lake.fs.find(base)
        except FileNotFoundError:
            return []
        root = self.lake.root + "/"
        return sorted(p.removeprefix(root) for p in found if not p.rsplit("/", 1)[-1].startswith("."))

    def progress(self) -> list[dict[str, Any]]:
        """Every batch's progress record (``state/<dataset>/processed/``), in batch order."""

        def load() -> list[dict[str, Any]]:
            records = []
            for rel in self._files("state", self.dataset, "processed"):
                if rel.endswith(".json"):
                    try:
                        records.append(json.loads(self.lake.fs.cat_file(self.lake.path(rel))))
                    except (FileNotFoundError, ValueError) as exc:
                        log.warning("unreadable progress record %s: %s", rel, exc)
            return sorted(records, key=lambda r: (int(r.get("batch") or 0), r.get("version") or ""))

        return self._cached("progress", load)

    def reports(self, kind: str) -> list[str]:
        """Report files of one kind (``drift``, ``validation``, ``monitor``, ``datadocs`` …) of the dataset."""
        return self._cached(f"reports/{kind}", lambda: self._files("reports", kind, self.dataset))

    def state(self, name: str) -> Any | None:
        """A JSON file of ``state/<dataset>/`` (e.g. ``monitor.json``)."""
        if not _SEGMENT.match(name) or name.startswith("."):
            return None
        return self._cached(f"state/{name}", lambda: self.lake.read_json(self.lake.path("state", self.dataset, name)))

    def read(self, rel: str) -> bytes | None:
        """A report file's bytes, or None when it is missing or the path is refused."""
        parts = report_path(rel)
        if parts is None:
            return None

        def load() -> bytes | None:
            if self.lake.local:
                return read_regular_file(self.lake.root, parts)
            try:  # object stores have no symlinks: a key is a key
                return bytes(self.lake.fs.cat_file(self.lake.path(*parts)))
            except (FileNotFoundError, IsADirectoryError):
                return None

        return self._cached("file:" + "/".join(parts), load)

    def data_docs_page(self, batch: int) -> str | None:
        """The GX Data Docs page of a batch's validation (its run is named ``batch-<n>``)."""
        marker = f"/batch-{batch}/"
        pages = [p for p in self.reports("datadocs") if marker in p and p.endswith(".html")]
        return pages[-1] if pages else None

    def validation_page(self, batch: int) -> str | None:
        rel = f"reports/validation/{self.dataset}/batch={batch}.html"
        return rel if rel in self.reports("validation") else None

    def drift_page(self, batch: int) -> str | None:
        rel = f"reports/drift/{self.dataset}/{batch}.html"
        return rel if rel in self.reports("drift") else None


def read_regular_file(root: str, parts: list[str]) -> bytes | None:
    """The bytes of ``root/parts...`` when it is a regular file reached through no symlink, inside ``root``.

    Every segment is checked with ``lstat`` (a symlink anywhere is refused), the last one is opened
    with ``O_NOFOLLOW`` and checked again on the open file, and the resolved path must stay under
    the resolved root. None for anything else (missing, a folder, a link, a device, a FIFO).
    """
    path = root
    try:
        for part in parts:
            path = os.path.join(path, part)
            if stat.S_ISLNK(os.lstat(path).st_mode):
                log.warning("lake reader refused a symlink: %s", "/".join(parts))
                return None
        real_root = os.path.realpath(root)
        if os.path.commonpath([real_root, os.path.realpath(path)]) != real_root:
            return None
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except (OSError, ValueError):
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        return f.read()
