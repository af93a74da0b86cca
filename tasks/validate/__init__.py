"""Stage ``validate``: Great Expectations suites check each batch; failing batches are quarantined."""

from driftgate.tasks.validate._suites import suite_from_reference, write_suite
from driftgate.tasks.validate._validation import load_suite, validate_batch_task, validate_frame, validate_stored_batch

__all__ = [
    "load_suite",
    "suite_from_reference",
    "validate_batch_task",
    "validate_frame",
    "validate_stored_batch",
    "write_suite",
]
