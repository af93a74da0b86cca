"""The model registry as driftgate uses it: the champion alias, its history, its lineage."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Literal

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from driftgate.dataset.spec import DatasetSpec
from driftgate.errors import ChampionMovedError, ModelRegistryError
from driftgate.models.model_loader import check_servable, load_registered
from driftgate.models.servable import SERVABLE_TAG, recorded_verdict, refusal
from driftgate.registry.history import is_history, promoted, rollback_target, rolled_back
from driftgate.registry.probation import Probation, end_probation, record_probation
from driftgate.registry.view import CHAMPION as CHAMPION
from driftgate.registry.view import HISTORY_TAG as HISTORY_TAG

log = logging.getLogger(__name__)

CHALLENGER = "challenger"
BATCHES_TAG = "driftgate.batches"
# MLflow truncates a longer tag value (mlflow.utils.validation.MAX_TAG_VAL_LENGTH, with a warning only):
# the lineage of a window of many batches (about 40 at ~200 characters a batch) is continued in more tags
TAG_VALUE_MAX = 8000


@dataclass(frozen=True)
class BatchRef:
    """A batch as lineage: its number, content hash and where it lives."""

    number: int
    sha256: str
    uri: str


def champion_version(client: MlflowClient, name: str) -> ModelVersion | None:
    """The version the ``champion`` alias points to; None when there is none.

    Raises:
        MlflowException: the registry failed to answer (never taken for "no champion": the service
            would report nothing while its registry is down, and a gate would promote without a comparison).
    """
    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException as exc:
        if alias_missing(exc):
            return None
        raise


def alias_missing(exc: MlflowException) -> bool:
    """The registry said there is no such alias (or model), rather than failing to answer."""
    return exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


def challenger_version(client: MlflowClient, name: str) -> str | None:
    """The version the ``challenger`` alias points to; None when there is none.

    Raises:
        MlflowException: the registry failed to answer.
    """
    try:
        return str(client.get_model_version_by_alias(name, CHALLENGER).version)
    except MlflowException as exc:
        if alias_missing(exc):
            return None
        raise


def get_version(client: MlflowClient, name: str, version: str | int) -> ModelVersion:
    try:
        return client.get_model_version(name, str(version))
    except MlflowException as exc:
        raise ModelRegistryError(f"model {name!r} has no version {version}") from exc


def model_uri(name: str, version: str | int) -> str:
    return f"models:/{name}/{version}"


def load_version(name: str, version: str | int, spec: DatasetSpec | None = None) -> Any:
    """The fitted scikit-learn pipeline of a version, through the safe loader (skops, our trusted types).

    Args:
        name: registered model name.
        version: its version.
        spec: when given, the signature is checked against it and the probe record comes from it.

    Raises:
        ModelLoadError: it cannot be loaded or fails a check (a ``ModelRegistryError``).
    """
    return load_registered(name, version, spec).model


def _json_tag(raw: str, what: str) -> Any:
    """A registry tag's JSON; the registry is input too, so a bad value is a :class:`ModelRegistryError`."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ModelRegistryError(f"{what} is unreadable: not JSON ({str(exc)[:80]})") from None


def batches_tags(refs: list[BatchRef]) -> dict[str, str]:
    """A run's lineage tags: the JSON list of ``refs`` in ``driftgate.batches``, continued in
    ``driftgate.batches.1``, ``.2``, ... past :data:`TAG_VALUE_MAX` characters (read back by :func:`lineage`)."""
    text = json.dumps([r.__dict__ for r in refs])
    chunks = [text[i : i + TAG_VALUE_MAX] for i in range(0, len(text), TAG_VALUE_MAX)]
    return {BATCHES_TAG if i == 0 else f"{BATCHES_TAG}.{i}": chunk for i, chunk in enumerate(chunks)}


def lineage(client: MlflowClient, mv: ModelVersion) -> list[BatchRef]:
    """The batches whose rows trained a version (from its run's tags, see :func:`batches_tags`).

    Raises:
        ModelRegistryError: the tag is not a JSON list of batches.
    """
    if not mv.run_id:
        return []
    tags = client.get_run(mv.run_id).data.tags
    raw = tags.get(BATCHES_TAG)
    if not raw:
        return []
    more = 1
    while f"{BATCHES_TAG}.{more}" in tags:  # a long lineage's continuation tags, in order
        raw += tags[f"{BATCHES_TAG}.{more}"]
        more += 1
    what = f"tag {BATCHES_TAG} of version {mv.version}'s run"
    found = _json_tag(raw, what)
    try:
        return [BatchRef(number=int(b["number"]), sha256=str(b["sha256"]), uri=str(b["uri"])) for b in found]
    except (TypeError, KeyError, ValueError):
        raise ModelRegistryError(f"{what} is unreadable: not a list of batches (number, sha256, uri)") from None


def importance(client: MlflowClient, mv: ModelVersion) -> dict[str, float] | None:
    """The version's mean |SHAP| importance per original feature, when it was explained."""
    if not mv.run_id:
        return None
    try:
        return dict(mlflow.artifacts.load_dict(f"runs:/{mv.run_id}/explanations/importance.json"))
    except Exception:  # not explained (yet): callers fall back to uniform weights
        return None


def _history(client: MlflowClient, name: str) -> list[str]:
    try:
        raw = client.get_registered_model(name).tags.get(HISTORY_TAG)
    except MlflowException as exc:
        raise ModelRegistryError(f"no registered model named {name!r} (train one first: driftgate run)") from exc
    if not raw:
        return []
    what = f"tag {HISTORY_TAG} of model {name!r}"
    history = _json_tag(raw, what)
    if not is_history(history):
        raise ModelRegistryError(f"{what} is unreadable: not a list of versions")
    return [str(v) for v in history]


class _Unchecked(Enum):
    ANY = "any"


def _check_champion(client: MlflowClient, name: str, version: str | int, expected: str | int | None) -> None:
    """Compare-and-set's compare: ``champion`` must still point to ``expected`` (None: no champion)."""
    current = champion_version(client, name)
    found = None if current is None else str(current.version)
    if found != (None if expected is None else str(expected)):
        raise ChampionMovedError(
            f"champion of {name!r} moved to version {found} after version {version} was compared "
            f"against version {expected}: not moving it (compare again against the new champion)"
        )


def set_champion(
    client: MlflowClient,
    name: str,
    version: str | int,
    expected: str | int | Literal[_Unchecked.ANY] | None = _Unchecked.ANY,
) -> None:
    """Point ``champion`` at a version and remember the move for rollback.

    A version that replaced a champion it was compared against (``expected`` names one: the gate,
    the live gate) starts a :class:`Probation` against it, which ``monitor-predictions`` settles on
    labelled live rows; any other move (a first champion, a person's ``promote``) ends an open one.

    Args:
        client: the registry.
        name: registered model name.
        version: the version to make champion.
        expected: compare-and-set: the version ``champion`` must still point to (None: no
            champion yet), the one the caller compared against. Left out: no check (a human's
            ``promote``). MLflow has no conditional alias update, so this re-reads the alias just
            before setting it; the dataset lease (driftgate.stores.lease) keeps other training runs out
            of the remaining gap.

    Raises:
        ChampionMovedError: ``champion`` no longer points to ``expected``.
    """
    history = _history(client, name)
    if expected is not _Unchecked.ANY:
        _check_champion(client, name, version, expected)
    client.set_registered_model_alias(name, CHAMPION, str(version))
    client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(promoted(history, str(version))))
    if expected is not _Unchecked.ANY and expected is not None and str(expected) != str(version):
        since = datetime.now(UTC).isoformat()
        record_probation(client, name, Probation(champion=str(version), previous=str(expected), since=since))
    else:
        end_probation(client, name)
    log.info("champion of %s is now version %s", name, version)


def roll_back_champion(
    client: MlflowClient, name: str, *, to: str, expected: str, spec: DatasetSpec | None = None
) -> None:
    """The monitor's rollback: ``champion`` back from ``expected`` to ``to`` by compare-and-set; the probation ends.

    The history forgets ``expected``'s stint, so a person's ``driftgate rollback`` afterwards goes to
    the champion before ``to``.

    Raises:
        ChampionMovedError: ``champion`` no longer points to ``expected``.
        ModelRegistryError: with ``spec``, the service would refuse ``to`` (a ``ModelLoadError``), or it is gone.
    """
    if spec is not None:
        servable_on_record(get_version(client, name, to), spec)
    history = _history(client, name)
    _check_champion(client, name, to, expected)
    client.set_registered_model_alias(name, CHAMPION, str(to))
    history = rolled_back(history, expected=str(expected), to=str(to))
    client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(history))
    end_probation(client, name)
    log.info("champion of %s rolled back from version %s to %s", name, expected, to)


def servable_on_record(mv: ModelVersion, spec: DatasetSpec) -> None:
    """:func:`check_servable`, unless the version's recorded verdict still holds (same spec, libraries, checks).

    Raises:
        ModelLoadError: the service would refuse it (the recorded reason, or the fresh check's).
    """
    verdict = recorded_verdict((mv.tags or {}).get(SERVABLE_TAG), spec)
    if verdict is None:
        check_servable(mv.name, mv.version, spec)
    elif verdict.refused is not None:
        raise refusal(mv.name, mv.version, verdict.refused)


def promote(client: MlflowClient, name: str, version: str | int, spec: DatasetSpec) -> ModelVersion:
    """A human's promotion: the version must exist and load as the service will load it (:func:`servable_on_record`)."""
    mv = get_version(client, name, version)
    servable_on_record(mv, spec)
    set_champion(client, name, version)
    return mv


def rollback(client: MlflowClient, name: str, spec: DatasetSpec | None = None) -> str:
    """Move ``champion`` back to the newest earlier champion that still loads (with ``spec``: as the service would).

    Raises:
        ModelRegistryError: no earlier champion, or none of them loads (each one's reason is in the message).
    """
    current = champion_version(client, name)

    def check(version: str) -> None:
        if spec is not None:
            servable_on_record(get_version(client, name, version), spec)
        else:
            load_version(name, version)

    done = rollback_target(name, _history(client, name), None if current is None else str(current.version), check)
    client.set_registered_model_alias(name, CHAMPION, done.previous)
    client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(done.history))
    end_probation(client, name)
    skipped = f" ({done.skipped} skipped: no longer load)" if done.skipped else ""
    log.info("rolled %s back from version %s to %s%s", name, done.current, done.previous, skipped)
    return done.previous
