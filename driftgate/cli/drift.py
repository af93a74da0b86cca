"""``driftgate drift``: two files compared as the drift stage compares a batch with the champion's rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from driftgate.cli._app import DatasetOpt, app
from driftgate.errors import DriftgateError

if TYPE_CHECKING:
    import pandas as pd

    from driftgate.dataset.spec import DatasetSpec
    from driftgate.tasks.drift import DriftReport, RetrainDecision


def _read(path: Path, spec: DatasetSpec, side: str) -> pd.DataFrame:
    from driftgate.dataset.frames import normalize
    from driftgate.dataset.sources import read_table

    frame = read_table(path, spec=spec)
    missing = [c for c in spec.drift_features if c not in frame.columns]
    if missing:
        raise DriftgateError(
            f"{side} file {path} lacks the column(s) {', '.join(missing)} of dataset {spec.name!r} "
            f"(it has {', '.join(map(str, frame.columns[:12]))}{', ...' if len(frame.columns) > 12 else ''})"
        )
    if frame.empty:
        raise DriftgateError(f"{side} file {path} has no rows")
    return normalize(frame, spec)


def _as_json(report: DriftReport, decision: RetrainDecision) -> dict[str, Any]:
    mv, rd = report.multivariate, report.reconstruction
    return {
        "univariate": [
            {
                "feature": f.column,
                "statistic": f.statistic,
                "value": f.value,
                "p_value": f.p_value,
                "p_adjusted": f.p_adjusted,
                "drifted": f.any_drift,
            }
            for f in report.features
        ],
        "multivariate": None
        if mv is None
        else {
            "auroc": mv.auroc,
            "p_value": mv.p_value,
            "drifted": mv.drifted,
            "top_features": [{"feature": c, "auroc_drop": d} for c, d in mv.top_features],
            "separating": mv.separating,
            "rows": {"reference": mv.reference_rows, "current": mv.current_rows},
            "note": mv.note,
        },
        "reconstruction": None
        if rd is None
        else {
            "error": rd.error,
            "lower": rd.lower,
            "upper": rd.upper,
            "drifted": rd.drifted,
            "components": rd.components,
            "columns": rd.columns,
            "rows": {"fit": rd.fit_rows, "chunks": rd.chunks, "chunk": rd.chunk_rows, "current": rd.current_rows},
            "note": rd.note,
        },
        "drifted": decision.retrain,
        "reasons": decision.reasons,
        "drifted_features": report.drifted,
        "drifted_share": report.drifted_share,
    }


def _as_text(report: DriftReport, decision: RetrainDecision) -> str:
    from driftgate.tasks.drift import describe_multivariate, describe_reconstruction

    lines = [f"{report.current_rows} current rows against {report.reference_rows} reference rows", ""]
    lines.append(f"{'feature':<24} {'statistic':<16} {'value':>8} {'p-value':>9} {'adjusted':>9}  drifted")
    for f in report.features:
        adjusted = "-" if f.p_adjusted is None else f"{f.p_adjusted:.2g}"
        lines.append(
            f"{f.column:<24} {f.statistic:<16} {f.value:>8.4f} {f.p_value:>9.2g} {adjusted:>9}  "
            f"{'yes' if f.any_drift else 'no'}"
        )
    mv = report.multivariate
    lines += ["", f"multivariate: {'off' if mv is None else describe_multivariate(mv)}"]
    if mv is not None and not mv.note:
        lines.append(f"multivariate drifted: {'yes' if mv.drifted else 'no'}")
    rd = report.reconstruction
    lines.append(f"reconstruction: {'off' if rd is None else describe_reconstruction(rd)}")
    verdict = "yes" if decision.retrain else "no"
    lines += ["", f"drifted: {verdict} (the retrain decision's drift rule, uniform weights)"]
    lines += [f"- {r}" for r in decision.reasons]
    return "\n".join(lines)


@app.command()
def drift(
    reference: Annotated[Path, typer.Option(help="CSV/Parquet file of reference rows (e.g. the training rows).")],
    current: Annotated[Path, typer.Option(help="CSV/Parquet file of the rows to judge.")],
    dataset: DatasetOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the table.")] = False,
) -> None:
    """Drift of one file against another: per-column tests (BH-adjusted), the domain classifier, the verdict."""
    from driftgate.policies import RetrainPolicy
    from driftgate.settings import get_settings
    from driftgate.dataset.spec import load_spec
    from driftgate.tasks.drift import compute_drift, decide

    s = get_settings()
    spec = load_spec(dataset or s.dataset, s.datasets_dir)
    ref, cur = _read(reference, spec, "reference"), _read(current, spec, "current")
    policy = s.drift_policy()
    report = compute_drift(ref, cur, spec, policy)
    # the drift rule alone: no champion score (metric floor) and no growth to judge here
    decision = decide(report, policy, spec, has_champion=True, retrain=RetrainPolicy("drift"))
    out = _as_json(report, decision) if as_json else _as_text(report, decision)
    typer.echo(json.dumps(out, default=float) if as_json else out)
