"""``promote`` and ``rollback`` on the default registry (a local SQLite file), without importing MLflow.

Through MLflow's API a champion move costs ``import mlflow`` (about 1.5 s on a quiet 2-core
machine) and its SQLAlchemy store (another 1.4 s: SQLAlchemy, Alembic, the store's models): about
4.5 s for a command that reads two rows and writes two (issue #27 asks under 2 s). MLflow's store
writes an alias and a registered-model tag as plain upserts (``session.merge`` of one row each,
nothing else touched), so this module does the same two upserts with ``sqlite3``, and does them
better in one respect: the checks (the version exists, its recorded servability verdict, the
champion history) and both writes sit in one ``BEGIN IMMEDIATE`` transaction, where MLflow's API
gives two separate commits.

It only ever writes a schema it was tested on: MLflow's Alembic revision must be one of
:data:`KNOWN_SCHEMAS` (``tests/integration/test_quick_commands.py`` fails when the installed MLflow
creates another, so an upgrade is reviewed here before this writes to it), and the model must live
in MLflow's ``default`` workspace. Anything else (another revision, another store, a version with no
recorded verdict, which needs the model loaded, a locked file) raises :class:`ClientNeededError` before any
write, and the caller goes through :mod:`driftgate.registry.client` and MLflow's client instead.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from driftgate.dataset.spec import DatasetSpec
from driftgate.errors import ModelRegistryError
from driftgate.models.servable import SERVABLE_TAG, recorded_verdict, refusal
from driftgate.registry.history import Rollback, is_history, promoted, rollback_target
from driftgate.registry.view import CHAMPION, DELETED, HISTORY_TAG, PROBATION_TAG

log = logging.getLogger(__name__)

# MLflow's Alembic heads whose alias and tag tables this module was tested against (MLflow 3.x)
KNOWN_SCHEMAS = frozenset({"dc11669786a5"})
_WORKSPACE = "default"
_TAG_VALUE_LIMIT = 5000  # MLflow's limit on a registered model tag's value


class ClientNeededError(Exception):
    """This store or this move is not one for the SQLite path; MLflow's client does it instead."""


def sqlite_file(uri: str) -> Path | None:
    """The registry's file when ``uri`` is a local SQLite store that exists; else None."""
    if not uri.startswith("sqlite:///"):
        return None
    path = Path(uri.removeprefix("sqlite:///"))
    return path if path.is_file() else None


def promote_sqlite(path: Path, name: str, version: str, spec: DatasetSpec) -> None:
    """:func:`driftgate.registry.client.promote`, as one SQLite transaction.

    Raises:
        ModelRegistryError: no such version, no such model, or its recorded verdict refuses it.
        ClientNeededError: the store or the version's verdict needs MLflow's client (nothing was written).
    """
    version = str(int(version)) if version.isdigit() else version  # "02" is version 2, as MLflow reads it
    with _transaction(path) as db:
        _servable(db, name, version, spec)
        _write(db, name, version, promoted(_history(db, name), version))
    log.info("champion of %s is now version %s", name, version)


def rollback_sqlite(path: Path, name: str, spec: DatasetSpec) -> Rollback:
    """:func:`driftgate.registry.client.rollback`, as one SQLite transaction.

    Raises:
        ModelRegistryError: no earlier champion, or none of them loads (each one's reason is in the message).
        ClientNeededError: the store, or an earlier champion's missing verdict, needs MLflow's client
            (nothing was written).
    """
    with _transaction(path) as db:
        done = rollback_target(
            name, _history(db, name), _champion(db, name), lambda version: _servable(db, name, version, spec)
        )
        _write(db, name, done.previous, done.history)
    skipped = f" ({done.skipped} skipped: no longer load)" if done.skipped else ""
    log.info("rolled %s back from version %s to %s%s", name, done.current, done.previous, skipped)
    return done


@contextmanager
def _transaction(path: Path) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` on the registry file once its schema is known; commit on success, else roll back."""
    try:
        db = sqlite3.connect(path, timeout=5, isolation_level=None)
    except sqlite3.Error as exc:
        raise ClientNeededError(f"cannot open {path}: {exc}") from exc
    with closing(db):
        try:
            db.execute("BEGIN IMMEDIATE")
            found = [row[0] for row in db.execute("SELECT version_num FROM alembic_version")]
        except sqlite3.Error as exc:
            raise ClientNeededError(f"{path}: {exc}") from exc
        try:
            if len(found) != 1 or found[0] not in KNOWN_SCHEMAS:
                raise ClientNeededError(f"MLflow schema {found} is not one this writer was tested on")
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        try:
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise ClientNeededError(f"commit failed: {exc}") from exc


def _servable(db: sqlite3.Connection, name: str, version: str, spec: DatasetSpec) -> None:
    """The version exists (not deleted) in the default workspace and its recorded verdict lets it be served."""
    if not version.isdigit():
        raise ModelRegistryError(f"model {name!r} has no version {version}")
    workspaces = [
        row[0]
        for row in db.execute(
            "SELECT workspace FROM model_versions WHERE name = ? AND version = ? AND current_stage IS NOT ?",
            (name, int(version), DELETED),
        )
    ]
    if not workspaces:
        raise ModelRegistryError(f"model {name!r} has no version {version}")
    if workspaces != [_WORKSPACE]:
        raise ClientNeededError(f"model {name!r} lives in workspaces {workspaces}")
    tag = db.execute(
        "SELECT value FROM model_version_tags WHERE workspace = ? AND name = ? AND version = ? AND key = ?",
        (_WORKSPACE, name, int(version), SERVABLE_TAG),
    ).fetchone()
    verdict = recorded_verdict(None if tag is None else tag[0], spec)
    if verdict is None:
        raise ClientNeededError(f"version {version} has no current verdict: it must be loaded to be checked")
    if verdict.refused is not None:
        raise refusal(name, version, verdict.refused)


def _history(db: sqlite3.Connection, name: str) -> list[str]:
    """The champion history tag (as :func:`driftgate.registry.client._history` reads it)."""
    if db.execute("SELECT 1 FROM registered_models WHERE workspace = ? AND name = ?", (_WORKSPACE, name)).fetchone():
        row = db.execute(
            "SELECT value FROM registered_model_tags WHERE workspace = ? AND name = ? AND key = ?",
            (_WORKSPACE, name, HISTORY_TAG),
        ).fetchone()
    else:
        raise ModelRegistryError(f"no registered model named {name!r} (train one first: driftgate run)")
    if row is None or not row[0]:
        return []
    try:
        history = json.loads(row[0])
    except (ValueError, RecursionError):
        raise ClientNeededError(
            f"tag {HISTORY_TAG} of model {name!r} is not JSON"
        ) from None  # the client says it fully
    if not is_history(history):
        raise ClientNeededError(f"tag {HISTORY_TAG} of model {name!r} is not a list of versions")
    return [str(v) for v in history]


def _champion(db: sqlite3.Connection, name: str) -> str | None:
    row = db.execute(
        "SELECT version FROM registered_model_aliases WHERE workspace = ? AND name = ? AND alias = ?",
        (_WORKSPACE, name, CHAMPION),
    ).fetchone()
    return None if row is None else str(row[0])


def _write(db: sqlite3.Connection, name: str, version: str, history: list[str]) -> None:
    """MLflow's two upserts: the alias row and the history tag row; a move by hand ends any probation."""
    value = json.dumps(history)
    if len(value) > _TAG_VALUE_LIMIT:
        raise ClientNeededError(f"the history tag would exceed {_TAG_VALUE_LIMIT} characters")
    db.execute(
        "INSERT OR REPLACE INTO registered_model_aliases (workspace, name, alias, version) VALUES (?, ?, ?, ?)",
        (_WORKSPACE, name, CHAMPION, int(version)),
    )
    db.execute(
        'INSERT OR REPLACE INTO registered_model_tags (workspace, name, "key", value) VALUES (?, ?, ?, ?)',
        (_WORKSPACE, name, HISTORY_TAG, value),
    )
    db.execute(
        'DELETE FROM registered_model_tags WHERE workspace = ? AND name = ? AND "key" = ?',
        (_WORKSPACE, name, PROBATION_TAG),
    )
