"""One training run per dataset at a time: a lease record in the lake, with an owner and an expiry.

Leases are numbered files ``state/<dataset>/lease/<generation>.json``, each created with the lake's
create-exclusive primitive (a hard link locally, ``If-None-Match: *`` on S3), so of two runs that
find the dataset free, exactly one creates the next generation. The newest generation decides:
releasing rewrites the holder's record as expired (the newest file is never deleted, so
generations only grow), and a holder that died leaves a record whose expiry passes, after which
the next run takes the generation after it; a holder that ran on the same host and whose process
is gone (``kill -9``, an OOM kill) frees it at once, so a rerun after a crash need not wait. A run
that created a generation from a stale listing finds a newer one when it looks again, and backs
off. Only older, finished records are deleted.
Clocks are trusted only as far as the expiry (set it well above the longest run).

    with dataset_lease(lake, "diamonds", ttl_s=3600, owner="flow-run 1234"):
        ...  # train, gate, move the alias
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace

from driftgate.errors import DriftgateError
from driftgate.stores.lake import Lake

log = logging.getLogger(__name__)

DEFAULT_TTL_S = 3600.0


class LeaseHeldError(DriftgateError):
    """Another run holds the dataset's lease (the message names it and its expiry)."""


@dataclass(frozen=True)
class Lease:
    """A held lease: which dataset, who holds it, until when (epoch seconds)."""

    dataset: str
    generation: int
    owner: str
    token: str
    acquired_at: float
    expires_at: float
    released: bool = False  # given back by its holder (not merely expired)
    host: str = ""  # where the holding process runs, and its pid: a holder seen dead frees the lease early
    pid: int = 0

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()


def default_owner() -> str:
    """``host:pid``: enough to find the process that holds a lease."""
    return f"{socket.gethostname()}:{os.getpid()}"


_HELD_HERE: set[str] = set()  # tokens of the leases this process holds (taken and not yet given back)


def holder_gone(lease: Lease) -> bool:
    """The holder ran on this host and is gone: its process no longer exists (killed, crashed), or it
    is this process and no longer holds it (a run whose release failed with the lake). Its lease is free.

    A holder on another host (or a record without one) is trusted until its expiry.
    """
    if not lease.pid or lease.host != socket.gethostname():
        return False
    if lease.pid == os.getpid():
        return lease.token not in _HELD_HERE
    try:
        os.kill(lease.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


def _folder(lake: Lake, dataset: str) -> str:
    return lake.path("state", dataset, "lease")


def _generations(lake: Lake, dataset: str) -> list[int]:
    try:
        names = [e.rstrip("/").rsplit("/", 1)[-1] for e in lake.fs.ls(_folder(lake, dataset), detail=False)]
    except FileNotFoundError:
        return []
    return sorted(int(n.removesuffix(".json")) for n in names if n.endswith(".json") and n[:-5].isdigit())


def _read(lake: Lake, dataset: str, generation: int) -> Lease | None:
    raw = lake.read_json(f"{_folder(lake, dataset)}/{generation:012d}.json")
    return Lease(**raw) if raw else None


def current_lease(lake: Lake, dataset: str, now: float | None = None) -> Lease | None:
    """The live lease of ``dataset`` (not released, not expired, its holder not seen dead), or None."""
    now = time.time() if now is None else now
    gens = _generations(lake, dataset)
    lease = _read(lake, dataset, gens[-1]) if gens else None
    return lease if lease is not None and lease.expires_at > now and not holder_gone(lease) else None


def acquire_lease(
    lake: Lake,
    dataset: str,
    *,
    owner: str | None = None,
    ttl_s: float = DEFAULT_TTL_S,
    wait_s: float = 0.0,
    poll_s: float = 1.0,
) -> Lease:
    """Take the dataset's lease, waiting up to ``wait_s`` for a holder to release it.

    Args:
        lake: the lake holding the lease records.
        dataset: the dataset (a plain name).
        owner: who takes it (shown to whoever finds it held); default ``host:pid``.
        ttl_s: how long the lease lasts if never released (longer than any run).
        wait_s: how long to wait for a live lease to be released or expire; 0 fails at once.
        poll_s: how often to look again while waiting.

    Raises:
        LeaseHeldError: another owner still holds it after ``wait_s``.
    """
    deadline = time.monotonic() + wait_s
    while True:
        gens = _generations(lake, dataset)
        latest = _read(lake, dataset, gens[-1]) if gens else None
        now = time.time()
        gone = latest is not None and latest.expires_at > now and holder_gone(latest)
        if latest is None or latest.expires_at <= now or gone:
            lease = Lease(
                dataset,
                (gens[-1] + 1) if gens else 1,
                owner or default_owner(),
                uuid.uuid4().hex,
                now,
                now + ttl_s,
                host=socket.gethostname(),
                pid=os.getpid(),
            )
            path = f"{_folder(lake, dataset)}/{lease.generation:012d}.json"
            if lake.create_exclusive(path, lease.to_json()):
                after = _generations(lake, dataset)
                if after and after[-1] > lease.generation:  # our listing was stale: a newer lease exists
                    with contextlib.suppress(FileNotFoundError):
                        lake.fs.rm_file(path)
                    continue
                for old in (g for g in after if g < lease.generation):  # finished records: tidy them
                    with contextlib.suppress(FileNotFoundError):
                        lake.fs.rm_file(f"{_folder(lake, dataset)}/{old:012d}.json")
                if latest is not None and not latest.released:  # a holder that never gave it back
                    why = f"its process {latest.pid} is gone" if gone else "expired"
                    log.warning("lease of %s taken over from %s (%s)", dataset, latest.owner, why)
                log.info("lease of %s taken by %s until %s", dataset, lease.owner, time.ctime(lease.expires_at))
                _HELD_HERE.add(lease.token)
                return lease
            continue  # another run created that generation first: look again
        if time.monotonic() >= deadline:
            raise LeaseHeldError(
                f"dataset {dataset!r} is being trained by {latest.owner} (lease until "
                f"{time.ctime(latest.expires_at)}); try again later"
            )
        time.sleep(poll_s)


def release_lease(lake: Lake, lease: Lease) -> None:
    """Give the lease back: its own record is rewritten as expired (a newer holder's stays)."""
    _HELD_HERE.discard(lease.token)
    record = _read(lake, lease.dataset, lease.generation)
    if record is None or record.token != lease.token or _generations(lake, lease.dataset)[-1:] != [lease.generation]:
        log.warning("lease %s of %s was no longer held by %s", lease.generation, lease.dataset, lease.owner)
        return
    released = replace(lease, expires_at=min(time.time(), lease.expires_at), released=True)
    lake.write_bytes(f"{_folder(lake, lease.dataset)}/{lease.generation:012d}.json", released.to_json())
    log.info("lease of %s released by %s", lease.dataset, lease.owner)


@contextlib.contextmanager
def dataset_lease(
    lake: Lake, dataset: str, *, owner: str | None = None, ttl_s: float = DEFAULT_TTL_S, wait_s: float = 0.0
) -> Iterator[Lease]:
    """Hold the dataset's lease for the ``with`` block; released however the block ends.

    A block that failed because the lake went away cannot release it either: the block's own
    error is raised (not the release's), and the lease is no longer this process's: the next run
    here takes it over at once, a run elsewhere on this host once this process exits.

    Raises:
        LeaseHeldError: another run holds it (after ``wait_s``).
    """
    lease = acquire_lease(lake, dataset, owner=owner, ttl_s=ttl_s, wait_s=wait_s)
    try:
        yield lease
    except BaseException:
        try:
            release_lease(lake, lease)
        except Exception as exc:  # the run's own error is the one to report
            log.warning(
                "lease of %s not released (%s: %s): the next run takes it over", dataset, type(exc).__name__, exc
            )
        raise
    release_lease(lake, lease)
