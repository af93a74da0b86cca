"""Numbers that hold when the model serves, on a seeded time-ordered table the project generates.

Neighbouring rows of the table share a hidden state that lasts about 150 rows (a run with its own
label offset, told apart by two level features). Replayed in time order, batch by batch, with the
flow's own stages: without a time order in the spec, each batch's test rows sit between its training
rows, so a version's held-out score and the gate's estimated gain promise far more than the version
then delivers on the next batch; with ``time: {column: ts}`` both hold.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from driftgate.dataset.infer import InitOptions
from driftgate.dataset.own_data import plan_dataset, write_spec
from driftgate.dataset.spec import DatasetSpec, load_spec
from driftgate.dataset.synthetic import make_time_ordered_frame
from driftgate.flows.backtest import PolicyResult, replay_frames, replay_policy, summarize
from driftgate.registry.tracking import configure_mlflow
from driftgate.settings import get_settings
from driftgate.tasks.validate import suite_from_reference, write_suite

ROWS, BATCH = 16_000, 2000  # the table of docs/gate.md's measurements: 8 batches of 2,000 rows
SEARCH = {  # the default search (the suite's driftgate_env makes it smaller), a small SHAP budget
    "DRIFTGATE_SEARCH_ITER": "4",
    "DRIFTGATE_EXPLAIN_ROWS": "100",
    "DRIFTGATE_EXPLAIN_SECONDS": "5",
}


@pytest.fixture
def market(driftgate_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The seeded time-ordered table as a user's CSV, with two specs: ``market`` (the time order ``init``
    finds) and ``market-random`` (``--no-time``: random splits, as before time order existed)."""
    for key, value in {
        **SEARCH,
        "DRIFTGATE_DATASETS_DIR": str(tmp_path / "datasets"),
        "DRIFTGATE_EXPECTATIONS_DIR": str(tmp_path / "expectations"),
    }.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    path = tmp_path / "market.csv"
    make_time_ordered_frame(ROWS, seed=3).to_csv(path, index=False)
    for name, no_time in (("market", False), ("market-random", True)):
        # --no-calendar: the table has no daily cycle, so its hour and day of week would be noise features.
        # This test measures the split; with 7 batch pairs the mean optimism's standard error is about 0.03,
        # so a changed feature set moves it by that much either way (calendar parts: bench/calendar_features.py).
        opts = InitOptions(target="direction", name=name, metric="accuracy", no_time=no_time, no_calendar=True)
        plan = plan_dataset(get_settings(), str(path), opts)
        write_suite(plan.suite_file, suite_from_reference(plan.spec, plan.reference))
        write_spec(plan, "test")
    return path


def replay(name: str, file: Path, home: Path) -> tuple[DatasetSpec, PolicyResult]:
    """Replay ``file`` batch by batch under ``drift+growth`` in ``home`` (kept: the test reads its registry)."""
    settings = get_settings()
    spec = load_spec(name, settings.datasets_dir)
    frames = replay_frames(spec, str(file), BATCH)
    return spec, summarize(replay_policy(settings, spec, frames, "drift+growth", home), 0.95, 0)


@pytest.mark.timeout(3000)  # eight batches, a retrain on each
def test_with_time_order_held_out_scores_and_gate_gains_hold_on_the_next_batch(
    prefect_harness: None, market: Path, tmp_path: Path
) -> None:
    spec, honest = replay("market", market, tmp_path / "ordered")
    assert spec.time_column == "ts"
    assert all(b.prequential is not None and b.heldout is not None for b in honest.batches[1:])

    # what the serving champion promised (its held-out score) minus what it delivered on each batch
    assert honest.optimism is not None
    assert abs(honest.optimism) <= 0.04, honest.batches
    # the gate's estimated gain against what the same challengers gained on the next batch
    assert honest.gate_gain is not None
    assert honest.realized_gain is not None
    assert abs(honest.gate_gain - honest.realized_gain) <= 0.03, (honest.gate_gain, honest.realized_gain)
    assert honest.mean is not None
    assert honest.mean >= 0.645  # what it delivers (random splits: 0.630, the other test)

    # each version's next-batch score is recorded beside its held-out one, on its MLflow run too
    scored = [b for b in honest.batches if b.next_batch]
    assert len(scored) == len(honest.batches) - 1
    assert all(b.next_batch[b.champion_before] == pytest.approx(b.prequential) for b in scored)  # type: ignore[index]
    ours = get_settings().model_copy(
        update={"home": tmp_path / "ordered", "lake_url": None, "mlflow_tracking_uri": None}
    )
    client = configure_mlflow(ours)
    first = client.get_model_version(spec.model_name, "1")
    history = client.get_metric_history(first.run_id, "next_batch_accuracy")
    assert 2 in {int(m.step) for m in history}  # version 1 served batch 2: its score there, step = batch
    assert next(m.value for m in history if m.step == 2) == pytest.approx(honest.batches[1].prequential)
    run = client.get_run(first.run_id)
    assert "refit of this configuration on all 2000 labelled rows" in run.data.tags["driftgate.fit"]
    assert int(run.data.params["served_rows"]) == BATCH


@pytest.mark.timeout(3000)
def test_without_time_order_the_same_table_shows_todays_optimism(
    prefect_harness: None, market: Path, tmp_path: Path
) -> None:
    spec, leaky = replay("market-random", market, tmp_path / "random")
    assert spec.time is None
    assert leaky.optimism is not None
    assert leaky.optimism >= 0.06, leaky.batches  # the test rows' neighbours trained the version
    assert leaky.gate_gain is not None
    assert leaky.realized_gain is not None
    assert leaky.gate_gain - leaky.realized_gain >= 0.04, (leaky.gate_gain, leaky.realized_gain)
