"""The dataset: its spec, what `init` infers from a user's file, SQL dialects, sources and batch sources, frames
and calendar parts, synthetic data and scenarios.

Names are exported lazily (driftgate/_lazy.py): importing one module of the group never
imports its siblings (``registry.champion_sqlite`` stays free of MLflow; ``models`` of pandas where it can)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from driftgate._lazy import lazy_exports

if TYPE_CHECKING:
    from driftgate.dataset.batch_sources import ApiBatches as ApiBatches
    from driftgate.dataset.batch_sources import BatchSource as BatchSource
    from driftgate.dataset.batch_sources import LandingBatches as LandingBatches
    from driftgate.dataset.batch_sources import SqlBatches as SqlBatches
    from driftgate.dataset.dialect import TABLE_ENDINGS as TABLE_ENDINGS
    from driftgate.dataset.dialect import Dialect as Dialect
    from driftgate.dataset.dialect import compression_of as compression_of
    from driftgate.dataset.dialect import decompress as decompress
    from driftgate.dataset.dialect import detect_dialect as detect_dialect
    from driftgate.dataset.dialect import detect_file_dialect as detect_file_dialect
    from driftgate.dataset.dialect import missing_markers as missing_markers
    from driftgate.dataset.encoding import ONE_HOT_MAX_LEVELS as ONE_HOT_MAX_LEVELS
    from driftgate.dataset.encoding import encoding_of as encoding_of
    from driftgate.dataset.frames import GAP as GAP
    from driftgate.dataset.frames import SPLIT_COLUMN as SPLIT_COLUMN
    from driftgate.dataset.frames import SPLIT_RULE as SPLIT_RULE
    from driftgate.dataset.frames import SPLITS as SPLITS
    from driftgate.dataset.frames import add_calendar as add_calendar
    from driftgate.dataset.frames import assign_splits as assign_splits
    from driftgate.dataset.frames import calendar_parts as calendar_parts
    from driftgate.dataset.frames import content_hash as content_hash
    from driftgate.dataset.frames import group_keys as group_keys
    from driftgate.dataset.frames import normalize as normalize
    from driftgate.dataset.frames import ordered_splits as ordered_splits
    from driftgate.dataset.frames import parse_times as parse_times
    from driftgate.dataset.frames import time_order as time_order
    from driftgate.dataset.infer import Inference as Inference
    from driftgate.dataset.infer import InitOptions as InitOptions
    from driftgate.dataset.infer import dataset_name_from as dataset_name_from
    from driftgate.dataset.infer import infer_spec as infer_spec
    from driftgate.dataset.infer import looks_like_time as looks_like_time
    from driftgate.dataset.infer import spec_yaml as spec_yaml
    from driftgate.dataset.own_data import plan_dataset as plan_dataset
    from driftgate.dataset.own_data import write_spec as write_spec
    from driftgate.dataset.scenario import make_batch as make_batch
    from driftgate.dataset.scenario import plan_batches as plan_batches
    from driftgate.dataset.sources import load_source as load_source
    from driftgate.dataset.sources import read_table as read_table
    from driftgate.dataset.spec import CALENDAR_RANGES as CALENDAR_RANGES
    from driftgate.dataset.spec import METRIC_DIRECTIONS as METRIC_DIRECTIONS
    from driftgate.dataset.spec import DatasetSpec as DatasetSpec
    from driftgate.dataset.spec import Feature as Feature
    from driftgate.dataset.spec import Metric as Metric
    from driftgate.dataset.spec import ReadOptions as ReadOptions
    from driftgate.dataset.spec import Task as Task
    from driftgate.dataset.spec import calendar_feature_name as calendar_feature_name
    from driftgate.dataset.spec import check_dataset_name as check_dataset_name
    from driftgate.dataset.spec import load_spec as load_spec
    from driftgate.dataset.synthetic import Shift as Shift
    from driftgate.dataset.synthetic import make_frame as make_frame
    from driftgate.dataset.synthetic import make_readmission as make_readmission
    from driftgate.dataset.synthetic import make_time_ordered_frame as make_time_ordered_frame
    from driftgate.dataset.synthetic import true_importance as true_importance

__all__, __getattr__ = lazy_exports(__name__, __file__)
