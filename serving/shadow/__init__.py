"""Shadow scoring: the ``challenger`` alias scores live traffic in a process of its own.

The service's request path does nothing for the shadow: the champion's answers are already in
the prediction log with their ids and inputs, so a separate process (``multiprocessing``,
spawned) reads the champion rows that arrive in the log, scores them with the challenger in
batches, and writes the challenger's predictions with the same ids and ``role = "shadow"``. The
monitor compares both models on the same live rows once their labels arrive; the challenger is
never part of an answer.

Why a process: inside the service, scoring on the event loop took the loop's time and scoring
in a thread took the GIL from it; both cost the service throughput (bench/serve.py measured the
in-loop version ~8-20 % below the service without a shadow). In its own process the shadow uses
the machine's other core and the service's loop pays nothing.

The service starts the process only while a ``challenger`` alias names a version other than the
one it serves (one registry call per poll; the same challenger seen on two polls in a row, as the
gate sets the alias just before it decides; 30 s after a crash); the process follows the alias
itself, exits when it is gone or when the service is, and reports its version, last error and
counts through shared memory, which the service publishes as ``driftgate_shadow_predictions_total``,
``driftgate_shadow_dropped_total``, and ``driftgate_shadow_compared_total`` with
``driftgate_shadow_disagreements_total`` (rows where the challenger's answer differs from the
champion's: ``_agreement``). Rows logged before the challenger was loaded are not
scored; if the process falls more than ``capacity_rows`` behind the log, it skips ahead and counts
the rows it skipped as dropped.

Modules, one per side of the process boundary:

- ``_status``: :class:`ShadowStatus`, the shared memory between the two (written by the child only).
- ``_agreement``: :func:`disagrees`, when two answers to one row disagree.
- ``_worker``: :class:`ShadowWorker` and :func:`shadow_main`, the child process.
- ``_supervisor``: :class:`ShadowProcess` and :func:`shadow_running`, the service's side.
"""

from driftgate.serving.shadow._agreement import disagrees
from driftgate.serving.shadow._status import ShadowStatus
from driftgate.serving.shadow._supervisor import ShadowProcess, shadow_running
from driftgate.serving.shadow._worker import ShadowWorker, shadow_main

__all__ = ["ShadowProcess", "ShadowStatus", "ShadowWorker", "disagrees", "shadow_main", "shadow_running"]
