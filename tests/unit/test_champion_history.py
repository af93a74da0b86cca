"""The champion history's rules, which the MLflow path and the sqlite3 path of promote/rollback share."""

from __future__ import annotations

import pytest

from driftgate.errors import ModelRegistryError
from driftgate.registry.history import is_history, promoted, rollback_target, rolled_back


def refuse(*versions: str):  # type: ignore[no-untyped-def]
    def check(version: str) -> None:
        if version in versions:
            raise ModelRegistryError(f"version {version} does not load")

    return check


def test_a_promotion_is_recorded_once() -> None:
    assert promoted([], "1") == ["1"]
    assert promoted(["1", "2"], "2") == ["1", "2"]
    assert promoted(["1", "2"], "3") == ["1", "2", "3"]


def test_the_monitors_rollback_forgets_the_rolled_back_stint() -> None:
    assert rolled_back(["1", "2", "3"], expected="3", to="2") == ["1", "2"]
    # the champion moved by hand meanwhile: the history keeps it and records the move
    assert rolled_back(["1", "2", "4"], expected="3", to="2") == ["1", "2", "4", "2"]


def test_a_rollback_goes_to_the_newest_earlier_champion_that_loads() -> None:
    done = rollback_target("m", ["1", "2", "3", "4"], "4", refuse("3"))
    assert (done.current, done.previous, done.history, done.skipped) == ("4", "2", ["1", "2"], 1)
    assert "version 3 does not load" in done.refused[0]


@pytest.mark.parametrize(("history", "current"), [(["1"], "1"), ([], None), (["1", "2"], None)])
def test_no_earlier_champion_is_a_clear_error(history: list[str], current: str | None) -> None:
    with pytest.raises(ModelRegistryError, match="no previous champion"):
        rollback_target("m", history, current, refuse())


def test_every_earlier_champion_refused_names_each_reason() -> None:
    with pytest.raises(ModelRegistryError, match=r"no earlier champion of 'm' loads: version 2 .*; version 1 "):
        rollback_target("m", ["1", "2", "3"], "3", refuse("1", "2"))


def test_a_history_is_a_list_of_versions() -> None:
    assert is_history(["1", 2])
    assert not is_history([True])
    assert not is_history({"1": 2})
