"""Stage ``validate``: Great Expectations suites check each batch; failing batches are quarantined.

The names load on first use (PEP 562): writing a suite (``driftgate init``, ``expectations init``)
needs pandas only, while validating needs Prefect and Great Expectations (about 2.7 s of imports).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from driftgate.tasks.validate._partitions import validate_on_cluster
    from driftgate.tasks.validate._suites import suite_from_reference, write_suite
    from driftgate.tasks.validate._task import validate_batch_task
    from driftgate.tasks.validate._validation import (
        ClusterValidation,
        load_suite,
        validate_frame,
        validate_stored_batch,
    )

_WHERE = {
    "ClusterValidation": "_validation",
    "validate_on_cluster": "_partitions",
    "suite_from_reference": "_suites",
    "write_suite": "_suites",
    "load_suite": "_validation",
    "validate_batch_task": "_task",
    "validate_frame": "_validation",
    "validate_stored_batch": "_validation",
}
__all__ = [
    "ClusterValidation",
    "load_suite",
    "suite_from_reference",
    "validate_batch_task",
    "validate_frame",
    "validate_on_cluster",
    "validate_stored_batch",
    "write_suite",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
