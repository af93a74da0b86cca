"""Validate batches against their Great Expectations suite; quarantine the ones that fail."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from driftgate.errors import SuiteError
from driftgate.dataset.frames import SPLIT_COLUMN
from driftgate.stores.lake import ROW_GROUP_ROWS, Lake
from driftgate.pages.render import number, render_standalone
from driftgate.dataset.spec import DatasetSpec
from driftgate.tasks._fault_point import fault_point

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuite

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Failure:
    """One expectation a batch did not meet."""

    expectation: str
    column: str | None
    severity: str
    observed: Any
    unexpected_percent: float | None
    examples: list[Any]
    message: str
    partition: str = ""  # validated per partition (a batch past one machine): the partitions that failed it

    def describe(self) -> str:
        where = f"column {self.column!r}" if self.column else "table"
        text = f"{self.expectation} on {where}"
        if self.partition:
            text += f" in partition {self.partition}"
        if self.message:
            return f"{text}: {self.message}"
        parts = []
        if self.observed is not None:
            parts.append(f"observed {number(self.observed)}")
        if self.unexpected_percent:
            parts.append(f"{number(self.unexpected_percent, 3)}% unexpected")
        if self.examples:
            parts.append(f"e.g. {number(self.examples[:5])}")
        return f"{text}: {', '.join(parts) or 'failed'}"


@dataclass(frozen=True)
class Check:
    """One expectation as it ran on a batch: what it asked (its kwargs), what it saw, its verdict."""

    expectation: str
    column: str | None
    severity: str
    kwargs: dict[str, Any]
    observed: Any
    unexpected_percent: float | None
    success: bool
    message: str = ""
    unexpected_count: int | None = None
    element_count: int | None = None
    examples: list[Any] = field(default_factory=list)
    missing_count: int | None = None
    partition: str = ""  # validated per partition: the partitions where it failed

    @property
    def verdict(self) -> str:
        if self.success:
            return "passed"
        return "warning" if self.severity in ("warning", "info") else "failed"


@dataclass(frozen=True)
class ValidationResult:
    """The verdict on one batch: it passes unless a critical expectation failed."""

    dataset: str
    batch: int
    success: bool
    evaluated: int
    failures: list[Failure] = field(default_factory=list)
    warnings: list[Failure] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_markdown(self) -> str:
        verdict = "passed" if self.success else "FAILED: quarantined"
        lines = [
            f"# Validation of {self.dataset} batch {self.batch}: {verdict}",
            "",
            f"{self.evaluated} expectations, {len(self.failures)} failed, {len(self.warnings)} warnings.",
        ]
        for title, items in (("Failed", self.failures), ("Warnings", self.warnings)):
            if items:
                lines += ["", f"## {title}", ""] + [f"- {f.describe()}" for f in items]
        return "\n".join(lines)

    def to_html(self) -> str:
        verdict = "passed" if self.success else "failed: quarantined"
        return render_standalone(
            "report_validation.html", title=f"{self.dataset} batch {self.batch}: {verdict}", result=self
        )


@dataclass(frozen=True)
class ClusterValidation:
    """Where a batch past one machine is validated: the Dask scheduler, the batch size from which it
    goes there (``DRIFTGATE_DASK_MIN_ROWS``), rows per partition, the lake's fsspec options for
    the workers, and how long to try reaching the scheduler."""

    address: str
    min_rows: int
    partition_rows: int = ROW_GROUP_ROWS
    storage_options: dict[str, Any] = field(default_factory=dict)
    connect_timeout_s: float = 30.0


DOCS_SITE = "lake"


@lru_cache(maxsize=1)
def _gx() -> tuple[Any, Any, Path]:
    """One ephemeral GX context per process (building it is the slow part, ~5 s of imports),
    its whole-dataframe batch definition and the folder of its Data Docs site."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    site = Path(tempfile.mkdtemp(prefix="driftgate-datadocs-"))
    context.add_data_docs_site(
        DOCS_SITE,
        {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    asset = context.data_sources.add_pandas("driftgate").add_dataframe_asset("batch")
    return context, asset.add_batch_definition_whole_dataframe("whole"), site


def _gx_batch_definition() -> Any:
    return _gx()[1]


def _checkpoint_run(data: pd.DataFrame, suite: ExpectationSuite, dataset: str, batch: int) -> Any:
    """Validate through a GX checkpoint whose action renders Data Docs; the suite's validation result."""
    import great_expectations as gx
    from great_expectations.checkpoint.actions import UpdateDataDocsAction
    from great_expectations.core.run_identifier import RunIdentifier

    context, batch_definition, _ = _gx()
    stored = context.suites.add_or_update(suite)
    vd = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(data=batch_definition, suite=stored, name=f"{dataset}-batch")
    )
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=f"{dataset}-checkpoint",
            validation_definitions=[vd],
            actions=[UpdateDataDocsAction(name="data-docs", site_names=[DOCS_SITE])],
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5},
        )
    )
    run = checkpoint.run(batch_parameters={"dataframe": data}, run_id=RunIdentifier(run_name=f"batch-{batch}"))
    return next(iter(run.run_results.values()))


def data_docs_files(since: float = 0.0) -> dict[str, bytes]:
    """The Data Docs pages of this process written at or after ``since`` (epoch s): relative path -> bytes."""
    site = _gx()[2]
    return {
        str(p.relative_to(site)): p.read_bytes() for p in site.rglob("*") if p.is_file() and p.stat().st_mtime >= since
    }


def load_suite(path: Path) -> ExpectationSuite:
    """Read a suite kept as JSON in ``expectations/``.

    Raises:
        SuiteError: the file is missing or not a valid GX suite.
    """
    from great_expectations.core import ExpectationSuite

    if not path.is_file():
        raise SuiteError(f"no expectation suite at {path}; create one with `driftgate expectations init`")
    try:
        return ExpectationSuite(**json.loads(path.read_text()))
    except Exception as exc:  # GX raises many kinds for a malformed suite
        raise SuiteError(f"expectation suite {path} is invalid: {exc}") from exc


def _plain(value: Any) -> Any:
    """A GX value as plain JSON types (numpy scalars become numbers, anything else text)."""

    def default(v: Any) -> Any:
        item = getattr(v, "item", None)
        return item() if callable(item) and getattr(v, "shape", None) == () else str(v)

    return json.loads(json.dumps(value, default=default))


def _failure(er: Any) -> Failure:
    cfg = er.expectation_config
    res = er.result or {}
    exc = er.exception_info or {}
    message = exc.get("exception_message") if exc.get("raised_exception") else ""
    examples = res.get("partial_unexpected_list") or []
    return Failure(
        expectation=cfg.type,
        column=cfg.kwargs.get("column"),
        severity=str(getattr(cfg.severity, "value", cfg.severity)),
        observed=_plain(res.get("observed_value")),
        unexpected_percent=_plain(res.get("unexpected_percent")),
        examples=_plain(examples[:5]),
        message=str(message or ""),
    )


HIDDEN_KWARGS = ("column", "batch_id", "result_format", "catch_exceptions", "include_config")


def _check(er: Any) -> Check:
    cfg = er.expectation_config
    res = er.result or {}
    exc = er.exception_info or {}
    kwargs = {k: v for k, v in dict(cfg.kwargs).items() if k not in HIDDEN_KWARGS and v is not None}
    return Check(
        expectation=cfg.type,
        column=cfg.kwargs.get("column"),
        severity=str(getattr(cfg.severity, "value", cfg.severity)),
        kwargs=_plain(kwargs),
        observed=_plain(res.get("observed_value")),
        unexpected_percent=_plain(res.get("unexpected_percent")),
        success=bool(er.success),
        message=str((exc.get("exception_message") if exc.get("raised_exception") else "") or ""),
        unexpected_count=_plain(res.get("unexpected_count")),
        element_count=_plain(res.get("element_count")),
        missing_count=_plain(res.get("missing_count")),
        examples=[e for e in _plain((res.get("partial_unexpected_list") or [])[:5]) if e is not None and e == e],
    )


def validate_frame(
    frame: pd.DataFrame, suite: ExpectationSuite, dataset: str, batch: int, data_docs: bool = False
) -> ValidationResult:
    """Run a suite on one batch; critical failures fail it, warnings are only reported.

    With ``data_docs`` the run goes through a checkpoint that also renders GX Data Docs.
    """
    data = frame.drop(columns=[SPLIT_COLUMN], errors="ignore")
    # GX's type checks do not know pandas' string dtype: hand text columns over as object
    text = [
        c for c in data.columns if pd.api.types.is_string_dtype(data[c]) and not pd.api.types.is_object_dtype(data[c])
    ]
    data = data.astype(dict.fromkeys(text, object))
    if data_docs:
        result = _checkpoint_run(data, suite, dataset, batch)
    else:
        gx_batch = _gx_batch_definition().get_batch(batch_parameters={"dataframe": data})
        result = gx_batch.validate(suite, result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5})
    failures: list[Failure] = []
    warnings: list[Failure] = []
    for er in result.results:
        if er.success:
            continue
        f = _failure(er)
        (warnings if f.severity in ("warning", "info") else failures).append(f)
    checks = [_check(er) for er in result.results]
    return ValidationResult(dataset, batch, not failures, len(result.results), failures, warnings, checks)


def validate_stored_batch(lake: Lake, spec: DatasetSpec, number: int, suite: ExpectationSuite) -> ValidationResult:
    """Validate a stored batch; accept it in place or move it to quarantine with its report."""
    started = time.time() - 1  # file mtimes may be coarser than the clock
    result = validate_frame(lake.read_batch(spec.name, number), suite, spec.name, number, data_docs=True)
    for rel, data in data_docs_files(since=started).items():  # GX Data Docs beside our own report
        lake.write_bytes(lake.path("reports", "datadocs", spec.name, rel), data)
    fault_point("in_validation")
    return record_verdict(lake, spec, number, result)


def record_verdict(lake: Lake, spec: DatasetSpec, number: int, result: ValidationResult) -> ValidationResult:
    """Accept the stored batch in place or move it to quarantine; write its report either way."""
    if result.success:
        lake.mark_accepted(spec.name, number, result.to_dict())
    else:
        lake.quarantine(spec.name, number, result.to_dict(), result.to_html())
    lake.write_bytes(lake.path("reports", "validation", spec.name, f"batch={number}.html"), result.to_html().encode())
    return result


def stored_verdict(lake: Lake, dataset: str, number: int) -> ValidationResult | None:
    """The verdict already recorded for a batch (quarantined or accepted), else None."""
    if lake.is_quarantined(dataset, number):
        return ValidationResult(dataset, number, success=False, evaluated=0)
    if number in lake.accepted_numbers(dataset):
        return ValidationResult(dataset, number, success=True, evaluated=0)
    return None
