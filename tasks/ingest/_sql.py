"""Batches from a SQL table or query: the rows past the last stored watermark, once.

``state/<dataset>/sql.json`` holds the committed watermark and, while a batch is being stored,
the pending range ``(low, high]`` with its number. The range is fixed before anything is
stored, so a crashed run re-reads exactly the same rows under the same number; the committed
watermark moves to ``high`` only after the batch is in the lake.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from driftgate.dataset.batch_sources import SqlBatches
from driftgate.dataset.spec import DatasetSpec
from driftgate.errors import SpecError
from driftgate.policies import SplitPolicy
from driftgate.stores.lake import Lake
from driftgate.tasks.ingest._api import next_batch_number, prepare_batch, source_columns
from driftgate.tasks.policy import IO_RETRIES

if TYPE_CHECKING:  # SQLAlchemy is imported where a SQL source is read: other sources never need it
    import sqlalchemy as sa

log = logging.getLogger(__name__)
STATE = "sql"
_DECODE: dict[str, Any] = {
    "int": int,
    "float": float,
    "str": str,
    "decimal": Decimal,
    "datetime": dt.datetime.fromisoformat,
    "date": dt.date.fromisoformat,
}


@dataclass(frozen=True)
class SqlRange:
    """Batch ``number`` is the rows with ``low < watermark <= high`` (``low`` None: from the start)."""

    number: int
    low: Any
    high: Any


def encode_watermark(value: Any) -> dict[str, Any] | None:
    """A watermark value as JSON that decodes back to the same type."""
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, Decimal):
        return {"type": "decimal", "value": str(value)}
    for name, kind in (("datetime", dt.datetime), ("date", dt.date)):  # datetime first: it is a date too
        if isinstance(value, kind):
            return {"type": name, "value": value.isoformat()}
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise SpecError(f"watermark values must be numbers, text or times, got {type(value).__name__}")
    return {"type": type(value).__name__, "value": value}


def decode_watermark(raw: dict[str, Any] | None) -> Any:
    return None if raw is None else _DECODE[raw["type"]](raw["value"])


def source_sql(engine: sa.Engine, source: SqlBatches) -> tuple[str, str]:
    """The source as a sub-select, and the quoted watermark column."""
    quote = engine.dialect.identifier_preparer.quote
    if source.table is not None:
        inner = "SELECT * FROM " + ".".join(quote(part) for part in source.table.split("."))
    else:
        inner = str(source.query).strip().rstrip(";")
    return f"({inner}) AS driftgate_src", quote(source.watermark)


def _where(wm: str, low: Any) -> str:
    return f"{wm} IS NOT NULL" if low is None else f"{wm} > :low"


def plan_sql_batch(lake: Lake, dataset: str, engine: sa.Engine, source: SqlBatches) -> SqlRange | None:
    """The pending range of a crashed run, else the next range (recorded as pending); None: no new rows."""
    state = lake.read_state(dataset, STATE) or {}
    pending = state.get("pending")
    if pending:
        log.info("resuming batch %s of %s (a previous run stopped before committing it)", pending["batch"], dataset)
        return SqlRange(int(pending["batch"]), decode_watermark(pending["low"]), decode_watermark(pending["high"]))
    import sqlalchemy as sa

    low = decode_watermark(state.get("watermark"))
    src, wm = source_sql(engine, source)
    with engine.connect() as conn:
        high = conn.execute(sa.text(f"SELECT MAX({wm}) FROM {src} WHERE {_where(wm, low)}"), {"low": low}).scalar()
    if high is None:
        log.info("no rows of %s past watermark %s", dataset, low)
        return None
    number = next_batch_number(lake, dataset, [int(state.get("last_batch", 0))])
    state["pending"] = {"batch": number, "low": encode_watermark(low), "high": encode_watermark(high)}
    lake.write_state(dataset, STATE, state)  # the intent, before anything is stored
    return SqlRange(number, low, high)


def read_sql_batch(engine: sa.Engine, source: SqlBatches, rng: SqlRange) -> pd.DataFrame:
    """The rows of ``rng``, in a deterministic order (watermark, then row content)."""
    import sqlalchemy as sa

    src, wm = source_sql(engine, source)
    sql = f"SELECT * FROM {src} WHERE {_where(wm, rng.low)} AND {wm} <= :high"
    with engine.connect() as conn:
        frame = pd.read_sql_query(sa.text(sql), conn, params={"low": rng.low, "high": rng.high})
    order = pd.util.hash_pandas_object(frame.astype(str), index=False)  # ties broken by content, not by chance
    ordered = frame.assign(_order=order.to_numpy()).sort_values([source.watermark, "_order"], kind="mergesort")
    return ordered.drop(columns="_order").reset_index(drop=True)


def commit_sql_batch(lake: Lake, dataset: str, rng: SqlRange) -> None:
    """Move the watermark past a stored batch."""
    lake.write_state(
        dataset, STATE, {"watermark": encode_watermark(rng.high), "last_batch": rng.number, "pending": None}
    )
    log.info("watermark of %s now %s (batch %s)", dataset, rng.high, rng.number)


def sql_engine(source: SqlBatches, url_override: str | None) -> sa.Engine:
    import sqlalchemy as sa

    url = url_override or source.url
    if not url:
        raise SpecError("batches of kind sql need a url (in the spec or DRIFTGATE_BATCHES_SQL_URL)")
    return sa.create_engine(url)


# --- Prefect wrappers ------------------------------------------------------------------

_POLICY: dict[str, Any] = {"cache_policy": NO_CACHE, **IO_RETRIES}


@task(name="plan-sql-batch", **_POLICY)
def plan_sql_task(lake: Lake, spec: DatasetSpec, source: SqlBatches, url: str | None) -> SqlRange | None:
    engine = sql_engine(source, url)
    try:
        return plan_sql_batch(lake, spec.name, engine, source)
    finally:
        engine.dispose()


@task(name="read-sql-batch", task_run_name="read-sql-batch-{rng.number}", **_POLICY)
def read_sql_task(
    source: SqlBatches, url: str | None, rng: SqlRange, spec: DatasetSpec, split: SplitPolicy
) -> pd.DataFrame:
    engine = sql_engine(source, url)
    try:
        return prepare_batch(source_columns(read_sql_batch(engine, source, rng), spec), spec, rng.number, split=split)
    finally:
        engine.dispose()


@task(name="commit-sql-batch", task_run_name="commit-sql-batch-{rng.number}", **_POLICY)
def commit_sql_task(lake: Lake, spec: DatasetSpec, rng: SqlRange) -> None:
    commit_sql_batch(lake, spec.name, rng)
