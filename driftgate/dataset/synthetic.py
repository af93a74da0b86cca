"""Seeded synthetic tabular data whose drift is controlled exactly.

Four standard-normal numeric features and two categorical ones (levels a..e). The target
depends strongly on ``num_0`` and ``cat_0``, weakly on ``num_1``/``num_3``, not at all on
``num_2``/``cat_1``; so a test can shift an important or an unimportant feature on purpose.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

LEVELS = ["a", "b", "c", "d", "e"]
BASE_SHARES = np.array([0.3, 0.25, 0.2, 0.15, 0.1])
COEF = {"num_0": 1.5, "num_1": 0.5, "num_2": 0.0, "num_3": 0.25}
CAT0_EFFECT = dict(zip(LEVELS, [-1.0, -0.5, 0.0, 0.5, 1.0], strict=True))
INTERCEPT = -1.0  # about a third positives


@dataclass(frozen=True)
class Shift:
    """What differs from the base distribution."""

    mean: Mapping[str, float] = field(default_factory=dict)  # numeric column -> shift in std
    shares: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # col -> level -> +p
    target_prior: float | None = None  # classification: positive rate to resample to
    concept: float = 0.0  # multiplies the signal by (1 + concept)


def _shares(delta: Mapping[str, float] | None) -> np.ndarray:
    if not delta:
        return BASE_SHARES
    shares = BASE_SHARES.copy()
    for level, change in delta.items():
        i = LEVELS.index(level)
        rest = np.ones(len(LEVELS), dtype=bool)
        rest[i] = False
        target = shares[i] + change
        shares[rest] *= (1 - target) / shares[rest].sum()
        shares[i] = target
    return shares


def _draw(
    task: Literal["classification", "regression"], n: int, rng: np.random.Generator, shift: Shift
) -> pd.DataFrame:
    frame = {col: rng.normal(shift.mean.get(col, 0.0), 1.0, n) for col in ("num_0", "num_1", "num_2", "num_3")}
    for col in ("cat_0", "cat_1"):
        frame[col] = rng.choice(LEVELS, size=n, p=_shares(shift.shares.get(col)))
    df = pd.DataFrame(frame)
    signal = sum(coef * df[col].to_numpy() for col, coef in COEF.items())
    signal = signal + df["cat_0"].map(CAT0_EFFECT).to_numpy()
    signal = signal * (1.0 + shift.concept)
    if task == "regression":
        df["y"] = signal + rng.normal(0.0, 0.5, n)
    else:
        p = 1.0 / (1.0 + np.exp(-(signal + INTERCEPT)))
        df["label"] = (rng.random(n) < p).astype("int64")
    return df


def make_frame(
    task: Literal["classification", "regression"], n: int, seed: int, shift: Shift | None = None
) -> pd.DataFrame:
    """Draw ``n`` rows, deterministic for a given ``seed`` and ``shift``."""
    shift = shift or Shift()
    rng = np.random.default_rng(seed)
    if task == "regression" or shift.target_prior is None:
        return _draw(task, n, rng, shift)
    # label prior shift: keep P(x | y), resample classes to the wanted positive rate
    pool = _draw(task, n * 4, rng, shift)
    n_pos = round(n * shift.target_prior)
    pos = pool[pool["label"] == 1].iloc[:n_pos]
    neg = pool[pool["label"] == 0].iloc[: n - n_pos]
    out = pd.concat([pos, neg]).sample(frac=1.0, random_state=seed)
    return out.reset_index(drop=True)


def true_importance() -> dict[str, float]:
    """Share of the signal's mean absolute contribution carried by each feature."""
    mean_abs_normal = float(np.sqrt(2 / np.pi))
    raw = {col: abs(c) * mean_abs_normal for col, c in COEF.items()}
    effects = np.array(list(CAT0_EFFECT.values()))
    raw["cat_0"] = float(np.sum(BASE_SHARES * np.abs(effects - np.sum(BASE_SHARES * effects))))
    raw["cat_1"] = 0.0
    total = sum(raw.values())
    return {k: v / total for k, v in raw.items()}


MEDICATIONS = 23
MED_LEVELS = ["No", "Steady", "Up", "Down"]
RACE_SHARES = [0.75, 0.19, 0.02, 0.01, 0.03]
WEIGHTS = ["[0-25)", "[25-50)", "[50-75)", "[75-100)", "[100-125)", "[125-150)", "[150-175)"]


def _codes(rng: np.random.Generator, levels: int, n: int) -> np.ndarray:
    """``n`` diagnosis-like codes from ``levels`` distinct ones (``250.8``, ``V45``, ``E909``), mildly skewed."""
    pool = [f"{100 + i}.{i % 10}" if i % 10 else f"V{i}" for i in range(levels - 20)]
    pool += [f"E{900 + i}" for i in range(20)]
    weights = 1.0 / np.arange(1, levels + 1) ** 0.3
    return np.asarray(pool, dtype=object)[rng.choice(levels, size=n, p=weights / weights.sum())]


def _blank_where(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` as objects, missing (None) where ``mask`` holds."""
    out = np.asarray(values, dtype=object)
    out[mask] = None
    return out


def make_readmission(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """A seeded table shaped like the hospital-readmission data (50 columns, a 3-class target ``readmitted``).

    What makes it hard to read right, on purpose: ``encounter_id`` unique per row; ``patient_nbr``
    a key with repeat visits (about 0.7 patients per row); three integer code columns
    (``admission_type_id`` 8 values, ``discharge_disposition_id`` 26, ``admission_source_id`` 17);
    ``weight`` 97 % missing; three 700-level diagnosis code columns; 23 medication columns.
    """
    rng = np.random.default_rng(seed)
    patients = rng.permutation(np.arange(100_000, 100_000 + int(n * 0.7)) * 9)
    patient = rng.choice(patients, size=n)
    frailty = (pd.util.hash_array(patient.astype(np.int64)) % 1000) / 1000.0  # one patient, one risk
    inpatient = rng.poisson(0.6 + 1.5 * frailty)
    df: dict[str, object] = {
        "encounter_id": rng.permutation(np.arange(n)) * 13 + 2_000_000,
        "patient_nbr": patient,
        "race": rng.choice(["Caucasian", "AfricanAmerican", "Hispanic", "Asian", "Other"], n, p=RACE_SHARES),
        "gender": rng.choice(["Female", "Male"], n),
        "age": rng.choice([f"[{a}-{a + 10})" for a in range(0, 100, 10)], n),
        "weight": _blank_where(rng.random(n) < 0.97, rng.choice(WEIGHTS, n)),
        "admission_type_id": rng.choice([1, 2, 3, 4, 5, 6, 7, 8], n, p=[0.5, 0.18, 0.18, 0.02, 0.05, 0.05, 0.01, 0.01]),
        "discharge_disposition_id": rng.choice([*range(1, 20), 20, 22, 23, 24, 25, 27, 28], n),
        "admission_source_id": rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 17, 20, 22, 25], n),
        "time_in_hospital": rng.integers(1, 15, n),
        "payer_code": _blank_where(rng.random(n) < 0.4, rng.choice(["MC", "HM", "SP", "BC", "MD", "CP", "UN"], n)),
        "medical_specialty": _blank_where(rng.random(n) < 0.5, rng.choice([f"Specialty{i}" for i in range(70)], n)),
        "num_lab_procedures": rng.integers(1, 100, n),
        "num_procedures": rng.integers(0, 7, n),
        "num_medications": rng.integers(1, 60, n),
        "number_outpatient": rng.poisson(0.4, n),
        "number_emergency": rng.poisson(0.2, n),
        "number_inpatient": inpatient,
        "diag_1": _codes(rng, 700, n),
        "diag_2": _codes(rng, 700, n),
        "diag_3": _codes(rng, 700, n),
        "number_diagnoses": rng.integers(1, 17, n),
        "max_glu_serum": rng.choice(["None", "Norm", ">200", ">300"], n, p=[0.9, 0.05, 0.03, 0.02]),
        "A1Cresult": rng.choice(["None", "Norm", ">7", ">8"], n, p=[0.8, 0.05, 0.05, 0.1]),
    }
    for i in range(MEDICATIONS):
        df[f"med_{i}"] = rng.choice(MED_LEVELS, n, p=[0.8, 0.15, 0.03, 0.02])
    df["change"] = rng.choice(["No", "Ch"], n)
    df["diabetesMed"] = rng.choice(["No", "Yes"], n)
    frame = pd.DataFrame(df)
    risk = 0.8 * inpatient + 2.0 * frailty + 0.1 * frame["time_in_hospital"] - 1.8
    u = rng.random(n)
    p_any = 1.0 / (1.0 + np.exp(-risk))
    frame["readmitted"] = np.where(u < p_any * 0.3, "<30", np.where(u < p_any, ">30", "NO"))
    return frame


def make_time_ordered_frame(n: int, seed: int, *, mean_run: int = 150, daily: float = 0.0) -> pd.DataFrame:
    """``n`` half-hourly rows in time order whose neighbours share a hidden state, seeded.

    The hidden state is a run of rows (about ``mean_run`` long) with its own level of two observed
    features (``level_0``, ``level_1``: they tell runs apart) and its own offset of the label, which
    those features do not predict across runs. A model learns a run's offset from its other rows:
    rows drawn at random from a batch sit beside their run's training rows and score well above what
    the model delivers on the next batch, whose runs are new. ``signal_0``/``signal_1`` carry the
    lasting relation, which turns slowly over time, so a newer model is really better.

    ``daily`` adds a daily cycle to the label's log-odds (``daily * sin`` of the hour's angle): only
    the hour of ``ts`` tells it, so calendar features can learn it and nothing else can.

    Columns: ``ts`` (the time), ``level_0``, ``level_1``, ``signal_0``, ``signal_1``, ``noise_0``
    and the binary ``direction`` (``up``/``down``).
    """
    rng = np.random.default_rng(seed)
    runs = np.cumsum(rng.geometric(1.0 / mean_run, size=n // 2 + 10))
    run = np.searchsorted(runs, np.arange(n), side="right")
    k = int(run.max()) + 1
    level = rng.normal(0.0, 1.0, (k, 2))[run] + rng.normal(0.0, 0.25, (n, 2))
    offset = rng.normal(0.0, 1.4, k)[run]
    signal = rng.normal(0.0, 1.0, (n, 2))
    angle = np.linspace(0.0, np.pi / 2, n)  # the lasting relation turns a quarter turn over the table
    logit = 1.6 * (np.cos(angle) * signal[:, 0] + np.sin(angle) * signal[:, 1]) + offset
    times = pd.date_range("2024-01-01", periods=n, freq="30min")
    logit = logit + daily * np.sin(2 * np.pi * (times.hour.to_numpy() + times.minute.to_numpy() / 60) / 24)
    up = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    return pd.DataFrame(
        {
            "ts": times.strftime("%Y-%m-%d %H:%M"),
            "level_0": level[:, 0].round(4),
            "level_1": level[:, 1].round(4),
            "signal_0": signal[:, 0].round(4),
            "signal_1": signal[:, 1].round(4),
            "noise_0": rng.normal(0.0, 1.0, n).round(4),
            "direction": np.where(up, "up", "down"),
        }
    )
