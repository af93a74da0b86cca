"""The prediction database: its tables and how to read them.

The service writes it (``driftgate.serving.prediction_log``); the monitor flow and tests read it.
SQLite by default (WAL, so readers never block the writer), Postgres by URL.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

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
)


def connect(url: str) -> sa.Engine:
    """An engine on the prediction database with its tables created."""
    engine = sa.create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_wal)
    metadata.create_all(engine)
    return engine


def _sqlite_wal(dbapi_connection: Any, _: Any) -> None:
    """WAL and relaxed fsync: readers (monitoring) do not block the writer, commits are cheap."""
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def read_predictions(url: str, since_id: int = 0, limit: int = 100_000) -> list[dict[str, Any]]:
    """Rows of the prediction log after ``since_id`` (for monitoring and tests)."""
    engine = sa.create_engine(url)
    try:
        if not sa.inspect(engine).has_table(predictions_table.name):
            return []
        with engine.connect() as conn:
            result = conn.execute(
                sa.select(predictions_table)
                .where(predictions_table.c.id > since_id)
                .order_by(predictions_table.c.id)
                .limit(limit)
            )
            return [
                {**row._mapping, "inputs": json.loads(row.inputs), "output": json.loads(row.output)} for row in result
            ]
    finally:
        engine.dispose()
