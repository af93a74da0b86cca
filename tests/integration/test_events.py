"""Events and automations against the suite's real Prefect server (the session harness).

Events reach the server asynchronously: each test reads them back from the events API
(``POST /api/events/filter``) with a deadline. The harness server is ephemeral, and an ephemeral
Prefect server runs the triggers and actions services (``RunInEphemeralServers``), so automations
act on it as on a full server: they create flow runs and send notifications.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from driftgate.alerts import events
from driftgate.alerts.automations import NOTIFY, RUNS, apply_automations, list_automations
from tests.conftest import ROOT, free_port

DEADLINE_S = 90.0


def api_url() -> str:
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    assert url, "the Prefect harness sets PREFECT_API_URL"
    return str(url)


def wait_for(what: str, probe: Callable[[], Any], seconds: float = DEADLINE_S) -> Any:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {seconds:.0f} s")
        time.sleep(0.5)


def read_events(resource_id: str, since: datetime) -> list[dict[str, Any]]:
    """The driftgate events about one resource since ``since`` (every page, 50 at a time)."""
    body = {
        "filter": {
            "occurred": {"since": since.isoformat()},
            "event": {"prefix": [events.PREFIX]},
            "resource": {"id": [resource_id]},
        },
        "limit": 50,
    }
    answer = httpx.post(f"{api_url()}/events/filter", json=body, timeout=30).raise_for_status().json()
    found = list(answer["events"])
    while answer.get("next_page"):
        answer = httpx.get(answer["next_page"], timeout=30).raise_for_status().json()
        found += answer["events"]
    return found


def events_named(resource_id: str, since: datetime, names: set[str]) -> Callable[[], list[dict[str, Any]]]:
    def probe() -> list[dict[str, Any]]:
        got = read_events(resource_id, since)
        return got if names <= {e["event"] for e in got} else []

    return probe


@pytest.fixture
def since() -> datetime:
    return datetime.now(UTC)  # events carry the time they were sent: an earlier test's are before it


@pytest.fixture
def dataset() -> str:
    """A dataset name of this test's own, so its events and runs are told apart on the shared server."""
    return f"ev-{uuid.uuid4().hex[:10]}"


def test_each_builder_sends_its_event_with_resource_related_and_payload(
    prefect_harness: None, dataset: str, since: datetime
) -> None:
    model = f"{dataset}-model"
    assert events.batch_ingested(dataset, 3, rows=120, content_hash="ab12", source="api", subflow=False)
    assert events.batch_quarantined(dataset, 4, rows=90, failures=["table: 2 columns missing"], evaluated=12)
    assert events.drift_detected(
        dataset,
        batch=5,
        drift_share=0.41234,
        threshold=0.3,
        drifted=["num_1", "cat_0"],
        reasons=["2 of 5 features drifted"],
        rows=100,
        reference_rows=400,
        model=model,
        champion="2",
    )
    assert events.model_trained(
        model, "3", dataset=dataset, batch=5, trigger="drift", reasons="drift", window=[5], rows=100, run_id="r1"
    )
    verdict: dict[str, Any] = {
        "dataset": dataset,
        "reason": "better by 0.02",
        "metric": "r2",
        "challenger_score": 0.8,
        "champion_score": 0.78,
        "difference": 0.02,
        "interval": (0.01, 0.03),
        "confidence": 0.95,
        "rows": 300,
        "batches": [5],
    }
    assert events.model_promoted(model, "3", previous="2", **verdict)
    assert events.gate_refused(model, "4", champion="3", outcome="inconclusive", **verdict)
    assert events.model_rolled_back(model, dataset=dataset, to_version="2", from_version="3", reason="by hand")
    assert events.monitor_degraded(
        model,
        "2",
        dataset=dataset,
        metric="r2",
        kind="realized",
        value=0.6,
        interval=(0.55, 0.65),
        held_out=0.8,
        rows=250,
        reasons=["realized r2 0.6 is worse than its test score 0.8"],
    )

    on_dataset = f"driftgate.dataset.{dataset}"
    on_model = f"driftgate.model.{model}"

    # every event, not only the first and last of each resource: the server stores them in the order
    # they reach it, and a loaded machine reorders them (a run at -n 3 read the model's before drift's)
    def every_event() -> list[dict[str, Any]]:
        got = read_events(on_dataset, since) + read_events(on_model, since)
        return got if set(events.EVENTS) <= {e["event"] for e in got} else []

    got = wait_for("every event", every_event)
    by_name: dict[str, list[dict[str, Any]]] = {}
    for e in got:
        by_name.setdefault(e["event"], []).append(e)
    assert {n: len(v) for n, v in by_name.items()} == dict.fromkeys(events.EVENTS, 1)

    quarantined = by_name[events.QUARANTINED][0]
    assert quarantined["resource"]["driftgate.dataset"] == dataset
    assert quarantined["payload"]["reason"] == "table: 2 columns missing"
    assert {"prefect.resource.id": f"driftgate.batch.{dataset}.4", "prefect.resource.role": "batch"}.items() <= (
        quarantined["related"][0].items()
    )
    drift = by_name[events.DRIFT_DETECTED][0]["payload"]
    assert (drift["drift_share"], drift["drifted"], drift["rows"]) == (0.4123, ["num_1", "cat_0"], 100)
    promoted = by_name[events.PROMOTED][0]
    assert promoted["payload"]["interval"] == [0.01, 0.03]
    assert {r["prefect.resource.role"] for r in promoted["related"]} >= {"version", "previous", "batch"}
    assert by_name[events.REFUSED][0]["payload"]["outcome"] == "inconclusive"
    assert by_name[events.DEGRADED][0]["payload"]["held_out"] == 0.8
    assert by_name[events.INGESTED][0]["resource"]["driftgate.ingest.subflow"] == "false"


def test_an_event_inside_a_flow_run_names_the_run(prefect_harness: None, dataset: str, since: datetime) -> None:
    from prefect import flow
    from prefect.runtime import flow_run

    @flow(name="driftgate-event-probe")
    def probe() -> str:
        events.batch_ingested(dataset, 1, rows=10, content_hash="h", source="api", subflow=False)
        return str(flow_run.id)

    run_id = probe()
    (event,) = wait_for("ingested event", events_named(f"driftgate.dataset.{dataset}", since, {events.INGESTED}))
    related = {r["prefect.resource.id"]: r.get("prefect.resource.role") for r in event["related"]}
    assert related[f"prefect.flow-run.{run_id}"] == "flow-run"


class Receiver:
    """A webhook receiver on 127.0.0.1: every POSTed JSON body, in order."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(json.loads(body or b"{}"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def applied(prefect_harness: None, receiver: Receiver) -> Iterator[list[str]]:
    """The automations applied twice to the harness server, with the two deployments they run;
    removed afterwards (the server is the whole session's)."""
    from prefect.client.orchestration import get_client

    from driftgate.flows.batch_predict import batch_predict
    from driftgate.flows.training import continuous_training

    continuous_training.to_deployment(name="continuous-training").apply()
    batch_predict.to_deployment(name="batch-predict", parameters={"path": "incoming"}).apply()
    with get_client(sync_client=True) as client:
        first = apply_automations(client, webhook=receiver.url)
        second = apply_automations(client, webhook=receiver.url)
        lines = [a.line() for a in first + second]
        # the server loads a changed automation into its triggers' cache just after the commit, in a
        # task of its own (SQLite): an event sent at once can be evaluated before that
        time.sleep(3)
        yield lines
        for a in client.read_automations():
            if a.name.startswith("driftgate"):
                client.delete_automation(a.id)


def test_apply_twice_creates_each_automation_once(applied: list[str], receiver: Receiver) -> None:
    from prefect.client.orchestration import get_client

    names = [n.name for n in NOTIFY] + [r.name for r in RUNS]
    assert [line.split()[0] for line in applied] == ["created"] * len(names) + ["updated"] * len(names)
    with get_client(sync_client=True) as client:
        listed = list_automations(client)
        on_server = [a.name for a in client.read_automations() if a.name.startswith("driftgate")]
    assert sorted(on_server) == sorted(names)
    assert [x.name for x in listed] == sorted(names)
    train = next(x for x in listed if x.name == "driftgate-train-on-arrival")
    assert (train.enabled, train.events, train.actions) == (True, [events.INGESTED], ["run-deployment"])
    # the webhook's URL is a credential: the block keeps it among its secrets, obfuscated by the API
    block = httpx.get(f"{api_url()}/block_types/slug/custom-webhook/block_documents/name/driftgate-notify", timeout=30)
    assert block.status_code == 200, block.text
    assert block.json()["data"]["url"] == "{{webhook_url}}"
    assert receiver.url not in block.text


def test_apply_without_a_webhook_skips_the_notify_automations_and_says_why(prefect_harness: None) -> None:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        done = apply_automations(client, webhook=None)
        for a in client.read_automations():
            if a.name.startswith("driftgate"):
                client.delete_automation(a.id)
    notify = [a for a in done if a.name.startswith("driftgate-notify")]
    assert [a.action for a in notify] == ["skipped"] * len(NOTIFY)
    assert all("DRIFTGATE_NOTIFY_WEBHOOK" in a.detail for a in notify)


def flow_runs_of(deployment: str, dataset: str) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[deployment])))
    return [r for r in runs if r.parameters.get("dataset") == dataset]


def test_an_ingested_batch_runs_continuous_training(applied: list[str], dataset: str) -> None:
    # a batch continuous-training ingested itself is trained in that run: no second run for it
    assert events.batch_ingested(dataset, 1, rows=50, content_hash="h1", source="api", subflow=True)
    assert events.batch_ingested(dataset, 2, rows=50, content_hash="h2", source="api", subflow=False)
    runs = wait_for("continuous-training run", lambda: flow_runs_of("continuous-training", dataset))
    time.sleep(3)  # time for a second (wrong) run to appear
    runs = flow_runs_of("continuous-training", dataset)
    assert len(runs) == 1
    assert runs[0].parameters == {"dataset": dataset, "ingest": False}
    assert runs[0].state.type.value in ("SCHEDULED", "PENDING")


def test_a_promotion_runs_batch_predict(applied: list[str], dataset: str) -> None:
    assert events.model_promoted(f"{dataset}-model", "2", dataset=dataset, previous="1", reason="gate: better")
    (run,) = wait_for("batch-predict run", lambda: flow_runs_of("batch-predict", dataset))
    assert run.parameters == {"dataset": dataset, "path": "incoming"}


def test_a_quarantined_batch_is_sent_to_the_webhook(applied: list[str], receiver: Receiver, dataset: str) -> None:
    assert events.batch_quarantined(
        dataset, 7, rows=80, failures=["column 'num_2': 50 values out of range"], evaluated=9
    )

    def arrived() -> list[dict[str, Any]]:
        return [b for b in receiver.received if dataset in b.get("text", "")]

    (body,) = wait_for("webhook notification", arrived)
    text = body["text"]
    assert text.startswith(f"driftgate: {events.QUARANTINED} ({dataset})")
    assert f"Batch 7 of {dataset} was quarantined (80 rows, 1 of 9 expectations failed)" in text
    assert "column 'num_2': 50 values out of range" in text


def driftgate(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "driftgate"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DRIFTGATE_", "PREFECT_API"))}
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, env={**clean, **env}, cwd=ROOT, timeout=180
    )


def test_the_commands_apply_and_list_on_the_configured_server(prefect_harness: None, tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client

    env = {"PREFECT_API_URL": api_url(), "DRIFTGATE_HOME": str(tmp_path / "home")}
    try:
        applied = driftgate("automations", "apply", env=env)
        assert applied.returncode == 0, applied.stderr
        assert "skipped  driftgate-notify-quarantine: DRIFTGATE_NOTIFY_WEBHOOK is not set" in applied.stdout
        assert "set DRIFTGATE_NOTIFY_WEBHOOK" in applied.stdout.splitlines()[-1]
        listed = driftgate("automations", "ls", env=env)
        assert listed.returncode == 0, listed.stderr
        for line in applied.stdout.splitlines():
            if line.startswith(("created", "updated")):
                assert f"on  {line.split()[1]}: " in listed.stdout
    finally:
        with get_client(sync_client=True) as client:
            for a in client.read_automations():
                if a.name.startswith("driftgate"):
                    client.delete_automation(a.id)


@pytest.mark.slow  # the CLI in a subprocess
def test_an_unreachable_prefect_server_is_one_line_and_exit_1(tmp_path: Path) -> None:
    env = {"PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api", "DRIFTGATE_HOME": str(tmp_path / "home")}
    out = driftgate("automations", "apply", env=env)
    assert out.returncode == 1
    assert out.stderr.startswith("driftgate: error: cannot reach the Prefect server")
    assert len(out.stderr.strip().splitlines()) == 1


def test_ingest_batches_announces_each_stored_batch_once_and_whether_it_ran_alone(
    prefect_harness: None, driftgate_env: Path, monkeypatch: pytest.MonkeyPatch, since: datetime
) -> None:
    from prefect import flow

    from driftgate.context import build_context
    from driftgate.dataset.sources import load_source
    from driftgate.dataset.spec import load_spec
    from driftgate.flows.ingest import ingest_batches
    from driftgate.local.data_api import create_data_api
    from driftgate.local.servers import ServerThread
    from driftgate.settings import get_settings

    name = "synthetic-regression"
    spec = load_spec(name, ROOT / "datasets")
    with ServerThread(create_data_api(load_source(spec), spec)) as server:
        monkeypatch.setenv("DRIFTGATE_DATASET", name)
        monkeypatch.setenv("DRIFTGATE_DATA_API_URL", server.url)
        get_settings.cache_clear()
        assert ingest_batches(max_batches=2) == [1, 2]

        @flow(name="driftgate-event-parent")
        def parent() -> list[int]:  # as continuous-training runs it: ingest first, train in the same run
            return ingest_batches(max_batches=1)

        assert parent() == [3]
    lake = build_context(get_settings()).lake

    def three() -> list[dict[str, Any]]:
        got = [e for e in read_events(f"driftgate.dataset.{name}", since) if e["event"] == events.INGESTED]
        return got if len(got) >= 3 else []

    got = wait_for("three ingested events", three)
    time.sleep(2)  # time for a duplicate to arrive
    got = [e for e in read_events(f"driftgate.dataset.{name}", since) if e["event"] == events.INGESTED]
    stored = [lake.manifest(name, n) for n in (1, 2, 3)]
    assert sorted((e["payload"]["batch"], e["payload"]["rows"], e["payload"]["content_hash"]) for e in got) == [
        (m.number, m.rows, m.sha256) for m in stored if m is not None
    ]
    subflow = {e["payload"]["batch"]: e["resource"]["driftgate.ingest.subflow"] for e in got}
    assert subflow == {1: "false", 2: "false", 3: "true"}  # only a run of its own starts training
    assert all(any(r["prefect.resource.role"] == "flow-run" for r in e["related"]) for e in got)


def test_a_quarantined_batch_is_announced_once_with_the_failed_expectation(
    prefect_harness: None, driftgate_env: Path, monkeypatch: pytest.MonkeyPatch, since: datetime
) -> None:
    from driftgate.context import build_context
    from driftgate.settings import get_settings
    from driftgate.tasks.validate import validate_batch_task
    from tests.integration.test_validation import DATASET, clean_batch, store

    monkeypatch.setenv("DRIFTGATE_DATASET", DATASET)
    get_settings.cache_clear()
    ctx = build_context(get_settings())
    store(ctx, 3, clean_batch(3).drop(columns=["num_2"]))
    assert not validate_batch_task(ctx.lake, ctx.spec, 3, ctx.suite_file).success
    assert not validate_batch_task(ctx.lake, ctx.spec, 3, ctx.suite_file).success  # the recorded verdict: no event
    wait_for("quarantined event", events_named(f"driftgate.dataset.{DATASET}", since, {events.QUARANTINED}))
    time.sleep(2)
    got = [e for e in read_events(f"driftgate.dataset.{DATASET}", since) if e["event"] == events.QUARANTINED]
    assert len(got) == 1
    payload = got[0]["payload"]
    assert payload["batch"] == 3
    assert 1 <= payload["failed"] <= payload["evaluated"]  # a missing column fails its checks too
    assert "expect_table_columns_to_match_set" in payload["reason"]
    assert payload["report"].endswith(f"quarantine/{DATASET}/batch=3")
    assert payload["rows"] == ctx.lake.manifest(DATASET, 3).rows


def test_a_backtest_replay_sends_no_event(prefect_harness: None, dataset: str, since: datetime) -> None:
    """A replay's quarantines and promotions are not the system's: nobody is notified, nothing runs."""
    from prefect import flow

    @flow(name="backtest")
    def replay() -> bool:
        return events.batch_quarantined(dataset, 7, rows=1, failures=["x"], evaluated=1)

    @flow(name="driftgate-event-probe")
    def real() -> bool:
        return events.batch_quarantined(dataset, 8, rows=1, failures=["x"], evaluated=1)

    assert replay() is False
    assert real() is True
    (event,) = wait_for(
        "the real flow's event", events_named(f"driftgate.dataset.{dataset}", since, {events.QUARANTINED})
    )
    assert event["payload"]["batch"] == 8


def test_the_loop_s_results_become_its_events(prefect_harness: None, tmp_path: Path, since: datetime) -> None:
    """flows/_announce.py reads the stages' typed results into drift, trained, promoted and refused events."""
    from driftgate.context import Context
    from driftgate.dataset.spec import load_spec
    from driftgate.flows._announce import announce_drift, announce_trained, announce_verdict
    from driftgate.settings import Settings
    from driftgate.stores.lake import Lake
    from driftgate.stores.outcome import BatchOutcome
    from driftgate.tasks.drift import DriftReport, Trigger
    from driftgate.tasks.evaluate import Outcome
    from driftgate.tasks.gate import GateResult
    from driftgate.tasks.loop import Window
    from driftgate.tasks.train import TrainedVersion

    spec = load_spec("synthetic-regression", ROOT / "datasets")
    model = f"m-{uuid.uuid4().hex[:8]}"
    ctx = Context(Settings(home=tmp_path, model_name=model), spec, Lake((tmp_path / "lake").as_uri()))
    report = DriftReport(spec.name, 5, 400, 100, [], None, {}, 0.2)
    outcome = BatchOutcome(batch=5, rows=100, valid=True, trigger="drift", reasons=["2 of 5 features drifted"])
    assert announce_drift(ctx, outcome, report, champion="2")
    assert not announce_drift(ctx, BatchOutcome(batch=6, rows=100, valid=True, trigger="growth"), report, champion="2")
    new = TrainedVersion(model, "3", "run-3", "hgb", {}, {"test_rmse": 1.5})
    assert announce_trained(ctx, new, outcome, window=Window([4, 5], 200), trigger=Trigger.DRIFT)

    def verdict(outcome: Outcome, challenger: str) -> GateResult:
        return GateResult(
            metric="rmse",
            maximize=False,
            outcome=outcome,
            reason=f"challenger {outcome}",
            challenger_score=1.5,
            champion_score=1.7,
            difference=-0.2,
            ci_low=-0.3,
            ci_high=-0.1,
            confidence=0.95,
            margin=0.0,
            test="paired bootstrap",
            rows=300,
            batches=[5],
            challenger=challenger,
            champion="2",
        )

    assert announce_verdict(ctx, verdict(Outcome.PROMOTED, "3"))
    assert announce_verdict(ctx, verdict(Outcome.INCONCLUSIVE, "4"))
    got = wait_for(
        "the loop's model events",
        events_named(f"driftgate.model.{model}", since, {events.TRAINED, events.PROMOTED, events.REFUSED}),
    )
    by_name = {e["event"]: e["payload"] for e in got}
    assert by_name[events.TRAINED]["window"] == [4, 5]
    assert (by_name[events.PROMOTED]["version"], by_name[events.PROMOTED]["champion"]) == ("3", "2")
    assert by_name[events.PROMOTED]["interval"] == [-0.3, -0.1]
    assert (by_name[events.REFUSED]["version"], by_name[events.REFUSED]["outcome"]) == ("4", "inconclusive")
    seen = wait_for("drift event", events_named(f"driftgate.dataset.{spec.name}", since, {events.DRIFT_DETECTED}))
    drift = [e for e in seen if e["event"] == events.DRIFT_DETECTED]
    assert [(e["payload"]["batch"], e["payload"]["champion"]) for e in drift] == [(5, "2")]


def test_the_monitor_announces_live_drift_and_a_degraded_champion(
    prefect_harness: None, tmp_path: Path, since: datetime
) -> None:
    from driftgate.context import Context
    from driftgate.dataset.spec import load_spec
    from driftgate.settings import Settings
    from driftgate.stores.lake import Lake
    from driftgate.tasks.drift import DriftReport, RetrainDecision
    from driftgate.tasks.evaluate import Realized, RealizedDecision
    from driftgate.tasks.monitor._announce import announce_degraded, announce_live_drift
    from driftgate.tasks.monitor._monitor import LiveDrift, Performance

    spec = load_spec("synthetic-classification", ROOT / "datasets")
    model = f"m-{uuid.uuid4().hex[:8]}"
    ctx = Context(Settings(home=tmp_path, model_name=model), spec, Lake((tmp_path / "lake").as_uri()))
    drifted = LiveDrift(
        rows=[],
        checked=True,
        report=DriftReport(spec.name, 0, 1000, 600, [], None, {}, 0.2),
        decision=RetrainDecision(True, ["live inputs drifted"]),
    )
    announce_live_drift(ctx, drifted, "4")
    announce_live_drift(ctx, LiveDrift(rows=[], checked=True), "4")  # no retrain asked: no event
    fell = Realized("4", "champion", "roc_auc", 250, 0.71, 0.66, 0.75)
    perf = Performance(
        metric="roc_auc",
        champion="4",
        test_score=0.9,
        realized=[fell],
        decision=RealizedDecision(True, ["realized roc_auc 0.71 is worse than its test score 0.9"]),
    )
    announce_degraded(ctx, perf, min_labels=200)
    (degraded,) = wait_for("degraded event", events_named(f"driftgate.model.{model}", since, {events.DEGRADED}))
    p = degraded["payload"]
    assert (p["version"], p["kind"], p["value"], p["interval"], p["held_out"], p["rows"]) == (
        "4",
        "realized",
        0.71,
        [0.66, 0.75],
        0.9,
        250,
    )
    seen = wait_for("live drift event", events_named(f"driftgate.dataset.{spec.name}", since, {events.DRIFT_DETECTED}))
    live = [e["payload"] for e in seen if e["event"] == events.DRIFT_DETECTED]
    assert [(x["source"], x["batch"], x["rows"], x["champion"]) for x in live] == [("live", None, 600, "4")]


def test_a_rollback_by_hand_on_a_running_server_is_an_event(
    prefect_harness: None, driftgate_env: Path, since: datetime
) -> None:
    from driftgate.dataset.spec import load_spec
    from driftgate.local.quick_model import register_quick_model
    from driftgate.registry.client import promote
    from driftgate.registry.tracking import configure_mlflow
    from driftgate.settings import get_settings
    from tests.models import training_rows

    spec = load_spec("synthetic-classification", ROOT / "datasets")
    name = spec.model_name
    client = configure_mlflow(get_settings())
    v1, v2 = (
        register_quick_model(spec, name, training_rows(spec, seed=6, n=600), seed=s, max_iter=5)[0] for s in (1, 2)
    )
    promote(client, name, v1, spec)
    promote(client, name, v2, spec)
    env = {k: v for k, v in os.environ.items() if k.startswith("DRIFTGATE_")} | {"PREFECT_API_URL": api_url()}
    out = driftgate("rollback", "--dataset", spec.name, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"champion of {name} rolled back to version {v1} (by hand: the gate was not asked)"
    (event,) = [
        e
        for e in wait_for("rolled-back event", events_named(f"driftgate.model.{name}", since, {events.ROLLED_BACK}))
        if e["event"] == events.ROLLED_BACK
    ]
    payload = event["payload"]
    assert (payload["version"], payload["previous"], payload["reason"]) == (v1, v2, "by hand: driftgate rollback")
