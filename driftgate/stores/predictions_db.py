"""The prediction database: its tables and how to read and write them.

The service writes predictions (``driftgate.serving.prediction_log``) and labels
(``driftgate.serving.feedback``); the monitor flow and tests read both. SQLite by default (WAL,
so readers never block the writer), Postgres by URL.

Tables:
    predictions: one row per record scored, by ``role`` (``champion`` answered it, ``shadow``
        scored it off the request path; its ``inputs`` are ``{}``: they are the champion row's of
        the same id); ``(prediction_id, role)`` is unique.
    labels: the true outcome of a prediction, once; ``prediction_id`` is the key.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa

log = logging.getLogger(__name__)

CHAMPION_ROLE = "champion"
SHADOW_ROLE = "shadow"
MAX_ID_LENGTH = 100

metadata = sa.MetaData()
predictions_table = sa.Table(
    "predictions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ts", sa.String(40), nullable=False, index=True),  # ISO 8601, UTC
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("model_version", sa.String(40), nullable=False, index=True),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("inputs", sa.Text, nullable=False),
    sa.Column("output", sa.Text, nullable=False),
    sa.Column("prediction_id", sa.String(MAX_ID_LENGTH), nullable=True),  # NULL only in rows of older versions
    sa.Column("role", sa.String(20), nullable=False, server_default=CHAMPION_ROLE),
)
_PREDICTION_ID_INDEX = "ix_predictions_prediction_id_role"  # unique (prediction_id, role), made by migrate()
labels_table = sa.Table(
    "labels",
    metadata,
    sa.Column("prediction_id", sa.String(MAX_ID_LENGTH), primary_key=True),
    sa.Column("label", sa.Text, nullable=False),  # JSON: a class label or a number
    sa.Column("ts", sa.String(40), nullable=False),
)


class PredictionRow(NamedTuple):
    """One row to insert into ``predictions`` (its columns but the row id, inputs and output as JSON)."""

    ts: str
    model_name: str
    model_version: str
    latency_ms: float
    inputs: str
    output: str
    prediction_id: str | None
    role: str


class ChampionRow(NamedTuple):
    """A champion row of the log as the shadow scorer reads it."""

    id: int
    prediction_id: str
    inputs: str  # JSON
    model_version: str
    output: str = "null"  # JSON: the champion's answer (the shadow compares its own with it)


def _champion_row(r: sa.Row[Any]) -> ChampionRow:
    return ChampionRow(
        id=int(r.id),
        prediction_id=str(r.prediction_id),
        inputs=str(r.inputs),
        model_version=str(r.model_version),
        output=str(r.output),
    )


def connect(url: str) -> sa.Engine:
    """An engine on the prediction database with its tables created (and older tables migrated)."""
    engine = sa.create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_wal)
    create_tables(engine)
    migrate(engine)
    return engine


def create_tables(engine: sa.Engine, attempts: int = 3) -> None:
    """``create_all``, safe when several processes or threads do it at once.

    ``create_all`` checks for each table, then creates it: two callers can both find it missing and
    the loser fails with "table ... already exists". The loser tries again and finds it there.
    """
    for attempt in range(attempts):
        try:
            metadata.create_all(engine)
            return
        except sa.exc.DBAPIError:
            if attempt == attempts - 1:
                raise


def migrate(engine: sa.Engine) -> list[str]:
    """Add the columns a ``predictions`` table of an older driftgate lacks; the columns added.

    ``create_all`` creates missing tables but never alters one, so a database written before
    prediction ids existed gets ``prediction_id`` (NULL for its old rows) and ``role`` here.
    Safe when several processes do it at once (the loser finds the column there).
    """
    added = []
    columns = {
        "prediction_id": f"VARCHAR({MAX_ID_LENGTH})",
        "role": f"VARCHAR(20) NOT NULL DEFAULT '{CHAMPION_ROLE}'",
    }
    for name, ddl in columns.items():
        present = {c["name"] for c in sa.inspect(engine).get_columns(predictions_table.name)}
        if name in present:
            continue
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(f"ALTER TABLE {predictions_table.name} ADD COLUMN {name} {ddl}")
            added.append(name)
        except sa.exc.DBAPIError:  # another process added it first
            if name not in {c["name"] for c in sa.inspect(engine).get_columns(predictions_table.name)}:
                raise
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE UNIQUE INDEX IF NOT EXISTS {_PREDICTION_ID_INDEX} "
            f"ON {predictions_table.name} (prediction_id, role)"
        )
    if added:
        log.warning("prediction database %s: added columns %s to an older predictions table", engine.url, added)
    return added


def _sqlite_wal(dbapi_connection: Any, _: Any) -> None:
    """WAL and relaxed fsync: readers (monitoring) do not block the writer, commits are cheap."""
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def insert_predictions_sql(engine: sa.Engine) -> str:
    """The driver-level INSERT of prediction rows; a repeated ``(prediction_id, role)`` is skipped."""
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    cols = "ts, model_name, model_version, latency_ms, inputs, output, prediction_id, role"
    values = ", ".join([mark] * 8)
    if engine.dialect.name == "sqlite":
        return f"INSERT OR IGNORE INTO {predictions_table.name} ({cols}) VALUES ({values})"
    return f"INSERT INTO {predictions_table.name} ({cols}) VALUES ({values}) ON CONFLICT DO NOTHING"


_ROWS_PER_STATEMENT = 120  # x 8 columns: under SQLite's oldest limit of 999 parameters per statement


@functools.cache
def _multi_row(single: str, rows: int) -> str:
    """``INSERT ... VALUES (?, ...)`` as one statement inserting ``rows`` rows."""
    head, sep, tail = single.partition(" VALUES (")
    values, _, rest = tail.partition(")")
    return f"{head}{sep}" + "), (".join([values] * rows) + f"){rest}"


def insert_prediction_rows(engine: sa.Engine, params: Sequence[tuple[Any, ...]]) -> int:
    """Insert prediction rows in one transaction; the rows inserted (a repeated ``(prediction_id, role)`` is skipped).

    Each row is a :class:`PredictionRow` (or a plain tuple of its fields, in its order).
    Multi-row VALUES: sqlite3's executemany releases and retakes the GIL for every row, and in the
    service each retake waits for the event loop; one statement per 120 rows does not.
    """
    one = insert_predictions_sql(engine)
    written = 0
    with engine.begin() as conn:
        for start in range(0, len(params), _ROWS_PER_STATEMENT):
            chunk = params[start : start + _ROWS_PER_STATEMENT]
            flat = tuple(v for p in chunk for v in p)
            written += int(conn.exec_driver_sql(_multi_row(one, len(chunk)), flat).rowcount)
    return written


def newest_prediction_id(engine: sa.Engine) -> int:
    """The highest row id of the prediction log (0 when it is empty)."""
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.max(predictions_table.c.id))).scalar() or 0)


def champion_rows_after(engine: sa.Engine, after_id: int, limit: int) -> list[ChampionRow]:
    """Champion rows after ``after_id``, oldest first.

    Rows without a prediction id (written by older versions) are left out.
    """
    p = predictions_table
    query = (
        sa.select(p.c.id, p.c.prediction_id, p.c.inputs, p.c.model_version, p.c.output)
        .where(p.c.id > after_id, p.c.role == CHAMPION_ROLE, p.c.prediction_id.is_not(None))
        .order_by(p.c.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [_champion_row(r) for r in conn.execute(query)]


def champion_ids_after(engine: sa.Engine, after_id: int, limit: int) -> list[int]:
    """Row ids of champion rows (with a prediction id) after ``after_id``, oldest first."""
    p = predictions_table
    query = (
        sa.select(p.c.id)
        .where(p.c.id > after_id, p.c.role == CHAMPION_ROLE, p.c.prediction_id.is_not(None))
        .order_by(p.c.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [int(i) for i in conn.execute(query).scalars()]


def champion_rows_with_ids(engine: sa.Engine, ids: list[int]) -> list[ChampionRow]:
    """The champion rows with these row ids, oldest first."""
    if not ids:
        return []
    p = predictions_table
    query = (
        sa.select(p.c.id, p.c.prediction_id, p.c.inputs, p.c.model_version, p.c.output)
        .where(p.c.id.in_(ids))
        .order_by(p.c.id)
    )
    with engine.connect() as conn:
        return [_champion_row(r) for r in conn.execute(query)]


def count_champion_rows(engine: sa.Engine, after_id: int, upto_id: int) -> int:
    """Champion rows with ``after_id < id <= upto_id``."""
    p = predictions_table
    query = sa.select(sa.func.count()).where(p.c.id > after_id, p.c.id <= upto_id, p.c.role == CHAMPION_ROLE)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar() or 0)


def _decode(row: Any) -> dict[str, Any]:
    return {**row._mapping, "inputs": json.loads(row.inputs), "output": json.loads(row.output)}


def read_predictions(url: str, since_id: int = 0, limit: int = 100_000) -> list[dict[str, Any]]:
    """Rows of the prediction log after ``since_id`` (for monitoring and tests)."""
    engine = sa.create_engine(url)
    try:
        if not sa.inspect(engine).has_table(predictions_table.name):
            return []
        migrate(engine)
        with engine.connect() as conn:
            result = conn.execute(
                sa.select(predictions_table)
                .where(predictions_table.c.id > since_id)
                .order_by(predictions_table.c.id)
                .limit(limit)
            )
            return [_decode(row) for row in result]
    finally:
        engine.dispose()


def read_labelled(url: str, model_name: str, limit: int = 100_000) -> list[dict[str, Any]]:
    """The newest ``limit`` labelled prediction rows of a model (every role), oldest first.

    Each row is a prediction row plus ``label`` (decoded) and ``label_ts``.
    """
    p = predictions_table
    return _labelled_rows(url, [p.c.model_name == model_name], p.c.id.desc(), limit)[::-1]


def read_labelled_answers(url: str, model_name: str, version: str, *, since: str, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` labelled rows ``version`` answered as champion from ``since`` on, oldest first.

    ``since``: ISO 8601 in UTC, as the log writes ``ts``. Rows as :func:`read_labelled` returns
    them: a probation's rows (:mod:`driftgate.registry.probation`).
    """
    p = predictions_table
    where = [
        p.c.model_name == model_name,
        p.c.model_version == str(version),
        p.c.role == CHAMPION_ROLE,
        p.c.ts >= since,
    ]
    return _labelled_rows(url, where, p.c.id, limit)


def _labelled_rows(url: str, where: list[Any], order: Any, limit: int) -> list[dict[str, Any]]:
    """Prediction rows joined with their labels, filtered by ``where``, in ``order``, at most ``limit``."""
    engine = sa.create_engine(url)
    p, lab = predictions_table, labels_table
    try:
        if not sa.inspect(engine).has_table(lab.name):
            return []
        migrate(engine)
        query = (
            sa.select(p, lab.c.label, lab.c.ts.label("label_ts"))
            .join(lab, lab.c.prediction_id == p.c.prediction_id)
            .where(*where)
            .order_by(order)
            .limit(limit)
        )
        with engine.connect() as conn:
            return [{**_decode(r), "label": json.loads(r.label)} for r in conn.execute(query)]
    finally:
        engine.dispose()


def existing_ids(conn: sa.Connection, table: sa.Table, ids: list[str]) -> set[str]:
    """Which of ``ids`` appear in ``table``'s ``prediction_id`` (queried in chunks)."""
    found: set[str] = set()
    column = table.c.prediction_id
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        found.update(r[0] for r in conn.execute(sa.select(column).where(column.in_(chunk)).distinct()))
    return found


def store_labels(engine: sa.Engine, labels: Iterable[tuple[str, Any]]) -> tuple[list[str], list[str], list[str]]:
    """Store labels of logged predictions, each at most once.

    Args:
        engine: the prediction database.
        labels: ``(prediction_id, label)`` pairs, already validated.

    Returns:
        The ids stored, the ids no logged prediction carries, and the ids already labelled
        (before or earlier in ``labels``); nothing is overwritten.
    """
    pairs = list(labels)
    try:
        return _store_labels(engine, pairs)
    except sa.exc.IntegrityError:  # a concurrent request stored one of these ids first: look again
        return _store_labels(engine, pairs)


def _store_labels(engine: sa.Engine, pairs: list[tuple[str, Any]]) -> tuple[list[str], list[str], list[str]]:
    ids = [i for i, _ in pairs]
    ts = datetime.now(UTC).isoformat()
    with engine.begin() as conn:
        known = existing_ids(conn, predictions_table, ids)
        labelled = existing_ids(conn, labels_table, ids)
        stored, unknown, duplicate, rows = [], [], [], []
        for pid, label in pairs:
            if pid not in known:
                unknown.append(pid)
            elif pid in labelled:
                duplicate.append(pid)
            else:
                labelled.add(pid)
                stored.append(pid)
                rows.append({"prediction_id": pid, "label": json.dumps(label), "ts": ts})
        if rows:
            conn.execute(labels_table.insert(), rows)
    return stored, unknown, duplicate
