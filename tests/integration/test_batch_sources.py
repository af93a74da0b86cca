"""Batches from a landing folder (local and S3 on moto) and from a SQL table (SQLite): exactly once."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from driftgate.context import build_context
from driftgate.dataset.frames import content_hash, normalize
from driftgate.dataset.sources import read_table
from driftgate.dataset.spec import load_spec
from driftgate.dataset.synthetic import make_frame
from driftgate.settings import get_settings
from driftgate.tasks.ingest import prepare_batch, source_columns
from tests.conftest import ROOT

DATASET = "synthetic-classification"


def use_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batches: dict[str, Any]) -> None:
    """The synthetic spec with a ``batches:`` section, in a datasets folder of its own."""
    raw = yaml.safe_load((ROOT / "datasets" / f"{DATASET}.yaml").read_text())
    raw["batches"] = batches
    datasets = tmp_path / "datasets"
    datasets.mkdir(exist_ok=True)
    (datasets / f"{DATASET}.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("DRIFTGATE_DATASETS_DIR", str(datasets))
    monkeypatch.setenv("DRIFTGATE_DATASET", DATASET)
    get_settings.cache_clear()


class Landing:
    """A landing prefix to drop files into: a local folder or an S3 prefix on moto."""

    def __init__(self, kind: str, tmp_path: Path, endpoint: str | None) -> None:
        self.kind, self.tmp, self.clock = kind, tmp_path / "outbox", 1_700_000_000
        self.tmp.mkdir()
        if kind == "s3":
            import boto3

            self.bucket = f"landing-{abs(hash(str(tmp_path))) % 10**8}"
            self.s3 = boto3.client(
                "s3", endpoint_url=endpoint, aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1"
            )
            self.s3.create_bucket(Bucket=self.bucket)
            self.url = f"s3://{self.bucket}/incoming"
        else:
            self.folder = tmp_path / "incoming"
            self.folder.mkdir()
            self.url = str(self.folder)

    def drop(self, name: str, frame: pd.DataFrame) -> Path:
        """Write ``frame`` as ``name`` (CSV or Parquet) and land it; returns the local copy."""
        local = self.tmp / name
        frame.to_parquet(local, index=False) if name.endswith(".parquet") else frame.to_csv(local, index=False)
        self.upload(name, local)
        return local

    def upload(self, name: str, local: Path) -> None:
        self.clock += 10  # local arrival order: mtimes ten seconds apart
        if self.kind == "s3":
            time.sleep(1.0)  # S3's LastModified has whole seconds: uploads in distinct seconds keep their order
            self.s3.put_object(Bucket=self.bucket, Key=f"incoming/{name}", Body=local.read_bytes())
        else:
            dest = self.folder / name
            dest.write_bytes(local.read_bytes())
            os.utime(dest, (self.clock, self.clock))


@pytest.fixture(params=["file", "s3"])
def landing(
    request: pytest.FixtureRequest, driftgate_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Landing:
    endpoint = None
    if request.param == "s3":
        endpoint = request.getfixturevalue("s3_server")
        monkeypatch.setenv("DRIFTGATE_S3_ENDPOINT_URL", endpoint)
        monkeypatch.setenv("DRIFTGATE_S3_KEY", "k")
        monkeypatch.setenv("DRIFTGATE_S3_SECRET", "s")
    land = Landing(str(request.param), tmp_path, endpoint)
    use_batches(tmp_path, monkeypatch, {"kind": "landing", "path": land.url})
    return land


def rows(seed: int, n: int = 200) -> pd.DataFrame:
    spec = load_spec(DATASET, ROOT / "datasets")
    return normalize(make_frame("classification", n, seed=seed)[spec.columns], spec)


def expected_hash(local: Path, number: int) -> str:
    """What batch ``number`` must hash to if it holds exactly the rows of file ``local``."""
    spec = load_spec(DATASET, ROOT / "datasets")
    return content_hash(
        prepare_batch(source_columns(read_table(local, spec=spec), spec), spec, number, get_settings().seed)
    )


def stored_hashes() -> dict[int, str]:
    ctx = build_context(get_settings())
    return {n: ctx.lake.manifest(DATASET, n).sha256 for n in ctx.lake.stored_numbers(DATASET)}  # type: ignore[union-attr]


def test_new_files_become_batches_in_arrival_order_and_a_reupload_is_not_a_new_batch(
    prefect_harness: None, landing: Landing
) -> None:
    from driftgate.flows.ingest import ingest_batches

    # arrival order, not name order: "b" lands before "a"
    first, second = landing.drop("b-first.csv", rows(1)), landing.drop("a-second.parquet", rows(2))
    assert ingest_batches() == [1, 2]
    assert stored_hashes() == {1: expected_hash(first, 1), 2: expected_hash(second, 2)}
    landing.upload("b-first-again.csv", first)  # the same bytes under another name ...
    landing.upload("b-first.csv", first)  # ... and under the same name, newer
    third = landing.drop("c-third.csv", rows(3))
    assert ingest_batches() == [3]
    assert stored_hashes() == {1: expected_hash(first, 1), 2: expected_hash(second, 2), 3: expected_hash(third, 3)}
    assert ingest_batches() == []  # a rerun finds nothing new
    assert build_context(get_settings()).lake.cursor(DATASET) == 3


def test_a_run_killed_between_storing_and_recording_a_file_resumes_without_loss_or_duplicates(
    prefect_harness: None, landing: Landing, monkeypatch: pytest.MonkeyPatch
) -> None:
    import driftgate.flows.ingest as ingest_flow

    files = [landing.drop(f"part-{i}.csv", rows(10 + i)) for i in range(4)]
    real = ingest_flow.mark_landed_task

    class KilledError(Exception):
        pass

    def killed_at_2(lake, spec, item):  # type: ignore[no-untyped-def]
        if item.number == 2:  # the one injected fault: the process dies after batch 2 is stored
            raise KilledError("killed after storing batch 2, before recording it")
        return real(lake, spec, item)

    monkeypatch.setattr(ingest_flow, "mark_landed_task", killed_at_2)
    with pytest.raises(KilledError):
        ingest_flow.ingest_batches()
    assert sorted(stored_hashes()) == [1, 2]
    monkeypatch.setattr(ingest_flow, "mark_landed_task", real)
    assert ingest_flow.ingest_batches() == [2, 3, 4]  # 2 again: found stored with the same content
    assert stored_hashes() == {n: expected_hash(f, n) for n, f in enumerate(files, start=1)}
    assert ingest_flow.ingest_batches() == []


def test_landed_batches_are_validated_by_the_suite(prefect_harness: None, landing: Landing) -> None:
    from driftgate.flows.ingest import ingest_batches
    from driftgate.tasks.validate import validate_batch_task

    broken = rows(5)
    broken.loc[3, "num_0"] = 1e6  # far outside the suite's range
    landing.drop("good.csv", rows(4))
    landing.drop("broken.csv", broken)
    assert ingest_batches() == [1, 2]
    ctx = build_context(get_settings())
    assert [validate_batch_task(ctx.lake, ctx.spec, n, ctx.suite_file).success for n in (1, 2)] == [True, False]
    assert ctx.lake.accepted_numbers(DATASET) == [1]
    assert ctx.lake.is_quarantined(DATASET, 2)


# --- SQL --------------------------------------------------------------------------------


@pytest.fixture
def orders(driftgate_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[pd.DataFrame], None]:
    """A SQLite table ``orders`` with an increasing ``id``; returns a function that appends rows."""
    db = tmp_path / "shop.db"
    use_batches(tmp_path, monkeypatch, {"kind": "sql", "url": f"sqlite:///{db}", "table": "orders", "watermark": "id"})
    state = {"next": 1}

    def append(frame: pd.DataFrame) -> None:
        out = frame.assign(id=range(state["next"], state["next"] + len(frame)))
        state["next"] += len(frame)
        with sqlite3.connect(db) as conn:
            out.to_sql("orders", conn, if_exists="append", index=False)

    return append


def test_sql_rows_past_the_watermark_are_one_batch_and_a_rerun_takes_nothing(
    prefect_harness: None, orders: Callable[[pd.DataFrame], None]
) -> None:
    from driftgate.flows.ingest import ingest_batches

    orders(rows(1, 150))
    assert ingest_batches() == [1]
    assert ingest_batches() == []
    orders(rows(2, 80))
    orders(rows(3, 20))
    assert ingest_batches() == [2]
    ctx = build_context(get_settings())
    assert [ctx.lake.manifest(DATASET, n).rows for n in (1, 2)] == [150, 100]  # type: ignore[union-attr]
    spec = ctx.spec
    expected = prepare_batch(source_columns(pd.concat([rows(2, 80), rows(3, 20)]), spec), spec, 2, get_settings().seed)
    assert content_hash(ctx.lake.read_batch(DATASET, 2)) == content_hash(expected)
    assert ctx.lake.read_state(DATASET, "sql")["watermark"] == {"type": "int", "value": 250}
    assert ingest_batches() == []


def test_a_sql_run_killed_before_the_watermark_moves_resumes_the_same_rows(
    prefect_harness: None, orders: Callable[[pd.DataFrame], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    import driftgate.flows.ingest as ingest_flow

    orders(rows(1, 120))

    class KilledError(Exception):
        pass

    def killed(lake, spec, rng):  # type: ignore[no-untyped-def]
        raise KilledError("killed after storing the batch, before moving the watermark")  # the one injected fault

    real = ingest_flow.commit_sql_task
    monkeypatch.setattr(ingest_flow, "commit_sql_task", killed)
    with pytest.raises(KilledError):
        ingest_flow.ingest_batches()
    first = stored_hashes()
    orders(rows(2, 30))  # rows that arrive meanwhile belong to the next batch, not to the resumed one
    monkeypatch.setattr(ingest_flow, "commit_sql_task", real)
    assert ingest_flow.ingest_batches() == [1]
    assert stored_hashes() == first
    assert ingest_flow.ingest_batches() == [2]
    ctx = build_context(get_settings())
    assert [ctx.lake.manifest(DATASET, n).rows for n in (1, 2)] == [120, 30]  # type: ignore[union-attr]
    assert ingest_flow.ingest_batches() == []
