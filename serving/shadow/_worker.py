"""The shadow process's side: follow the ``challenger`` alias, score new champion rows, write shadow rows.

Everything here runs in the child process (spawned by :mod:`._supervisor`); it talks to the
service only through the prediction database and :class:`~._status.ShadowStatus`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import time
from datetime import UTC, datetime

import msgspec
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from driftgate.registry.client import challenger_version
from driftgate.serving.model_store import RETRY_FAILED_LOAD_S, ServedModel, load_served
from driftgate.serving.shadow._agreement import disagrees
from driftgate.serving.shadow._status import ShadowStatus
from driftgate.settings import Settings
from driftgate.stores.predictions_db import (
    SHADOW_ROLE,
    ChampionRow,
    PredictionRow,
    champion_ids_after,
    champion_rows_with_ids,
    connect,
    count_champion_rows,
    insert_prediction_rows,
    newest_prediction_id,
)

log = logging.getLogger(__name__)


class ShadowWorker:
    """The child's work: follow the alias, score new champion rows of the log, write shadow rows."""

    def __init__(
        self,
        settings: Settings,
        status: ShadowStatus,
        *,
        batch_rows: int = 2048,  # one model call per batch: the per-call overhead (~4 ms) is paid rarely
        interval_s: float = 0.5,  # the log itself is written every 0.5 s
        capacity_rows: int = 50_000,
        commit_lag_s: float = 5.0,  # the log's transactions last milliseconds; a longer one is taken as lost
    ) -> None:
        from driftgate.dataset.spec import load_spec
        from driftgate.registry.tracking import configure_mlflow

        self.settings, self.status = settings, status
        self.batch_rows, self.interval_s, self.capacity_rows = batch_rows, interval_s, capacity_rows
        self.spec = load_spec(settings.dataset, settings.datasets_dir)
        self.name = settings.model_name or self.spec.model_name
        self.client: MlflowClient = configure_mlflow(settings)
        self.engine = connect(settings.resolved_predictions_db_url())
        self.current: ServedModel | None = None
        self.after_id = newest_prediction_id(self.engine)  # rows logged from now on (and during the load)
        # Row ids come from a sequence and can commit out of order (Postgres): a row may appear below
        # one already read. So the watermark trails by commit_lag_s; rows above it already handled
        # are remembered (row id -> when first seen) and passed over when read again.
        self.commit_lag_s = commit_lag_s
        self._seen: dict[int, float] = {}
        self._failed: str | None = None  # a version that failed to load, and when
        self._failed_at = 0.0
        self._insert_failures = 0

    def refresh(self) -> bool:
        """Load the version ``challenger`` points to if it moved; False only when the alias is gone.

        A registry that fails to answer keeps the current challenger (and the process) as they are.
        """
        try:
            version = challenger_version(self.client, self.name)
        except MlflowException as exc:
            log.warning(
                "shadow: the registry did not answer (%s); keeping version %s",
                exc,
                self.current.version if self.current else None,
            )
            return True
        if version is None:
            return False
        if self.current is not None and self.current.version == version:
            return True
        if self._failed == version and time.monotonic() - self._failed_at < RETRY_FAILED_LOAD_S:
            return True
        try:
            self.current = load_served(
                self.client, self.spec, name=self.name, version=version, max_records=self.settings.max_records
            )
        except Exception as exc:  # a broken challenger never touches the champion's answers
            self.current, self._failed, self._failed_at = None, version, time.monotonic()
            self.status.set_error(f"challenger version {version} failed to load: {exc}")
            self.status.set_version("")
            log.warning("shadow: challenger version %s failed to load: %s", version, exc)
            return True
        self._failed = None
        self.status.set_error("")
        self.status.set_version(self.current.version)
        log.info("shadow scoring with %s version %s", self.name, self.current.version)
        return True

    def skip_if_behind(self) -> None:
        """More than ``capacity_rows`` behind the log: jump ahead, counting the rows skipped as dropped."""
        newest = newest_prediction_id(self.engine)
        if newest - self.after_id <= self.capacity_rows:
            return
        to = newest - self.capacity_rows // 2
        handled = sum(1 for i in self._seen if i <= to)
        skipped = count_champion_rows(self.engine, self.after_id, to) - handled
        log.warning("shadow: %d rows behind the log; skipping %d champion rows", newest - self.after_id, skipped)
        self.status.dropped.value += skipped
        self.after_id = to
        self._seen = {i: t for i, t in self._seen.items() if i > to}

    def _advance(self) -> None:
        """Move the watermark past the rows first seen more than ``commit_lag_s`` ago.

        A row below one of them that is still not visible belongs to a transaction that took longer
        than the lag; it is taken as lost (the log writes its rows in transactions of milliseconds).
        """
        cutoff = time.monotonic() - self.commit_lag_s
        old = [i for i, seen in self._seen.items() if seen <= cutoff]
        if old:
            top = max(old)
            self.after_id = max(self.after_id, top)
            self._seen = {i: t for i, t in self._seen.items() if i > top}

    def _handled(self, ids: list[int]) -> None:
        now = time.monotonic()
        for i in ids:
            self._seen.setdefault(i, now)

    def step(self) -> int:
        """Score the next batch of new champion rows; the rows read (0: caught up).

        Rows the challenger's own version answered (it may also be the champion) are passed over.
        A batch counts as handled only once it is written; a batch that fails to be written three
        times running is counted as dropped and passed over. Rows that commit out of order (a
        lower id visible after a higher one) are still read, within ``commit_lag_s``.
        """
        model = self.current
        if model is None:
            return 0
        self._advance()
        ids = champion_ids_after(self.engine, self.after_id, self.batch_rows + len(self._seen))
        new = [i for i in ids if i not in self._seen][: self.batch_rows]
        if not new:
            return 0
        rows = champion_rows_with_ids(self.engine, new)
        to_score = [r for r in rows if r.model_version != model.version]
        if to_score:
            self._score(model, to_score)
        self._handled(new)
        return len(rows)

    def _score(self, model: ServedModel, rows: list[ChampionRow]) -> None:
        """Score ``rows`` with the challenger and write its answers (raises when the write fails, up to twice)."""
        records = msgspec.json.decode(b"[" + ",".join(r.inputs for r in rows).encode() + b"]")
        # as the champion's contract decoded them: a null (or absent) value is a missing one
        columns = {c: [math.nan if (v := rec.get(c)) is None else v for rec in records] for c in model.contract.names}
        started = time.perf_counter()
        try:  # the champion's contract already checked these rows; the challenger's may differ
            preds, probs = model.predict(model.contract.frame(columns))
        except Exception as exc:  # count and go on: the next rows may be fine
            log.warning("shadow scoring with version %s failed for %d rows: %s", model.version, len(rows), exc)
            self.status.dropped.value += len(rows)
            return
        latency_ms = (time.perf_counter() - started) * 1000
        outputs = probs if probs is not None else preds
        ts = datetime.now(UTC).isoformat()
        encode = msgspec.json.encode
        shadow_rows = [
            PredictionRow(
                ts=ts,
                model_name=model.name,
                model_version=model.version,
                latency_ms=latency_ms,
                inputs="{}",  # the inputs are the champion row's of the same id: not stored twice
                output=encode(out).decode(),
                prediction_id=row.prediction_id,
                role=SHADOW_ROLE,
            )
            for row, out in zip(rows, outputs, strict=True)
        ]
        try:
            insert_prediction_rows(self.engine, shadow_rows)
        except Exception:
            self._insert_failures += 1
            if self._insert_failures < 3:
                raise  # the same rows again on the next round
            log.exception("shadow: %d rows could not be written three times running; counted dropped", len(rows))
            self.status.dropped.value += len(rows)
        else:
            self.status.scored.value += len(rows)
            self._compare(rows, shadow_rows)
        self._insert_failures = 0

    def _compare(self, rows: list[ChampionRow], shadow_rows: list[PredictionRow]) -> None:
        """Count the rows whose answers could be compared with the champion's, and those that disagreed."""
        compared = disagreed = 0
        for row, mine in zip(rows, shadow_rows, strict=True):
            try:
                verdict = disagrees(msgspec.json.decode(row.output), msgspec.json.decode(mine.output))
            except msgspec.DecodeError:
                continue
            if verdict is not None:
                compared += 1
                disagreed += verdict
        self.status.compared.value += compared
        self.status.disagreed.value += disagreed

    def run(self, poll_seconds: float) -> None:
        """Until the service or the alias is gone: poll the alias, score what the log gained."""
        parent = multiprocessing.parent_process()
        next_poll = 0.0
        while parent is None or parent.is_alive():
            if time.monotonic() >= next_poll:
                if not self.refresh():
                    log.info("shadow: no challenger alias any more; the shadow process ends")
                    return
                next_poll = time.monotonic() + poll_seconds
            try:
                self.skip_if_behind()
                if self.step() < self.batch_rows:  # caught up: wait for the log to grow
                    time.sleep(self.interval_s)
            except Exception:  # a database hiccup: try again on the next round
                log.exception("shadow scoring failed")
                time.sleep(self.interval_s)


def shadow_main(settings: Settings, status: ShadowStatus, poll_seconds: float) -> None:
    """The shadow process's entry point (spawned by the service)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)  # numpy is already loaded (unpickling the settings): limit its pools now
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s[shadow]: %(message)s")
    for noisy in ("mlflow", "urllib3", "alembic", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C in the service's terminal reaches its group
        ShadowWorker(settings, status).run(poll_seconds)
