"""Litestar app serving a dataset in numbered, idempotent batches.

``GET /batches/{n}`` is what driftgate's ingestion uses (by number, so a retry never skips a
batch); ``GET /data`` and ``GET /restart_data_generation`` keep the cursor style of the
original projects. ``Faults`` makes the API misbehave on purpose, for tests and benchmarks.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Annotated, Any

import msgspec
import pandas as pd
from litestar import Litestar, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import PathParameter, QueryParameter

from driftgate.dataset.scenario import make_batch, plan_batches
from driftgate.dataset.spec import DatasetSpec

log = logging.getLogger(__name__)

PARQUET = "application/vnd.apache.parquet"
FAULT_KINDS = ("5xx", "429", "slow", "truncate")


@dataclass
class Faults:
    """Injected misbehaviour of batch answers: a share ``rate`` of them fail in one of ``kinds``."""

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    slow_seconds: float = 3.0
    retry_after: int = 1
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)
    injected: Counter[str] = field(init=False, default_factory=Counter)

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULT_KINDS}")
        self._rng = random.Random(self.seed)

    def draw(self) -> str | None:
        if self.rate <= 0 or self._rng.random() >= self.rate:
            return None
        kind = self._rng.choice(self.kinds)
        self.injected[kind] += 1
        return kind


class BatchSource:
    """The batches of one dataset, computed once and encoded on demand (cached)."""

    def __init__(self, frame: pd.DataFrame, spec: DatasetSpec) -> None:
        self.spec = spec
        self.frame = frame
        self.plan = plan_batches(frame, spec)
        self.encode = lru_cache(maxsize=64)(self._encode)

    @property
    def count(self) -> int:
        return len(self.plan)

    def batch(self, number: int) -> pd.DataFrame:
        if not 1 <= number <= self.count:
            raise NotFoundException(f"no batch {number}: batches are numbered 1 to {self.count}")
        return make_batch(self.frame, self.spec, self.plan, number)

    def _encode(self, number: int, fmt: str) -> bytes:
        frame = self.batch(number)
        if fmt == "parquet":
            buf = io.BytesIO()
            frame.to_parquet(buf, index=False)
            return buf.getvalue()
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        return msgspec.json.encode({"batch": number, "rows": len(frame), "records": records})


def _wants_parquet(request: Request[Any, Any, Any]) -> bool:
    return PARQUET in request.headers.get("accept", "") or request.query_params.get("format") == "parquet"


def create_data_api(frame: pd.DataFrame, spec: DatasetSpec, faults: Faults | None = None) -> Litestar:
    """Build the data API for a dataset.

    Args:
        frame: every row of the source, in the spec's columns.
        spec: the dataset spec; its ``scenario`` says how batches are drawn.
        faults: misbehaviour to inject into batch answers (none by default).
    """
    source = BatchSource(frame, spec)
    fault = faults or Faults()
    cursors: dict[int, int] = {}

    async def answer(number: int, request: Request[Any, Any, Any]) -> Response[bytes]:
        fmt = "parquet" if _wants_parquet(request) else "json"
        body = source.encode(number, fmt)
        headers = {
            "X-Batch-Number": str(number),
            "X-Batch-Rows": str(source.spec.scenario.batch_size),
            "X-Content-SHA256": hashlib.sha256(body).hexdigest(),
        }
        media = PARQUET if fmt == "parquet" else "application/json"
        kind = fault.draw()
        if kind == "5xx":
            return Response(b'{"detail": "injected fault"}', status_code=503, media_type="application/json")
        if kind == "429":
            return Response(
                b'{"detail": "slow down"}',
                status_code=429,
                headers={"Retry-After": str(fault.retry_after)},
                media_type="application/json",
            )
        if kind == "slow":
            await asyncio.sleep(fault.slow_seconds)
        if kind == "truncate":
            body = body[: len(body) // 2]
        return Response(body, media_type=media, headers=headers)

    @get("/batches", sync_to_thread=False)
    def batches() -> dict[str, Any]:
        """How many batches there are, their size, and the drift scenario."""
        return {
            "dataset": spec.name,
            "batches": source.count,
            "batch_size": spec.scenario.batch_size,
            "scenario": spec.scenario.model_dump(),
            "columns": spec.columns,
        }

    @get("/batches/{number:int}")
    async def batch(number: Annotated[int, PathParameter()], request: Request[Any, Any, Any]) -> Response[bytes]:
        """Batch ``number``: the same rows every time. JSON, or Parquet when asked."""
        if not 1 <= number <= source.count:
            raise NotFoundException(f"no batch {number}: batches are numbered 1 to {source.count}")
        return await answer(number, request)

    @get("/data")
    async def next_batch(
        group_number: Annotated[int, QueryParameter()], request: Request[Any, Any, Any]
    ) -> Response[bytes]:
        """The next batch for a consumer group (cursor style); a clear answer when all are collected."""
        number = cursors.get(group_number, 0) + 1
        if number > source.count:
            body = msgspec.json.encode(
                {
                    "exhausted": True,
                    "detail": f"all {source.count} batches collected for group {group_number}; "
                    f"GET /restart_data_generation?group_number={group_number} starts over",
                }
            )
            return Response(body, media_type="application/json")
        response = await answer(number, request)
        if (response.status_code or 200) < 400:  # a refused answer does not move the cursor
            cursors[group_number] = number
        return response

    @get("/restart_data_generation", sync_to_thread=False)
    def restart(group_number: Annotated[int, QueryParameter()]) -> dict[str, Any]:
        """Start a consumer group over at batch 1."""
        cursors.pop(group_number, None)
        return {"group_number": group_number, "next_batch": 1}

    @get("/health", sync_to_thread=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return Litestar([batches, batch, next_batch, restart, health])
