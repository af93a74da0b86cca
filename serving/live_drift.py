"""``driftgate_live_drift_share``: the newest live-input drift ``monitor-predictions`` measured, as a gauge.

The monitor flow writes a summary of each run under the lake's ``reports/monitor/<dataset>/``; the
service reads the newest one (through the console's :class:`LakeReader`, off the event loop) every
:data:`EVERY_S` seconds, so Prometheus can alert on live drift without asking the flow. A run that did
not check drift (too few new predictions) leaves the gauge at its last value.
"""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import Gauge

from driftgate.serving.console import monitor
from driftgate.serving.lake_reader import LakeReader

log = logging.getLogger(__name__)
EVERY_S = 30.0


def newest_drift_share(reader: LakeReader) -> float | None:
    """The drift share of the monitor's newest summary (None: no summary, or it did not check drift)."""
    last = monitor(reader)["last"]
    share = last.get("drift_share") if last else None
    return float(share) if isinstance(share, int | float) and not isinstance(share, bool) else None


async def publish_live_drift(reader: LakeReader, gauge: Gauge, model: str, every: float = EVERY_S) -> None:
    """Set ``gauge{model}`` from the newest summary, every ``every`` seconds, until cancelled."""
    while True:
        try:
            share = await asyncio.to_thread(newest_drift_share, reader)
        except OSError as exc:  # the lake is unreachable for now: the gauge keeps its value
            log.warning("live drift share not read from the lake: %s", exc)
            share = None
        if share is not None:
            gauge.labels(model).set(share)
        await asyncio.sleep(every)
