"""The data API on 127.0.0.1: numbered, idempotent batches in JSON and Parquet; the cursor style."""

from __future__ import annotations

import hashlib
import io

import httpx
import pandas as pd
import pytest

from driftgate.dataset.sources import load_source
from driftgate.dataset.spec import load_spec
from driftgate.local.data_api import Faults, create_data_api
from driftgate.local.servers import ServerThread
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def api() -> ServerThread:
    spec = load_spec("synthetic-classification", ROOT / "datasets")
    with ServerThread(create_data_api(load_source(spec), spec)) as server:
        yield server


def test_batches_describes_the_scenario(api: ServerThread) -> None:
    body = httpx.get(f"{api.url}/batches").json()
    assert body["batches"] == 5
    assert body["batch_size"] == 2000
    assert body["scenario"]["base_batches"] == 2
    assert body["columns"][-1] == "label"


def test_a_batch_is_the_same_rows_every_time_in_json_and_parquet(api: ServerThread) -> None:
    first = httpx.get(f"{api.url}/batches/3")
    again = httpx.get(f"{api.url}/batches/3")
    assert first.status_code == 200
    assert first.content == again.content
    assert first.headers["x-content-sha256"] == hashlib.sha256(first.content).hexdigest()
    body = first.json()
    assert body["batch"] == 3
    assert body["rows"] == 2000
    as_json = pd.DataFrame(body["records"])
    parquet = httpx.get(f"{api.url}/batches/3", headers={"Accept": "application/vnd.apache.parquet"})
    assert parquet.headers["content-type"].startswith("application/vnd.apache.parquet")
    as_parquet = pd.read_parquet(io.BytesIO(parquet.content))
    assert len(as_json) == len(as_parquet) == 2000
    pd.testing.assert_frame_equal(as_json.reset_index(drop=True), as_parquet.reset_index(drop=True), check_dtype=False)
    assert not as_json.equals(pd.DataFrame(httpx.get(f"{api.url}/batches/4").json()["records"]))


@pytest.mark.parametrize("number", [0, 6, 999])
def test_batches_out_of_range_are_404_with_the_range(api: ServerThread, number: int) -> None:
    r = httpx.get(f"{api.url}/batches/{number}")
    assert r.status_code == 404
    assert "numbered 1 to 5" in r.text


def test_cursor_style_serves_each_batch_once_then_says_exhausted_and_restarts(api: ServerThread) -> None:
    seen = []
    for _ in range(5):
        r = httpx.get(f"{api.url}/data", params={"group_number": 7})
        seen.append(r.headers["x-batch-number"])
    assert seen == ["1", "2", "3", "4", "5"]
    done = httpx.get(f"{api.url}/data", params={"group_number": 7})
    assert done.status_code == 200
    assert done.json()["exhausted"] is True
    assert httpx.get(f"{api.url}/data", params={"group_number": 8}).headers["x-batch-number"] == "1"
    assert httpx.get(f"{api.url}/restart_data_generation", params={"group_number": 7}).json()["next_batch"] == 1
    assert httpx.get(f"{api.url}/data", params={"group_number": 7}).headers["x-batch-number"] == "1"


def test_unknown_fault_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault kinds"):
        Faults(rate=0.5, kinds=("5xx", "explode"))
