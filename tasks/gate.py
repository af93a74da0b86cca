"""The champion gate: a challenger becomes champion only if it beats it on the same rows."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient

from driftgate.registry import CHALLENGER, champion_version, load_version, set_champion
from driftgate.spec import DatasetSpec
from driftgate.tasks.metrics import primary_score
from driftgate.tasks.train import split_xy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GateResult:
    """Both scores on the same rows, the margin, and the decision with its reason."""

    metric: str
    challenger: str
    champion: str | None
    challenger_score: float
    champion_score: float | None
    margin: float
    rows: int
    promoted: bool
    reason: str

    def to_markdown(self) -> str:
        champ = f"| champion (version {self.champion}) | {self.champion_score:.4g} |\n" if self.champion else ""
        return (
            f"# Champion gate: {'promoted' if self.promoted else 'not promoted'}\n\n"
            f"| model | {self.metric} on {self.rows} newest test rows |\n|---|---|\n"
            f"| challenger (version {self.challenger}) | {self.challenger_score:.4g} |\n"
            f"{champ}\n{self.reason}"
        )


def judge(spec: DatasetSpec, challenger: float, champion: float | None, margin: float) -> tuple[bool, str]:
    """Pure decision: does ``challenger`` beat ``champion`` by the relative ``margin``?"""
    name = spec.metric.name
    if champion is None or champion != champion:  # no champion, or it cannot be scored
        return True, "no champion to beat: the challenger becomes champion"
    if challenger != challenger:
        return False, f"challenger {name} is undefined on these rows"
    needed = (
        champion + margin * abs(champion) if spec.metric.direction == "maximize" else champion - margin * abs(champion)
    )
    if spec.better(challenger, champion) and not spec.better(needed, challenger):
        return True, f"challenger {name} {challenger:.4g} beats champion {champion:.4g} (needed {needed:.4g})"
    return False, f"challenger {name} {challenger:.4g} does not beat champion {champion:.4g} (needed {needed:.4g})"


def gate(
    client: MlflowClient,
    spec: DatasetSpec,
    name: str,
    challenger_version: str,
    challenger_model: Any,
    challenger_run_id: str,
    rows: pd.DataFrame,
    margin: float,
) -> GateResult:
    """Score challenger and champion on ``rows``, move the aliases, log the comparison."""
    client.set_registered_model_alias(name, CHALLENGER, challenger_version)
    X, y = split_xy(rows, spec)
    ch_score = primary_score(challenger_model, spec, X, y)
    current = champion_version(client, name)
    champ_score = None
    if current is not None:
        champ_score = primary_score(load_version(name, current.version), spec, X, y)
    promoted, reason = judge(spec, ch_score, champ_score, margin)
    if promoted:
        set_champion(client, name, challenger_version)
    result = GateResult(
        spec.metric.name,
        challenger_version,
        str(current.version) if current else None,
        ch_score,
        champ_score,
        margin,
        len(rows),
        promoted,
        reason,
    )
    with mlflow.start_run(run_id=challenger_run_id):
        mlflow.log_metric(f"gate_challenger_{spec.metric.name}", ch_score)
        if champ_score is not None:
            mlflow.log_metric(f"gate_champion_{spec.metric.name}", champ_score)
        mlflow.set_tags({"driftgate.gate.promoted": str(promoted), "driftgate.gate.reason": reason})
        mlflow.log_dict(asdict(result), "gate.json")
    log.info("gate for %s v%s: %s", name, challenger_version, reason)
    return result
