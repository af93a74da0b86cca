"""Flow ``ingest-batches``: fetch every new batch by number and store it exactly once."""

from __future__ import annotations

import logging

import httpx
from prefect import flow

from driftgate.context import build_context
from driftgate.lake import BatchManifest
from driftgate.settings import get_settings
from driftgate.tasks.ingest import RetryPolicy, batch_count, fetch_batch_task, publish_ingest_table, store_batch_task

log = logging.getLogger(__name__)


@flow(name="ingest-batches")
def ingest_batches(dataset: str | None = None, max_batches: int | None = None) -> list[int]:
    """Ingest the batches after the lake's cursor; returns the batch numbers now stored.

    Args:
        dataset: dataset spec name (default: ``DRIFTGATE_DATASET``).
        max_batches: stop after this many new batches (default: all available).
    """
    ctx = build_context(get_settings(), dataset)
    s = ctx.settings
    policy = RetryPolicy(retries=s.fetch_retries, backoff_s=s.fetch_backoff_s, timeout_s=s.fetch_timeout_s)
    with httpx.Client(base_url=s.data_api_url) as client:
        available = batch_count(client, policy)
    start = ctx.lake.cursor(ctx.spec.name) + 1
    stop = available if max_batches is None else min(available, start + max_batches - 1)
    stored: list[BatchManifest] = []
    for number in range(start, stop + 1):
        frame = fetch_batch_task(s.data_api_url, number, policy, s.fetch_format, ctx.spec, s.seed)
        stored.append(store_batch_task(ctx.lake, ctx.spec, number, frame))
    if stored:
        publish_ingest_table(ctx.spec.name, stored)
    log.info(
        "ingested %s new batches of %s (cursor now %s)", len(stored), ctx.spec.name, ctx.lake.cursor(ctx.spec.name)
    )
    return [m.number for m in stored]
