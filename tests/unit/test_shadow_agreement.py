"""When a shadow challenger's answer disagrees with the champion's (driftgate_shadow_disagreements_total)."""

from __future__ import annotations

from typing import Any

import pytest

from driftgate.serving.shadow import disagrees


@pytest.mark.parametrize(
    ("champion", "challenger", "expected"),
    [
        ({"0": 0.9, "1": 0.1}, {"0": 0.6, "1": 0.4}, False),  # the same most likely class
        ({"0": 0.9, "1": 0.1}, {"0": 0.4, "1": 0.6}, True),
        ({"a": 0.2, "b": 0.5, "c": 0.3}, {"a": 0.1, "b": 0.2, "c": 0.7}, True),
        (10.0, 10.9, False),  # within 10 % of the larger
        (10.0, 11.2, True),
        (0.0, 0.0, False),
        (-5, 5, True),
        ("yes", "yes", False),
        ("yes", "no", True),
        ({"0": 0.9}, 0.5, None),  # another shape: not compared
        (None, 1.0, None),
        (float("nan"), 1.0, None),
        (True, 1.0, None),
        ({}, {"0": 1.0}, None),
    ],
)
def test_disagreement_by_kind_of_answer(champion: Any, challenger: Any, expected: bool | None) -> None:
    assert disagrees(champion, challenger) is expected
