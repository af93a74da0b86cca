"""What per-column tests miss (#38): the domain classifier on the joint distribution, and false-discovery
control of the per-column tests, on the demo's diamonds and the seeded synthetic generator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from driftgate.dataset.sources import load_source
from driftgate.dataset.spec import load_spec
from driftgate.dataset.synthetic import make_frame
from driftgate.policies import DriftPolicy
from driftgate.tasks.drift import benjamini_hochberg, compute_drift, decide, domain_classifier_drift
from tests.conftest import ROOT, Ran

SYNTHETIC = load_spec("synthetic-classification", ROOT / "datasets")
NUMERIC = [c for c in SYNTHETIC.drift_features if c in SYNTHETIC.numeric]
CATEGORICAL = [c for c in SYNTHETIC.drift_features if c not in SYNTHETIC.numeric]


def diamonds_with_carat_shuffled() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two disjoint random samples of 5,000 diamonds; in the second, carat is shuffled among its rows.

    Every column keeps its distribution; carat loses its relation to x, y, z (the stone's size).
    """
    frame = load_source(load_spec("diamonds", ROOT / "datasets"))
    rng = np.random.default_rng(0)
    rows = rng.permutation(len(frame))
    reference = frame.iloc[rows[:5000]].reset_index(drop=True)
    current = frame.iloc[rows[5000:10_000]].reset_index(drop=True)
    current["carat"] = rng.permutation(current["carat"].to_numpy())
    return reference, current


def test_benjamini_hochberg_matches_scipy() -> None:
    p = np.random.default_rng(1).uniform(size=40) ** 2
    assert benjamini_hochberg(p.tolist()) == pytest.approx(stats.false_discovery_control(p).tolist())
    assert benjamini_hochberg([]) == []


def test_a_shuffled_column_is_flagged_by_the_domain_classifier_and_by_no_per_column_test() -> None:
    spec = load_spec("diamonds", ROOT / "datasets")
    reference, current = diamonds_with_carat_shuffled()
    report = compute_drift(reference, current, spec, DriftPolicy())
    assert report.drifted == []  # every marginal is unchanged
    assert report.target is not None
    assert not report.target.any_drift
    mv = report.multivariate
    assert mv is not None
    assert mv.drifted
    assert mv.auroc > 0.8
    assert mv.p_value < 1e-10
    assert mv.separating[0] == "carat"
    assert {"x", "y", "z"} & set(mv.separating)  # what carat no longer agrees with
    decision = decide(report, DriftPolicy(), spec, has_champion=True)
    assert decision.retrain
    assert decision.trigger == "drift"
    assert decision.reasons[0].startswith("multivariate: joint distribution drifted")
    assert "carat" in decision.reasons[0]


def _stationary_verdicts(pairs: int, rows: int) -> list[tuple[float, bool]]:
    policy = DriftPolicy(multivariate_rows=rows)
    out = []
    for i in range(pairs):
        mv = domain_classifier_drift(
            make_frame("classification", rows, seed=30_000 + i),
            make_frame("classification", rows, seed=40_000 + i),
            numeric=NUMERIC,
            categorical=CATEGORICAL,
            policy=policy,
        )
        out.append((mv.p_value, mv.drifted))
    return out


def test_stationary_pairs_do_not_alarm_the_domain_classifier() -> None:
    assert not any(drifted for _, drifted in _stationary_verdicts(5, 500))


@pytest.mark.slow  # 100 pairs, 500 fits
def test_the_domain_classifier_false_alarm_rate_is_at_most_5_percent() -> None:
    verdicts = _stationary_verdicts(100, 1000)
    p = np.array([p for p, _ in verdicts])
    assert np.mean([d for _, d in verdicts]) <= 0.05
    assert np.mean(p < 0.01) <= 0.05  # the test alone, at the default alpha, without the AUROC threshold


def test_benjamini_hochberg_keeps_stationary_per_column_alarms_at_5_percent() -> None:
    """500-row pairs: small enough that the effect sizes pass by chance and the tests decide."""
    policy = DriftPolicy(multivariate_rows=0)
    any_adjusted = any_raw = flagged = 0
    pairs = 300
    for i in range(pairs):
        report = compute_drift(
            make_frame("classification", 500, seed=50_000 + i),
            make_frame("classification", 500, seed=60_000 + i),
            SYNTHETIC,
            policy,
        )
        any_adjusted += any(f.p_adjusted is not None and f.p_adjusted < policy.fdr_q for f in report.features)
        any_raw += any(f.p_value < policy.fdr_q for f in report.features)
        flagged += bool(report.drifted)
    # under no drift BH's chance of any discovery is q (0.05): within two standard errors of 300 pairs
    bound = policy.fdr_q + 2 * np.sqrt(policy.fdr_q * (1 - policy.fdr_q) / pairs)
    assert flagged / pairs <= any_adjusted / pairs <= bound
    assert any_raw / pairs > 0.15  # six unadjusted tests at 5 % would alarm on about a quarter


def test_the_drift_command_prints_json_from_an_empty_folder(tmp_path: Path, cli_in_process: Callable[..., Ran]) -> None:
    work = tmp_path / "work"
    work.mkdir()
    reference, current = diamonds_with_carat_shuffled()
    reference.to_csv(work / "reference.csv", index=False)
    current.to_parquet(work / "current.parquet")
    fresh = {
        "DRIFTGATE_HOME": str(tmp_path / "not" / "yet" / "home"),
        "DRIFTGATE_DATASETS_DIR": str(ROOT / "datasets"),
        "DRIFTGATE_DATASET": "diamonds",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRIFTGATE_", "PREFECT_", "MLFLOW_"))} | fresh
    exe = Path(sys.executable).parent / "driftgate"

    def drift(*args: str) -> subprocess.CompletedProcess[str]:
        command = [str(exe), "drift", *args]
        return subprocess.run(command, capture_output=True, text=True, cwd=work, env=env, timeout=300)

    out = drift("--reference", "reference.csv", "--current", "current.parquet", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert {"univariate", "multivariate", "drifted"} <= set(result)
    assert {"feature", "p_value", "drifted"} <= set(result["univariate"][0])
    assert {"auroc", "p_value", "drifted", "top_features"} <= set(result["multivariate"])
    assert result["multivariate"]["drifted"]
    assert result["multivariate"]["top_features"][0]["feature"] == "carat"
    assert result["drifted"]
    assert not any(f["drifted"] for f in result["univariate"])

    # the messages, through the entry point's main() in this process (the run above proved the installed command)
    for args, says in [
        (("--reference", "missing.csv", "--current", "current.parquet"), "source file missing.csv does not exist"),
        (("--reference", "reference.csv", "--current", "few.csv"), "current file few.csv lacks the column(s) carat"),
    ]:
        current.drop(columns=["carat"]).head(100).to_csv(work / "few.csv", index=False)
        bad = cli_in_process("drift", *args, env=fresh, cwd=work)
        assert bad.returncode == 1
        lines = bad.stderr.strip().splitlines()
        assert len(lines) == 1, bad.stderr
        assert lines[0].startswith("driftgate: error: ")
        assert says in lines[0]
