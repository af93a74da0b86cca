"""predict-batch's PATH: a URL, a local file (relative or not), else a prefix in the lake."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftgate.stores.lake import Lake
from driftgate.tasks.scoring import input_location


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake((tmp_path / "lake").as_uri())


def test_a_relative_file_in_the_working_folder_is_that_file(
    lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("new.csv").write_text("a,b\n1,2\n")
    assert input_location("new.csv", lake) == str(tmp_path / "new.csv")


@pytest.mark.parametrize("path", ["s3://bucket/in/", "file:///data/in.csv"])
def test_a_url_is_taken_as_given(lake: Lake, path: str) -> None:
    assert input_location(path, lake) == path


def test_a_name_that_is_no_local_file_is_a_lake_prefix(
    lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert input_location("incoming", lake) == lake.uri("incoming")
