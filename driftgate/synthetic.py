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
