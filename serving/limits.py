"""Bounded work for expensive routes: explanations run on their own threads, a few at a time.

SHAP on 100 records costs far more than a prediction. Explanations get their own executor (so
they never take the default executor's threads, which the alias poller and the request path
use) and a fixed number of slots; a request finding every slot taken is answered 429 at once
instead of queueing without bound. A slot is held until the work itself ends, even when the
client gave up, so disconnecting cannot pile up hidden work.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class BusyError(Exception):
    """Every slot is taken; try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"busy: retry after {retry_after} s")
        self.retry_after = retry_after


class BoundedExecutor:
    """At most ``slots`` calls running or waiting; more raise :class:`BusyError`."""

    def __init__(self, slots: int, name: str, retry_after: int = 1) -> None:
        self.slots = threading.BoundedSemaphore(slots)
        self.retry_after = retry_after
        self._executor = ThreadPoolExecutor(max_workers=slots, thread_name_prefix=name)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the executor's threads.

        Raises:
            BusyError: no free slot.
        """
        if not self.slots.acquire(blocking=False):
            raise BusyError(self.retry_after)
        try:
            future: Future[T] = self._executor.submit(fn, *args)
        except RuntimeError:  # shut down
            self.slots.release()
            raise BusyError(self.retry_after) from None
        future.add_done_callback(lambda _: self.slots.release())
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        """Stop taking work; queued calls are cancelled, running ones finish on their own."""
        self._executor.shutdown(wait=False, cancel_futures=True)
