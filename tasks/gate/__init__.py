"""Stage ``gate``: a challenger becomes champion only when it wins on the same rows (or on live rows)."""

from driftgate.tasks.gate._cluster import gate_on_cluster_task
from driftgate.tasks.gate._gate import (
    describe_gate,
    evaluate_challenger,
    gate,
    gate_task,
    publish_gate,
    run_links,
    settle,
    usable_champion,
)
from driftgate.tasks.gate._live import (
    LiveLook,
    challenger_alias,
    earlier_looks,
    gate_on_live,
    judge_live_pairs,
    promote_on_live,
    spent_confidence,
)
from driftgate.tasks.gate._result import GateResult

__all__ = [
    "GateResult",
    "LiveLook",
    "challenger_alias",
    "describe_gate",
    "earlier_looks",
    "evaluate_challenger",
    "gate",
    "gate_on_cluster_task",
    "gate_on_live",
    "gate_task",
    "judge_live_pairs",
    "promote_on_live",
    "publish_gate",
    "run_links",
    "settle",
    "spent_confidence",
    "usable_champion",
]
