"""What each stage is told by the settings: small frozen policies, their defaults in one place.

:class:`driftgate.settings.Settings` builds every one of them (``settings.drift_policy()`` and so
on) and takes its own defaults from here, so a default lives once. The stages take a policy, never
the settings.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Literal

RetrainPolicyName = Literal["drift", "drift+growth", "always", "never"]
SearchStrategy = Literal["halving", "family-halving", "random"]
CategoricalEncoding = Literal["cardinality", "one-hot"]

SEED = 42  # seed of splits, searches, bootstraps and SHAP samples


@dataclass(frozen=True)
class RetryPolicy:
    """How hard a fetch tries: ``retries`` more attempts, exponential backoff with jitter."""

    retries: int = 6
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    timeout_s: float = 10.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        backoff = min(self.max_backoff_s, self.backoff_s * 2**attempt) * rng.uniform(0.5, 1.0)
        return max(backoff, retry_after or 0.0)


@dataclass(frozen=True)
class RegistryRetryPolicy:
    """How a task whose MLflow registry did not answer runs again: once per delay, after it (seconds).

    MLflow's client first retries each call itself (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``); these are
    the task's own runs after that (``train-model``, ``champion-gate``). A registry that takes
    longer to come back wants longer delays.
    """

    delays_s: tuple[float, ...] = (2.0, 5.0, 10.0)

    @property
    def retries(self) -> int:
        return len(self.delays_s)


@dataclass(frozen=True)
class DriftPolicy:
    """Thresholds of the per-feature tests, of the domain classifier and of the retraining decision.

    ``fdr_q``: the per-feature distribution tests' p-values are adjusted together (Benjamini-Hochberg)
    and a feature's test passes below ``fdr_q``; ``alpha`` is the level of the single tests (the
    target's, each missing-value rate's). ``multivariate_rows``: rows per side the domain classifier
    samples (0: no domain classifier), its ``multivariate_folds``, ``multivariate_alpha`` and the AUROC
    it must reach, ``multivariate_auroc``. ``reconstruction_rows``: rows a side of the PCA
    reconstruction-error detector (0: none), the variance its components keep and the sigmas of its
    band. ``attribution_rows``: rows of a batch the champion explains (0: no attribution drift), and
    the NDCG of their mean-|SHAP| ranking against the version's below which attributions drifted.
    """

    alpha: float = 0.01
    numeric_threshold: float = 0.1
    categorical_threshold: float = 0.05
    missing_threshold: float = 0.05
    share_threshold: float = 0.2
    use_importance: bool = True
    metric_floor: float | None = None
    fdr_q: float = 0.05
    multivariate_rows: int = 5000
    multivariate_folds: int = 5
    multivariate_alpha: float = 0.01
    multivariate_auroc: float = 0.55
    multivariate_seed: int = SEED
    reconstruction_rows: int = 5000
    reconstruction_variance: float = 0.65
    reconstruction_chunks: int = 20
    reconstruction_sigmas: float = 3.0
    attribution_rows: int = 500
    attribution_ndcg_min: float = 0.9


@dataclass(frozen=True)
class SplitPolicy:
    """How a batch's rows are split into train, validation and test (fixed at ingest, by batch number).

    Without a time order the sides are drawn at random (seeded by the batch); with one, the test rows
    are the batch's latest ``test_share`` of rows, validation the ``validation_share`` just before
    them, and ``gap_rows`` rows between training and validation are left out of every side, so rows
    that share a moment's state never sit on both sides.
    """

    seed: int = SEED
    test_share: float = 0.15
    validation_share: float = 0.15
    gap_rows: int = 0

    def __post_init__(self) -> None:
        if not (0 < self.test_share < 1 and 0 < self.validation_share < 1):
            raise ValueError("test and validation shares are between 0 and 1")
        if self.test_share + self.validation_share >= 1:
            raise ValueError(
                f"test share {self.test_share} + validation share {self.validation_share} leave no training rows"
            )
        if self.gap_rows < 0:
            raise ValueError(f"gap rows {self.gap_rows} < 0")

    def describe(self, time_order: str | None, group_key: str | None = None) -> str:
        """The rule in words, as a batch's manifest records it (``time_order``: the spec's, None without)."""
        train, validation, test = (f"{share:.0%}" for share in self.shares)
        key = f"; rows of one {group_key!r} on one side" if group_key else ""
        if time_order is None:
            return f"random {train} train / {validation} validation / {test} test (seed {self.seed}){key}"
        return (
            f"out of time, {time_order}: latest {test} test, the {validation} before them validation, "
            f"{self.gap_rows} gap rows before those, the rest train{key}"
        )

    @property
    def shares(self) -> tuple[float, float, float]:
        """Train, validation and test shares."""
        return (1 - self.validation_share - self.test_share, self.validation_share, self.test_share)


@dataclass(frozen=True)
class RetrainPolicy:
    """Which triggers retrain: the policy's name and the growth threshold."""

    name: RetrainPolicyName = "drift+growth"
    growth: float = 0.5


@dataclass(frozen=True)
class WindowPolicy:
    """How large a training window grows: rows at most, optionally batches at most.

    ``history_below_rows``: a drift retrain whose window (the drifted batches) holds fewer rows also
    trains a second challenger on the whole history; 0: never.
    """

    max_rows: int = 200_000
    max_batches: int | None = None
    history_below_rows: int = 20_000


@dataclass(frozen=True)
class SearchSettings:
    """How the search runs.

    ``strategy`` is ``"halving"`` (successive halving of all families' candidates together within
    ``budget_s`` seconds, the default), ``"family-halving"`` (scikit-learn's halving per family, no
    budget) or ``"random"`` (a full randomised search). ``holdout_rows``: from this many training
    rows on, the halving searches score candidates on one 20 % holdout instead of CV folds.
    ``encoding`` is ``"cardinality"`` (:func:`driftgate.dataset.encoding.encoding_of` per column) or
    ``"one-hot"`` (every categorical one-hot). ``budget_s`` None: no budget. ``search_growth``: a
    retrain on more rows of the champion's regime (the gate's non-inferiority question) refits the
    champion's configuration without a search while its window holds fewer than ``search_growth``
    times the training rows that configuration was searched on; 1: always search. ``gap_rows``: on a
    dataset with a time order, the rows left out between a forward-chaining fold's training and
    validation rows. ``refit_on_all``: on a dataset with a time order, the trained model is refitted
    (same configuration) on every labelled row of its window, the latest included, before it is
    registered to serve; its held-out metrics and the gate belong to the fit on the training rows.
    """

    n_iter: int = 4
    cv_folds: int = 3
    n_jobs: int = 2
    seed: int = SEED
    dask_address: str | None = None
    strategy: SearchStrategy = "halving"
    holdout_rows: int = 10_000
    budget_s: float | None = None
    encoding: CategoricalEncoding = "cardinality"
    search_growth: float = 2.0
    gap_rows: int = 0
    refit_on_all: bool = True


class Question(StrEnum):
    """What the gate asks: is the challenger better, or (a growth retrain) not worse by more than a margin."""

    SUPERIORITY = "superiority"  # the improvement's lower bound clears the margin (drift, metric, forced, first)
    NONINFERIORITY = "non-inferiority"  # the lower bound is above -noninferiority_margin (growth: more of the same)


@dataclass(frozen=True)
class GatePolicy:
    """How sure the gate must be: relative margins, confidence, smallest slice, resamples, seed."""

    margin: float = 0.0
    confidence: float = 0.95
    slice_min_rows: int = 200
    resamples: int = 1000
    seed: int = SEED
    noninferiority_margin: float = 0.01

    def for_candidates(self, n: int) -> GatePolicy:
        """The policy for one of ``n`` challengers gated in one retrain: Bonferroni, so the chance that
        any of them is promoted without being better stays at most ``1 - confidence``."""
        return replace(self, confidence=1 - (1 - self.confidence) / n) if n > 1 else self

    def threshold(self, question: Question) -> float:
        """The relative improvement the lower bound must clear: ``margin``, or ``-noninferiority_margin``."""
        return self.margin if question is Question.SUPERIORITY else -self.noninferiority_margin


@dataclass(frozen=True)
class ExplainSettings:
    """The SHAP step's budget: rows explained at most, seconds at most, and the sample's seed."""

    rows: int = 500
    seconds: float = 60.0
    seed: int = SEED


@dataclass(frozen=True)
class MonitorPolicy:
    """How ``monitor-predictions`` judges live performance and when it asks for a retrain."""

    window: int = 2000
    min_labels: int = 200
    margin: float = 0.05
    bootstrap: int = 200
    estimate_trigger: bool = False
    promote_shadow: bool = True
    metric_floor: float | None = None
    seed: int = SEED
    skew_rows: int = 200  # logged predictions re-scored by the version that answered them (0: none)


@dataclass(frozen=True)
class ProbationPolicy:
    """How long a version the gates promoted is watched against the champion it replaced, on live rows.

    ``rows``: labelled live rows of the new champion the watch lasts (it ends kept at this many).
    ``auto_rollback``: move ``champion`` back when the previous champion is better on those rows with
    the gate's confidence; off, the verdict is only recorded.
    """

    rows: int = 2000
    auto_rollback: bool = True
