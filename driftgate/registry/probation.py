"""The probation of a champion the gates promoted: a registered-model tag ``monitor-predictions`` settles.

:func:`driftgate.registry.client.set_champion` opens one when a version replaces the champion it was
compared against; a person's ``promote`` or ``rollback`` ends it, and so does the monitor, keeping
the version or moving ``champion`` back (:mod:`driftgate.tasks.monitor`, ``docs/alerts.md``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from driftgate.errors import ModelRegistryError
from driftgate.registry.view import PROBATION_TAG

__all__ = ["PROBATION_TAG", "Probation", "end_probation", "probation", "record_probation"]


@dataclass(frozen=True)
class Probation:
    """A version the gates promoted, watched on live rows against the champion it replaced.

    Attributes:
        champion: the version on probation (the one ``champion`` moved to).
        previous: the champion it replaced, scored beside it on the same labelled live rows.
        since: when ``champion`` moved (ISO 8601, UTC): rows answered earlier are not its probation's.
        looked_rows: probation rows the newest look used (the share of the error rate spent so far).
        looks: looks taken so far.
    """

    champion: str
    previous: str
    since: str
    looked_rows: int = 0
    looks: int = 0


def probation(client: MlflowClient, name: str) -> Probation | None:
    """The open probation of ``name``'s champion (tag ``driftgate.registry.probation``); None when there is none.

    Raises:
        ModelRegistryError: the tag is unreadable.
        MlflowException: no such model, or the registry did not answer.
    """
    raw = client.get_registered_model(name).tags.get(PROBATION_TAG)
    if not raw:
        return None
    what = f"tag {PROBATION_TAG} of model {name!r}"
    try:
        found = json.loads(raw)
        return Probation(
            champion=str(found["champion"]),
            previous=str(found["previous"]),
            since=str(datetime.fromisoformat(found["since"]).isoformat()),
            looked_rows=int(found.get("looked_rows", 0)),
            looks=int(found.get("looks", 0)),
        )
    except (TypeError, KeyError, ValueError, AttributeError, RecursionError):
        raise ModelRegistryError(f"{what} is unreadable: not a probation (champion, previous, since)") from None


def record_probation(client: MlflowClient, name: str, record: Probation) -> None:
    """Write the probation record (a new one, or one with another look counted)."""
    client.set_registered_model_tag(name, PROBATION_TAG, json.dumps(asdict(record)))


def end_probation(client: MlflowClient, name: str) -> None:
    """Remove the probation record, if any (a missing tag is no error)."""
    try:
        client.delete_registered_model_tag(name, PROBATION_TAG)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
