"""Stage ``ingest``: batches from the data API, a landing folder or bucket, or a SQL table, each stored once."""

from driftgate.tasks.ingest._api import (
    batch_count,
    fetch_batch,
    fetch_batch_task,
    prepare_batch,
    publish_ingest_table,
    source_columns,
    store_batch,
    store_batch_task,
)
from driftgate.tasks.ingest._landing import mark_landed_task, plan_landing_task, read_landed_task
from driftgate.tasks.ingest._sql import commit_sql_task, plan_sql_task, read_sql_task

__all__ = [
    "batch_count",
    "commit_sql_task",
    "fetch_batch",
    "fetch_batch_task",
    "mark_landed_task",
    "plan_landing_task",
    "plan_sql_task",
    "prepare_batch",
    "publish_ingest_table",
    "read_landed_task",
    "read_sql_task",
    "source_columns",
    "store_batch",
    "store_batch_task",
]
