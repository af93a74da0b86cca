"""The gate's typed result: policy, per-slice checks, the verdict and how it is rendered and recorded."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from driftgate.policies import Question
from driftgate.tasks.evaluate import Difference, Outcome

TAG = "driftgate.gate."


@dataclass(frozen=True)
class SliceCheck:
    """Challenger minus champion on the rows of one level of one categorical feature."""

    feature: str
    level: str
    diff: Difference
    worse: bool

    @property
    def name(self) -> str:
        return f"{self.feature}={self.level}"

    def describe(self) -> str:
        d = self.diff
        return f"{self.name} ({d.rows} rows: {d.difference:+.4g}, interval [{d.ci_low:+.4g}, {d.ci_high:+.4g}])"


@dataclass(frozen=True)
class GateResult:
    """Both scores on the same rows, the difference with its interval, slices, outcome and reason."""

    metric: str
    maximize: bool
    outcome: Outcome
    reason: str
    challenger_score: float
    champion_score: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    confidence: float
    margin: float
    test: str
    rows: int
    batches: list[int] = field(default_factory=list)
    slices: list[SliceCheck] = field(default_factory=list)
    more_rows: int | None = None
    baseline_score: float | None = None
    baseline_cleared: bool | None = None
    challenger: str = ""
    champion: str | None = None
    question: Question = Question.SUPERIORITY

    @property
    def promoted(self) -> bool:
        return self.outcome is Outcome.PROMOTED

    @property
    def blocking(self) -> list[SliceCheck]:
        return [s for s in self.slices if s.worse]

    def mlflow_metrics(self) -> dict[str, float]:
        m = self.metric
        out = {
            f"gate_challenger_{m}": self.challenger_score,
            "gate_rows": float(self.rows),
            "gate_slices_checked": float(len(self.slices)),
        }
        optional = {
            f"gate_champion_{m}": self.champion_score,
            "gate_diff": self.difference,
            "gate_ci_low": self.ci_low,
            "gate_ci_high": self.ci_high,
            f"gate_baseline_{m}": self.baseline_score,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        return {k: float(v) for k, v in out.items() if v == v}  # NaN-free

    def mlflow_tags(self) -> dict[str, str]:
        tags = {
            "outcome": str(self.outcome),
            "promoted": str(self.promoted),
            "reason": self.reason,
            "test": self.test,
            "question": str(self.question),
            "confidence": str(self.confidence),
            "margin": str(self.margin),
            "batches": json.dumps(self.batches),
            "slices": json.dumps([s.name for s in self.slices]),
            "blocking": json.dumps([s.name for s in self.blocking]),
        }
        if self.baseline_cleared is not None:
            tags["baseline"] = "cleared" if self.baseline_cleared else "not cleared"
        return {TAG + k: v[:5000] for k, v in tags.items()}

    def to_markdown(self) -> str:
        pct = f"{self.confidence:.0%}"
        head = f"# Champion gate: {self.outcome}\n\n{self.reason}\n\n"
        table = f"| model | {self.metric} |\n|---|---|\n"
        table += f"| challenger (version {self.challenger}) | {self.challenger_score:.4g} |\n"
        if self.champion_score is not None:
            table += f"| champion (version {self.champion}) | {self.champion_score:.4g} |\n"
        if self.baseline_score is not None:
            table += f"| baseline (majority class / mean) | {self.baseline_score:.4g} |\n"
        facts = (
            f"\n- difference (challenger - champion): {_num(self.difference)}, {pct} interval "
            f"[{_num(self.ci_low)}, {_num(self.ci_high)}] ({self.test}; "
            f"{'higher' if self.maximize else 'lower'} is better; margin {self.margin:.2%})\n"
            f"- question: {self.question}\n"
            f"- rows: {self.rows} test rows of batches {', '.join(map(str, self.batches)) or '-'}\n"
        )
        if self.more_rows is not None:
            facts += f"- about {self.more_rows} more rows would likely decide it\n"
        if self.slices:
            facts += "\n| slice | rows | difference | interval | blocks |\n|---|---|---|---|---|\n"
            facts += "".join(
                f"| {s.name} | {s.diff.rows} | {_num(s.diff.difference)} | [{_num(s.diff.ci_low)}, "
                f"{_num(s.diff.ci_high)}] | {'yes' if s.worse else ''} |\n"
                for s in self.slices
            )
        return head + table + facts


def _num(x: float | None) -> str:
    return "-" if x is None or x != x else f"{x:+.4g}"
