"""Forward-chaining folds for datasets with a time order: no fold trains on rows later than it scores."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np


class ForwardChain:
    """Folds over rows in time order (oldest first): each scores a later block than every row it trains on.

    ``holdout`` (a share) gives one split, the latest share of rows scoring; otherwise ``folds``
    expanding-window splits (scikit-learn's ``TimeSeriesSplit``). ``gap`` rows between training and
    scored rows are left out. With ``groups`` passed to :meth:`split`, training rows of a group
    that is also scored are dropped, so no group sits on both sides.
    """

    def __init__(self, folds: int = 3, *, gap: int = 0, holdout: float | None = None) -> None:
        self.folds, self.gap, self.holdout = folds, gap, holdout

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        return 1 if self.holdout is not None else self.folds

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        n = len(X)
        for train, scored in self._plain(n):
            if groups is not None:
                g = np.asarray(groups)
                train = train[~np.isin(g[train], g[scored])]
            yield train, scored

    def _plain(self, n: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        from sklearn.model_selection import TimeSeriesSplit

        if self.holdout is None:
            gap = min(self.gap, max(n // (self.folds + 1) - 1, 0))
            yield from TimeSeriesSplit(self.folds, gap=gap).split(np.zeros(n))
            return
        scored = max(round(n * self.holdout), 1)
        gap = min(self.gap, max((n - scored) // 2, 0))
        yield np.arange(n - scored - gap), np.arange(n - scored, n)
