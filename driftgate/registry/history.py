"""The champion history's rules, shared by the MLflow path (:mod:`driftgate.registry.client`) and the
sqlite3 path (:mod:`driftgate.registry.champion_sqlite`): each reads and writes the tag its own way,
and both decide by these functions, so a promotion or a rollback means the same on either path.

The history is the registered model's tag ``driftgate.champion_history``: the versions that were
champion, oldest first; its last entry is the champion.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from driftgate.errors import ModelRegistryError


def is_history(value: Any) -> bool:
    """A parsed tag is a history: a list of versions (strings or integers, never booleans)."""
    return isinstance(value, list) and all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value)


def promoted(history: list[str], version: str) -> list[str]:
    """The history after ``version`` becomes champion (a repeated move is recorded once)."""
    return history if history and history[-1] == version else [*history, version]


def rolled_back(history: list[str], *, expected: str, to: str) -> list[str]:
    """The history after the monitor moves ``champion`` back from ``expected`` to ``to``: ``expected``'s stint is
    forgotten, so a person's ``driftgate rollback`` afterwards goes to the champion before ``to``."""
    kept = history[:-1] if history and history[-1] == expected else history
    return promoted(kept, to)


@dataclass(frozen=True)
class Rollback:
    """A rollback decided: from which version to which, the history after it, the versions passed over and why."""

    current: str
    previous: str
    history: list[str]
    refused: list[str]

    @property
    def skipped(self) -> int:
        return len(self.refused)


def rollback_target(name: str, history: list[str], current: str | None, check: Callable[[str], None]) -> Rollback:
    """A person's rollback: the newest earlier champion that ``check`` accepts; newer ones it refuses
    (``check`` raises :class:`ModelRegistryError`: refused by the loader, or no longer registered) leave
    the history with the current one.

    Raises:
        ModelRegistryError: no earlier champion, or none of them passes ``check`` (each reason is in the message).
    """
    if current is None or len(history) < 2:
        raise ModelRegistryError(f"model {name!r} has no previous champion to roll back to")
    left = history[:-1]
    refused: list[str] = []
    while left:
        try:
            check(left[-1])
            return Rollback(current, left[-1], left, refused)
        except ModelRegistryError as exc:
            refused.append(str(exc))
            left = left[:-1]
    raise ModelRegistryError(f"no earlier champion of {name!r} loads: {'; '.join(refused)}")
