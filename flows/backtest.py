"""Flow ``backtest``: replay a dataset's batches in order under several retraining policies.

Each policy runs the continuous-training flow's own stage sequence (:func:`process_batch`) in a
temporary home of its own (lake, MLflow registry), so nothing of the user's is read or written
but the spec, the source and the suites. Every batch is scored *prequentially*: the primary
metric on its rows of the champion that served before it arrived (None before the first one).
A policy's mean prequential score gets a bootstrap interval over batches.

Training CPU seconds are this process's and its finished children's (the search's joblib workers
are shut down after each batch so that their CPU counts).
"""

from __future__ import annotations

import itertools
import logging
import os
import resource
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient
from prefect import flow

from driftgate.context import Context
from driftgate.dataset.frames import time_order
from driftgate.dataset.scenario import make_batch, plan_batches
from driftgate.dataset.sources import load_source
from driftgate.dataset.spec import DatasetSpec, load_spec
from driftgate.errors import DriftgateError
from driftgate.flows.training import process_batch
from driftgate.pages.render import png_data_uri, render_standalone
from driftgate.registry.client import champion_version, load_version
from driftgate.registry.tracking import configure_mlflow, experiment_id
from driftgate.settings import Settings, get_settings
from driftgate.stores.lake import Lake
from driftgate.tasks.evaluate import primary_score
from driftgate.tasks.ingest import prepare_batch, store_batch
from driftgate.tasks.train import split_xy

log = logging.getLogger(__name__)
POLICIES = ("never", "drift", "drift+growth", "always")


@dataclass(frozen=True)
class BatchResult:
    """One batch of one policy's replay."""

    batch: int
    rows: int
    prequential: float | None
    heldout: float | None
    champion_before: str | None
    retrained: bool
    trigger: str | None
    window_rows: int | None
    gate: str | None
    gate_gain: float | None  # the gate's estimate: challenger minus champion on its rows
    version: str | None  # the version trained on this batch (the first challenger)
    next_batch: dict[str, float]  # what the versions serving before it delivered on all its rows
    champion_after: str | None
    train_seconds: float | None
    cpu_seconds: float
    why: str


@dataclass
class PolicyResult:
    """A policy's replay: every batch, and its totals."""

    policy: str
    batches: list[BatchResult] = field(default_factory=list)
    mean: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    retrains: int = 0
    train_seconds: float = 0.0
    cpu_seconds: float = 0.0
    final_rows: int | None = None  # rows of the window the final champion trained on
    optimism: float | None = None  # mean of held-out minus prequential over batches that have both
    gate_gain: float | None = None  # mean of the gate's estimated gains ...
    realized_gain: float | None = None  # ... and of the same challengers' gains over their champions on the next batch


@dataclass
class BacktestReport:
    dataset: str
    metric: str
    source: str
    batches: int
    confidence: float
    policies: list[PolicyResult]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def replay_frames(spec: DatasetSpec, file: str | None = None, batch_size: int | None = None) -> list[pd.DataFrame]:
    """The batches to replay, in order: ``file`` cut into ``batch_size`` rows, else the spec's scenario."""
    if file is not None:
        if not batch_size:
            raise DriftgateError("a file is replayed in batches: give --batch-size")
        rows = load_source(spec, source=file)
        if spec.time_column:
            rows = rows.iloc[time_order(rows, spec.time_column)]
        return [rows.iloc[i : i + batch_size].reset_index(drop=True) for i in range(0, len(rows), batch_size)]
    rows = load_source(spec)
    plan = plan_batches(rows, spec)
    return [make_batch(rows, spec, plan, n) for n in range(1, len(plan) + 1)]


def mean_interval(
    scores: Sequence[float], confidence: float, seed: int, resamples: int = 2000
) -> tuple[float, float, float]:
    """Mean of per-batch scores and its percentile bootstrap interval (batches resampled)."""
    x = np.asarray(scores, dtype=float)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(resamples, len(x)))].mean(axis=1)
    tail = (1 - confidence) / 2
    lo, hi = np.quantile(means, [tail, 1 - tail])
    return float(x.mean()), float(lo), float(hi)


def cpu_seconds() -> float:
    """User + system CPU of this process, its finished children, and joblib's search workers still running.

    The workers (loky's pool) stay up between batches: their CPU so far is read from ``/proc`` (Linux).
    Stopping them instead, to count them as finished children, started new ones on every batch, each
    importing the search's modules again; where ``/proc`` cannot be read they are still stopped.
    """
    from joblib.externals.loky import reusable_executor

    executor = reusable_executor._executor  # loky's module-level executor; None when no search ran
    live = _workers_cpu(executor)
    if live is None:
        executor.shutdown(wait=True)
        live = 0.0
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime + live


def _workers_cpu(executor: Any) -> float | None:
    """CPU seconds of the executor's running workers (and of children they reaped), from ``/proc``; 0
    without an executor; None where a worker's ``/proc/PID/stat`` cannot be read (not Linux)."""
    if executor is None:
        return 0.0
    total = 0
    for pid in list(getattr(executor, "_processes", None) or {}):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:  # ended since: reaped, it counts among the finished children
            if not Path("/proc/self/stat").exists():
                return None
            continue
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime (fields 14-17)
    return total / os.sysconf("SC_CLK_TCK")


def replay_policy(
    settings: Settings, spec: DatasetSpec, frames: list[pd.DataFrame], policy: str, home: Path
) -> PolicyResult:
    """Replay ``frames`` as batches 1..n through the loop's stages under ``policy``, in ``home``."""
    s = settings.model_copy(
        update={
            "home": home,
            "lake_url": None,
            "mlflow_tracking_uri": None,
            "predictions_db_url": None,
            "retrain_policy": policy,
        }
    )
    ctx = Context(s, spec, Lake(s.resolved_lake_url()))
    client = configure_mlflow(s)
    experiment = experiment_id(s, spec.name)
    result = PolicyResult(policy)
    for number, frame in enumerate(frames, start=1):
        store_batch(ctx.lake, spec, number, prepare_batch(frame, spec, number, split=s.split_policy()))
        before = champion_version(client, ctx.model_name)
        model = load_version(ctx.model_name, before.version, spec) if before is not None else None
        heldout = recorded_heldout(client, before.run_id, spec) if before is not None else None
        cpu, started = cpu_seconds(), time.perf_counter()
        outcome = process_batch(ctx, client, experiment, number)
        cpu = cpu_seconds() - cpu
        score = None
        if model is not None and outcome.valid:
            X, y = split_xy(ctx.lake.read_batch(spec.name, number), spec)
            score = primary_score(model, spec, X, y)
        gate = f"{outcome.gate} ({outcome.question})" if outcome.gate else None
        if gate and outcome.history_version:  # the whole-history challenger beside a small drift window
            gate += f"; history {outcome.history_window_rows} rows: {outcome.history_gate}"
        result.batches.append(
            BatchResult(
                batch=number,
                rows=len(frame),
                prequential=score,
                heldout=heldout if score is not None else None,
                champion_before=str(before.version) if before else None,
                retrained=outcome.retrained,
                trigger=outcome.trigger,
                window_rows=outcome.window_rows,
                gate=gate,
                gate_gain=outcome.gate_diff,
                version=outcome.version,
                next_batch=dict(outcome.next_batch),
                champion_after=outcome.champion,
                train_seconds=outcome.train_seconds if outcome.retrained else None,
                cpu_seconds=round(cpu, 2),
                why="; ".join(outcome.reasons),
            )
        )
        log.info(
            "backtest %s batch %s: prequential %s, %s in %.1f s",
            policy,
            number,
            score,
            outcome.trigger or "no retrain",
            time.perf_counter() - started,
        )
        if outcome.promoted:
            history_won = outcome.history_version is not None and outcome.champion == outcome.history_version
            result.final_rows = outcome.history_window_rows if history_won else outcome.window_rows
    return result


def recorded_heldout(client: MlflowClient, run_id: str | None, spec: DatasetSpec) -> float | None:
    """The held-out primary metric a version's training run recorded (``test_<metric>``), None without one."""
    if not run_id:
        return None
    value = client.get_run(run_id).data.metrics.get(f"test_{spec.metric.name}")
    return float(value) if value is not None else None


def gate_gains(batches: list[BatchResult]) -> list[tuple[float, float]]:
    """``(estimated, realized)`` gain of each gated challenger: the gate's difference on its rows, and the
    challenger's score minus its champion's on all of the next batch (both scored before anything trained
    on it). Batches whose next batch did not score both are left out."""
    pairs = []
    for b, after in itertools.pairwise(batches):
        if b.gate_gain is None or b.version is None or b.champion_before is None:
            continue
        new, old = after.next_batch.get(b.version), after.next_batch.get(b.champion_before)
        if new is not None and old is not None:
            pairs.append((b.gate_gain, new - old))
    return pairs


def summarize(result: PolicyResult, confidence: float, seed: int) -> PolicyResult:
    scores = [b.prequential for b in result.batches if b.prequential is not None]
    if scores:
        result.mean, result.ci_low, result.ci_high = mean_interval(scores, confidence, seed)
    gaps = [b.heldout - b.prequential for b in result.batches if b.heldout is not None and b.prequential is not None]
    result.optimism = float(np.mean(gaps)) if gaps else None
    pairs = gate_gains(result.batches)
    if pairs:
        result.gate_gain, result.realized_gain = (float(x) for x in np.mean(pairs, axis=0))
    result.retrains = sum(b.retrained for b in result.batches)
    result.train_seconds = round(sum(b.train_seconds or 0.0 for b in result.batches), 2)
    result.cpu_seconds = round(sum(b.cpu_seconds for b in result.batches if b.retrained), 2)
    return result


def format_report(report: BacktestReport) -> str:
    """The report as text: per policy, per batch, then the totals of every policy."""
    lines = [f"backtest of {report.dataset} ({report.source}): prequential {report.metric} per batch"]
    for p in report.policies:
        lines += [
            "",
            f"policy {p.policy}",
            "batch  rows    prequential  held-out  retrained  trigger   window rows  train s  cpu s   gate",
        ]
        for b in p.batches:
            gate = b.gate or "-"
            lines.append(
                f"{b.batch:<6} {b.rows:<7} {_num(b.prequential):<12} {_num(b.heldout):<9} "
                f"{'yes' if b.retrained else 'no':<10} "
                f"{b.trigger or '-':<9} {_num(b.window_rows):<12} {_num(b.train_seconds):<8} "
                f"{b.cpu_seconds:<7.1f} {gate}"
            )
    pct = f"{report.confidence:.0%}"
    lines += [
        "",
        f"policy        mean prequential  {pct} interval        optimism  retrains  train s  cpu s  final rows",
    ]
    gains: list[str] = []
    for p in report.policies:
        interval = f"[{_num(p.ci_low)}, {_num(p.ci_high)}]"
        optimism = f"{p.optimism:+.4f}" if p.optimism is not None else "-"
        if p.gate_gain is not None and p.realized_gain is not None:
            gains.append(
                f"{p.policy}: the gate estimated {p.gate_gain:+.4f} on average; the same challengers "
                f"delivered {p.realized_gain:+.4f} over their champions on the next batch"
            )
        lines.append(
            f"{p.policy:<13} {_num(p.mean):<17} {interval:<20} {optimism:<9} {p.retrains:<9} "
            f"{p.train_seconds:<8.1f} {p.cpu_seconds:<6.1f} {_num(p.final_rows)}"
        )
    lines.append(
        "optimism: mean of (held-out - prequential): the champion's recorded held-out score minus what it "
        "delivered on the next batch"
    )
    lines += gains
    return "\n".join(lines)


def _num(x: float | int | None) -> str:
    if x is None:
        return "-"
    return str(x) if isinstance(x, int) else f"{x:.4g}"


def chart(report: BacktestReport) -> str:
    """Prequential score per batch, one line per policy, as an inline PNG."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    for p in report.policies:
        points = [(b.batch, b.prequential) for b in p.batches if b.prequential is not None]
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", label=p.policy)
    ax.set_xlabel("batch")
    ax.set_ylabel(f"prequential {report.metric}")
    ax.legend()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return png_data_uri(buf.getvalue())


def write_report(report: BacktestReport, folder: Path) -> tuple[Path, Path]:
    """The report as ``backtest-<dataset>.json`` and ``.html`` in ``folder``; their paths."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    json_path, html_path = folder / f"backtest-{report.dataset}.json", folder / f"backtest-{report.dataset}.html"
    json_path.write_text(json.dumps(report.to_dict(), indent=1))
    title = f"Backtest of {report.dataset}: retraining policies compared"
    html_path.write_text(render_standalone("report_backtest.html", title=title, report=report, chart=chart(report)))
    return json_path, html_path


@flow(name="backtest")
def backtest(
    dataset: str | None = None,
    policies: list[str] | None = None,
    file: str | None = None,
    batch_size: int | None = None,
    confidence: float = 0.95,
) -> BacktestReport:
    """Replay the dataset's batches under each policy, each in a temporary home; the report.

    Args:
        dataset: dataset spec name (default: ``DRIFTGATE_DATASET``); the settings' search, gate
            and drift options apply, their home, lake and registry are replaced.
        policies: retraining policies to compare (default: ``never``, ``drift``, ``drift+growth``, ``always``).
        file: replay this file (cut into ``batch_size`` rows, in file order) instead of the spec's scenario.
        batch_size: rows per batch of ``file``.
        confidence: coverage of the mean prequential score's interval.
    """
    settings = get_settings()
    spec = load_spec(dataset or settings.dataset, settings.datasets_dir)
    policies = list(policies or POLICIES)
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        raise DriftgateError(f"unknown policies {', '.join(unknown)}: choose from {', '.join(POLICIES)}")
    frames = replay_frames(spec, file, batch_size)
    results = []
    with tempfile.TemporaryDirectory(prefix="driftgate-backtest-") as tmp:
        for policy in policies:
            home = Path(tmp) / policy.replace("+", "-")
            results.append(summarize(replay_policy(settings, spec, frames, policy, home), confidence, settings.seed))
    source = f"{file} in batches of {batch_size} rows" if file else f"scenario of spec {spec.name}"
    return BacktestReport(spec.name, spec.metric.name, source, len(frames), confidence, results)
