"""Task policy shared by every stage: which failures a Prefect task retries, and how often.

Stages pass these to ``@task``; the retry of a *fetch* (which honours ``Retry-After``) is the
ingest stage's own :class:`~driftgate.tasks.ingest.RetryPolicy`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast

from driftgate.errors import DriftgateError, ModelRegistryError
from driftgate.policies import RegistryRetryPolicy

if TYPE_CHECKING:
    from prefect import Task

    T = TypeVar("T", bound=Task[..., Any])


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


def registry_unreachable(exc: BaseException) -> bool:
    """An MLflow call that got no answer (connection refused or reset, a timeout): worth retrying.

    MLflow's client wraps the transport error in an ``MlflowException`` ("API request to ... failed
    with exception ..."), keeping the original only as the exception's context.
    """
    import requests  # MLflow's own transport

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
            return True
        if "API request to" in str(seen) and "failed with exception" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def registry_down(task: object, task_run: object, state: object) -> bool:
    """Retry a task whose registry did not answer; anything else fails at once (a retrain is costly)."""
    try:
        state.result()  # type: ignore[attr-defined]
    except Exception as exc:
        return registry_unreachable(exc)
    return False


def registry_retries(policy: RegistryRetryPolicy) -> dict[str, Any]:
    """Prefect task options: run again after each of ``policy``'s delays while the registry does not answer."""
    delays = list(policy.delays_s)
    return {"retries": policy.retries, "retry_delay_seconds": delays, "retry_condition_fn": registry_down}


# The registry's calls (train-model logs and registers, champion-gate moves the alias): MLflow's client
# retries a call itself (MLFLOW_HTTP_REQUEST_MAX_RETRIES); past that the task runs again, by default 2-5-10 s
# apart. The decorators take these defaults (at import); the training flow applies DRIFTGATE_REGISTRY_RETRY_DELAYS
# when it calls the tasks (registry_retried).
REGISTRY_RETRIES: dict[str, Any] = registry_retries(RegistryRetryPolicy())


def registry_retried(task: T, policy: RegistryRetryPolicy) -> T:
    """``task`` (one decorated with ``REGISTRY_RETRIES``) retried as ``policy`` says instead, condition kept."""
    return cast("T", task.with_options(**registry_retries(policy)))


@contextlib.contextmanager
def registry_must_answer(uri: str) -> Iterator[None]:
    """Turn a registry that did not answer (past the tasks' retries) into one line naming it.

    Raises:
        ModelRegistryError: an MLflow call inside the block got no answer from ``uri``.
    """
    try:
        yield
    except Exception as exc:
        if not registry_unreachable(exc):
            raise
        raise ModelRegistryError(
            f"the MLflow registry at {uri} did not answer ({_what_failed(exc)}); start it again and rerun: "
            "the run resumes where it stopped"
        ) from exc


def _what_failed(exc: BaseException) -> str:
    """``<the call>: <why>`` from MLflow's long transport message (``runs/create: Connection refused``)."""
    seen: BaseException | None = exc
    while seen is not None:
        text = str(seen)
        call = re.search(r"API request to \S*?/api/[\d.]+/mlflow/(\S+?)[?\s]", text) or re.search(
            r"API request to (\S+)", text
        )
        if call:
            why = re.findall(r"\[Errno \d+\] ([^\"')]+)", text)
            return f"{call.group(1)}: {why[-1] if why else 'no answer'}"
        seen = seen.__cause__ or seen.__context__
    return type(exc).__name__
