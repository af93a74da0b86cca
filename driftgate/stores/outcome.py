"""What one batch did in the loop: the one record the flow, the CLI table, the Prefect artifact and
the lake's progress record all use.

It lives in the core (not in the loop stage) so that ``driftgate status`` reads and prints the
progress records without importing the stages, Prefect or scikit-learn.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Protocol

from driftgate.stores.lake import Lake


class GateVerdict(Protocol):
    """What a batch's record keeps of the gate's result (``driftgate.tasks.gate.GateResult``)."""

    @property
    def promoted(self) -> bool: ...
    @property
    def outcome(self) -> Any: ...
    @property
    def question(self) -> Any: ...
    @property
    def rows(self) -> int: ...
    @property
    def ci_low(self) -> float | None: ...
    @property
    def ci_high(self) -> float | None: ...
    @property
    def reason(self) -> str: ...
    @property
    def challenger_score(self) -> float | None: ...
    @property
    def champion_score(self) -> float | None: ...
    @property
    def difference(self) -> float | None: ...


QUARANTINED = "quarantined: failed validation"


@dataclass
class BatchOutcome:
    """One batch's way through validate → drift → decide → train → gate.

    Attributes:
        batch: the batch number (for a forced retrain: the newest accepted batch).
        rows: rows stored under that number (None for a forced retrain).
        valid: passed its suite (False: quarantined).
        drift: importance-weighted share of drifted features (None: no champion to compare with).
        retrained: a challenger was trained.
        version: the version trained, if any.
        metric: the new champion's primary metric on the evaluation rows when it retrained and won,
            else the current champion's on this batch's test rows.
        champion: the champion after this batch.
        gate: the gate's outcome (``promoted``, ``not better``, ``inconclusive``) when it ran.
        reasons: why the batch did what it did (the decision's reasons, then the gate's).
        trigger: the retrain's trigger (``first``, ``drift``, ``metric``, ``growth``, ``forced``,
            ``always``), None when it did not retrain.
        question: the gate's question (``superiority`` or ``non-inferiority``) when it ran.
        gate_rows: the test rows the gate judged on.
        window: the batches the retrain trained on; ``window_rows`` their rows.
        regime_start: the first batch of the regime after this batch (windows start there).
        train_seconds: wall seconds of the retrain (train, gate, explain).
        history_version: after a drift retrain on a small window, the second challenger trained on
            the whole history (same gate rows); ``history_gate`` its verdict, ``history_window_rows``
            its rows.
        gate_diff: the gate's estimate of the challenger's gain: its score minus the champion's on the
            gate's rows (None without a champion to compare with).
        next_batch: the primary metric on all of this batch's rows, before anything trained on it, of
            the champion that served it and of the versions trained on the previous batch (by version).
    """

    batch: int
    rows: int | None
    valid: bool
    drift: float | None = None
    retrained: bool = False
    version: str | None = None
    metric: float | None = None
    champion: str | None = None
    gate: str | None = None
    reasons: list[str] = field(default_factory=list)
    drifted: list[str] = field(default_factory=list)
    promoted: bool = False
    gate_reason: str | None = None
    gate_interval: list[float] | None = None
    gate_diff: float | None = None
    drift_report: str | None = None
    drift_run_id: str | None = None
    run_id: str | None = None
    trigger: str | None = None
    question: str | None = None
    gate_rows: int | None = None
    window: list[int] = field(default_factory=list)
    window_rows: int | None = None
    regime_start: int | None = None
    train_seconds: float | None = None
    history_version: str | None = None
    history_gate: str | None = None
    history_window_rows: int | None = None
    next_batch: dict[str, float] = field(default_factory=dict)

    TABLE = (
        "batch",
        "rows",
        "valid",
        "drift",
        "trigger",
        "retrained",
        "window",
        "version",
        "metric",
        "champion",
        "gate",
    )

    def add_retrain(self, version: str, run_id: str, result: GateVerdict) -> None:
        """Record the version trained for this batch and the gate's verdict on it."""
        self.retrained = True
        self.version = version
        self.run_id = run_id
        self.promoted = result.promoted
        self.gate = str(result.outcome)
        self.question = str(result.question)
        self.gate_rows = result.rows
        if result.ci_low is not None and result.ci_high is not None:
            self.gate_interval = [result.ci_low, result.ci_high]
        self.gate_diff = result.difference
        self.gate_reason = result.reason
        self.reasons = [*self.reasons, f"gate: {result.reason}"]  # the table's "why" shows the interval
        self.metric = result.challenger_score if result.promoted else result.champion_score
        if result.promoted:
            self.champion = version

    def add_history(self, version: str, result: GateVerdict, rows: int) -> None:
        """Record the whole-history challenger of a drift retrain; it is the champion if the gate promoted it."""
        self.history_version, self.history_gate, self.history_window_rows = version, str(result.outcome), rows
        self.reasons = [*self.reasons, f"history challenger v{version} ({rows} rows): gate: {result.reason}"]
        if result.promoted:
            self.promoted, self.champion, self.metric = True, version, result.challenger_score

    def to_record(self) -> dict[str, Any]:
        """JSON-ready record (the lake's progress file)."""
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> BatchOutcome:
        """Read a progress record back (unknown keys of older records are ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in names})

    def cells(self) -> list[str]:
        """The table's cells for this batch, ``why`` last; the gate's cell names its question, and a
        whole-history challenger adds its version and verdict."""
        gate = f"{self.gate} ({self.question})" if self.gate and self.question else self.gate
        shown = {
            "window": f"{self.window[0]}-{self.window[-1]} ({self.window_rows} rows)" if self.window else None,
            "gate": f"{gate}; history: {self.history_gate}" if self.history_version else gate,
            "version": f"{self.version}, {self.history_version}" if self.history_version else self.version,
        }
        return [_cell(shown[c] if c in shown else getattr(self, c)) for c in self.TABLE] + ["; ".join(self.reasons)]


def quarantined(batch: int, rows: int | None, champion: str | None) -> BatchOutcome:
    """The outcome of a batch that failed its suite: nothing else happens to it."""
    return BatchOutcome(batch=batch, rows=rows, valid=False, champion=champion, reasons=[QUARANTINED])


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_table(outcomes: list[BatchOutcome]) -> str:
    """The demo's table: one line per batch, plus why it did what it did."""
    header = [*BatchOutcome.TABLE, "why"]
    cells = [o.cells() for o in outcomes]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]

    def line(values: list[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(c) for c in cells)])


def read_outcomes(lake: Lake, dataset: str) -> list[BatchOutcome]:
    """Every recorded outcome of a dataset, by batch number."""
    return [BatchOutcome.from_record(r) for r in lake.all_progress(dataset)]
