"""How long the prediction log keeps its rows: by age and by count, never a row still needed.

Traffic makes rows without end; retention deletes the old ones. What "still needed" means:

- **Labelled rows** (a ``labels`` row carries their prediction id, every role): the realized
  metric, the probation, the live gate and the ``feedback`` batches all read them. Their number
  grows with the labels people send, not with traffic, and they are never pruned.
- **The newest rows** (the last ``grace_s`` seconds): the shadow scores champion rows within a
  second of their commit (its watermark trails by 5 s), so a row it has not read yet is never gone.

Everything else may go: the live-drift check of ``monitor-predictions`` reads the rows logged since
its last check, so with a maximum age above the monitor's schedule interval it still reads all of
them (and with only a row cap, the newest of them). A label sent for a pruned prediction is an
unknown id (as for one never logged): keep rows at least as long as labels take to arrive.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from driftgate.stores.predictions_db import labels_table, predictions_table

log = logging.getLogger(__name__)

GRACE_S = 30.0
"""Rows younger than this are never pruned: the shadow has not necessarily read them yet."""


@dataclass(frozen=True)
class LogRetention:
    """How many prediction rows to keep (None: no limit), and the newest ones always kept."""

    max_age_hours: float | None = None
    max_rows: int | None = None
    grace_s: float = GRACE_S

    @property
    def active(self) -> bool:
        return self.max_age_hours is not None or self.max_rows is not None

    def describe(self) -> str:
        parts = []
        if self.max_age_hours is not None:
            parts.append(f"at most {self.max_age_hours:g} h old")
        if self.max_rows is not None:
            parts.append(f"the newest {self.max_rows} rows")
        return " and ".join(parts) or "every row"


def _row_cap_id(conn: sa.Connection, max_rows: int) -> int | None:
    """The lowest row id among the newest ``max_rows`` rows (None: fewer rows than that)."""
    p = predictions_table
    query = sa.select(p.c.id).order_by(p.c.id.desc()).offset(max(max_rows - 1, 0)).limit(1)
    found = conn.execute(query).scalar()
    return None if found is None else int(found)


def prune_predictions(
    engine: sa.Engine, retention: LogRetention, *, now: datetime | None = None, chunk_rows: int = 5000
) -> int:
    """Delete the prediction rows past ``retention`` that nothing still needs; the rows deleted.

    Deletes in transactions of ``chunk_rows`` rows, so the writer of the log never waits long.
    """
    if not retention.active:
        return 0
    now = now or datetime.now(UTC)
    p, lab = predictions_table, labels_table
    with engine.connect() as conn:
        cap_id = _row_cap_id(conn, retention.max_rows) if retention.max_rows is not None else None
    old = []
    if retention.max_age_hours is not None:
        old.append(p.c.ts < (now - timedelta(hours=retention.max_age_hours)).isoformat())
    if cap_id is not None:
        old.append(p.c.id < cap_id)
    if not old:
        return 0
    labelled = sa.exists().where(lab.c.prediction_id == p.c.prediction_id)
    young = (now - timedelta(seconds=retention.grace_s)).isoformat()
    doomed = sa.select(p.c.id).where(sa.or_(*old), p.c.ts < young, ~labelled).limit(chunk_rows)
    deleted = 0
    while True:
        with engine.begin() as conn:
            ids = [int(i) for i in conn.execute(doomed).scalars()]
            if ids:
                conn.execute(sa.delete(p).where(p.c.id.in_(ids)))
        deleted += len(ids)
        if len(ids) < chunk_rows:
            return deleted
