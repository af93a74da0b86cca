"""One training run per dataset: real processes racing for the lease; the champion's compare-and-set."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from driftgate.errors import ChampionMovedError
from driftgate.registry.client import champion_version, set_champion
from driftgate.stores.lake import Lake
from driftgate.stores.lease import Lease, LeaseHeldError, acquire_lease, current_lease, dataset_lease, release_lease
from tests.conftest import ROOT

DATASET = "leased"
ROUNDS = 12


def critical_rounds(url: str, options: dict[str, Any], box: str, barrier: Any) -> None:
    """One racer: under the lease, enter a room that must be empty and bump a counter the slow way."""
    lake, room, counter = Lake(url, options), Path(box) / "room", Path(box) / "counter.json"
    barrier.wait(timeout=120)
    for _ in range(ROUNDS):
        with dataset_lease(lake, DATASET, ttl_s=600, wait_s=300, owner=f"racer {os.getpid()}"):
            try:
                room.touch(exist_ok=False)  # fails if the other racer is inside too
            except FileExistsError:
                (Path(box) / f"overlap-{os.getpid()}-{time.monotonic_ns()}").touch()
            count = json.loads(counter.read_text())
            time.sleep(0.005)  # widen the window a lost update would need
            counter.write_text(json.dumps(count + 1))
            room.unlink(missing_ok=True)


def grab_once(url: str, options: dict[str, Any], barrier: Any, out: Any) -> None:
    lake = Lake(url, options)
    barrier.wait(timeout=120)
    try:
        lease = acquire_lease(lake, DATASET, ttl_s=600)
        out.put(("held", lease.owner))
    except LeaseHeldError as exc:
        out.put(("refused", str(exc)))


@pytest.mark.slow  # two racing processes, on S3 too
def test_two_processes_never_hold_the_lease_at_once(lake_target: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    url, options = lake_target
    box = tmp_path / "box"
    box.mkdir()
    (box / "counter.json").write_text("0")
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    racers = [ctx.Process(target=critical_rounds, args=(url, options, str(box), barrier)) for _ in range(2)]
    for p in racers:
        p.start()
    for p in racers:
        p.join(timeout=300)  # well inside pytest's timeout, so a hang is reported as one
        if p.exitcode is None:
            p.kill()
        assert p.exitcode == 0
    assert not list(box.glob("overlap-*"))
    assert json.loads((box / "counter.json").read_text()) == 2 * ROUNDS  # no lost update
    assert current_lease(Lake(url, options), DATASET) is None  # all released


def test_a_waiter_sees_the_generations_another_process_wrote_since_it_last_looked(
    lake_target: tuple[str, dict[str, Any]],
) -> None:
    """Two lakes with filesystems of their own, as two processes have: a stale listing must not hide a holder.

    (s3fs caches listings with no expiry: a waiter that listed once went on trying to create a
    generation that existed, forever. This was the racers' hang above.)
    """
    url, options = lake_target
    holder, waiter = (Lake(url, {**options, "skip_instance_cache": True}) for _ in range(2))
    first = acquire_lease(holder, DATASET, owner="holder")
    assert current_lease(waiter, DATASET) == first  # the waiter has listed the folder
    release_lease(holder, first)
    second = acquire_lease(holder, DATASET, owner="holder again")  # generation 2; generation 1 deleted
    outcome: list[BaseException | Lease] = []

    def wait_briefly() -> None:
        try:
            outcome.append(acquire_lease(waiter, DATASET, owner="waiter", wait_s=1.0, poll_s=0.2))
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    thread = threading.Thread(target=wait_briefly, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "the waiter spun on a stale listing"
    assert isinstance(outcome[0], LeaseHeldError)
    assert "holder again" in str(outcome[0])
    release_lease(holder, second)
    taken = acquire_lease(waiter, DATASET, owner="waiter")
    assert taken.generation == 3


@pytest.mark.slow  # two racing processes that train
def test_of_two_runs_starting_together_one_trains_and_the_other_is_told_who(
    lake_target: tuple[str, dict[str, Any]],
) -> None:
    url, options = lake_target
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    racers = [ctx.Process(target=grab_once, args=(url, options, barrier, out)) for _ in range(2)]
    for p in racers:
        p.start()
    results = sorted(out.get(timeout=300) for _ in racers)
    for p in racers:
        p.join(timeout=60)
    assert [r[0] for r in results] == ["held", "refused"]
    assert results[0][1] in results[1][1]  # the refusal names the holder
    assert "is being trained by" in results[1][1]


def test_an_expired_lease_is_taken_over_and_its_late_release_frees_nothing(tmp_path: Path) -> None:
    lake = Lake((tmp_path / "lake").as_uri())
    dead = acquire_lease(lake, DATASET, owner="crashed run", ttl_s=-1.0)  # expired on arrival
    fresh = acquire_lease(lake, DATASET, owner="next run")
    assert fresh.generation == dead.generation + 1
    release_lease(lake, dead)  # the crashed run comes back late: must not free the new holder's lease
    held = current_lease(lake, DATASET)
    assert held is not None
    assert held.owner == "next run"
    with pytest.raises(LeaseHeldError, match="next run"):
        acquire_lease(lake, DATASET)
    release_lease(lake, fresh)
    assert current_lease(lake, DATASET) is None


def test_the_context_manager_releases_when_the_run_fails(tmp_path: Path) -> None:
    lake = Lake((tmp_path / "lake").as_uri())

    def failing_run() -> None:
        with dataset_lease(lake, DATASET, owner="failing run"):
            assert current_lease(lake, DATASET) is not None
            raise RuntimeError("training failed")

    with pytest.raises(RuntimeError, match="training failed"):
        failing_run()
    assert current_lease(lake, DATASET) is None
    with dataset_lease(lake, DATASET) as lease:  # and the next run gets it
        assert lease.generation == 2


MOVE = """
import sys
from mlflow.tracking import MlflowClient
from driftgate.registry.client import set_champion
uri, version = sys.argv[1], sys.argv[2]
set_champion(MlflowClient(tracking_uri=uri, registry_uri=uri), "m", version)
"""


@pytest.mark.slow  # a second interpreter importing MLflow
def test_champion_is_not_moved_when_another_process_moved_it_after_the_comparison(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("m")
    for i in range(3):
        (tmp_path / f"v{i}").mkdir()
        client.create_model_version("m", source=str(tmp_path / f"v{i}"))
    with pytest.raises(ChampionMovedError):
        set_champion(client, "m", "1", expected="3")  # there is no champion yet
    set_champion(client, "m", "1", expected=None)
    compared_against = champion_version(client, "m")
    assert compared_against is not None
    assert str(compared_against.version) == "1"
    # while this run compares version 2 with version 1, a human promotes version 3 in another process
    subprocess.run([sys.executable, "-c", MOVE, uri, "3"], check=True, cwd=ROOT, capture_output=True)
    with pytest.raises(ChampionMovedError, match="moved to version 3"):
        set_champion(client, "m", "2", expected=compared_against.version)
    now = champion_version(client, "m")
    assert now is not None
    assert str(now.version) == "3"
    set_champion(client, "m", "2", expected="3")  # compared against the new champion: allowed
    now = champion_version(client, "m")
    assert now is not None
    assert str(now.version) == "2"
