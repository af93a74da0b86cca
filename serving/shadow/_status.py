"""What the shadow process tells the service: six fields of shared memory, written by the child only."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from multiprocessing.context import BaseContext

TEXT_BYTES = 200  # bytes of a shared version or error string


@dataclass
class ShadowStatus:
    """The shadow process's state in shared memory (raw: one writer, the child; the service only reads).

    A read racing a write may see a torn string or a stale count, never an exception: the service
    reads these on every poll, and the next poll reads them whole.
    """

    version: ctypes.Array[ctypes.c_char]  # the challenger version being scored, "" when none
    error: ctypes.Array[ctypes.c_char]  # the last load error, "" when none
    scored: ctypes.c_longlong  # rows scored and logged, ever
    dropped: ctypes.c_longlong  # rows skipped (too far behind, or the challenger failed on them)
    compared: ctypes.c_longlong  # scored rows whose answer could be compared with the champion's, ever
    disagreed: ctypes.c_longlong  # of those, rows where the two disagreed (serving/shadow/_agreement.py)

    @classmethod
    def create(cls, ctx: BaseContext) -> ShadowStatus:
        """Fresh shared memory from ``ctx`` (the context that starts the process)."""
        return cls(
            version=ctx.RawArray(ctypes.c_char, TEXT_BYTES),
            error=ctx.RawArray(ctypes.c_char, TEXT_BYTES),
            scored=ctx.RawValue(ctypes.c_longlong, 0),
            dropped=ctx.RawValue(ctypes.c_longlong, 0),
            compared=ctx.RawValue(ctypes.c_longlong, 0),
            disagreed=ctx.RawValue(ctypes.c_longlong, 0),
        )

    def set_version(self, version: str) -> None:
        _write(self.version, version)

    def set_error(self, error: str) -> None:
        _write(self.error, error)

    def read_version(self) -> str:
        return _read(self.version)

    def read_error(self) -> str:
        return _read(self.error)

    def counts(self) -> tuple[int, int]:
        """Rows scored and rows dropped, ever."""
        return int(self.scored.value), int(self.dropped.value)

    def agreement(self) -> tuple[int, int]:
        """Rows compared with the champion's answers and rows that disagreed, ever."""
        return int(self.compared.value), int(self.disagreed.value)


def _write(array: ctypes.Array[ctypes.c_char], text: str) -> None:
    cut = text.encode("utf-8", "replace")[: TEXT_BYTES - 1].decode("utf-8", "ignore")  # on a character boundary
    array.value = cut.encode("utf-8")


def _read(array: ctypes.Array[ctypes.c_char]) -> str:
    return bytes(array.value).decode("utf-8", "replace")  # a read racing a write: never an exception
