"""Stage ``evaluate``: metrics of a model on labelled rows, paired comparisons, realized performance."""

from driftgate.tasks.evaluate._compare import (
    BOOTSTRAP,
    DELONG,
    Difference,
    Outcome,
    choose_test,
    paired_differences,
    rows_to_decide,
)
from driftgate.tasks.evaluate._metrics import evaluate, positive_class, primary_score, slice_metrics
from driftgate.tasks.evaluate._realized import (
    Paired,
    Realized,
    RealizedDecision,
    Scored,
    as_predictions,
    bootstrap,
    compare_on_live,
    decide_realized,
    live_pairs,
    realized_metrics,
    score,
    scored_pairs,
)
from driftgate.tasks.evaluate._scorers import scorer

__all__ = [
    "BOOTSTRAP",
    "DELONG",
    "Difference",
    "Outcome",
    "Paired",
    "Realized",
    "RealizedDecision",
    "Scored",
    "as_predictions",
    "bootstrap",
    "choose_test",
    "compare_on_live",
    "decide_realized",
    "evaluate",
    "live_pairs",
    "paired_differences",
    "positive_class",
    "primary_score",
    "realized_metrics",
    "rows_to_decide",
    "score",
    "scored_pairs",
    "scorer",
    "slice_metrics",
]
