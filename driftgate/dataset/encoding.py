"""How a categorical feature is encoded for training, decided by its number of levels.

Low-cardinality columns are one-hot encoded (or split natively); columns with more levels than
:data:`ONE_HOT_MAX_LEVELS` are target-encoded with cross-fitting. ``driftgate init`` says which
one each column gets; the trainer builds its pipeline from the same rule.
"""

from __future__ import annotations

from typing import Literal

Encoding = Literal["one-hot", "target"]
# Measured on bench/train.py's wide table (3 classes, 30,000 rows, one thread): one-hot up to 4 / 8 /
# 12 / 32 levels gave 128 / 173 / 232 / 282 encoded columns, a gradient-boosting fit's time grew
# with them, held-out accuracy stayed within 0.004 (0.651-0.665, its noise). 8 keeps small
# ordinal-like columns (diamonds' cut, colour, clarity) one-hot, where a linear model needs it.
ONE_HOT_MAX_LEVELS = 8


def encoding_of(levels: int) -> Encoding:
    """The encoding of a categorical feature with ``levels`` distinct values."""
    return "one-hot" if levels <= ONE_HOT_MAX_LEVELS else "target"
