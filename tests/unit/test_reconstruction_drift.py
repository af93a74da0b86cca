"""The PCA reconstruction-error detector (#38): a shuffled column flags, fresh rows of the same table do not."""

from __future__ import annotations

import numpy as np
import pandas as pd

from driftgate.policies import DriftPolicy
from driftgate.dataset.sources import load_source
from driftgate.dataset.spec import load_spec
from driftgate.dataset.synthetic import make_frame
from driftgate.tasks.drift import compute_drift, decide, reconstruction_drift
from tests.conftest import ROOT

DIAMONDS = load_spec("diamonds", ROOT / "datasets")
NUMERIC = [c for c in DIAMONDS.drift_features if c in DIAMONDS.numeric]
CATEGORICAL = [c for c in DIAMONDS.drift_features if c not in DIAMONDS.numeric]
SYNTHETIC = load_spec("synthetic-classification", ROOT / "datasets")


def diamonds(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two disjoint random samples of 5,000 diamonds."""
    frame = load_source(DIAMONDS)
    rows = np.random.default_rng(seed).permutation(len(frame))
    return frame.iloc[rows[:5000]].reset_index(drop=True), frame.iloc[rows[5000:10_000]].reset_index(drop=True)


def test_a_shuffled_column_leaves_the_band_and_a_fresh_sample_stays_in_it() -> None:
    reference, fresh = diamonds(0)
    shuffled = fresh.copy()
    shuffled["carat"] = np.random.default_rng(1).permutation(shuffled["carat"].to_numpy())
    policy = DriftPolicy()
    stable = reconstruction_drift(reference, fresh, numeric=NUMERIC, categorical=CATEGORICAL, policy=policy)
    moved = reconstruction_drift(reference, shuffled, numeric=NUMERIC, categorical=CATEGORICAL, policy=policy)
    assert not stable.drifted
    assert stable.lower < stable.error < stable.upper
    assert stable.columns == []
    assert moved.drifted
    assert moved.error > moved.upper  # the relation carat had with the stone's size is gone: rows sit off the plane
    assert moved.columns[0] == "carat"
    # same reference, same seed: the same PCA and the same band
    assert (moved.lower, moved.upper, moved.components) == (stable.lower, stable.upper, stable.components)
    assert 0.65 <= stable.variance < 0.8
    # 5,000 reference rows: 2,500 fit the PCA, the other 2,500 (20 chunks of 125) calibrate the band
    assert (stable.fit_rows, stable.chunks, stable.chunk_rows, stable.current_rows) == (2500, 20, 125, 5000)


def test_the_band_counts_the_noise_of_its_own_centre() -> None:
    """Half-width = 3 x chunk std x sqrt(chunk rows) x sqrt(1/current + 1/calibration rows)."""
    reference, fresh = diamonds(2)
    rd = reconstruction_drift(reference, fresh, numeric=NUMERIC, categorical=CATEGORICAL, policy=DriftPolicy())
    half = 3 * rd.chunk_std * np.sqrt(125) * np.sqrt(1 / 5000 + 1 / 2500)
    assert abs(rd.upper - rd.reference_error - half) < 1e-12
    assert abs(rd.reference_error - rd.lower - half) < 1e-12


def test_stationary_pairs_rarely_leave_the_band() -> None:
    policy = DriftPolicy(reconstruction_rows=2000)
    numeric = [c for c in SYNTHETIC.drift_features if c in SYNTHETIC.numeric]
    categorical = [c for c in SYNTHETIC.drift_features if c not in SYNTHETIC.numeric]
    alarms = sum(
        reconstruction_drift(
            make_frame("classification", 4000, seed=70_000 + i),
            make_frame("classification", 2000, seed=80_000 + i),
            numeric=numeric,
            categorical=categorical,
            policy=policy,
        ).drifted
        for i in range(30)
    )
    assert alarms <= 2  # a 3-sigma band: about 0.3 % a pair; 2 of 30 would already be unlikely


def test_the_reconstruction_joins_the_multivariate_retrain_signal() -> None:
    reference, current = diamonds(0)
    current["carat"] = np.random.default_rng(1).permutation(current["carat"].to_numpy())
    policy = DriftPolicy(multivariate_rows=0)  # the PCA alone
    report = compute_drift(reference, current, DIAMONDS, policy)
    assert report.drifted == []  # no marginal moved
    assert report.reconstruction is not None
    assert report.reconstruction_drift
    assert report.multivariate_drift
    assert report.reconstruction_share >= policy.share_threshold
    decision = decide(report, policy, DIAMONDS, has_champion=True)
    assert decision.retrain
    assert decision.trigger == "drift"
    assert decision.reasons[0].startswith("multivariate: PCA reconstruction error")
    assert "outside the band" in decision.reasons[0]
    assert "carat" in decision.reasons[0]
    assert "PCA reconstruction error" in report.to_html(decision)
    assert "PCA reconstruction error" in report.to_markdown(decision)
    assert report.to_dict()["reconstruction"]["drifted"] is True


def test_an_unimportant_column_moving_retrains_nothing() -> None:
    reference, current = diamonds(0)
    current["carat"] = np.random.default_rng(1).permutation(current["carat"].to_numpy())
    policy = DriftPolicy(multivariate_rows=0)
    report = compute_drift(reference, current, DIAMONDS, policy, importance={"depth": 1.0, "table": 1.0})
    assert report.reconstruction is not None
    assert report.reconstruction.drifted
    assert not report.reconstruction_drift
    decision = decide(report, policy, DIAMONDS, has_champion=True)
    assert not decision.retrain
    assert "PCA reconstruction error" in decision.reasons[0]
    assert "outside" in decision.reasons[0]


def test_too_few_rows_give_a_note_and_no_verdict() -> None:
    reference, current = diamonds(0)
    rd = reconstruction_drift(
        reference.head(300), current.head(30), numeric=NUMERIC, categorical=CATEGORICAL, policy=DriftPolicy()
    )
    assert not rd.drifted
    assert rd.note.startswith("too few rows for a PCA reconstruction")
    report = compute_drift(reference.head(300), current.head(30), DIAMONDS, DriftPolicy(multivariate_rows=0))
    assert report.reconstruction is not None
    assert not report.reconstruction_drift
