"""What ``status`` shows of the registry (the champion, the version count, the champion's tags), read cheaply.

Any MLflow API costs ``import mlflow`` (its package ``__init__`` pulls tracing, genai, FastAPI,
pandas: 1.5-1.9 s measured on a loaded 2-core machine) and, for a SQLite store, SQLAlchemy and
Alembic (another 0.7-0.9 s): more than a status query may take in all (issue #27: under 2 s).
So for the default store, a local SQLite file, this reads three of MLflow's registry tables
through ``sqlite3`` in read-only mode, which cannot change the store; any other store, and any
SQLite error (a schema this reader does not know, a locked file), goes through ``MlflowClient``.
``tests/integration/test_quick_commands.py`` compares both readers on a real store, so an MLflow
upgrade that moves these tables fails a test rather than misreporting.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger(__name__)

CHAMPION = "champion"
HISTORY_TAG = "driftgate.champion_history"  # the registered model's tag: the versions that were champion, in order
# the registered model's tag while a version the gates promoted is on probation (JSON; registry.probation.Probation)
PROBATION_TAG = "driftgate.probation"
DELETED = "Deleted_Internal"  # MLflow's stage for a deleted version (its searches leave those out)


@dataclass(frozen=True)
class RegistryView:
    """One registered model as ``status`` reports it."""

    versions: int
    champion: str | None = None
    champion_tags: dict[str, str] = field(default_factory=dict)


def read_registry(uri: str, name: str) -> RegistryView:
    """The model ``name`` in the registry at ``uri`` (an empty view when it has no such model)."""
    if uri.startswith("sqlite:///"):
        try:
            return read_sqlite(Path(uri.removeprefix("sqlite:///")), name)
        except sqlite3.Error as exc:
            log.debug("reading %s through MLflow's client: %s", uri, exc)
    return read_with_client(uri, name)


def read_sqlite(path: Path, name: str) -> RegistryView:
    """The view from MLflow's SQLite file, opened read-only (a missing file is an empty registry).

    Raises:
        sqlite3.Error: the file is not a registry this reader knows, or it stays locked.
    """
    if not path.is_file():
        return RegistryView(versions=0)
    with closing(sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True, timeout=5)) as db:
        (count,) = db.execute(
            "SELECT COUNT(*) FROM model_versions WHERE name = ? AND current_stage IS NOT ?", (name, DELETED)
        ).fetchone()
        aliased = db.execute(
            "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?", (name, CHAMPION)
        ).fetchall()
        if len(aliased) > 1:  # one model name in several workspaces: leave it to MLflow
            raise sqlite3.DatabaseError(f"{len(aliased)} {CHAMPION} aliases for {name!r}")
        if not aliased:
            return RegistryView(versions=int(count))
        champion = str(aliased[0][0])
        tags = db.execute(
            "SELECT key, value FROM model_version_tags WHERE name = ? AND version = ?", (name, int(champion))
        ).fetchall()
    return RegistryView(int(count), champion, {str(k): str(v) for k, v in tags})


def read_with_client(uri: str, name: str) -> RegistryView:
    """The view through ``MlflowClient`` (any store MLflow speaks to)."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    count = len(client.search_model_versions(f"name = '{name}'"))
    try:
        mv = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return RegistryView(versions=count)
    return RegistryView(count, str(mv.version), dict(mv.tags))
