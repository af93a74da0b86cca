"""Turn a source table into numbered batches with a drift scenario.

Batches ``1..base_batches`` are disjoint uniform samples; later ones are drawn from the
remaining rows with the mix tilted towards high values of ``shift_feature`` (covariate
shift) and the target changed (concept shift). Every batch is a pure function of the
source, the scenario and its number, so a batch number always means the same rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from driftgate.dataset.frames import time_order
from driftgate.dataset.spec import DatasetSpec


def _tilt(frame: pd.DataFrame, spec: DatasetSpec) -> np.ndarray:
    sc = spec.scenario
    if not sc.shift_feature:
        return np.ones(len(frame))
    col = frame[sc.shift_feature]
    if sc.shift_feature in spec.categorical:
        ranks = col.astype("category").cat.codes.to_numpy(dtype=float)
        z = (ranks - ranks.mean()) / (ranks.std() or 1.0)
    else:
        values = col.to_numpy(dtype=float)
        z = (values - np.nanmean(values)) / (np.nanstd(values) or 1.0)
    return np.exp(sc.shift_strength * np.nan_to_num(z))


def plan_batches(frame: pd.DataFrame, spec: DatasetSpec) -> list[np.ndarray]:
    """Row indices of every batch (index 0 is batch 1).

    A spec with a time order replays its rows in that order, ``batch_size`` consecutive rows a batch
    (at most ``batches`` of them); the drift it injects still applies to batches past ``base_batches``.
    """
    sc = spec.scenario
    if spec.time_ordered:  # a time-ordered source replays in time order: consecutive slices, no resampling
        order = time_order(frame, spec.time_column)
        return [order[i : i + sc.batch_size] for i in range(0, len(frame), sc.batch_size)][: sc.batches]
    rng = np.random.default_rng(sc.seed)
    order = rng.permutation(len(frame))
    need = sc.batch_size * sc.base_batches
    if need > len(frame):
        raise ValueError(f"source has {len(frame)} rows, base batches need {need}")
    plan = [order[i * sc.batch_size : (i + 1) * sc.batch_size] for i in range(sc.base_batches)]
    if sc.batches == sc.base_batches and plan and len(frame) - need < sc.batch_size:
        plan[-1] = order[(sc.base_batches - 1) * sc.batch_size :]  # a replay serves every row: the rest goes last
    pool = order[need:]
    weights = _tilt(frame, spec)
    for _ in range(sc.batches - sc.base_batches):
        if len(pool) < sc.batch_size:  # the source ran out: sample with replacement
            pool = order.copy()
        p = weights[pool] / weights[pool].sum()
        take = rng.choice(len(pool), size=sc.batch_size, replace=False, p=p)
        plan.append(pool[take])
        pool = np.delete(pool, take)
    return plan


def make_batch(frame: pd.DataFrame, spec: DatasetSpec, plan: list[np.ndarray], number: int) -> pd.DataFrame:
    """Batch ``number`` (1-based) with its scenario applied."""
    sc = spec.scenario
    batch = frame.iloc[plan[number - 1]].reset_index(drop=True)
    rng = np.random.default_rng([sc.seed, number])
    if number > sc.base_batches and sc.concept_shift:
        if spec.task == "regression":
            batch[spec.target] = (batch[spec.target] * (1 + sc.concept_shift)).round(2)
        else:
            flip = rng.random(len(batch)) < sc.concept_shift
            labels = sorted(batch[spec.target].dropna().unique())
            if len(labels) == 2:
                swapped = batch[spec.target].map({labels[0]: labels[1], labels[1]: labels[0]})
                batch[spec.target] = batch[spec.target].where(~flip, swapped)
    if number in sc.corrupt_batches:
        batch = corrupt(batch, spec, rng)
    return batch


def corrupt(batch: pd.DataFrame, spec: DatasetSpec, rng: np.random.Generator) -> pd.DataFrame:
    """Break a batch the way upstream systems do: nulls and impossible values."""
    out = batch.copy()
    col = spec.numeric[0]
    hit = rng.random(len(out)) < 0.2
    out[col] = out[col].astype("float64").where(~hit, np.nan)
    feature = spec.feature(col)
    bad = rng.random(len(out)) < 0.05
    impossible = (feature.max or 0.0) * 10 + 1000
    out.loc[bad, col] = impossible
    return out
