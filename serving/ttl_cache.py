"""A small thread-safe cache whose entries expire ``ttl`` seconds after they were loaded.

The console's readers (lake reports, registry versions) share it: pages answer from memory while
the lake and the registry are read at most once per ``ttl`` per key.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class TtlCache:
    """``get(key, load)``: the value loaded less than ``ttl`` seconds ago, else ``load()``'s (stored)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, load: Callable[[], T]) -> T:
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]  # type: ignore[no-any-return]
        value = load()  # outside the lock: a slow load holds up no other key
        with self._lock:
            self._entries[key] = (now, value)
        return value
