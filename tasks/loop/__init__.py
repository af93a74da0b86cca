"""What the loop keeps between stages: the champion it serves and each batch's recorded outcome."""

from driftgate.tasks.loop._champion import load_champion_task, training_window
from driftgate.tasks.loop._outcome import (
    BatchOutcome,
    forced_retrain,
    format_table,
    publish_outcomes,
    quarantined,
    read_outcomes,
    record_outcome_task,
)

__all__ = [
    "BatchOutcome",
    "forced_retrain",
    "format_table",
    "load_champion_task",
    "publish_outcomes",
    "quarantined",
    "read_outcomes",
    "record_outcome_task",
    "training_window",
]
