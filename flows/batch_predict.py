"""Flow ``batch-predict``: score a file or a lake prefix with the champion, predictions beside the input."""

from __future__ import annotations

import io
import logging
from typing import Any

import fsspec
import pandas as pd
from prefect import flow
from prefect.artifacts import create_table_artifact

from driftgate.context import build_context
from driftgate.errors import DriftgateError
from driftgate.frames import SPLIT_COLUMN, normalize
from driftgate.predict import predict
from driftgate.registry import champion_version, load_version
from driftgate.settings import get_settings
from driftgate.tracking import configure_mlflow

log = logging.getLogger(__name__)
SUFFIX = ".predictions.parquet"


def inputs_under(fs: Any, path: str) -> list[str]:
    """The CSV/Parquet files at ``path`` (a file, or every one under a folder/prefix), outputs excluded."""
    if fs.isfile(path):
        return [path]
    found = [p for p in fs.find(path) if p.endswith((".parquet", ".csv")) and not p.endswith(SUFFIX)]
    return sorted(found)


def score_frame(model: Any, task: str, frame: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    X = frame[features]
    out = pd.DataFrame(index=frame.index)
    scored = predict(model, task, X)
    out["prediction"] = scored.labels() if scored.proba is not None else scored.values
    if scored.proba is not None:
        for i, c in enumerate(scored.classes):
            out[f"proba_{c}"] = scored.proba[:, i]
    return out


@flow(name="batch-predict")
def batch_predict(path: str, dataset: str | None = None) -> list[str]:
    """Score ``path`` (a local path, ``s3://`` URL or lake prefix) with the champion.

    Writes ``<input>.predictions.parquet`` beside each input with the prediction, class
    probabilities for classifiers, and the model name and version that produced them.

    Raises:
        DriftgateError: no champion, no inputs, or inputs without the model's features.
    """
    ctx = build_context(get_settings(), dataset)
    client = configure_mlflow(ctx.settings)
    mv = champion_version(client, ctx.model_name)
    if mv is None:
        raise DriftgateError(f"model {ctx.model_name!r} has no champion to predict with")
    model = load_version(ctx.model_name, mv.version)
    target = path if "://" in path or path.startswith("/") or path.startswith(".") else ctx.lake.uri(path)
    fs, root = fsspec.core.url_to_fs(target, **ctx.settings.storage_options())
    files = inputs_under(fs, root)
    if not files:
        raise DriftgateError(f"no CSV or Parquet files at {target}")
    written, summary = [], []
    for f in files:
        with fs.open(f, "rb") as fh:
            frame = pd.read_parquet(fh) if f.endswith(".parquet") else pd.read_csv(fh)
        missing = [c for c in ctx.spec.feature_names if c not in frame.columns]
        if missing:
            raise DriftgateError(f"{f} lacks the model's features {missing}")
        frame = normalize(frame.drop(columns=[SPLIT_COLUMN], errors="ignore"), ctx.spec)
        out = score_frame(model, ctx.spec.task, frame, ctx.spec.feature_names)
        out["model_name"], out["model_version"] = ctx.model_name, str(mv.version)
        dest = f.rsplit(".", 1)[0] + SUFFIX
        buf = io.BytesIO()
        out.to_parquet(buf, index=False)
        with fs.open(dest, "wb") as fh:
            fh.write(buf.getvalue())
        written.append(dest)
        summary.append({"input": f, "rows": str(len(out)), "output": dest})
        log.info("scored %s rows of %s with %s v%s -> %s", len(out), f, ctx.model_name, mv.version, dest)
    create_table_artifact(table=summary, key="batch-predict", description=f"{ctx.model_name} v{mv.version}")
    return written
