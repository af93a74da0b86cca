"""Train on a window of accepted batches and record everything in one MLflow parent run."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import ModelSignature, infer_signature
from mlflow.tracking import MlflowClient
from prefect import task
from prefect.cache_policies import NO_CACHE

from driftgate.dataset.frames import SPLIT_COLUMN
from driftgate.dataset.spec import DatasetSpec
from driftgate.errors import DriftgateError
from driftgate.models.contract import InputContract
from driftgate.models.model_loader import TRUSTED_TYPES
from driftgate.names import FIT_TAG
from driftgate.policies import SearchSettings
from driftgate.registry.client import BatchRef, batches_tags, champion_version
from driftgate.registry.tracking import dataset_schema
from driftgate.stores.lake import Lake
from driftgate.tasks._fault_point import fault_point
from driftgate.tasks.evaluate import evaluate, slice_metrics
from driftgate.tasks.policy import IO_RETRIES, REGISTRY_RETRIES
from driftgate.tasks.train._budget import refit_configuration
from driftgate.tasks.train._pipeline import FAMILIES, parse_params, search_spaces, split_rows, split_xy
from driftgate.tasks.train._search import search

log = logging.getLogger(__name__)

# Logging the exact requirements skips MLflow's ~8 s requirement inference.
PIP_REQUIREMENTS = ["scikit-learn", "pandas", "numpy", "scipy"]
# skops refuses HistGradientBoosting's predictor unless told to trust it: the loader's own list, so both agree.
SKOPS_TRUSTED = list(TRUSTED_TYPES)


@dataclass
class TrainingData:
    """Rows of a window of accepted batches, by split, with the batches' lineage."""

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    newest_test: pd.DataFrame
    batches: list[BatchRef] = field(default_factory=list)
    labelled: pd.DataFrame | None = None
    """Every labelled row of the window (all sides, in batch order, with their ``_split`` column; the frame the
    splits were cut from, not a copy): what a refit before serving learns from."""
    newest_validation: pd.DataFrame | None = None

    def gate_rows(self, spec: DatasetSpec) -> pd.DataFrame:
        """The rows the gate judges: the window's test rows; with a time order, the newest batch's.

        Without a time order every batch's test rows are random and none trained a version. With one,
        an older batch's test rows lie before newer training rows: only the newest batch's test rows
        (its latest, with its validation rows between them and the last training row) are out of time.
        """
        return self.newest_test if spec.time_ordered else self.test

    def heldout(self, spec: DatasetSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The validation and test rows a version's metrics are measured on (the newest batch's with a time order)."""
        if spec.time_ordered and self.newest_validation is not None:
            return self.newest_validation, self.newest_test
        return self.validation, self.test


def load_window(lake: Lake, spec: DatasetSpec, numbers: list[int]) -> TrainingData:
    """Read accepted batches and split their rows; ``numbers`` are oldest first."""
    frames, refs = [], []
    for n in numbers:
        fault_point("in_window_read")
        manifest = lake.manifest(spec.name, n)
        assert manifest is not None, f"batch {n} is not stored"
        frames.append(lake.read_batch(spec.name, n))
        refs.append(BatchRef(n, manifest.sha256, lake.uri("raw", spec.name, f"batch={n}")))
    rows = pd.concat(frames, ignore_index=True)
    data = TrainingData(
        train=split_rows(rows, "train"),
        validation=split_rows(rows, "validation"),
        test=split_rows(rows, "test"),
        newest_test=split_rows(frames[-1], "test"),
        batches=refs,
        labelled=rows,
        newest_validation=split_rows(frames[-1], "validation"),
    )
    check_enough_rows(spec, data)
    return data


MIN_TRAIN_ROWS = 30
"""Training rows a window needs at least (and 8 per class): the search's folds and halving rounds need them."""


def check_enough_rows(spec: DatasetSpec, data: TrainingData) -> None:
    """Refuse a window too small to train and test on, in one line: the rows it has and the rows it needs.

    Raises:
        DriftgateError: too few training rows, a class with too few of them, or no test rows.
    """
    where = f"the training window (batches {', '.join(str(b.number) for b in data.batches)})"
    y = data.train[spec.target].dropna().astype(str)
    classes = y.value_counts() if spec.task == "classification" else pd.Series(dtype=int)
    needed = max(MIN_TRAIN_ROWS, 8 * len(classes))
    if len(y) < needed:
        raise DriftgateError(
            f"too few rows to train: {where} has {len(y)} training rows, training needs at least {needed} "
            "(70 % of a batch trains): wait for more batches or make them larger (scenario.batch_size)"
        )
    if len(classes) < 2 and spec.task == "classification":
        raise DriftgateError(f"too few rows to train: {where} holds one class only ({', '.join(classes.index)})")
    rare = classes[classes < 8]
    if len(rare):
        shown = ", ".join(f"{k!s} ({v})" for k, v in rare.items())
        raise DriftgateError(f"too few rows to train: {where} has fewer than 8 training rows of class {shown}")
    if data.test.empty:
        raise DriftgateError(f"too few rows to test: {where} has no test rows (15 % of a batch tests)")


def reference_rows(
    lake: Lake, spec: DatasetSpec, refs: list[BatchRef], *, max_rows: int | None = None, seed: int = 0
) -> pd.DataFrame:
    """The training rows of the batches in a model's lineage: drift's reference.

    Args:
        max_rows: past this many training rows (the manifests say), a seeded sample of about that
            many, read batch by batch: the lineage of a version trained on the Dask cluster is a
            window this process must never hold whole.
    """
    manifests = [m for m in (lake.manifest(spec.name, r.number) for r in refs) if m is not None]
    total = sum(int(m.splits.get("train", 0)) for m in manifests)
    if max_rows is not None and total > max_rows:
        share = max_rows / total
        parts = [
            split_rows(lake.read_batch(spec.name, m.number), "train").sample(frac=share, random_state=seed + m.number)
            for m in manifests
        ]
        return pd.concat(parts, ignore_index=True)
    frames = [lake.read_batch(spec.name, m.number) for m in manifests]
    if not frames:
        return pd.DataFrame(columns=spec.columns)
    return split_rows(pd.concat(frames, ignore_index=True), "train")


@dataclass(frozen=True)
class TrainedVersion:
    name: str
    version: str
    run_id: str
    family: str
    params: dict[str, Any]
    metrics: dict[str, float]
    fit: str = ""
    """Which fit the metrics belong to, when the served model is a refit on more rows (else empty)."""


def spec_signature(spec: DatasetSpec, output: Any) -> ModelSignature:
    """The model's signature: inputs from the spec's contract (never from sampled rows), outputs from ``output``.

    Rows cannot type a column: the first rows of a mostly-missing column are all empty, and MLflow
    then types it ``any``, which the safe loader (rightly) refuses to match with the spec.
    """
    from mlflow.types.schema import ColSpec, Schema

    rules = InputContract.from_spec(spec, 1).fields
    inputs = Schema([ColSpec("double" if r.kind == "numeric" else "string", r.name) for r in rules])
    return ModelSignature(inputs=inputs, outputs=infer_signature(model_output=output).outputs)


def run_tags(spec: DatasetSpec, batches: list[BatchRef], trigger: list[str]) -> dict[str, str]:
    """A training run's tags: its batches (:func:`batches_tags`), its dataset, what triggered it."""
    return {**batches_tags(batches), "driftgate.dataset": spec.name, "driftgate.trigger": "; ".join(trigger)}


def log_and_register(
    model: Any,
    spec: DatasetSpec,
    model_name: str,
    example: pd.DataFrame,
    *,
    rows: pd.DataFrame | None = None,
    batches: list[BatchRef] | None = None,
    rows_name: str = "",
    requirements: tuple[str, ...] = (),
) -> str:
    """Log, in the active run, the rows the model learned from as its MLflow dataset input and the
    fitted pipeline (signature, input example, skops), and register it; the version.

    Args:
        rows: the training rows (or the sample that stands for them), logged as the run's input
            (a quick model of the tests and benchmarks logs none).
        batches: the lake batches they come from: the dataset's name and its source (the newest one).
        rows_name: a suffix for the dataset's name (``-encoder-sample`` on the cluster).
        requirements: packages the model needs beyond :data:`PIP_REQUIREMENTS` (LightGBM's is added
            for a LightGBM model).
    """
    if rows is not None:
        batches = batches or []
        dataset = mlflow.data.from_pandas(  # type: ignore[attr-defined]
            rows,
            source=batches[-1].uri if batches else None,
            targets=spec.target,
            name=f"{spec.name}-batches-{'-'.join(str(b.number) for b in batches)}{rows_name}",
        )
        dataset.__dict__["schema"] = dataset_schema(rows)  # the cached property MLflow would fill, slowly
        mlflow.log_input(dataset, context="training")
    if type(model.named_steps["model"]).__module__.startswith("lightgbm.") and "lightgbm" not in requirements:
        requirements = (*requirements, "lightgbm")
    output = model.predict_proba(example) if spec.task == "classification" else model.predict(example)
    # MLflow prints "Successfully registered model" / "Created version" to sys.stderr itself (eprint),
    # whatever the logging setup: they go to driftgate's log at INFO instead (shown with -v)
    with contextlib.redirect_stderr(io.StringIO()) as printed:
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=spec_signature(spec, output),
            input_example=example,
            pip_requirements=[*PIP_REQUIREMENTS, *requirements],
            registered_model_name=model_name,
            skops_trusted_types=SKOPS_TRUSTED,
            pyfunc_predict_fn="predict_proba" if spec.task == "classification" else "predict",
        )
    for line in printed.getvalue().splitlines():
        log.info("mlflow: %s", line)
    return str(info.registered_model_version)


SEARCHED_ROWS_TAG = "driftgate.searched_rows"
"""Run tag: the training rows the version's family and hyperparameters were searched on (carried by refits)."""


@dataclass(frozen=True)
class SearchPlan:
    """How a retrain chooses its model: the warm start, and whether it refits it without a search.

    ``searched_rows``: the training rows the resulting configuration was searched on (this window's
    when it searches); ``reason`` says why it searches or refits, in one line (the run's
    ``driftgate.search`` tag).
    """

    first: tuple[str, dict[str, Any]] | None
    refit: bool
    searched_rows: int
    reason: str


def _champion_config(
    client: MlflowClient, spec: DatasetSpec, model_name: str, cfg: SearchSettings
) -> tuple[str, tuple[str, dict[str, Any]], dict[str, str]] | None:
    """The champion's version, its family and hyperparameters, and its run's tags; None without one."""
    mv = champion_version(client, model_name)
    if mv is None or not mv.run_id:
        return None
    run = client.get_run(mv.run_id)
    logged = run.data.params
    spaces = search_spaces(spec, cfg.seed, cfg.encoding, FAMILIES)
    family = logged.get("family")
    if family is None or family not in spaces:
        log.info("champion version %s: family %r is not searched; no warm start", mv.version, family)
        return None
    tags = {**run.data.tags, "train_rows": logged.get("train_rows", "")}
    return str(mv.version), (family, parse_params(spaces[family][1], logged)), tags


def champion_start(
    client: MlflowClient, spec: DatasetSpec, model_name: str, cfg: SearchSettings
) -> tuple[str, dict[str, Any]] | None:
    """The champion's family and hyperparameters, read back from its training run: the search's warm start.

    None when there is no champion or its run logged no family the search knows (a retrain then
    starts from sampled candidates only).
    """
    found = _champion_config(client, spec, model_name, cfg)
    if found is None:
        return None
    version, start, _ = found
    log.info("warm start from champion version %s: %s %s", version, *start)
    return start


def plan_search(
    client: MlflowClient,
    spec: DatasetSpec,
    model_name: str,
    cfg: SearchSettings,
    train_rows: int,
    *,
    same_regime: bool,
) -> SearchPlan:
    """Search (from the champion's configuration), or refit that configuration on a same-regime retrain.

    A retrain on more rows of the champion's regime (``same_regime``: its window holds every batch
    the champion trained on, and the gate asks non-inferiority) refits the champion's family and
    hyperparameters while ``train_rows`` is below ``cfg.search_growth`` times the rows they were
    searched on (the champion run's :data:`SEARCHED_ROWS_TAG`, else its ``train_rows``); past that,
    on every other retrain, and with a search strategy other than ``halving`` (which searches other
    families and builds its winner otherwise), the search runs, with the champion's configuration
    as its first candidate.
    """
    found = _champion_config(client, spec, model_name, cfg)
    if found is None:
        return SearchPlan(None, False, train_rows, "search: no champion configuration to start from")
    version, start, tags = found
    log.info("warm start from champion version %s: %s %s", version, *start)
    searched = tags.get(SEARCHED_ROWS_TAG) or tags.get("train_rows") or ""
    if not same_regime or cfg.strategy != "halving":  # only the halving search's winner is built as a refit is
        return SearchPlan(start, False, train_rows, f"search from champion version {version}'s configuration")
    if not searched.isdigit():
        return SearchPlan(start, False, train_rows, f"search: champion version {version} records no searched rows")
    limit = cfg.search_growth * int(searched)
    if train_rows >= limit:
        return SearchPlan(
            start,
            False,
            train_rows,
            f"search: {train_rows} training rows reach {cfg.search_growth:g} x the {searched} rows champion "
            f"version {version}'s configuration was searched on",
        )
    return SearchPlan(
        start,
        True,
        int(searched),
        f"refit of champion version {version}'s configuration: {train_rows} training rows of its regime, below "
        f"{cfg.search_growth:g} x the {searched} rows it was searched on (DRIFTGATE_SEARCH_GROWTH)",
    )


def log_candidates(experiment_id: str, spec: DatasetSpec, candidates: list[Any]) -> None:
    """A nested run per candidate of the search: its family and parameters, its cross-validated score
    (``cv_<metric>_score``) and its rank in its family (tag ``rank_in_family``).

    The tag goes with the run's creation and the parameters with the score in one batch: three writes
    to the tracking store a candidate (create, batch, end) where a call each made five. On SQLite each
    write is a commit and its fsync, on a tracking server a request (bench/candidate_runs.py).
    """
    from mlflow.entities import Metric, Param

    store = MlflowClient()  # the fluent API's tracking URI, as mlflow.log_params uses
    for i, cand in enumerate(candidates):
        tags = {"rank_in_family": str(cand.rank)}
        with mlflow.start_run(
            experiment_id=experiment_id, run_name=f"{cand.family}-{i}", nested=True, tags=tags
        ) as run:
            params = [Param(key, str(value)) for key, value in {"family": cand.family, **cand.params}.items()]
            score = Metric(f"cv_{spec.metric.name}_score", cand.cv_score, int(time.time() * 1000), 0)
            store.log_batch(run.info.run_id, metrics=[score], params=params)


def train_and_register(
    client: MlflowClient,
    experiment_id: str,
    spec: DatasetSpec,
    model_name: str,
    data: TrainingData,
    cfg: SearchSettings,
    trigger: list[str],
    batch_label: int,
    *,
    same_regime: bool = False,
) -> tuple[TrainedVersion, Any, Any]:
    """Search (or refit the champion's configuration), evaluate, log and register a model.

    Args:
        same_regime: the window holds every batch the champion trained on and more of the same
            regime (a growth retrain, gated for non-inferiority): see :func:`plan_search`.

    Returns:
        The version, the fitted model its metrics and the gate judge, and the model registered to
        serve: the same model, or (a dataset with a time order and ``cfg.refit_on_all``) a refit of
        its configuration on every labelled row of the window, the latest included.
    """
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"train-{spec.name}-batch-{batch_label}") as run:
        plan = plan_search(client, spec, model_name, cfg, len(data.train), same_regime=same_regime)
        first = plan.first
        log.info("%s", plan.reason)
        started = time.perf_counter()
        if plan.refit and first is not None:
            result = refit_configuration(spec, data.train, cfg, first)
        else:
            result = search(spec, data.train, cfg, first=first)
        search_seconds = time.perf_counter() - started
        log_candidates(experiment_id, spec, result.candidates)
        model = result.model
        metrics: dict[str, float] = {}
        if result.candidates:  # a refit scores no candidate: no cross-validated score to log
            metrics[f"cv_{spec.metric.name}_score"] = result.best_cv_score
        mlflow.log_metrics({"search_seconds": search_seconds, "refit_seconds": result.refit_seconds})
        mlflow.set_tags(
            {
                "driftgate.warm_start": json.dumps(first) if first else "none",
                "driftgate.search": plan.reason,
                SEARCHED_ROWS_TAG: str(plan.searched_rows),
            }
        )
        validation, test = data.heldout(spec)
        for split, frame in (("validation", validation), ("test", test)):
            X, y = split_xy(frame, spec)
            metrics.update({f"{split}_{k}": v for k, v in evaluate(model, spec, X, y).items()})
        mlflow.log_params(
            {
                "family": result.best_family,
                **result.best_params,
                "train_rows": len(data.train),
                "window": ",".join(str(b.number) for b in data.batches),
            }
        )
        mlflow.log_metrics({k: v for k, v in metrics.items() if v == v})  # NaN-free
        fault_point("in_mlflow_logging")
        X_test, y_test = split_xy(test, spec)
        mlflow.log_table(pd.DataFrame(slice_metrics(model, spec, X_test, y_test)), "slices/test_slices.json")
        mlflow.set_tags(run_tags(spec, data.batches, trigger))
        served, fit = serving_fit(spec, data, cfg, result)
        X_train, _ = split_xy(data.train, spec)
        learned = data.labelled.drop(columns=[SPLIT_COLUMN]) if fit and data.labelled is not None else data.train
        version = log_and_register(served, spec, model_name, X_train.head(5), rows=learned, batches=data.batches)
    client.update_model_version(
        model_name,
        version,
        description=f"{result.best_family} trained on batches "
        f"{', '.join(str(b.number) for b in data.batches)}; triggered by: {'; '.join(trigger)}"
        + (f"; {fit}" if fit else ""),
    )
    trained = TrainedVersion(
        model_name, version, run.info.run_id, result.best_family, result.best_params, metrics, fit=fit
    )
    return trained, model, served


def serving_fit(spec: DatasetSpec, data: TrainingData, cfg: SearchSettings, result: Any) -> tuple[Any, str]:
    """The model to register, and which fit the run's metrics belong to (empty: the same model).

    On a dataset with a time order the held-out rows are a batch's latest, the ones closest to what
    the model will serve; with ``cfg.refit_on_all`` the winner's configuration is refitted on every
    labelled row of the window before it serves. Its metrics, the gate and the slices stay those of
    the fit on the training rows (measured on rows it never saw), and the run says so (:data:`FIT_TAG`).
    """
    if not (spec.time_ordered and cfg.refit_on_all) or data.labelled is None:
        return result.model, ""
    refit = refit_configuration(spec, data.labelled, cfg, (result.best_family, result.best_params))
    fit = (
        f"serves a refit of this configuration on all {len(data.labelled)} labelled rows of the window (the latest "
        f"included); its validation_*/test_* metrics and the gate belong to the fit on the {len(data.train)} "
        f"training rows, scored on the newest batch's later rows it never saw"
    )
    mlflow.set_tag(FIT_TAG, fit)
    mlflow.log_params({"served_rows": len(data.labelled)})
    mlflow.log_metric("served_refit_seconds", refit.refit_seconds)
    return refit.model, fit


# --- Prefect wrappers ------------------------------------------------------------------


train_task = task(
    name="train-model",
    task_run_name="train-{spec.name}-batch-{batch_label}",
    cache_policy=NO_CACHE,
    **REGISTRY_RETRIES,  # the registry went away mid-run: train again (a new run, a new version)
)(train_and_register)

# the window is read from the lake (S3): an outage is retried like every other lake read
load_window_task = task(
    name="load-window", task_run_name="load-window-{spec.name}", cache_policy=NO_CACHE, **IO_RETRIES
)(load_window)
