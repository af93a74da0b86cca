"""Fault: the lake's disk fills up while a batch is stored.

A 4 MB tmpfs is mounted as the lake (root only; skipped otherwise), batch 1 is stored, a filler file
takes most of what is left, and a batch larger than the rest is stored: the error is one line of
its own kind, no part of the batch is visible to readers (no manifest, ``batch_numbers``
unchanged, no file left in its folder), batch 1 still reads whole. Once space returns (the filler
deleted), the same call stores the batch once with the same hash. See docs/reliability.md.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftgate.dataset.frames import SPLIT_COLUMN, content_hash
from driftgate.errors import LakeFullError
from driftgate.stores.lake import Lake

pytestmark = pytest.mark.slow  # mounts a file system

DATASET = "full-disk"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs as the lake needs root (mount -t tmpfs)")
    mount = tmp_path / "lake"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def _batch(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)  # random floats: Parquet cannot compress them below 8 bytes a value
    frame = pd.DataFrame({f"x{i}": rng.normal(size=rows) for i in range(4)})
    frame[SPLIT_COLUMN] = "train"
    return frame


def test_a_batch_larger_than_the_space_left_fails_in_one_line_leaves_nothing_and_stores_once_later(
    small_disk: Path,
) -> None:
    lake = Lake(small_disk.as_uri())
    first = _batch(1_000, seed=1)
    lake.write_batch_once(DATASET, 1, first)
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (free - 600_000))  # 0.6 MB left
    big = _batch(40_000, seed=2)  # ~1.3 MB of Parquet

    with pytest.raises(LakeFullError) as failed:
        lake.write_batch_once(DATASET, 2, big)
    message = str(failed.value)
    assert "\n" not in message
    assert "the lake is full" in message, message
    assert "batch=2" in message, message
    assert lake.manifest(DATASET, 2) is None
    assert lake.batch_numbers(DATASET) == [1]
    assert list(Path(lake.batch_dir(DATASET, 2)).iterdir()) == []  # not a byte of the batch left behind
    pd.testing.assert_frame_equal(lake.read_batch(DATASET, 1), first)

    filler.unlink()  # space returns
    manifest, created = lake.write_batch_once(DATASET, 2, big)
    assert created
    assert manifest.sha256 == content_hash(big)
    assert lake.batch_numbers(DATASET) == [1, 2]
    assert content_hash(lake.read_batch(DATASET, 2)) == content_hash(big)
    again, created_again = lake.write_batch_once(DATASET, 2, big)  # a rerun stores nothing twice
    assert not created_again
    assert again == manifest
    assert len(list(Path(lake.batch_dir(DATASET, 2)).iterdir())) == 2  # the manifest and one data file
    print(f"\nbatch 2: {manifest.rows} rows, refused with 0.6 MB left: {message}")
