"""Test-only: named points of a training run where the fault suite (tests/faults/) causes a fault.

Two ways, both for tests only (never set either in a deployment):

- ``DRIFTGATE_FAULT_KILL_AT=<point>``: the process that reaches :func:`fault_point` with that name
  kills itself with SIGKILL there (no ``finally``, no shutdown hook, as with ``kill -9``), so a test
  stops a real ``driftgate run`` at a known step (tests/faults/test_training_killed.py).
- :data:`ACTIONS`: a test running the flow in its own process registers a callable for a point
  (stop the MLflow server, the S3 server), called when the run reaches it.

Unset, a call is two dictionary lookups and does nothing.

Points: ``after_store`` (a batch's data and manifest written, the cursor not yet moved),
``in_validation`` (the suite ran, the verdict not yet recorded), ``in_mlflow_logging`` (the
training run's metrics logged, the model not yet), ``before_alias`` (a version registered and its
gate verdict recorded, ``champion`` not yet moved), ``after_alias`` (``champion`` moved),
``in_shap`` (SHAP values computed, nothing of them logged), ``in_window_read`` (a retrain about to
read the next batch of its window from the lake).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

KILL_AT = "DRIFTGATE_FAULT_KILL_AT"
ACTIONS: dict[str, Callable[[], None]] = {}


def fault_point(name: str) -> None:
    """Run the action a test registered for this point; die with SIGKILL when ``DRIFTGATE_FAULT_KILL_AT`` names it."""
    action = ACTIONS.get(name)
    if action is not None:
        action()
    if os.environ.get(KILL_AT) == name:
        os.kill(os.getpid(), signal.SIGKILL)
