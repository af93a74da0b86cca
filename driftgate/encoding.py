"""How a categorical feature is encoded for training, decided by its number of levels.

Low-cardinality columns are one-hot encoded (or split natively); columns with more levels than
:data:`ONE_HOT_MAX_LEVELS` are target-encoded with cross-fitting. ``driftgate init`` says which
one each column gets; the trainer builds its pipeline from the same rule.
"""

from __future__ import annotations

from typing import Literal

Encoding = Literal["one-hot", "target"]
ONE_HOT_MAX_LEVELS = 32


def encoding_of(levels: int) -> Encoding:
    """The encoding of a categorical feature with ``levels`` distinct values."""
    return "one-hot" if levels <= ONE_HOT_MAX_LEVELS else "target"
