"""Fault: the prediction database (PostgreSQL) restarts under a bounded load of one-record requests.

A throwaway PostgreSQL cluster (``pg_ctl``, as ``tests/integration/test_postgres.py`` starts one)
holds the prediction log of a real service on 127.0.0.1. Two clients send single-record
``/predict`` requests; after the first answers the server is stopped with ``-m immediate`` (no
clean shutdown), kept down for a second, and started again, while the clients go on. The choice is
buffer-and-retry: every request is answered with a prediction (the log is written off the request
path), the rows the database did not take wait in the writer and are written once it answers, and
a retry of a commit whose answer was lost is a no-op (a logged ``(id, role)`` is skipped). Every
answered id is then in the table exactly once. See docs/reliability.md.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from driftgate.local.servers import ServerThread
from driftgate.serving.app import create_app
from driftgate.stores.predictions_db import predictions_table
from tests.postgres import Postgres, throwaway_postgres
from tests.service.conftest import Registry, record
from tests.service.test_service import served_version, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres]  # a PostgreSQL cluster, restarted under traffic

REQUESTS = 600  # per client


@pytest.fixture
def postgres() -> Iterator[Postgres]:
    with throwaway_postgres() as pg:
        yield pg


def test_a_prediction_database_restart_under_load_answers_every_request_and_logs_each_prediction_once(
    champion_v1: Registry, postgres: Postgres
) -> None:
    settings = champion_v1.settings.model_copy(update={"predictions_db_url": postgres.url})
    answers: list[tuple[int, list[str]]] = []
    restarted: list[float] = []

    def client() -> None:
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            for i in range(REQUESTS):
                r = c.post("/predict", json={"records": [record(num_0=(i % 50) / 10)]})
                answers.append((r.status_code, r.json().get("ids", []) if r.status_code == 200 else []))

    with ServerThread(create_app(settings)) as srv:
        assert wait_for(lambda: served_version(srv.url) == "1", timeout=60)
        clients = [threading.Thread(target=client) for _ in range(2)]
        for c in clients:
            c.start()
        assert wait_for(lambda: len(answers) >= 100, timeout=120)
        down_from = len(answers)
        postgres.stop()  # no clean shutdown: connections cut, whatever was in flight unanswered
        time.sleep(1.0)
        postgres.start()
        restarted.append(len(answers) - down_from)
        for c in clients:
            c.join()
    # the service stopped (its log flushed) before this line
    statuses = Counter(s for s, _ in answers)
    assert statuses == {200: 2 * REQUESTS}, statuses  # buffer-and-retry: every request answered with a prediction
    sent = [pid for _, ids in answers for pid in ids]
    assert len(sent) == len(set(sent)) == 2 * REQUESTS
    engine = sa.create_engine(postgres.url)
    with engine.connect() as conn:
        logged = Counter(
            pid for (pid,) in conn.execute(sa.select(predictions_table.c.prediction_id)) if pid is not None
        )
    engine.dispose()
    missing = set(sent) - set(logged)
    duplicated = {pid: n for pid, n in logged.items() if n > 1}
    assert not missing, f"{len(missing)} answered predictions never logged"
    assert not duplicated, duplicated
    print(
        f"\n{2 * REQUESTS} one-record requests, all answered 200; PostgreSQL stopped (immediate) and restarted "
        f"after {down_from} answers ({restarted[0]} answered while it was down or starting); "
        f"{len(logged)} predictions logged, 0 lost, 0 duplicated"
    )
