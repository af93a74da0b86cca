"""When the shadow challenger's answer to a row disagrees with the champion's.

Probabilities by class disagree when their most likely class differs; numbers (a regression's
prediction) when they are more than :data:`RELATIVE_TOLERANCE` of the larger apart; labels when
they differ. Anything else (a malformed or missing answer) is not compared.
"""

from __future__ import annotations

import math
from typing import Any

RELATIVE_TOLERANCE = 0.1


def _most_likely(probs: dict[str, Any]) -> str | None:
    numbers = {k: v for k, v in probs.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    return max(numbers, key=lambda k: numbers[k]) if numbers else None


def disagrees(champion: Any, challenger: Any) -> bool | None:
    """True when the two answers disagree, False when they agree, None when they cannot be compared."""
    if isinstance(champion, dict) and isinstance(challenger, dict):
        a, b = _most_likely(champion), _most_likely(challenger)
        return None if a is None or b is None else a != b
    if isinstance(champion, bool) or isinstance(challenger, bool):
        return None
    if isinstance(champion, int | float) and isinstance(challenger, int | float):
        x, y = float(champion), float(challenger)
        if not (math.isfinite(x) and math.isfinite(y)):
            return None
        return abs(x - y) > RELATIVE_TOLERANCE * max(abs(x), abs(y))
    if isinstance(champion, str) and isinstance(challenger, str):
        return champion != challenger
    return None
