"""The final fit of a window past one machine: LightGBM on a Dask cluster, registered as a local pipeline.

The encoders are the single-machine trainer's own (:func:`build_pipeline`'s ``pre`` step: median
imputation, one-hot or target encoding by cardinality), **fitted on a seeded sample of the
window's training rows in the flow's process** (``sample_rows``, 50,000 by default): one-hot
levels under 1 % and target means need no more rows than that, and the sample bounds the flow's
memory whatever the window's size. The cluster then encodes every training partition with them
and ``lightgbm.DaskLGBMClassifier``/``DaskLGBMRegressor`` trains on the encoded partitions where
they live (LightGBM's own data-parallel learner between the workers). ``to_local()`` turns the
result into an ordinary ``LGBMClassifier``/``LGBMRegressor``, so the registered model is a plain
scikit-learn ``Pipeline(pre, model)`` saved with skops like every other version; the types it
needs trusted are :data:`LIGHTGBM_TRUSTED_TYPES` (measured with ``skops.io.get_untrusted_types``).

Why LightGBM and not ``xgboost.dask``: its Dask estimators are scikit-learn estimators whose
``to_local()`` gives the local estimator directly (fits a ``Pipeline``), the wheel is a few MB
(xgboost's pulls a GPU runtime), and skops persists it through its generic reduce protocol.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from concurrent.futures import CancelledError
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from driftgate.dataset.spec import DatasetSpec
from driftgate.errors import DriftgateError
from driftgate.models.partitions import encode_part, label_part
from driftgate.models.predict import Predictions
from driftgate.tasks.evaluate import Scored, score
from driftgate.tasks.train._dask_window import DaskWindow, partition_predictions, sample_rows
from driftgate.tasks.train._pipeline import build_pipeline, split_xy

if TYPE_CHECKING:  # Dask, LightGBM and scikit-learn are imported by the functions that fit on a cluster
    import dask.array as da
    from distributed import Client
    from sklearn.base import BaseEstimator
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

log = logging.getLogger(__name__)

FAMILY = "lightgbm-dask"


@dataclass(frozen=True)
class DistributedSettings:
    """The distributed fit's knobs (the flow takes ``seed`` and ``encoding`` from driftgate's settings).

    ``sample_rows``: training rows the encoders are fitted on, in the flow's process. The booster's
    parameters mirror the search's gradient-boosting space (``learning_rate``, ``max_leaf_nodes`` ->
    ``num_leaves``, ``min_samples_leaf`` -> ``min_child_samples``, ``l2_regularization`` -> ``reg_lambda``).
    ``network_timeout_min``: LightGBM's ``time_out`` between the workers (its default is 120 minutes):
    a worker that leaves during the fit (killed at its memory limit, say) never joins LightGBM's
    network, and the others would wait that long for it; with this bound the fit fails instead.
    ``bin_sample_rows``: rows each worker samples to place LightGBM's bin edges
    (``bin_construct_sample_cnt``, 200,000 by default). Building the dataset holds that sample as
    float64 values and row indices for every column: on 140,000 rows of 110 encoded columns the
    default peaks 227 MB above the data, 50,000 peaks 91 MB, and 255 bins need no more rows.
    """

    sample_rows: int = 50_000
    n_estimators: int = 200
    learning_rate: float = 0.1
    num_leaves: int = 31
    min_child_samples: int = 20
    reg_lambda: float = 0.0
    seed: int = 42
    encoding: str = "cardinality"
    network_timeout_min: int = 10
    bin_sample_rows: int = 50_000

    def params(self) -> dict[str, Any]:
        return {
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "reg_lambda": self.reg_lambda,
        }


@dataclass
class ClusterFit:
    """A pipeline fitted on the cluster, with what the flow needs next (all of it small)."""

    model: Pipeline
    params: dict[str, Any]
    train_rows: int
    sample: pd.DataFrame  # the training rows the encoders saw (SHAP background, MLflow input example)
    fit_seconds: float


def fit_encoder(spec: DatasetSpec, rows: pd.DataFrame, cfg: DistributedSettings) -> ColumnTransformer:
    """The single-machine trainer's preprocessing (``build_pipeline``'s ``pre``), fitted on ``rows`` in memory."""
    from lightgbm import LGBMClassifier, LGBMRegressor

    placeholder: BaseEstimator = LGBMClassifier() if spec.task == "classification" else LGBMRegressor()
    pre = build_pipeline(spec, placeholder, scale=False, encoding=cfg.encoding, seed=cfg.seed).named_steps["pre"]
    X, y = split_xy(rows, spec)
    pre.fit(X, y)
    return pre  # type: ignore[no-any-return]


def encoded_arrays(
    client: Client, train: Any, spec: DatasetSpec, pre: ColumnTransformer
) -> tuple[da.Array, da.Array, list[Any]]:
    """The training partitions encoded on the workers as Dask arrays (X, y), and the labels' distinct values.

    One pass counts each partition's rows and collects the distinct labels (known chunk sizes let
    LightGBM pair X and y chunk by chunk); the encoding itself runs inside LightGBM's fit.
    """
    import dask.array as da
    from dask.delayed import delayed

    counted = [train.map_partitions(len)]
    if spec.task == "classification":
        counted.append(train[spec.target].unique())
    found = client.compute(counted, sync=True)  # type: ignore[no-untyped-call]
    lengths = [int(n) for n in found[0]]
    distinct = sorted(str(v) for v in found[1].dropna()) if len(found) > 1 else []
    width = len(pre.get_feature_names_out())
    shared = delayed(pre, pure=True)
    xs, ys = [], []
    for part, n in zip(train.to_delayed(), lengths, strict=True):
        if n == 0:
            continue
        x = delayed(encode_part)(part, shared, spec.feature_names)
        xs.append(da.from_delayed(x, (n, width), np.float32))  # type: ignore[no-untyped-call]
        dtype = object if spec.task == "classification" else np.float64
        ys.append(da.from_delayed(delayed(label_part)(part, spec.target, spec.task), (n,), dtype))  # type: ignore[no-untyped-call]
    if not xs:
        raise DriftgateError(f"the training window of {spec.name!r} has no training rows")
    return da.concatenate(xs), da.concatenate(ys), distinct  # type: ignore[no-untyped-call]


LOST_WORKER_HINT = (
    "a worker that leaves the cluster during the fit (killed at its memory limit, say) fails it: "
    "give the workers more memory, or add workers"
)


def scheduler_lost(client: Client, name: str, exc: BaseException) -> DriftgateError | None:
    """The error for a fit whose client lost its scheduler (killed, its host gone), in one line; None otherwise."""
    if client.status == "running" and "lost the connection to the scheduler" not in str(exc):
        return None
    address = getattr(client.scheduler, "address", None) or "?"
    return DriftgateError(
        f"the distributed fit of {name!r} failed: it lost the Dask scheduler at {address} "
        f"({type(exc).__name__}); start a scheduler there (DRIFTGATE_DASK_ADDRESS) and rerun: nothing was registered"
    )


def fit_watched(client: Client, booster: Any, X: da.Array, y: da.Array, name: str, every_s: float = 1.0) -> None:
    """``booster.fit(X, y)`` on the cluster, failing with a clear error when a training worker is lost.

    LightGBM's ranks cannot survive a lost peer: the others wait for it in its network code (a
    closed socket reads as zero bytes, forever), and the Dask task of the lost one is pinned to an
    address that is gone, so the fit would never return (a CI run hung 30 minutes on this). The fit
    runs in a thread while this one watches the workers that run ``_train_part`` tasks; when one of
    them leaves, the others are restarted (their threads are stuck in C code: nothing else frees
    them), the training tasks are cancelled, and :class:`DriftgateError` says what happened. A worker
    lost before it was seen training (within ``every_s`` of the start) never joins LightGBM's
    network: the others give up after ``time_out`` minutes (``DistributedSettings.network_timeout_min``).

    Raises:
        DriftgateError: LightGBM or Dask failed the fit, a training worker left during it, or the scheduler was lost.
    """
    from distributed import Future, KilledWorker
    from lightgbm.basic import LightGBMError

    failure: list[BaseException] = []

    def run() -> None:
        with warnings.catch_warnings():  # LightGBM's Dask fit always names n_jobs (workers' threads decide)
            warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored", category=UserWarning)
            try:
                booster.fit(X, y)
            except BaseException as exc:  # handed to the watching thread, raised there
                failure.append(exc)

    fitting = threading.Thread(target=run, name=f"lightgbm-dask-fit-{name}", daemon=True)
    fitting.start()
    training: set[str] = set()
    seen: set[Any] = set()  # the training tasks' keys (a lost worker's task leaves ``processing``)
    while fitting.is_alive():
        fitting.join(every_s)
        if not fitting.is_alive():
            break
        try:
            processing = client.processing()  # type: ignore[no-untyped-call]  # every worker of the cluster, with the tasks it runs
        except (OSError, TimeoutError) as lost_comm:  # CommClosedError is an OSError
            raise scheduler_lost(client, name, lost_comm) or lost_comm from lost_comm
        seen |= {k for running in processing.values() for k in running if "_train_part" in str(k)}
        training |= {w for w, running in processing.items() if any("_train_part" in str(k) for k in running)}
        lost = training - set(processing)
        if lost:
            stuck = sorted(training & set(processing))
            log.error("%s: training worker(s) %s left during the distributed fit; restarting %s", name, lost, stuck)
            if stuck:
                try:
                    client.restart_workers(stuck, raise_for_error=False)
                except (
                    KeyError,
                    OSError,
                    TimeoutError,
                ) as err:  # a worker left meanwhile (KeyError: distributed's map)
                    log.warning("%s: restarting %s: %s: %r", name, stuck, type(err).__name__, err)
            client.cancel([Future(k, client) for k in seen], force=True)  # type: ignore[no-untyped-call]
            fitting.join(60)
            gone = ", ".join(sorted(lost))
            raise DriftgateError(
                f"the distributed fit of {name!r} failed: it lost worker(s) {gone}; {LOST_WORKER_HINT}"
            )
    if failure:
        exc = failure[0]
        lost_scheduler = scheduler_lost(client, name, exc)
        if lost_scheduler is not None:
            raise lost_scheduler from exc
        if isinstance(exc, LightGBMError | KilledWorker | OSError | CancelledError):  # CommClosedError is an OSError
            raise DriftgateError(
                f"the distributed fit of {name!r} failed ({type(exc).__name__}: {exc}); {LOST_WORKER_HINT}"
            ) from exc
        raise exc


def fit_on_cluster(client: Client, spec: DatasetSpec, window: DaskWindow, cfg: DistributedSettings) -> ClusterFit:
    """Fit the encoders on a sample, the booster on the cluster; a local ``Pipeline(pre, model)``.

    Raises:
        DriftgateError: no training rows, or the booster came back with other classes than the window's.
    """
    from lightgbm import DaskLGBMClassifier, DaskLGBMRegressor
    from sklearn.pipeline import Pipeline

    started = time.perf_counter()
    train = window.split("train")
    sample = sample_rows(train, cfg.sample_rows, of=window.split_rows.get("train", 0), seed=cfg.seed)
    pre = fit_encoder(spec, sample, cfg)
    X, y, classes = encoded_arrays(client, train, spec, pre)
    kind = DaskLGBMClassifier if spec.task == "classification" else DaskLGBMRegressor
    booster = kind(
        client=client,
        random_state=cfg.seed,
        verbose=-1,
        time_out=cfg.network_timeout_min,
        bin_construct_sample_cnt=cfg.bin_sample_rows,
        **cfg.params(),
    )
    fit_watched(client, booster, X, y, spec.name)
    local = booster.to_local()
    if spec.task == "classification" and [str(c) for c in local.classes_] != classes:
        raise DriftgateError(
            f"the distributed fit saw classes {list(local.classes_)}, the window holds {classes}: "
            "every worker needs rows of every class (more rows per partition, or fewer workers)"
        )
    model = Pipeline([("pre", pre), ("model", local)])
    seconds = time.perf_counter() - started
    log.info("%s: fitted %s on %s training rows in %.1fs", spec.name, FAMILY, len(X), seconds)
    return ClusterFit(model, cfg.params(), int(X.shape[0]), sample, seconds)


def scored(spec: DatasetSpec, rows: pd.DataFrame, pred: Predictions) -> Scored:
    """Predictions and their labels, ready for :func:`driftgate.tasks.evaluate.score`."""
    if spec.task == "classification":
        y = rows[spec.target].astype(str).to_numpy(dtype=object)
        return Scored(y, pred.proba, None, [str(c) for c in pred.classes])
    return Scored(rows[spec.target].to_numpy(dtype=float), None, pred.values, [])


def split_metrics(
    client: Client,
    spec: DatasetSpec,
    window: DaskWindow,
    model: Pipeline,
    splits: tuple[str, ...] = ("validation", "test"),
) -> dict[str, float]:
    """``<split>_<metric>`` (and ``<split>_accuracy``) of ``model`` on each split's rows, scored per partition."""
    metrics: dict[str, float] = {}
    for split in splits:
        rows, preds = partition_predictions(client, window.split(split), spec, {"model": model})
        if rows.empty:
            continue
        pred = preds["model"]
        metrics[f"{split}_{spec.metric.name}"] = score(spec, scored(spec, rows, pred))
        if spec.task == "classification":
            truth = rows[spec.target].astype(str).to_numpy(dtype=object)
            metrics[f"{split}_accuracy"] = float(np.mean(pred.values.astype(str) == truth))
    return metrics
