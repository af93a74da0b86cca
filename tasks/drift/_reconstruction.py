"""Drift of the joint distribution, second view: the error of a PCA reconstruction (as NannyML's).

A PCA fitted on the reference keeps the directions along which its columns vary together. Rows
whose columns keep their marginals but lose their relation (one column shuffled among rows) sit off
those directions: their reconstruction error grows, while every per-column test passes.

How it decides, and how sure it is:
- a seeded sample of at most ``2 x reconstruction_rows`` reference rows, split in two halves: the
  first fits the encoding and the PCA, the second, never seen by the fit, calibrates the band. A
  band measured on the rows the PCA was fitted on is too low (the fit reconstructs its own rows
  best) and alarms on fresh rows of the same distribution (NannyML's issue #426);
- the columns: numeric standardized (missing: the fit's mean), each categorical one-hot over its
  20 most frequent levels plus one column for the rest, standardized as well; the PCA keeps the
  fewest components that explain ``reconstruction_variance`` (65 %) of the variance;
- a row's error is the Euclidean distance between its encoded row and its reconstruction;
- the calibration rows are cut into ``reconstruction_chunks`` chunks; the band is the chunks' mean
  error +/- ``reconstruction_sigmas`` (3) standard deviations, where the standard deviation is the
  chunk means' scaled to the comparison actually made: the mean of the current sample (at most
  ``reconstruction_rows`` rows) minus the mean of all calibration rows, i.e. the chunks' standard
  deviation x sqrt(chunk rows) x sqrt(1/current rows + 1/calibration rows). Scaling to the current
  rows alone (a band of chunk means, as NannyML draws it) ignores the noise of the band's own centre:
  with 2,500 calibration rows and 5,000 current rows that band is 1.7 times too narrow, and it
  alarmed on 1 of 8 stationary pairs of diamonds;
- the current rows drift when their mean error is outside the band; the columns whose squared
  residual moved most (together 80 % of the move, in the direction of the move) are named, so the
  retrain decision can weigh them by the champion's importance as it weighs the domain classifier's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from driftgate.policies import DriftPolicy

LEVELS = 20  # one-hot columns per categorical (the most frequent levels), the rest share one
MIN_ROWS = 50  # fit rows, current rows; calibration rows are at least 20 a chunk
MIN_CHUNK_ROWS = 20
CARRIED = 0.8  # the columns named carry this share of the move of the squared residual


@dataclass(frozen=True)
class ReconstructionDrift:
    """The PCA reconstruction error of the current rows against the band of held-out reference chunks."""

    error: float  # mean reconstruction error of the current rows
    reference_error: float  # mean error of the held-out reference chunks
    chunk_std: float  # standard deviation of the chunks' mean errors
    lower: float  # the band for the current rows
    upper: float
    drifted: bool
    components: int
    variance: float  # share of the fit rows' variance the components keep
    fit_rows: int
    chunks: int
    chunk_rows: int
    current_rows: int
    # the columns whose squared residual moved most, in the direction of the move (measured when drifted)
    columns: list[str] = field(default_factory=list)
    note: str = ""  # why no verdict was reached (too few rows), else empty


class _Encoder:
    """Numeric standardized, categoricals one-hot over their frequent levels, standardized: fitted on one frame."""

    def __init__(self, frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> None:
        self.numeric, self.categorical = numeric, categorical
        self.levels = {c: list(frame[c].dropna().astype(str).value_counts().index[:LEVELS]) for c in categorical}
        raw = self._raw(frame)
        self.mean = np.nanmean(raw, axis=0) if raw.shape[1] else np.zeros(0)
        self.mean = np.where(np.isnan(self.mean), 0.0, self.mean)
        filled = np.where(np.isnan(raw), self.mean, raw)
        std = filled.std(axis=0)
        self.std = np.where(std > 0, std, 1.0)
        # the original column of each encoded column
        self.owner = list(numeric) + [c for c in categorical for _ in range(len(self.levels[c]) + 1)]

    def _raw(self, frame: pd.DataFrame) -> np.ndarray:
        columns = [pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float) for c in self.numeric]
        for c in self.categorical:
            values = frame[c].astype("object").where(frame[c].notna())
            text = values.astype(str).to_numpy()
            present = values.notna().to_numpy()
            known = np.zeros(len(frame), dtype=bool)
            for level in self.levels[c]:
                hit = present & (text == level)
                known |= hit
                columns.append(hit.astype(float))
            columns.append((present & ~known).astype(float))  # a rare or unseen level
        return np.column_stack(columns) if columns else np.empty((len(frame), 0))

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        raw = self._raw(frame)
        return (np.where(np.isnan(raw), self.mean, raw) - self.mean) / self.std


def _sample(frame: pd.DataFrame, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(frame) <= rows:
        return frame.iloc[rng.permutation(len(frame))]
    return frame.iloc[rng.choice(len(frame), size=rows, replace=False)]


def _carrying(columns: list[str], moved: np.ndarray) -> list[str]:
    """The columns that carry ``CARRIED`` of the total move (``moved``: each column's, in the move's direction)."""
    order = np.argsort(-moved, kind="stable")
    total = float(moved[moved > 0].sum())
    out: list[str] = []
    carried = 0.0
    for j in order:
        if moved[j] <= 0 or carried >= CARRIED * total:
            break
        out.append(columns[j])
        carried += float(moved[j])
    return out


def reconstruction_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    numeric: list[str],
    categorical: list[str],
    policy: DriftPolicy,
) -> ReconstructionDrift:
    """Is the current rows' PCA reconstruction error outside the band of held-out reference chunks?

    Args:
        reference: the reference rows (the champion's training rows).
        current: the rows judged (a batch, live inputs).
        numeric: numeric columns (the spec's drift features).
        categorical: categorical columns.
        policy: the sample's size and seed, the variance kept, the chunks and the band's sigmas.

    Returns:
        The verdict; ``drifted`` is False with a ``note`` when there are too few rows to fit and calibrate.
    """
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(policy.multivariate_seed)
    rows, chunks = policy.reconstruction_rows, policy.reconstruction_chunks
    ref = _sample(reference, 2 * rows, rng)
    cur = _sample(current, rows, rng)
    fit, calibration = ref.iloc[: len(ref) // 2], ref.iloc[len(ref) // 2 :]
    chunk_rows = len(calibration) // max(chunks, 1)
    if len(fit) < MIN_ROWS or len(cur) < MIN_ROWS or chunks < 2 or chunk_rows < MIN_CHUNK_ROWS:
        return ReconstructionDrift(
            error=float("nan"),
            reference_error=float("nan"),
            chunk_std=float("nan"),
            lower=float("nan"),
            upper=float("nan"),
            drifted=False,
            components=0,
            variance=0.0,
            fit_rows=len(fit),
            chunks=chunks,
            chunk_rows=chunk_rows,
            current_rows=len(cur),
            note=f"too few rows for a PCA reconstruction: {len(ref)} reference ({MIN_ROWS} to fit, "
            f"{chunks} chunks of {MIN_CHUNK_ROWS} to calibrate), {len(cur)} current ({MIN_ROWS})",
        )
    encoder = _Encoder(fit, numeric, categorical)
    x_fit = encoder.transform(fit)
    pca = PCA(n_components=policy.reconstruction_variance, svd_solver="full").fit(x_fit)

    def residuals(frame: pd.DataFrame) -> np.ndarray:
        x = encoder.transform(frame)
        return x - pca.inverse_transform(pca.transform(x))

    res_cal, res_cur = residuals(calibration.iloc[: chunk_rows * chunks]), residuals(cur)
    err_cal, err_cur = np.linalg.norm(res_cal, axis=1), np.linalg.norm(res_cur, axis=1)
    chunk_means = err_cal.reshape(chunks, chunk_rows).mean(axis=1)
    mean, std = float(chunk_means.mean()), float(chunk_means.std(ddof=1))
    # a row's standard deviation from the chunks', then that of the difference of two means: the current
    # rows' and the calibration rows' (the band's centre is itself a mean of finitely many rows)
    half = policy.reconstruction_sigmas * std * np.sqrt(chunk_rows) * np.sqrt(1 / len(cur) + 1 / len(err_cal))
    error = float(err_cur.mean())
    drifted = not (mean - half <= error <= mean + half)
    columns: list[str] = []
    if drifted:
        names = list(dict.fromkeys(encoder.owner))
        owner = np.array([names.index(c) for c in encoder.owner])
        per_cal = np.zeros(len(names))
        per_cur = np.zeros(len(names))
        np.add.at(per_cal, owner, (res_cal**2).mean(axis=0))
        np.add.at(per_cur, owner, (res_cur**2).mean(axis=0))
        columns = _carrying(names, np.sign(error - mean) * (per_cur - per_cal))
    return ReconstructionDrift(
        error=error,
        reference_error=mean,
        chunk_std=std,
        lower=mean - half,
        upper=mean + half,
        drifted=drifted,
        components=int(pca.n_components_),
        variance=float(pca.explained_variance_ratio_.sum()),
        fit_rows=len(fit),
        chunks=chunks,
        chunk_rows=chunk_rows,
        current_rows=len(cur),
        columns=columns,
    )


def describe_reconstruction(rd: ReconstructionDrift) -> str:
    """The verdict in words: the error, its band, the rows behind it, the columns that moved."""
    if rd.note:
        return rd.note
    moved = f"; columns whose residual moved: {', '.join(rd.columns)}" if rd.columns else ""
    return (
        f"PCA reconstruction error {rd.error:.4f} {'outside' if rd.drifted else 'inside'} the band "
        f"[{rd.lower:.4f}, {rd.upper:.4f}] of {rd.chunks} held-out reference chunks of {rd.chunk_rows} rows "
        f"({rd.components} components keep {rd.variance:.0%} of the variance; {rd.fit_rows} fit rows, "
        f"{rd.current_rows} current rows){moved}"
    )
