"""Stage ``train``: pipelines from the spec, the search, and the MLflow run that registers a version."""

from driftgate.tasks.train._budget import refit_configuration
from driftgate.tasks.train._cluster_run import (
    ClusterTraining,
    train_and_register_on_cluster,
    train_on_cluster_task,
)
from driftgate.tasks.train._dask_window import DaskWindow, partition_predictions, read_window, sample_rows
from driftgate.tasks.train._distributed import (
    ClusterFit,
    DistributedSettings,
    fit_on_cluster,
    split_metrics,
)
from driftgate.tasks.train._halving import search_splits
from driftgate.tasks.train._pipeline import (
    FAMILIES,
    STRATEGIES,
    build_pipeline,
    encoded_columns,
    parse_params,
    search_spaces,
    split_rows,
    split_xy,
)
from driftgate.tasks.train._run import (
    SEARCHED_ROWS_TAG,
    SearchPlan,
    TrainedVersion,
    TrainingData,
    champion_start,
    load_window,
    load_window_task,
    log_and_register,
    plan_search,
    reference_rows,
    train_task,
)
from driftgate.tasks.train._search import search

__all__ = [
    "FAMILIES",
    "SEARCHED_ROWS_TAG",
    "STRATEGIES",
    "ClusterFit",
    "ClusterTraining",
    "DaskWindow",
    "DistributedSettings",
    "SearchPlan",
    "TrainedVersion",
    "TrainingData",
    "build_pipeline",
    "champion_start",
    "encoded_columns",
    "fit_on_cluster",
    "load_window",
    "load_window_task",
    "log_and_register",
    "parse_params",
    "partition_predictions",
    "plan_search",
    "read_window",
    "reference_rows",
    "refit_configuration",
    "sample_rows",
    "search",
    "search_spaces",
    "search_splits",
    "split_metrics",
    "split_rows",
    "split_xy",
    "train_and_register_on_cluster",
    "train_on_cluster_task",
    "train_task",
]
