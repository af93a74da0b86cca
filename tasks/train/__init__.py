"""Stage ``train``: pipelines from the spec, the search, and the MLflow run that registers a version."""

from driftgate.tasks.train._pipeline import (
    STRATEGIES,
    SearchSettings,
    build_pipeline,
    encoded_columns,
    parse_params,
    search_spaces,
    split_rows,
    split_xy,
)
from driftgate.tasks.train._run import (
    TrainedVersion,
    TrainingData,
    champion_start,
    load_window,
    log_and_register,
    reference_rows,
    train_task,
)
from driftgate.tasks.train._search import search

__all__ = [
    "STRATEGIES",
    "SearchSettings",
    "TrainedVersion",
    "TrainingData",
    "build_pipeline",
    "champion_start",
    "encoded_columns",
    "load_window",
    "log_and_register",
    "parse_params",
    "reference_rows",
    "search",
    "search_spaces",
    "split_rows",
    "split_xy",
    "train_task",
]
