"""The rows a retrain learns from: a window of whole accepted batches, counted in rows.

The window holds every accepted batch of the current *regime* (since the last drift retrain),
newest first, until ``DRIFTGATE_TRAIN_MAX_ROWS`` (at least one batch) or the optional
``DRIFTGATE_TRAIN_WINDOW`` cap in batches. A drift retrain starts a new regime at the drifted
batch; while its challenger is not promoted, the next drifted batches stay in that regime.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlflow.tracking import MlflowClient

from driftgate.policies import Question, WindowPolicy
from driftgate.stores.lake import Lake
from driftgate.stores.outcome import BatchOutcome
from driftgate.tasks.drift import Growth, Trigger


@dataclass(frozen=True)
class Window:
    """The batches (oldest first) a retrain trains on, and their rows."""

    batches: list[int]
    rows: int


def batch_rows(lake: Lake, dataset: str, numbers: list[int]) -> dict[int, int]:
    """Rows stored under each batch number (batches the lake no longer holds are left out)."""
    out = {}
    for n in numbers:
        manifest = lake.manifest(dataset, n)
        if manifest is not None:
            out[n] = manifest.rows
    return out


def choose_window(rows: dict[int, int], newest: int, regime_start: int | None, limit: WindowPolicy) -> Window:
    """The accepted batches (``rows``: batch -> rows) a retrain on ``newest`` uses, oldest first (pure).

    Args:
        rows: every accepted batch and its rows.
        newest: the batch the retrain is for (the window ends there).
        regime_start: the first batch of the current regime (None: the first accepted batch).
        limit: ``max_rows``: stop adding older batches once the next would pass this many rows (one
            batch at least); ``max_batches``: at most this many batches (None: no cap).
    """
    start = regime_start if regime_start is not None else min(rows, default=newest)
    chosen: list[int] = []
    total = 0
    for n in sorted((n for n in rows if start <= n <= newest), reverse=True):
        full = limit.max_batches is not None and len(chosen) >= limit.max_batches
        if chosen and (total + rows[n] > limit.max_rows or full):
            break
        chosen.append(n)
        total += rows[n]
    return Window(sorted(chosen), total)


def growth_since(rows: dict[int, int], trained: list[int], newest: int) -> Growth:
    """The champion's training rows (``trained``: its lineage) and the accepted rows after them up to ``newest``."""
    last = max(trained, default=0)
    new = [n for n in sorted(rows) if last < n <= newest and n not in trained]
    return Growth(
        champion_rows=sum(rows.get(n, 0) for n in trained),
        new_rows=sum(rows[n] for n in new),
        new_batches=new,
    )


def next_regime_start(
    trigger: Trigger | None,
    batch: int,
    previous_start: int | None,
    *,
    previous_trigger: str | None,
    previous_promoted: bool,
) -> int:
    """Where the regime starts after this batch's decision.

    ``first`` and ``drift`` start one at ``batch``, unless the previous batch already started a
    drift regime whose challenger was not promoted (the drift goes on: keep its start).
    """
    if previous_start is None or trigger is Trigger.FIRST:
        return batch
    if trigger is Trigger.DRIFT:
        if previous_trigger == Trigger.DRIFT and not previous_promoted:
            return previous_start
        return batch
    return previous_start


def history_window(rows: dict[int, int], newest: int, recent: Window, limit: WindowPolicy) -> Window | None:
    """The whole-history window beside a drift retrain's small window (pure).

    None when the recent window holds ``limit.history_below_rows`` rows or more, or when the whole
    history (capped like any window) holds no more rows than it.
    """
    if recent.rows >= limit.history_below_rows:
        return None
    whole = choose_window(rows, newest, None, limit)
    return whole if whole.rows > recent.rows else None


def gate_question(trigger: Trigger | None, window: list[int], trained: list[int]) -> Question:
    """Non-inferiority for more of the same (growth or always, the window holds every batch the champion
    trained on); superiority otherwise (drift, metric, forced: the challenger must be better)."""
    if trigger in (Trigger.GROWTH, Trigger.ALWAYS) and trained and set(trained) <= set(window):
        return Question.NONINFERIORITY
    return Question.SUPERIORITY


def tag_challenger(client: MlflowClient, run_id: str, outcome: BatchOutcome, window: Window, trigger: Trigger) -> None:
    """The run tags that say why a challenger was trained and on what: trigger, reasons, window, regime.

    Set after the training run ends (the trainer tags the reasons as its trigger); one place for the
    flow's retrain on this machine and on the cluster."""
    tags = {
        "driftgate.trigger": str(trigger),
        "driftgate.reasons": "; ".join(outcome.reasons)[:5000],
        "driftgate.window.batches": ",".join(map(str, window.batches)),
        "driftgate.window.rows": str(window.rows),
        "driftgate.regime_start": str(outcome.regime_start),
    }
    for key, value in tags.items():
        client.set_tag(run_id, key, value)
