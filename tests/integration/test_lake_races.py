"""Two real processes storing the same batch at once, on a file lake and on S3 (moto's server).

Whatever the interleaving, a batch ends with one manifest naming the data file of the writer
that created it, the rows hash to that manifest, and the loser's file is gone.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from driftgate.dataset.frames import content_hash
from driftgate.errors import BatchConflictError, BatchIntegrityError, SpecError
from driftgate.stores.lake import TEMP_MARK, Lake

DATASET = "race"
ROUNDS = 8


def frame_of(seed: int, rows: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(size=rows), "c": rng.choice(["a", "b", "c"], size=rows)})


def store_rounds(url: str, options: dict[str, Any], seed: int, barrier: Any, out: Any) -> None:
    """One racer: for each round wait for the other, then store that round's batch (its own rows)."""
    lake = Lake(url, options)
    for number in range(1, ROUNDS + 1):
        # even rounds: both racers hold the same rows (a retry racing itself); odd: different rows
        frame = frame_of(number if number % 2 == 0 else 1000 * seed + number)
        barrier.wait(timeout=120)
        try:
            _, created = lake.write_batch_once(DATASET, number, frame)
            out.put((seed, number, "created" if created else "same", content_hash(frame)))
        except BatchConflictError:
            out.put((seed, number, "conflict", content_hash(frame)))


def test_two_processes_storing_one_batch_leave_one_manifest_with_its_own_rows(
    lake_target: tuple[str, dict[str, Any]],
) -> None:
    url, options = lake_target
    ctx = mp.get_context("spawn")  # no fork of a process that runs moto's server thread
    barrier, out = ctx.Barrier(2), ctx.Queue()
    racers = [ctx.Process(target=store_rounds, args=(url, options, seed, barrier, out)) for seed in (1, 2)]
    for p in racers:
        p.start()
    results = [out.get(timeout=300) for _ in range(2 * ROUNDS)]
    for p in racers:
        p.join(timeout=60)
        assert p.exitcode == 0
    lake = Lake(url, options)
    assert lake.stored_numbers(DATASET) == list(range(1, ROUNDS + 1))
    for number in range(1, ROUNDS + 1):
        outcomes = sorted(r[2] for r in results if r[1] == number)
        winner_hash = next(r[3] for r in results if r[1] == number and r[2] == "created")
        assert outcomes == (["created", "same"] if number % 2 == 0 else ["conflict", "created"]), number
        manifest = lake.manifest(DATASET, number)
        assert manifest is not None
        assert manifest.sha256 == winner_hash
        assert content_hash(lake.read_batch(DATASET, number)) == winner_hash  # verified on read, too
        names = {e.rstrip("/").rsplit("/", 1)[-1] for e in lake.fs.ls(lake.batch_dir(DATASET, number))}
        assert names == {"_manifest.json", manifest.file}, names  # the loser's data file is gone


def test_read_batch_refuses_rows_that_do_not_match_the_manifest(tmp_path: Path) -> None:
    lake = Lake((tmp_path / "lake").as_uri())
    lake.write_batch_once(DATASET, 1, frame_of(1))
    # tampering: the stored file swapped for other rows behind the manifest's back
    buf = frame_of(2).to_parquet(index=False)
    lake.write_bytes(lake.data_path(DATASET, 1), buf)
    with pytest.raises(BatchIntegrityError, match="manifest says"):
        lake.read_batch(DATASET, 1)


def test_a_lake_written_before_named_data_files_still_reads(tmp_path: Path) -> None:
    lake = Lake((tmp_path / "lake").as_uri())
    frame = frame_of(3)
    folder = lake.batch_dir(DATASET, 1)
    lake.write_bytes(f"{folder}/part.parquet", frame.to_parquet(index=False))
    old = {
        "dataset": DATASET,
        "number": 1,
        "rows": len(frame),
        "sha256": content_hash(frame),
        "schema": {},
        "splits": {},
        "stored_at": "2026-01-01T00:00:00+00:00",
    }
    lake.write_bytes(f"{folder}/_manifest.json", json.dumps(old).encode())
    pd.testing.assert_frame_equal(lake.read_batch(DATASET, 1), frame)
    assert lake.write_batch_once(DATASET, 1, frame)[1] is False


def test_leftovers_of_a_writer_that_died_are_removed_on_the_next_store(tmp_path: Path) -> None:
    lake = Lake((tmp_path / "lake").as_uri())
    folder = Path(lake.batch_dir(DATASET, 1))
    folder.mkdir(parents=True)
    (folder / "part-deadbeef.parquet").write_bytes(b"half a batch")  # died before its manifest
    old_temp = folder / f"_manifest.json{TEMP_MARK}0123"
    old_temp.write_bytes(b"{")
    two_hours_ago = time.time() - 7200
    os.utime(old_temp, (two_hours_ago, two_hours_ago))
    fresh_temp = folder / f"part-x.parquet{TEMP_MARK}4567"  # a live writer's: left alone
    fresh_temp.write_bytes(b"")
    manifest, created = lake.write_batch_once(DATASET, 1, frame_of(4))
    assert created
    assert sorted(p.name for p in folder.iterdir()) == sorted(["_manifest.json", manifest.file, fresh_temp.name])


def test_a_failed_local_write_leaves_no_temp_file(tmp_path: Path) -> None:
    lake = Lake((tmp_path / "lake").as_uri())
    target = tmp_path / "lake" / "state" / DATASET / "cursor.json"
    target.mkdir(parents=True)  # a folder where the file should go: the rename must fail
    with pytest.raises(IsADirectoryError):
        lake.write_bytes(str(target), b"{}")
    assert [p.name for p in target.parent.iterdir()] == ["cursor.json"]


@pytest.mark.parametrize("name", ["../etc", "a/b", "", ".", "x y", "semi;colon", "a" * 129, "naïve"])
def test_the_lake_refuses_dataset_names_that_are_not_plain_names(tmp_path: Path, name: str) -> None:
    lake = Lake((tmp_path / "lake").as_uri())
    with pytest.raises(SpecError, match="not allowed"):
        lake.write_batch_once(name, 1, frame_of(5))
    with pytest.raises(SpecError, match="not allowed"):
        lake.cursor(name)
    with pytest.raises(SpecError, match="not allowed"):
        lake.uri("reports", "drift", name, "1.html")
    assert not any((tmp_path / "lake").rglob("*.parquet"))


def test_plain_names_pass(tmp_path: Path) -> None:
    lake = Lake((tmp_path / "lake").as_uri())
    for name in ("diamonds", "census-income", "Census_2024"):
        lake.write_batch_once(name, 1, frame_of(6))
        assert lake.stored_numbers(name) == [1]
