"""Task policy shared by every stage: which failures a Prefect task retries, and how often.

Stages pass these to ``@task``; the retry of a *fetch* (which honours ``Retry-After``) is the
ingest stage's own :class:`~driftgate.tasks.ingest.RetryPolicy`.
"""

from __future__ import annotations

from typing import Any

from driftgate.errors import DriftgateError


def transient(task: object, task_run: object, state: object) -> bool:
    """Retry I/O errors (storage, network, database), never driftgate's own refusals."""
    try:
        state.result()  # type: ignore[attr-defined]
    except DriftgateError:  # a content conflict, a missing or unreadable file: retrying cannot help
        return False
    except Exception:
        return True
    return False


# Storage and network I/O of the lake and of input files: three more tries, 1-2-4 s apart.
IO_RETRIES: dict[str, Any] = {"retries": 3, "retry_delay_seconds": [1, 2, 4], "retry_condition_fn": transient}
