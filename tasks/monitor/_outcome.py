"""What one ``monitor-predictions`` run found and did: the flow's typed result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LiveGateSummary:
    """The live gate's look at the shadow challenger, when it took one."""

    challenger: str
    look: int
    outcome: str
    reason: str
    rows: int


@dataclass(frozen=True)
class ProbationSummary:
    """The look at the champion's probation against the version it replaced, when one is open."""

    champion: str
    previous: str
    action: str  # wait, keep or roll back
    reason: str
    rows: int
    confidence: float | None


@dataclass
class MonitorOutcome:
    """Live traffic since the last check: drift, realized and estimated performance, what followed.

    Attributes:
        rows: new logged predictions looked at.
        checked: whether input drift was checked (enough rows).
        drift_retrain: live inputs drifted from the champion's training rows.
        performance_retrain: realized performance fell (and neither a shadow challenger nor a rollback replaced
            the champion).
        reasons: why, for both decisions.
        drifted: the drifted features.
        champion: the champion's version during the check.
        last_id: the last prediction id checked (the checkpoint).
        report: the report page's lake URI.
        realized: the champion's realized primary metric on labelled live rows.
        estimated: its label-free estimate (classifiers).
        feedback_batch: the number of the feedback batch stored, if any.
        live_gate: the live gate's verdict on the shadow challenger, if it looked.
        promoted: the version the live gate promoted, if any.
        training: the continuous-training outcomes when a retrain was triggered.
        probation: the look at the champion's probation, if one was open.
        rolled_back: the version ``champion`` moved back to (the champion on probation was worse), if any.
    """

    rows: int
    checked: bool
    drift_retrain: bool
    performance_retrain: bool
    reasons: list[str]
    drifted: list[str]
    champion: str | None
    last_id: int | None
    report: str
    realized: float | None
    estimated: float | None
    feedback_batch: int | None
    live_gate: LiveGateSummary | None
    promoted: str | None
    training: list[Any] = field(default_factory=list)
    probation: ProbationSummary | None = None
    rolled_back: str | None = None

    @property
    def retrain(self) -> bool:
        """Whether live traffic asks for a retrain (drift or performance)."""
        return self.drift_retrain or self.performance_retrain

    def summary(self) -> str:
        """One line for the CLI."""
        verdict = "retrain" if self.retrain else "no retrain"
        return f"{self.rows} new predictions; {verdict}: {'; '.join(self.reasons) or '-'}"
