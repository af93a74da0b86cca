"""MLflow's side: the registry client, its views and tags, probation, tracking setup, and the champion moved
through sqlite3 without MLflow.

Names are exported lazily (driftgate/_lazy.py): importing one module of the group never
imports its siblings (``registry.champion_sqlite`` stays free of MLflow; ``models`` of pandas where it can)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from driftgate._lazy import lazy_exports

if TYPE_CHECKING:
    from driftgate.registry.champion_sqlite import KNOWN_SCHEMAS as KNOWN_SCHEMAS
    from driftgate.registry.champion_sqlite import ClientNeededError as ClientNeededError
    from driftgate.registry.champion_sqlite import promote_sqlite as promote_sqlite
    from driftgate.registry.champion_sqlite import rollback_sqlite as rollback_sqlite
    from driftgate.registry.champion_sqlite import sqlite_file as sqlite_file
    from driftgate.registry.client import BATCHES_TAG as BATCHES_TAG
    from driftgate.registry.client import CHALLENGER as CHALLENGER
    from driftgate.registry.client import TAG_VALUE_MAX as TAG_VALUE_MAX
    from driftgate.registry.client import BatchRef as BatchRef
    from driftgate.registry.client import batches_tags as batches_tags
    from driftgate.registry.client import challenger_version as challenger_version
    from driftgate.registry.client import champion_version as champion_version
    from driftgate.registry.client import importance as importance
    from driftgate.registry.client import lineage as lineage
    from driftgate.registry.client import load_version as load_version
    from driftgate.registry.client import model_uri as model_uri
    from driftgate.registry.client import promote as promote
    from driftgate.registry.client import roll_back_champion as roll_back_champion
    from driftgate.registry.client import rollback as rollback
    from driftgate.registry.client import set_champion as set_champion
    from driftgate.registry.history import Rollback as Rollback
    from driftgate.registry.probation import Probation as Probation
    from driftgate.registry.probation import end_probation as end_probation
    from driftgate.registry.probation import record_probation as record_probation
    from driftgate.registry.tracking import configure_mlflow as configure_mlflow
    from driftgate.registry.tracking import experiment_id as experiment_id
    from driftgate.registry.view import CHAMPION as CHAMPION
    from driftgate.registry.view import DELETED as DELETED
    from driftgate.registry.view import HISTORY_TAG as HISTORY_TAG
    from driftgate.registry.view import PROBATION_TAG as PROBATION_TAG
    from driftgate.registry.view import RegistryView as RegistryView
    from driftgate.registry.view import read_registry as read_registry
    from driftgate.registry.view import read_sqlite as read_sqlite
    from driftgate.registry.view import read_with_client as read_with_client

__all__, __getattr__ = lazy_exports(__name__, __file__)
