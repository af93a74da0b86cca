"""The one settings object, read from the environment (prefix ``DRIFTGATE_``).

Nothing here touches the disk or the network: paths are resolved when asked for.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from driftgate.policies import (
    SEED,
    CategoricalEncoding,
    DriftPolicy,
    ExplainSettings,
    GatePolicy,
    MonitorPolicy,
    ProbationPolicy,
    RegistryRetryPolicy,
    RetrainPolicy,
    RetrainPolicyName,
    RetryPolicy,
    SearchSettings,
    SearchStrategy,
    SplitPolicy,
    WindowPolicy,
)

# the policies' own defaults are the settings' defaults: each lives once, in driftgate/policies.py
_RETRY, _DRIFT, _RETRAIN, _WINDOW = RetryPolicy(), DriftPolicy(), RetrainPolicy(), WindowPolicy()
_SEARCH, _GATE, _EXPLAIN, _MONITOR = SearchSettings(), GatePolicy(), ExplainSettings(), MonitorPolicy()
_SPLIT = SplitPolicy()
_PROBATION = ProbationPolicy()
_REGISTRY_RETRY = RegistryRetryPolicy()
MAX_REGISTRY_RETRIES = 50  # Prefect refuses more retry delays per task


class Settings(BaseSettings):
    """Every knob of driftgate. Each field is also an environment variable ``DRIFTGATE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="DRIFTGATE_", extra="ignore")

    # --- where state lives -------------------------------------------------------------
    home: Path = Field(Path(".driftgate"), description="Folder holding all embedded state.")
    dataset: str = Field("diamonds", description="Dataset spec name (file datasets/<name>.yaml).")
    datasets_dir: Path = Field(Path("datasets"), description="Folder of dataset specs.")
    expectations_dir: Path = Field(Path("expectations"), description="Folder of GX suites.")
    lake_url: str | None = Field(
        None, description="Lake root: file:///path or s3://bucket/prefix. Default <home>/lake."
    )
    s3_endpoint_url: str | None = Field(None, description="S3-compatible endpoint (MinIO, moto) for s3:// lakes.")
    s3_key: str | None = Field(None, description="S3 access key (else AWS_ACCESS_KEY_ID).")
    s3_secret: SecretStr | None = Field(None, description="S3 secret key (else AWS_SECRET_ACCESS_KEY); never logged.")
    mlflow_tracking_uri: str | None = Field(
        None,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "DRIFTGATE_MLFLOW_TRACKING_URI"),
        description="MLflow tracking URI (MLFLOW_TRACKING_URI honoured). Default SQLite in home.",
    )
    model_name: str | None = Field(None, description="Registered model name. Default: the dataset spec's model_name.")

    # --- ingestion -----------------------------------------------------------------------
    data_api_url: str = Field("http://127.0.0.1:8900", description="Base URL of the data API.")
    fetch_timeout_s: float = Field(_RETRY.timeout_s, description="Per-request timeout of batch fetches.")
    fetch_retries: int = Field(_RETRY.retries, description="Retries of one batch fetch before it fails.")
    fetch_backoff_s: float = Field(_RETRY.backoff_s, description="First backoff delay; doubles, with jitter.")
    fetch_format: str = Field("parquet", description="Transport asked of the data API.")
    batches_sql_url: str | None = Field(
        None, description="SQLAlchemy URL of `batches: {kind: sql}` sources; overrides the spec's url."
    )

    # --- drift ---------------------------------------------------------------------------
    drift_alpha: float = Field(
        _DRIFT.alpha,
        description="Significance level of the single tests: the target's and each missing-value rate's "
        "(the features' tests: DRIFTGATE_DRIFT_FDR_Q).",
    )
    drift_numeric_threshold: float = Field(
        _DRIFT.numeric_threshold, description="Wasserstein distance / reference std at which a numeric feature drifts."
    )
    drift_categorical_threshold: float = Field(
        _DRIFT.categorical_threshold,
        description="Jensen-Shannon distance (base 2) at which a categorical feature drifts.",
    )
    drift_missing_threshold: float = Field(
        _DRIFT.missing_threshold, description="Change in a column's missing-value rate that counts as drift."
    )
    drift_share_threshold: float = Field(
        _DRIFT.share_threshold,
        description="Retrain when the (importance-weighted) share of drifted features reaches it.",
    )
    drift_use_importance: bool = Field(
        _DRIFT.use_importance, description="Weight drifted features by the champion's mean |SHAP| importance."
    )
    metric_floor: float | None = Field(
        _DRIFT.metric_floor, description="Retrain when the champion's primary metric on a new batch is worse."
    )
    drift_fdr_q: float = Field(
        _DRIFT.fdr_q,
        gt=0,
        lt=1,
        description="False-discovery rate of the per-feature distribution tests: their p-values are adjusted "
        "together (Benjamini-Hochberg) and a feature's test passes when its adjusted p-value is below it.",
    )
    drift_multivariate_rows: int = Field(
        _DRIFT.multivariate_rows,
        ge=0,
        description="Rows per side (a seeded sample) on which a domain classifier learns to tell a batch from "
        "the reference, testing the joint distribution; 0: no domain classifier.",
    )
    drift_multivariate_alpha: float = Field(
        _DRIFT.multivariate_alpha,
        gt=0,
        lt=1,
        description="Significance level of the domain classifier's test (Mann-Whitney U on out-of-fold scores).",
    )
    drift_multivariate_auroc: float = Field(
        _DRIFT.multivariate_auroc,
        ge=0.5,
        le=1,
        description="Out-of-fold AUROC from which the domain classifier's significant separation counts as drift.",
    )
    drift_reconstruction_rows: int = Field(
        _DRIFT.reconstruction_rows,
        ge=0,
        description="Rows of a batch (a seeded sample) whose PCA reconstruction error is compared with a band from "
        "held-out reference chunks (up to twice as many reference rows: half fit the PCA, half calibrate); 0: none.",
    )
    drift_attribution_rows: int = Field(
        _DRIFT.attribution_rows,
        ge=0,
        description="Rows of a batch (a seeded sample) the champion explains with SHAP to compare its mean-|SHAP| "
        "ranking with the version's own; 0: no attribution drift.",
    )
    attribution_ndcg_min: float = Field(
        _DRIFT.attribution_ndcg_min,
        ge=0,
        le=1,
        description="NDCG of a batch's mean-|SHAP| feature ranking against the champion's (its explanation at "
        "training) below which the model's reasons drifted.",
    )

    # --- training and gate ---------------------------------------------------------------
    retrain_policy: RetrainPolicyName = Field(
        _RETRAIN.name,
        description="When a batch retrains: drift (drift, metric floor), drift+growth (also when the accepted rows "
        "the champion never saw reach DRIFTGATE_RETRAIN_GROWTH of its rows), always (every accepted batch), never "
        "(serve only: train the first model, then only when forced).",
    )
    retrain_growth: float = Field(
        _RETRAIN.growth,
        gt=0,
        description="Growth trigger: new accepted rows, as a share of the rows the champion trained on.",
    )
    train_max_rows: int = Field(
        _WINDOW.max_rows,
        ge=1,
        description="Most rows a training window holds (whole batches, newest first; at least one).",
    )
    train_window: int | None = Field(
        _WINDOW.max_batches,
        ge=1,
        description="Cap of a training window in batches (newest first); unset: no cap, DRIFTGATE_TRAIN_MAX_ROWS "
        "bounds it. The window holds every accepted batch since the last drift retrain.",
    )
    history_challenger_below_rows: int = Field(
        _WINDOW.history_below_rows,
        ge=0,
        description="A drift retrain whose window (the drifted batches) holds fewer rows also trains a second "
        "challenger on the whole history; the gate judges both on the drifted batches' test rows, each at a "
        "Bonferroni-split confidence. 0: never.",
    )
    search_iter: int = Field(_SEARCH.n_iter, description="Hyperparameter candidates tried per model family.")
    cv_folds: int = Field(_SEARCH.cv_folds, description="Cross-validation folds of the search.")
    n_jobs: int = Field(
        _SEARCH.n_jobs, description="Parallel search jobs (joblib workers, one BLAS/OpenMP thread each)."
    )
    dask_address: str | None = Field(None, description="Dask scheduler: run the search there.")
    dask_min_rows: int = Field(
        1_000_000,
        ge=0,
        description="A training window of more rows than this, with DRIFTGATE_DASK_ADDRESS set, trains on that Dask "
        "cluster: its Parquet parts read lazily by the workers, LightGBM fitted there on encoders fitted on a sample, "
        "the gate's predictions made per partition, SHAP on a sample; a batch of more rows is validated per partition "
        "there. At or below it (or with no address) everything "
        "runs in the flow's process, as before.",
    )
    dask_trees: int = Field(
        200,
        ge=1,
        description="Boosting rounds (LightGBM n_estimators) of a training window fitted on the Dask cluster "
        "(past DRIFTGATE_DASK_MIN_ROWS).",
    )
    search_strategy: SearchStrategy = Field(
        _SEARCH.strategy,
        description="halving: successive halving of every family's candidates together, within "
        "DRIFTGATE_TRAIN_BUDGET_S, starting from the champion's parameters; family-halving: the previous search "
        "(scikit-learn's halving per family, no budget); random: full randomised search (the original).",
    )
    train_budget_s: float = Field(
        300.0,
        gt=0,
        description="Wall-time budget of the search in seconds: once spent, no more candidates or rungs are "
        "tried and the best candidate so far is refitted on all training rows (the refit is not bounded).",
    )
    search_growth: float = Field(
        _SEARCH.search_growth,
        ge=1,
        description="A growth retrain (more rows of the champion's regime, gated for non-inferiority) refits the "
        "champion's family and hyperparameters on the window, without a search, until the window holds this many "
        "times the training rows that configuration was searched on; then it searches again. 1: always search.",
    )
    categorical_encoding: CategoricalEncoding = Field(
        _SEARCH.encoding,
        description="cardinality: one-hot up to driftgate.dataset.encoding.ONE_HOT_MAX_LEVELS levels, target encoding "
        "(cross-fitted) above; one-hot: every categorical one-hot, levels under 1 % grouped (the previous pipeline).",
    )
    search_holdout_rows: int = Field(
        _SEARCH.holdout_rows,
        description="From this many training rows on, the search scores on one 20 % holdout, not CV folds.",
    )
    gate_margin: float = Field(_GATE.margin, description="Relative improvement a challenger needs over the champion.")
    gate_confidence: float = Field(
        _GATE.confidence,
        gt=0,
        lt=1,
        description="Confidence of the gate's paired interval (promote when it clears the margin).",
    )
    gate_slice_min_rows: int = Field(
        _GATE.slice_min_rows,
        ge=1,
        description="Fewest evaluation rows of a slice (and overall) the gate judges; fewer: not judged.",
    )
    gate_bootstrap: int = Field(_GATE.resamples, ge=100, description="Resamples of the gate's paired bootstrap.")
    gate_noninferiority_margin: float = Field(
        _GATE.noninferiority_margin,
        ge=0,
        description="A growth retrain (a superset of the champion's rows, same regime) is promoted when the lower "
        "bound of its improvement is above minus this share of the champion's score (non-inferiority).",
    )
    seed: int = Field(SEED, description="Seed of splits and searches.")
    test_share: float = Field(
        _SPLIT.test_share,
        gt=0,
        lt=0.5,
        description="Share of each batch's rows that test (with a time order in the spec: its latest rows).",
    )
    validation_share: float = Field(
        _SPLIT.validation_share,
        gt=0,
        lt=0.5,
        description="Share of each batch's rows that validate (with a time order: the rows just before the test rows).",
    )
    split_gap_rows: int = Field(
        _SPLIT.gap_rows,
        ge=0,
        description="With a time order: rows of each batch left out between training and validation rows, and "
        "between the search's forward-chaining folds (rows that share a moment's state never sit on both sides).",
    )
    refit_on_all: bool = Field(
        _SEARCH.refit_on_all,
        description="With a time order: refit the gate's winner on every labelled row of its window (the latest "
        "included) before it serves; its held-out metrics belong to the fit on the training rows (tag driftgate.fit).",
    )
    lease_seconds: float = Field(
        3600.0, gt=0, description="Expiry of a training run's dataset lease (set it above the longest run)."
    )
    registry_retry_delays: Annotated[tuple[float, ...], NoDecode] = Field(
        _REGISTRY_RETRY.delays_s,
        description="Seconds train-model and champion-gate wait before each run again when the MLflow registry did "
        "not answer, comma-separated: one retry per delay (then the run fails naming the registry). A registry that "
        "restarts slowly wants longer waits.",
    )

    # --- explanations --------------------------------------------------------------------
    explain_rows: int = Field(_EXPLAIN.rows, description="Row budget of the SHAP step.")
    explain_seconds: float = Field(_EXPLAIN.seconds, description="Time budget of the SHAP step.")

    # --- serving -------------------------------------------------------------------------
    serve_host: str = Field("127.0.0.1", description="Model service host.")
    serve_port: int = Field(8000, description="Model service port.")
    poll_seconds: float = Field(3.0, description="How often the service checks the alias.")
    max_records: int = Field(1000, description="Most records one /predict call may carry.")
    batch_wait_ms: float = Field(2.0, description="Micro-batching: longest wait to fill a batch.")
    model_in_thread: bool = Field(False, description="Run model calls on a thread instead of the event loop.")
    admin_api_key: SecretStr | None = Field(None, description="Key for /admin routes; unset: off. Never logged.")
    max_body_bytes: int = Field(
        1_000_000, ge=1024, description="Largest request body the service reads (413 past it, before parsing)."
    )
    explain_concurrency: int = Field(
        2, ge=1, description="Explanations computed at once (own threads); more waiting requests get 429."
    )
    prefect_ui_url: str | None = Field(None, description="Prefect UI the console links to; unset: no link.")
    mlflow_ui_url: str | None = Field(None, description="MLflow UI the console links to; unset: no link.")
    predictions_db_url: str | None = Field(
        None, description="SQLAlchemy URL of the prediction log. Default SQLite in home."
    )
    prediction_log: bool = Field(True, description="Log every prediction (and shadow prediction) to the database.")
    prediction_log_max_age_hours: float | None = Field(
        None,
        gt=0,
        description="Delete logged predictions older than this (labelled rows and the last 30 s are kept); "
        "unset: no age limit. Keep it above the monitor's interval and the time labels take to arrive.",
    )
    prediction_log_max_rows: int | None = Field(
        None,
        ge=1,
        description="Keep at most this many logged predictions, the newest (labelled rows and the last 30 s "
        "come on top); unset: no row limit.",
    )
    prediction_log_sample: float = Field(
        1.0, gt=0, le=1, description="Share of /predict requests whose predictions are logged (1: every one)."
    )
    prediction_log_prune_seconds: float = Field(
        60.0, gt=0, description="How often the service's log writer applies the retention above."
    )
    prediction_ids: bool = Field(True, description="Give every prediction an id (answered, logged, for /feedback).")
    id_header: str = Field("X-Request-Id", description="Request header whose value prefixes generated ids.")
    shadow: bool = Field(
        True, description="Score the 'challenger' alias on logged live requests in a process of its own, and log it."
    )
    feedback_open: bool = Field(
        False,
        description="With no admin key set, take /feedback labels from any client, not only this machine (loopback).",
    )
    read_timeout_s: float = Field(
        15.0, gt=0, description="Deadline for a client to send a whole request (headers and body); then it is cut."
    )
    max_connections: int = Field(
        1000, ge=1, description="Open connections the service holds at most; past it a new request gets 503."
    )

    notify_webhook: SecretStr | None = Field(
        None,
        description="Webhook URL the notify automations post to (Slack-compatible JSON {'text': ...}); "
        "unset: `driftgate automations apply` skips them. Never logged.",
    )

    # --- live performance (monitor-predictions) --------------------------------------------
    monitor_window: int = Field(
        _MONITOR.window, description="Newest labelled predictions per version the realized metric uses."
    )
    monitor_min_labels: int = Field(
        _MONITOR.min_labels, description="Labelled predictions needed before realized performance counts."
    )
    monitor_margin: float = Field(
        _MONITOR.margin,
        description="Retrain when the champion's realized metric is this much worse than its test score.",
    )
    monitor_bootstrap: int = Field(
        _MONITOR.bootstrap, description="Bootstrap resamples of the realized metric's interval."
    )
    monitor_estimate_trigger: bool = Field(
        _MONITOR.estimate_trigger,
        description="Also retrain when the label-free estimate (CBPE) is worse than test minus the margin.",
    )
    monitor_promote_shadow: bool = Field(
        _MONITOR.promote_shadow,
        description="Promote the shadow challenger when the gate finds it better on labelled live rows.",
    )
    monitor_skew_rows: int = Field(
        _MONITOR.skew_rows,
        ge=0,
        description="Logged predictions (a seeded sample of those since the last check) that monitor-predictions "
        "re-scores with the version that answered them, reporting every answer that differs (training-serving "
        "skew); 0: none.",
    )
    probation_rows: int = Field(
        _PROBATION.rows,
        ge=1,
        description="Labelled live rows a version the gates promoted is watched against the champion it replaced "
        "(the previous champion is scored on the same rows; about the rows the gate judged it on).",
    )
    auto_rollback: bool = Field(
        _PROBATION.auto_rollback,
        description="Move champion back when the previous champion is better on the probation rows with the "
        "gate's confidence (off: the verdict is only recorded).",
    )

    @field_validator("registry_retry_delays", mode="before")
    @classmethod
    def _seconds_list(cls, value: object) -> object:
        """``"2,5,10"`` (the environment's form) -> ``(2.0, 5.0, 10.0)``: 1 to 50 finite numbers >= 0."""
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            return value  # pydantic's own type error
        wrong = (
            f"give 1 to {MAX_REGISTRY_RETRIES} delays in seconds, separated by commas, each a number >= 0 (e.g. 2,5,10)"
        )
        try:
            delays = tuple(float(str(item).strip()) for item in items)
        except ValueError:
            raise ValueError(wrong) from None
        if not 1 <= len(delays) <= MAX_REGISTRY_RETRIES or not all(math.isfinite(d) and d >= 0 for d in delays):
            raise ValueError(wrong)
        return delays

    # --- the policies the stages are given ------------------------------------------------
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(retries=self.fetch_retries, backoff_s=self.fetch_backoff_s, timeout_s=self.fetch_timeout_s)

    def drift_policy(self) -> DriftPolicy:
        return DriftPolicy(
            alpha=self.drift_alpha,
            numeric_threshold=self.drift_numeric_threshold,
            categorical_threshold=self.drift_categorical_threshold,
            missing_threshold=self.drift_missing_threshold,
            share_threshold=self.drift_share_threshold,
            use_importance=self.drift_use_importance,
            metric_floor=self.metric_floor,
            fdr_q=self.drift_fdr_q,
            multivariate_rows=self.drift_multivariate_rows,
            multivariate_alpha=self.drift_multivariate_alpha,
            multivariate_auroc=self.drift_multivariate_auroc,
            multivariate_seed=self.seed,
            reconstruction_rows=self.drift_reconstruction_rows,
            attribution_rows=self.drift_attribution_rows,
            attribution_ndcg_min=self.attribution_ndcg_min,
        )

    def registry_retry_policy(self) -> RegistryRetryPolicy:
        return RegistryRetryPolicy(delays_s=self.registry_retry_delays)

    def retraining_policy(self) -> RetrainPolicy:
        return RetrainPolicy(name=self.retrain_policy, growth=self.retrain_growth)

    def window_policy(self) -> WindowPolicy:
        return WindowPolicy(
            max_rows=self.train_max_rows,
            max_batches=self.train_window,
            history_below_rows=self.history_challenger_below_rows,
        )

    def search_settings(self) -> SearchSettings:
        return SearchSettings(
            n_iter=self.search_iter,
            cv_folds=self.cv_folds,
            n_jobs=self.n_jobs,
            seed=self.seed,
            dask_address=self.dask_address,
            strategy=self.search_strategy,
            holdout_rows=self.search_holdout_rows,
            budget_s=self.train_budget_s,
            encoding=self.categorical_encoding,
            search_growth=self.search_growth,
            gap_rows=self.split_gap_rows,
            refit_on_all=self.refit_on_all,
        )

    def split_policy(self) -> SplitPolicy:
        return SplitPolicy(
            seed=self.seed,
            test_share=self.test_share,
            validation_share=self.validation_share,
            gap_rows=self.split_gap_rows,
        )

    def gate_policy(self) -> GatePolicy:
        return GatePolicy(
            margin=self.gate_margin,
            confidence=self.gate_confidence,
            slice_min_rows=self.gate_slice_min_rows,
            resamples=self.gate_bootstrap,
            seed=self.seed,
            noninferiority_margin=self.gate_noninferiority_margin,
        )

    def explain_settings(self) -> ExplainSettings:
        return ExplainSettings(rows=self.explain_rows, seconds=self.explain_seconds, seed=self.seed)

    def monitor_policy(self) -> MonitorPolicy:
        return MonitorPolicy(
            window=self.monitor_window,
            min_labels=self.monitor_min_labels,
            margin=self.monitor_margin,
            bootstrap=self.monitor_bootstrap,
            estimate_trigger=self.monitor_estimate_trigger,
            promote_shadow=self.monitor_promote_shadow,
            skew_rows=self.monitor_skew_rows,
            metric_floor=self.metric_floor,
            seed=self.seed,
        )

    def probation_policy(self) -> ProbationPolicy:
        return ProbationPolicy(rows=self.probation_rows, auto_rollback=self.auto_rollback)

    # --- derived -------------------------------------------------------------------------
    def resolved_lake_url(self) -> str:
        if self.lake_url:
            return self.lake_url
        return (self.home / "lake").resolve().as_uri()

    def service_url(self) -> str:
        """Base URL of the model service (links in artifacts and reports)."""
        return f"http://{self.serve_host}:{self.serve_port}"

    def resolved_tracking_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.home / 'mlflow.db').resolve()}"

    def artifact_root(self) -> str:
        return (self.home / "mlartifacts").resolve().as_uri()

    def resolved_predictions_db_url(self) -> str:
        if self.predictions_db_url:
            return self.predictions_db_url
        return f"sqlite:///{(self.home / 'predictions.db').resolve()}"

    def storage_options(self, url: str | None = None) -> dict[str, object]:
        """fsspec options for ``url`` (default: the lake); empty for local files."""
        if not (url or self.resolved_lake_url()).startswith("s3://"):
            return {}
        opts: dict[str, object] = {
            # rclone and some MinIO builds fail botocore's response checksums
            "config_kwargs": {"response_checksum_validation": "when_required"},
        }
        if self.s3_endpoint_url:
            opts["client_kwargs"] = {"endpoint_url": self.s3_endpoint_url}
        if self.s3_key:
            opts["key"] = self.s3_key
        if self.s3_secret:
            opts["secret"] = self.s3_secret.get_secret_value()
        return opts


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
