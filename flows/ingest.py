"""Flow ``ingest-batches``: store every new batch of the dataset's source exactly once.

The source is the spec's ``batches:`` section: the data API (by number, after the lake's
cursor), a landing folder or ``s3://`` prefix (each new file), or a SQL table or query (the rows
past the stored watermark).
"""

from __future__ import annotations

import logging

import httpx
from prefect import flow
from prefect.context import FlowRunContext

from driftgate.alerts.events import batch_ingested
from driftgate.context import Context, build_context
from driftgate.dataset.batch_sources import LandingBatches, SqlBatches
from driftgate.settings import get_settings
from driftgate.stores.lake import BatchManifest
from driftgate.tasks.ingest import (
    batch_count,
    commit_sql_task,
    fetch_batch_task,
    mark_landed_task,
    plan_landing_task,
    plan_sql_task,
    publish_ingest_table,
    read_landed_task,
    read_sql_task,
    store_batch_task,
)

log = logging.getLogger(__name__)


def ingest_from_api(ctx: Context, max_batches: int | None) -> list[BatchManifest]:
    """Numbered batches after the cursor, fetched from the data API."""
    s = ctx.settings
    policy = s.retry_policy()
    with httpx.Client(base_url=s.data_api_url) as client:
        available = batch_count(client, policy)
    start = ctx.lake.cursor(ctx.spec.name) + 1
    stop = available if max_batches is None else min(available, start + max_batches - 1)
    stored: list[BatchManifest] = []
    for number in range(start, stop + 1):
        frame = fetch_batch_task(s.data_api_url, number, policy, s.fetch_format, ctx.spec, s.split_policy())
        stored.append(store_batch_task(ctx.lake, ctx.spec, number, frame))
    return stored


def ingest_from_landing(ctx: Context, source: LandingBatches, max_batches: int | None) -> list[BatchManifest]:
    """Each new file under the landing prefix (and any a crashed run left pending)."""
    options = ctx.settings.storage_options(source.path)
    stored: list[BatchManifest] = []
    for item in plan_landing_task(ctx.lake, ctx.spec, source, options, max_batches):
        frame = read_landed_task(source, options, item, ctx.spec, ctx.settings.split_policy())
        stored.append(store_batch_task(ctx.lake, ctx.spec, item.number, frame))
        mark_landed_task(ctx.lake, ctx.spec, item)
    return stored


def ingest_from_sql(ctx: Context, source: SqlBatches) -> list[BatchManifest]:
    """The rows past the watermark as one batch (or the range a crashed run left pending)."""
    url = ctx.settings.batches_sql_url
    rng = plan_sql_task(ctx.lake, ctx.spec, source, url)
    if rng is None:
        return []
    frame = read_sql_task(source, url, rng, ctx.spec, ctx.settings.split_policy())
    manifest = store_batch_task(ctx.lake, ctx.spec, rng.number, frame)
    commit_sql_task(ctx.lake, ctx.spec, rng)
    return [manifest]


def announce_batches(stored: list[BatchManifest], source: str) -> None:
    """One ``driftgate.batch.ingested`` event per stored batch, labelled with whether another flow ran this
    one (``continuous-training`` trains in the same run: the train-on-arrival automation skips those)."""
    run = FlowRunContext.get()
    subflow = run is not None and run.flow_run is not None and run.flow_run.parent_task_run_id is not None
    for m in stored:
        batch_ingested(m.dataset, m.number, rows=m.rows, content_hash=m.sha256, source=source, subflow=subflow)


@flow(name="ingest-batches")
def ingest_batches(dataset: str | None = None, max_batches: int | None = None) -> list[int]:
    """Ingest the new batches of the dataset's source; returns the batch numbers stored by this run.

    Args:
        dataset: dataset spec name (default: ``DRIFTGATE_DATASET``).
        max_batches: stop after this many new batches (default: all available; a SQL source
            yields at most one batch per run).
    """
    ctx = build_context(get_settings(), dataset)
    source = ctx.spec.batches
    if isinstance(source, LandingBatches):
        stored = ingest_from_landing(ctx, source, max_batches)
    elif isinstance(source, SqlBatches):
        stored = ingest_from_sql(ctx, source)
    else:
        stored = ingest_from_api(ctx, max_batches)
    if stored:
        publish_ingest_table(ctx.spec.name, stored)
        announce_batches(stored, source.kind)
    log.info(
        "ingested %s new batches of %s from %s (cursor now %s)",
        len(stored),
        ctx.spec.name,
        source.kind,
        ctx.lake.cursor(ctx.spec.name),
    )
    return [m.number for m in stored]
