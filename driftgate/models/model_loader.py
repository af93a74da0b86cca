"""The one safe model loader: skops only, driftgate's own trusted types, checked before use.

``mlflow.sklearn.load_model`` takes the serialization format and skops' trusted-type list from the
artifact's own MLmodel file, so whoever can write the registry could make it unpickle anything or
put an artifact's ``code/`` folder on ``sys.path``. Here the MLmodel is read as plain YAML, only a
``skops`` file with no ``code`` is accepted, and ``skops.io.load`` gets :data:`TRUSTED_TYPES`
(never the artifact's list). The signature is then checked against the dataset spec and the model
must answer on an example built from the spec before anyone uses it.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from driftgate.dataset.spec import DatasetSpec
from driftgate.errors import ModelLoadError
from driftgate.models.contract import InputContract
from driftgate.models.predict import predict
from driftgate.models.servable import REFUSED, SERVABLE_TAG, Verdict, fingerprint
from driftgate.models.servable import TRUSTED_TYPES as TRUSTED_TYPES  # the list lives beside the verdicts it shapes

log = logging.getLogger(__name__)
_NUMERIC_TYPES = frozenset({"double", "float", "long", "integer"})


@dataclass(frozen=True)
class LoadedModel:
    """A model that passed every check, with what its artifact says about its input."""

    model: Any
    columns: list[str] | None
    input_example: pd.DataFrame | None


def _refuse(what: str, reason: str) -> ModelLoadError:
    return ModelLoadError(f"{what} {REFUSED} {reason}")


def read_mlmodel(local: Path, what: str) -> dict[str, Any]:
    """The artifact's MLmodel as plain data (safe YAML, no MLflow objects)."""
    try:
        meta = yaml.safe_load((local / "MLmodel").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise _refuse(what, "its MLmodel file is missing or not YAML") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("flavors"), dict):
        raise _refuse(what, "its MLmodel file has no flavors")
    return meta


def model_file(local: Path, meta: dict[str, Any], what: str) -> Path:
    """The skops file the sklearn flavor names, after every check on the flavor.

    Raises:
        ModelLoadError: not skops, a ``code`` path, extra trusted types, or a file outside the artifact.
    """
    flavors = meta["flavors"]
    sk = flavors.get("sklearn")
    if not isinstance(sk, dict):
        raise _refuse(what, "it has no sklearn flavor")
    fmt = sk.get("serialization_format")
    if fmt != "skops":
        raise _refuse(what, f"serialization format {fmt!r} is not skops (driftgate loads skops models only)")
    with_code = sorted(n for n, f in flavors.items() if isinstance(f, dict) and f.get("code"))
    if with_code or (local / "code").exists():
        raise _refuse(what, "it ships a code path (driftgate never imports code from an artifact)")
    asked = sk.get("skops_trusted_types") or []
    extra = sorted(str(t) for t in (asked if isinstance(asked, list) else [asked]) if str(t) not in TRUSTED_TYPES)
    if extra:
        raise _refuse(what, f"its MLmodel asks to trust types driftgate does not trust: {extra}")
    name = sk.get("pickled_model")
    path = (local / str(name)).resolve() if isinstance(name, str) else None
    if path is None or not path.is_relative_to(local.resolve()) or not path.is_file():
        raise _refuse(what, "its sklearn flavor names no model file inside the artifact")
    return path


def signature_columns(meta: dict[str, Any], spec: DatasetSpec | None, what: str) -> list[str] | None:
    """The signature's input names, each checked against the spec's feature and type.

    Raises:
        ModelLoadError: no column signature, or a column the spec does not describe or types otherwise.
    """
    raw = (meta.get("signature") or {}).get("inputs")
    if raw is None:
        if spec is not None:
            raise _refuse(what, "it has no input signature")
        return None
    try:
        inputs = json.loads(raw) if isinstance(raw, str) else raw
        columns = [(str(c["name"]), str(c["type"])) for c in inputs]
    except (ValueError, TypeError, KeyError) as exc:
        raise _refuse(what, "its input signature is not a list of named columns") from exc
    if not columns:
        raise _refuse(what, "its input signature is empty")
    if spec is not None:
        kinds = {f: spec.feature(f).type for f in spec.feature_names}
        for name, typ in columns:
            if name not in kinds:
                raise _refuse(what, f"its signature has column {name!r}, which the spec does not describe")
            ok = typ in _NUMERIC_TYPES if kinds[name] == "numeric" else typ == "string"
            if not ok:
                raise _refuse(what, f"its signature types {name!r} as {typ}, the spec as {kinds[name]}")
    return [n for n, _ in columns]


def probe_frame(spec: DatasetSpec | None, columns: list[str] | None, meta: dict[str, Any]) -> pd.DataFrame:
    """One record to prove the model answers: the spec's example, else all-missing (imputed) values."""
    if spec is not None:
        contract = InputContract.from_spec(spec, 1, columns)
        return contract.frame({k: [v] for k, v in contract.example().items()})
    raw = (meta.get("signature") or {}).get("inputs")
    inputs = json.loads(raw) if isinstance(raw, str) else raw or []
    return pd.DataFrame(
        {c["name"]: [np.nan] if c["type"] in _NUMERIC_TYPES else pd.array([None], dtype="object") for c in inputs}
    )


def check_answers(model: Any, task: str | None, X: pd.DataFrame, what: str) -> None:
    """The model must give one finite prediction per row (probabilities summing to 1)."""
    try:
        if task is None:
            values = np.asarray(model.predict(X))
            finite = values.dtype.kind not in "fc" or bool(np.isfinite(values).all())
            n = len(values)
        else:
            out = predict(model, task, X)
            n = len(out.values)
            scores = out.proba if out.proba is not None else out.values.astype(float)
            finite = bool(np.isfinite(scores).all())
            if out.proba is not None and finite:
                finite = all(math.isclose(float(s), 1.0, abs_tol=1e-6) for s in out.proba.sum(axis=1))
    except Exception as exc:  # whatever the model raises, it is unusable
        log.warning("%s: prediction check raised %r", what, exc)
        raise _refuse(what, f"it fails to predict on an example record ({type(exc).__name__})") from exc
    if n != len(X) or not finite:
        raise _refuse(what, f"it answered {n} predictions (finite: {finite}) for {len(X)} example rows")


def load_local(local: Path, spec: DatasetSpec | None, what: str = "model") -> LoadedModel:
    """Load a downloaded MLflow sklearn model folder safely and prove it predicts.

    Args:
        local: the model's artifact folder (holding ``MLmodel``).
        spec: the dataset spec the model must fit; None skips the signature-to-spec check.
        what: how messages name the model (e.g. ``model 'x' version 3``).

    Raises:
        ModelLoadError: any check failed; the message carries no path or host.
    """
    import skops.io

    meta = read_mlmodel(local, what)
    path = model_file(local, meta, what)
    columns = signature_columns(meta, spec, what)
    try:
        untrusted = [t for t in skops.io.get_untrusted_types(file=path) if t not in TRUSTED_TYPES]
    except Exception as exc:  # not a skops file at all
        raise _refuse(what, "its model file is not a readable skops file") from exc
    if untrusted:
        raise _refuse(what, f"its model needs types driftgate does not trust: {sorted(untrusted)}")
    try:
        model = skops.io.load(path, trusted=list(TRUSTED_TYPES))
    except Exception as exc:  # corrupt or refused by skops itself
        log.warning("%s: skops load raised %r", what, exc)
        raise _refuse(what, f"its skops file does not load ({type(exc).__name__})") from exc
    if not callable(getattr(model, "predict", None)):
        raise _refuse(what, f"it holds a {type(model).__name__}, not a fitted estimator")
    check_answers(model, spec.task if spec else None, probe_frame(spec, columns, meta), what)
    return LoadedModel(model, columns, _input_example(local, what))


def _input_example(local: Path, what: str) -> pd.DataFrame | None:
    """The stored input example (real rows: used internally, e.g. as SHAP background, never published)."""
    from mlflow.models import Model

    try:
        example = Model.load(str(local)).load_input_example(str(local))
    except Exception as exc:  # an unreadable example only costs the explainer its background rows
        log.warning("%s: input example unreadable: %r", what, exc)
        return None
    return example if isinstance(example, pd.DataFrame) else None


def load_registered(name: str, version: str | int, spec: DatasetSpec | None = None) -> LoadedModel:
    """Download a registered version (current MLflow tracking/registry URI) and load it with :func:`load_local`.

    Raises:
        ModelLoadError: it cannot be downloaded or fails a check.
    """
    import mlflow

    what = f"model {name!r} version {version}"
    with tempfile.TemporaryDirectory(prefix="driftgate-model-") as tmp:
        try:
            local = Path(mlflow.artifacts.download_artifacts(f"models:/{name}/{version}", dst_path=tmp))
        except Exception as exc:  # the detail may name hosts and paths: log it, do not publish it
            log.warning("%s: download failed: %s", what, exc)
            raise ModelLoadError(f"{what} failed to load: its artifacts could not be downloaded") from exc
        return load_local(local, spec, what)


def check_servable(name: str, version: str | int, spec: DatasetSpec) -> LoadedModel:
    """Load a version exactly as the service will (safe loader, signature against ``spec``, contract).

    Every path that moves ``champion`` (the gate, the live gate, a person's ``promote`` and
    ``rollback``) calls this first, so a version the service would refuse never becomes champion.
    The verdict, loads or refused and why, is recorded on the version (:mod:`driftgate.models.servable`),
    so ``status`` and a later ``promote`` or ``rollback`` can read it instead of loading again.

    Raises:
        ModelLoadError: the service would refuse it; the message says why.
    """
    what = f"model {name!r} version {version}"
    try:
        loaded = load_registered(name, version, spec)
        try:
            InputContract.from_spec(spec, 1, loaded.columns)
        except ValueError as exc:
            raise _refuse(what, str(exc)) from exc
    except ModelLoadError as exc:
        reason = str(exc).partition(f"{what} refused: ")[2]
        if reason:  # a refusal is a property of the version; a failed download is not
            _record(name, version, Verdict(fingerprint(spec), reason))
        raise
    _record(name, version, Verdict(fingerprint(spec)))
    return loaded


def _record(name: str, version: str | int, verdict: Verdict) -> None:
    """Tag the version with the verdict (current MLflow registry URI); a registry that refuses the write costs
    only the shortcut: the next question loads the version again."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        MlflowClient().set_model_version_tag(name, str(version), SERVABLE_TAG, verdict.to_tag())
    except MlflowException as exc:
        log.warning("model %r version %s: could not record its servability: %s", name, version, exc)
