"""What the loop keeps between stages: the champion it serves, its window, each batch's recorded outcome."""

from driftgate.stores.outcome import BatchOutcome, format_table, quarantined, read_outcomes
from driftgate.tasks.loop._champion import Champion, LoadedChampion, load_champion_task
from driftgate.tasks.loop._next_batch import next_batch_metric, next_batch_task, versions_to_score
from driftgate.tasks.loop._outcome import forced_retrain, publish_outcomes, record_outcome_task
from driftgate.tasks.loop._window import (
    Window,
    batch_rows,
    choose_window,
    gate_question,
    growth_since,
    history_window,
    next_regime_start,
    tag_challenger,
)

__all__ = [
    "BatchOutcome",
    "Champion",
    "LoadedChampion",
    "Window",
    "batch_rows",
    "choose_window",
    "forced_retrain",
    "format_table",
    "gate_question",
    "growth_since",
    "history_window",
    "load_champion_task",
    "next_batch_metric",
    "next_batch_task",
    "next_regime_start",
    "publish_outcomes",
    "quarantined",
    "read_outcomes",
    "record_outcome_task",
    "tag_challenger",
    "versions_to_score",
]
