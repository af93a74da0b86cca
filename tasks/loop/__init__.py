"""Stage loop."""

from driftgate.tasks.loop._champion import load_champion_task
from driftgate.tasks.loop._outcome import (
    BatchOutcome,
    forced_retrain,
    format_table,
    publish_outcomes,
    quarantined,
    read_outcomes,
    record_outcome_task,
)
from driftgate.tasks.loop._window import (
    Window,
    batch_rows,
    choose_window,
    gate_question,
    growth_since,
    next_regime_start,
)

__all__ = [
    "BatchOutcome",
    "Window",
    "batch_rows",
    "choose_window",
    "forced_retrain",
    "format_table",
    "gate_question",
    "growth_since",
    "load_champion_task",
    "next_regime_start",
    "publish_outcomes",
    "quarantined",
    "read_outcomes",
    "record_outcome_task",
]
