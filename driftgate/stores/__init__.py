"""Where state lives: the lake and its lease, the outcome table, the prediction database and its retention.

Names are exported lazily (driftgate/_lazy.py): importing one module of the group never
imports its siblings (``registry.champion_sqlite`` stays free of MLflow; ``models`` of pandas where it can)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from driftgate._lazy import lazy_exports

if TYPE_CHECKING:
    from driftgate.stores.lake import ROW_GROUP_ROWS as ROW_GROUP_ROWS
    from driftgate.stores.lake import TEMP_MARK as TEMP_MARK
    from driftgate.stores.lake import BatchManifest as BatchManifest
    from driftgate.stores.lake import Lake as Lake
    from driftgate.stores.lease import Lease as Lease
    from driftgate.stores.lease import LeaseHeldError as LeaseHeldError
    from driftgate.stores.lease import acquire_lease as acquire_lease
    from driftgate.stores.lease import current_lease as current_lease
    from driftgate.stores.lease import dataset_lease as dataset_lease
    from driftgate.stores.lease import release_lease as release_lease
    from driftgate.stores.log_retention import LogRetention as LogRetention
    from driftgate.stores.log_retention import prune_predictions as prune_predictions
    from driftgate.stores.outcome import BatchOutcome as BatchOutcome
    from driftgate.stores.outcome import format_table as format_table
    from driftgate.stores.outcome import quarantined as quarantined
    from driftgate.stores.outcome import read_outcomes as read_outcomes
    from driftgate.stores.predictions_db import CHAMPION_ROLE as CHAMPION_ROLE
    from driftgate.stores.predictions_db import MAX_ID_LENGTH as MAX_ID_LENGTH
    from driftgate.stores.predictions_db import SHADOW_ROLE as SHADOW_ROLE
    from driftgate.stores.predictions_db import ChampionRow as ChampionRow
    from driftgate.stores.predictions_db import PredictionRow as PredictionRow
    from driftgate.stores.predictions_db import champion_ids_after as champion_ids_after
    from driftgate.stores.predictions_db import champion_rows_after as champion_rows_after
    from driftgate.stores.predictions_db import champion_rows_with_ids as champion_rows_with_ids
    from driftgate.stores.predictions_db import connect as connect
    from driftgate.stores.predictions_db import count_champion_rows as count_champion_rows
    from driftgate.stores.predictions_db import existing_ids as existing_ids
    from driftgate.stores.predictions_db import insert_prediction_rows as insert_prediction_rows
    from driftgate.stores.predictions_db import insert_predictions_sql as insert_predictions_sql
    from driftgate.stores.predictions_db import labels_table as labels_table
    from driftgate.stores.predictions_db import newest_prediction_id as newest_prediction_id
    from driftgate.stores.predictions_db import predictions_table as predictions_table
    from driftgate.stores.predictions_db import read_labelled as read_labelled
    from driftgate.stores.predictions_db import read_labelled_answers as read_labelled_answers
    from driftgate.stores.predictions_db import read_predictions as read_predictions
    from driftgate.stores.predictions_db import store_labels as store_labels

__all__, __getattr__ = lazy_exports(__name__, __file__)
