"""Closing the loop: live predictions logged by the service drive monitoring, batch prediction scores files."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from driftgate.context import build_context
from driftgate.dataset.sources import load_source
from driftgate.dataset.spec import load_spec
from driftgate.local.data_api import create_data_api
from driftgate.local.servers import ServerThread
from driftgate.registry.tracking import configure_mlflow
from driftgate.serving.app import create_app
from driftgate.settings import get_settings
from driftgate.stores.predictions_db import read_predictions
from driftgate.tasks.train import split_rows
from tests.conftest import ROOT, point_at
from tests.homes import copy_state

DATASET = "synthetic-regression"


@pytest.fixture(scope="module")
def trained_state(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The training flow run once for this module over two batches: a folder whose ``home/`` each test copies."""
    from driftgate.flows.training import continuous_training

    folder = tmp_path_factory.mktemp("monitor-trained")
    with pytest.MonkeyPatch.context() as mp, _data_api(mp):
        point_at(mp, folder / "home")
        mp.chdir(folder)  # an experiment without an artifact location keeps its artifacts in ./mlruns: here
        get_settings.cache_clear()
        outcomes = continuous_training(max_batches=2)
        assert [o.batch for o in outcomes] == [1, 2]
    get_settings.cache_clear()
    return folder


@contextmanager
def _data_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    spec = load_spec(DATASET, ROOT / "datasets")
    with ServerThread(create_data_api(load_source(spec), spec)) as api:
        monkeypatch.setenv("DRIFTGATE_DATA_API_URL", api.url)
        monkeypatch.setenv("DRIFTGATE_DATASET", DATASET)
        monkeypatch.setenv("DRIFTGATE_POLL_SECONDS", "0.3")
        yield


@pytest.fixture
def trained(trained_state: Path, driftgate_env: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """This test's own copy of the trained home (lake, registry, artifacts), with the data API serving on."""
    copy_state(trained_state, driftgate_env.parent)
    with _data_api(monkeypatch):
        get_settings.cache_clear()
        yield build_context(get_settings())


def _send(url: str, frame: pd.DataFrame, features: list[str]) -> None:
    records = frame[features].astype(object).to_dict(orient="records")
    for i in range(0, len(records), 50):
        r = httpx.post(f"{url}/predict", json={"records": records[i : i + 50]}, timeout=30)
        assert r.status_code == 200, r.text


def test_shifted_live_inputs_make_monitoring_trigger_a_retraining(trained) -> None:  # type: ignore[no-untyped-def]

    from driftgate.flows.monitor import monitor_predictions

    ctx = trained
    db = ctx.settings.resolved_predictions_db_url()
    rows = split_rows(ctx.lake.read_batch(DATASET, 2), "train").head(600)
    with ServerThread(create_app(ctx.settings)) as srv:
        deadline = time.monotonic() + 20
        while httpx.get(f"{srv.url}/ready").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        _send(srv.url, rows, ctx.spec.feature_names)  # live traffic like the training data
        deadline = time.monotonic() + 10
        while len(read_predictions(db)) < 600:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        calm = monitor_predictions(min_rows=500)
        assert calm.checked
        assert not calm.retrain, calm.reasons

        shifted = rows.copy()
        shifted["num_0"] = np.clip(shifted["num_0"] + 1.5, -10, 10)  # the most important feature moves
        _send(srv.url, shifted, ctx.spec.feature_names)
        deadline = time.monotonic() + 10
        while len(read_predictions(db)) < 1200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    client = configure_mlflow(ctx.settings)
    before = {mv.version for mv in client.search_model_versions(f"name = '{ctx.model_name}'")}
    alarm = monitor_predictions(min_rows=500, ingest=False)
    assert alarm.retrain, alarm
    assert "num_0" in alarm.drifted
    assert monitor_predictions(min_rows=500).rows == 0  # the checkpoint moved past what was checked
    versions = client.search_model_versions(f"name = '{ctx.model_name}'")
    new = [mv for mv in versions if mv.version not in before]
    assert len(new) == 1
    tags = client.get_run(new[0].run_id).data.tags
    assert tags["driftgate.trigger"] == "forced"  # asked for from outside the batch loop
    assert tags["driftgate.reasons"].startswith("live inputs drifted (monitor-predictions)")


def test_batch_predict_scores_a_file_and_a_lake_prefix_with_the_champion(trained, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]

    from driftgate.flows.batch_predict import batch_predict
    from driftgate.registry.client import champion_version, load_version

    ctx = trained
    frame = ctx.lake.read_batch(DATASET, 2).head(40)
    src = tmp_path / "to-score.csv"
    frame[ctx.spec.feature_names].to_csv(src, index=False)
    [result] = batch_predict(path=str(src))
    out = result.output
    scored = pd.read_parquet(out)
    champ = champion_version(configure_mlflow(ctx.settings), ctx.model_name)
    assert out == str(tmp_path / "to-score.predictions.parquet")
    assert set(scored["model_version"]) == {str(champ.version)}
    expected = load_version(ctx.model_name, champ.version).predict(frame[ctx.spec.feature_names])
    np.testing.assert_allclose(scored["prediction"], expected, rtol=1e-6)
    outs = [r.output for r in batch_predict(path=f"raw/{DATASET}")]
    assert len(outs) == 2
    assert all(o is not None and o.endswith(".predictions.parquet") for o in outs)
    assert len(batch_predict(path=f"raw/{DATASET}")) == 2  # outputs are never scored again


@pytest.mark.dask
def test_batch_predict_scores_each_file_on_a_dask_worker_with_the_same_outputs(  # type: ignore[no-untyped-def]
    trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past one machine (#26): with DRIFTGATE_DASK_ADDRESS set, files are scored on the workers, not here."""
    from distributed import Client, LocalCluster, get_task_stream

    from driftgate.flows.batch_predict import batch_predict

    ctx = trained
    frame = ctx.lake.read_batch(DATASET, 2)[ctx.spec.feature_names].head(60).reset_index(drop=True)
    numeric = next(f.name for f in ctx.spec.features if f.type == "numeric")
    here, there = tmp_path / "here", tmp_path / "there"
    for folder in (here, there):
        folder.mkdir()
        frame.head(30).to_csv(folder / "a.csv", index=False)
        bad = frame.tail(30).astype(object)
        bad.loc[bad.index[0], numeric] = "not a number"  # one row the contract rejects
        bad.to_csv(folder / "b.csv", index=False)
    local = {Path(r.input).name: r for r in batch_predict(path=str(here))}
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
        get_task_stream(client) as stream,
    ):
        monkeypatch.setenv("DRIFTGATE_DASK_ADDRESS", cluster.scheduler_address)
        get_settings.cache_clear()
        remote = {Path(r.input).name: r for r in batch_predict(path=str(there))}
    ran = [t["key"] for t in stream.data if "score_file" in str(t["key"])]
    assert len(ran) == 2  # one task per file, on the workers
    assert sorted(remote) == sorted(local) == ["a.csv", "b.csv"]
    for name in ("a.csv", "b.csv"):
        assert (remote[name].scored, remote[name].rejected) == (local[name].scored, local[name].rejected)
        assert remote[name].output == str(there / name.replace(".csv", ".predictions.parquet"))
        pd.testing.assert_frame_equal(
            pd.read_parquet(remote[name].output), pd.read_parquet(local[name].output), check_exact=False
        )
    assert (remote["b.csv"].scored, remote["b.csv"].rejected) == (29, 1)
    rejected = pd.read_parquet(there / "b.rejected.parquet")
    assert list(rejected["field"]) == [numeric]


def test_a_shadow_challenger_better_on_labelled_live_rows_is_promoted_by_the_monitor(trained) -> None:  # type: ignore[no-untyped-def]
    """Service, shadow process, /feedback, monitor and the gate on live rows, end to end on real parts."""
    from driftgate.flows.monitor import monitor_predictions
    from driftgate.local.quick_model import register_quick_model
    from driftgate.registry.client import CHALLENGER, champion_version

    ctx = trained
    spec, name, db = ctx.spec, ctx.model_name, ctx.settings.resolved_predictions_db_url()
    client = configure_mlflow(ctx.settings)
    champion = str(champion_version(client, name).version)
    train = split_rows(ctx.lake.read_batch(DATASET, 1), "train")
    center = 2 * float(train[spec.target].mean())  # the relation mirrored: the champion is now wrong
    challenger, _ = register_quick_model(spec, name, train.assign(**{spec.target: center - train[spec.target]}))
    client.set_registered_model_alias(name, CHALLENGER, challenger)
    live = ctx.lake.read_batch(DATASET, 2).head(600)
    app = create_app(ctx.settings)
    with ServerThread(app) as srv:
        shadow = app.state.service.shadow
        deadline = time.monotonic() + 60  # the shadow process is spawned and imports its world
        while shadow.version != challenger or httpx.get(f"{srv.url}/ready").status_code != 200:
            assert time.monotonic() < deadline, shadow.last_error
            time.sleep(0.2)
        ids: list[str] = []
        records = live[spec.feature_names].astype(object).to_dict(orient="records")
        for i in range(0, len(records), 50):
            answer = httpx.post(f"{srv.url}/predict", json={"records": records[i : i + 50]}, timeout=30)
            assert answer.status_code == 200, answer.text
            assert answer.json()["model"]["version"] == champion  # the challenger never answers
            ids += answer.json()["ids"]
        deadline = time.monotonic() + 30
        while sum(r["role"] == "shadow" for r in read_predictions(db)) < len(ids):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        truth = (center - live[spec.target]).tolist()
        labels = [{"id": pid, "label": y} for pid, y in zip(ids, truth, strict=True)]
        stored = httpx.post(f"{srv.url}/feedback", json={"labels": labels}, timeout=30)
        assert stored.status_code == 200, stored.text
    out = monitor_predictions(min_rows=500, trigger=False)
    assert out.live_gate.outcome == "promoted", out.live_gate
    assert (out.live_gate.rows, out.live_gate.look) == (600, 1)
    assert out.promoted == challenger
    assert str(champion_version(client, name).version) == challenger
    mv = client.get_model_version(name, challenger)
    assert client.get_run(mv.run_id).data.tags["driftgate.gate.live.outcome"] == "promoted"
    assert "Gate on labelled live rows (shadow), look 1 (600 rows): promoted" in (mv.description or "")
    from driftgate.registry.probation import probation

    assert (probation(client, name).champion, probation(client, name).previous) == (challenger, champion)
    assert out.probation is None  # the promotion won this run; the new champion's probation starts with it


class _Hammer(threading.Thread):
    """A client sending one-record predictions as fast as it can: every answer's status and version."""

    def __init__(self, url: str, record: dict[str, object]) -> None:
        super().__init__(daemon=True)
        self.url, self.record = url, record
        self.answers: list[tuple[int, str | None]] = []
        self.failures: list[str] = []
        self.done = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self.done.is_set():
                try:
                    r = client.post(f"{self.url}/predict", json={"records": [self.record]})
                except httpx.HTTPError as exc:  # a dropped connection counts as a failed request
                    self.failures.append(repr(exc))
                    continue
                version = r.json()["model"]["version"] if r.status_code == 200 else None
                self.answers.append((r.status_code, version))
                time.sleep(0.002)

    def seen(self, version: str) -> bool:
        return any(v == version for _, v in self.answers[-5:])


def test_a_promoted_version_worse_on_labelled_live_rows_is_rolled_back_within_its_probation(  # type: ignore[no-untyped-def]
    trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    """#37 end to end on real parts: the gate's promotion opens a probation; labels on /feedback show the new
    champion worse than the one it replaced; monitor-predictions moves champion back, records it on both
    versions and sends driftgate.model.rolled-back; the service follows the alias with no failed request."""
    from driftgate.alerts import events
    from driftgate.flows.monitor import monitor_predictions
    from driftgate.local.quick_model import register_quick_model
    from driftgate.registry.client import CHALLENGER, challenger_version, champion_version, set_champion
    from driftgate.registry.probation import probation
    from tests.integration.test_events import events_named, wait_for

    monkeypatch.setenv("DRIFTGATE_PROBATION_ROWS", "1000")
    get_settings.cache_clear()
    ctx = build_context(get_settings())
    spec, name, db = ctx.spec, ctx.model_name, ctx.settings.resolved_predictions_db_url()
    client = configure_mlflow(ctx.settings)
    since = datetime.now(UTC)
    before = str(champion_version(client, name).version)
    train = split_rows(ctx.lake.read_batch(DATASET, 1), "train")
    center = 2 * float(train[spec.target].mean())  # the relation mirrored: wrong on every real label
    worse, _ = register_quick_model(spec, name, train.assign(**{spec.target: center - train[spec.target]}))
    client.set_registered_model_alias(name, CHALLENGER, worse)  # as the gate does for each version it trains
    set_champion(client, name, worse, expected=before)  # the gate's compare-and-set promotion
    opened = probation(client, name)
    assert (opened.champion, opened.previous) == (worse, before)

    live = ctx.lake.read_batch(DATASET, 2).head(300)  # 300 labelled rows: well within the 1,000 probation rows
    records = live[spec.feature_names].astype(object).to_dict(orient="records")
    with ServerThread(create_app(ctx.settings)) as srv:
        deadline = time.monotonic() + 60
        while (
            httpx.get(f"{srv.url}/ready").status_code != 200
            or httpx.get(f"{srv.url}/model").json().get("version") != worse
        ):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        ids: list[str] = []
        for i in range(0, len(records), 50):
            answer = httpx.post(f"{srv.url}/predict", json={"records": records[i : i + 50]}, timeout=30)
            assert answer.status_code == 200, answer.text
            assert answer.json()["model"]["version"] == worse
            ids += answer.json()["ids"]
        deadline = time.monotonic() + 30
        while sum(r["model_version"] == worse for r in read_predictions(db)) < len(ids):  # the log writes every 0.5 s
            assert time.monotonic() < deadline
            time.sleep(0.2)
        labels = [{"id": pid, "label": float(y)} for pid, y in zip(ids, live[spec.target], strict=True)]
        stored = httpx.post(f"{srv.url}/feedback", json={"labels": labels}, timeout=30)
        assert stored.status_code == 200, stored.text
        assert stored.json()["stored"] == len(ids)

        hammer = _Hammer(srv.url, records[0])
        hammer.start()
        try:
            out = monitor_predictions(min_rows=500, trigger=False)
            deadline = time.monotonic() + 30
            while not hammer.seen(before):  # the service follows the alias on its next poll
                assert time.monotonic() < deadline, (out.probation, hammer.answers[-3:])
                time.sleep(0.1)
            time.sleep(0.5)
        finally:
            hammer.done.set()
            hammer.join(10)

    assert out.rolled_back == before, out.probation
    assert (out.probation.action, out.probation.rows) == ("roll back", 300)
    assert not out.performance_retrain  # the champion that fell is gone already
    assert str(champion_version(client, name).version) == before
    assert probation(client, name) is None
    assert challenger_version(client, name) is None  # the shadow and the live gate do not take it up again

    assert hammer.failures == []
    statuses = [s for s, _ in hammer.answers]
    assert statuses, "the client sent no request"
    assert set(statuses) == {200}, sorted(set(statuses))
    versions = [v for _, v in hammer.answers]
    assert versions[0] == worse
    assert versions[-1] == before
    assert versions.index(before) > 0
    assert worse not in versions[versions.index(before) :]

    tags = {v: client.get_run(client.get_model_version(name, v).run_id).data.tags for v in (worse, before)}
    assert (tags[worse]["driftgate.probation.outcome"], tags[worse]["driftgate.probation.against"]) == (
        "rolled back",
        before,
    )
    assert (tags[before]["driftgate.probation.outcome"], tags[before]["driftgate.probation.against"]) == (
        "restored",
        worse,
    )
    assert tags[worse]["driftgate.probation.reason"].startswith(f"version {worse} is worse: on 300 labelled live rows")
    assert "Probation: rolled back to version" in (client.get_model_version(name, worse).description or "")

    found = wait_for("rolled-back event", events_named(f"driftgate.model.{name}", since, {events.ROLLED_BACK}))
    (event,) = [e for e in found if e["event"] == events.ROLLED_BACK]
    payload = event["payload"]
    assert (payload["version"], payload["previous"], payload["source"], payload["rows"]) == (
        before,
        worse,
        "monitor",
        300,
    )
    assert payload["reason"].startswith("monitor-predictions, probation: version")
    print(f"rollback: {len(hammer.answers)} requests during the move, versions {versions[0]} -> {versions[-1]}")
