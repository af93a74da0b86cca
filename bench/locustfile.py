"""Load test of the model service: /predict with real records of the served model, /explain at 1/10 the rate.

The records are the served model's input example, read from GET /model, so the file works against
any dataset driftgate serves. A 429 with Retry-After from /explain is the service shedding load as
designed (DRIFTGATE_EXPLAIN_CONCURRENCY), not a failure.

    uv run locust -f bench/locustfile.py --headless -u 32 -r 32 -t 20s --host http://127.0.0.1:8000
"""

from __future__ import annotations

import random
from typing import Any

from locust import FastHttpUser, between, events, task

RECORDS: list[dict[str, Any]] = []


@events.test_start.add_listener
def load_records(environment: Any, **_: Any) -> None:
    import httpx

    model = httpx.get(f"{environment.host}/model", timeout=30).json()
    RECORDS[:] = model["input_example"]
    if not RECORDS:
        raise RuntimeError(f"{environment.host}/model has no input example")


class ServiceUser(FastHttpUser):
    wait_time = between(0.0, 0.01)

    @task(10)
    def predict(self) -> None:
        with self.client.post("/predict", json={"records": [random.choice(RECORDS)]}, catch_response=True) as r:
            if r.status_code != 200 or "predictions" not in r.json():
                r.failure(f"{r.status_code}: {r.text[:200]}")

    @task(1)
    def explain(self) -> None:
        with self.client.post("/explain", json={"records": [random.choice(RECORDS)]}, catch_response=True) as r:
            if r.status_code == 429 and "retry-after" in r.headers:
                r.success()  # back-pressure: the explain slots are busy
            elif r.status_code != 200 or not r.json()["explanations"][0]["top"]:
                r.failure(f"{r.status_code}: {r.text[:200]}")
