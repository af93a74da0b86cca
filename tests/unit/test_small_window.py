"""A window too small to train on is one line (rows it has, rows it needs), never the search's traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftgate.dataset.frames import SPLIT_COLUMN, assign_splits, normalize
from driftgate.dataset.spec import load_spec
from driftgate.dataset.synthetic import make_frame
from driftgate.errors import DriftgateError
from driftgate.stores.lake import Lake
from driftgate.tasks.train import load_window
from tests.conftest import ROOT

SPEC = load_spec("synthetic-classification", ROOT / "datasets")


def store(lake: Lake, number: int, rows: int) -> None:
    frame = normalize(make_frame("classification", rows, seed=number), SPEC)
    frame[SPLIT_COLUMN] = assign_splits(len(frame), number, keys=None)
    lake.write_batch_once(SPEC.name, number, frame)


def test_a_nine_row_window_says_how_many_rows_it_has_and_needs(tmp_path: Path) -> None:
    lake = Lake((tmp_path / "lake").as_uri(), {})
    store(lake, 1, 9)
    with pytest.raises(DriftgateError, match=r"batches 1\) has \d training rows, training needs at least 30") as exc:
        load_window(lake, SPEC, [1])
    assert "\n" not in str(exc.value)


def test_a_window_large_enough_loads(tmp_path: Path) -> None:
    lake = Lake((tmp_path / "lake").as_uri(), {})
    store(lake, 1, 9)
    store(lake, 2, 400)
    data = load_window(lake, SPEC, [1, 2])
    assert len(data.train) > 200
