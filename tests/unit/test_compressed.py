"""Compressed CSVs (.gz .bz2 .zip .xz .zst) are read wherever driftgate reads a file."""

from __future__ import annotations

import bz2
import gzip
import importlib.util
import lzma
import zipfile
from collections.abc import Callable
from pathlib import Path

import fsspec
import pytest

from driftgate.dataset.dialect import detect_file_dialect
from driftgate.dataset.infer import InitOptions, infer_spec
from driftgate.dataset.sources import read_table
from driftgate.errors import SpecError

ROWS = 150
TEXT = "age, workclass, income\n" + "".join(
    f"{20 + i % 50}, {('Private', 'State-gov', '?')[i % 3]}, {('<=50K', '>50K')[i % 2]}\n" for i in range(ROWS)
)


def _zip(data: bytes) -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("census.csv", data)
    return buffer.getvalue()


def _zst(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor().compress(data)


COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    ".gz": gzip.compress,
    ".bz2": bz2.compress,
    ".zip": _zip,
    ".xz": lzma.compress,
}
if importlib.util.find_spec("zstandard"):
    COMPRESSORS[".zst"] = _zst


@pytest.mark.parametrize("ending", sorted(COMPRESSORS))
def test_a_compressed_csv_is_sniffed_read_and_inferred_like_the_plain_one(tmp_path: Path, ending: str) -> None:
    path = tmp_path / f"census.csv{ending}"
    path.write_bytes(COMPRESSORS[ending](TEXT.encode()))
    dialect = detect_file_dialect(str(path))
    assert dialect is not None
    assert dialect.read.skipinitialspace
    assert "?" in dialect.read.na_values
    frame = read_table(path, read=dialect.read)
    assert frame.shape == (ROWS, 3)
    assert frame["workclass"].isna().sum() == ROWS // 3
    spec = infer_spec(frame, InitOptions(target="income"), name="census", source=str(path), read=dialect.read).spec
    assert spec.feature_names == ["age", "workclass"]


def test_scoring_reads_compressed_inputs_and_finds_them_in_folders(tmp_path: Path) -> None:
    from driftgate.tasks.scoring import inputs_under, read_input

    spec_path = tmp_path / "census.csv"
    spec_path.write_text(TEXT)
    dialect = detect_file_dialect(str(spec_path))
    assert dialect is not None
    spec = infer_spec(
        read_table(spec_path, read=dialect.read),
        InitOptions(target="income"),
        name="census",
        source=str(spec_path),
        read=dialect.read,
    ).spec
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "new.csv.gz").write_bytes(gzip.compress(TEXT.encode()))
    fs = fsspec.filesystem("file")
    found = inputs_under(fs, str(folder))
    assert [Path(p).name for p in found] == ["new.csv.gz"]
    assert len(read_input(fs, found[0], spec).frame) == ROWS


def test_a_broken_archive_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "census.csv.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(SpecError, match=r"census\.csv\.gz: not a valid gzip file"):
        detect_file_dialect(str(path))
