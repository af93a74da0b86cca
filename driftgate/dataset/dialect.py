"""Detect how a CSV file is written: its separator, spaces after separators, missing-value markers.

``driftgate init`` writes what it finds into the spec's ``read:`` section, so every later
reader of the dataset's files parses them the same way. Pandas' default missing markers are
switched off and the markers actually found are listed instead: a real category spelled
``None`` (or ``NA`` in a column of country codes) stays a category.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass
from typing import Any

import fsspec
import pandas as pd

from driftgate.dataset.spec import ReadOptions
from driftgate.errors import SpecError

COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".zip": "zip", ".xz": "xz", ".zst": "zstd"}
"""File endings of compressed CSVs, and pandas' name for each (read wherever a file is read)."""
TABLE_ENDINGS = (".parquet", ".csv", *(f".csv{end}" for end in COMPRESSIONS))
"""The files driftgate reads as tables: Parquet, CSV and compressed CSV."""

SEPARATORS = (",", ";", "\t", "|")
MISSING_MARKERS = frozenset({"", "?", "NA", "N/A", "n/a", "na", "NaN", "nan", "NULL", "null", "#N/A", "-"})
"""Whole-field values read as missing wherever they occur (``None`` is not one: it may be a category)."""
NUMERIC_SHARE = 0.9  # a column this numeric is numeric; its few other tokens are missing markers
MAX_STRAY_TOKENS = 3


@dataclass(frozen=True)
class Dialect:
    """The read options found, and which column revealed each missing marker."""

    read: ReadOptions
    markers_seen_in: dict[str, list[str]]


def sniff_separator(text: str) -> str:
    """The separator that splits the first lines into the most, equally many fields."""
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if not lines:
        return ","
    best, best_score = ",", -1
    for sep in SEPARATORS:
        counts = [line.count(sep) for line in lines]
        score = counts[0] if counts[0] and all(c == counts[0] for c in counts[:-1]) else 0
        if score > best_score:
            best, best_score = sep, score
    return best


def spaces_after_separator(text: str, sep: str) -> bool:
    """True when most separators in the first lines are followed by a space."""
    sample = "\n".join(text.splitlines()[:50])
    total = sample.count(sep)
    return total > 0 and sample.count(sep + " ") / total > 0.5


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def missing_markers(raw: pd.DataFrame) -> dict[str, list[str]]:
    """Missing-value markers found in a frame read as plain strings, each with its columns.

    A marker is a known one (``?``, ``NA``, empty, ...) used as a whole field, or one of at
    most three other tokens in a column that is otherwise numeric (``-1`` stays a number).
    """
    found: dict[str, list[str]] = {}
    seen: dict[str, set[str]] = {}  # token -> columns holding it
    for col in raw.columns:
        values = raw[col].dropna().astype(str).str.strip()
        counts = Counter(values)
        for v in counts:
            seen.setdefault(v, set()).add(str(col))
        known = {v for v in counts if v in MISSING_MARKERS}
        rest = {v: n for v, n in counts.items() if v not in known}
        numeric = sum(n for v, n in rest.items() if _is_number(v))
        stray = {v: n for v, n in rest.items() if not _is_number(v)}
        total = sum(rest.values())
        if total and numeric / total >= NUMERIC_SHARE and 0 < len(stray) <= MAX_STRAY_TOKENS:
            known |= set(stray)
        for marker in known:
            found.setdefault(marker, []).append(str(col))
    # markers apply to every column: a token that is a real value elsewhere ("None") is not one
    return {m: cols for m, cols in found.items() if m in MISSING_MARKERS or seen[m] <= set(cols)}


def detect_dialect(text: str, encoding: str = "utf-8") -> Dialect:
    """Read options for a CSV file's text.

    Raises:
        SpecError: the text is empty or not a table pandas can parse.
    """
    if not text.strip():
        raise SpecError("the file is empty")
    sep = sniff_separator(text)
    skip = spaces_after_separator(text, sep)
    try:
        raw = pd.read_csv(io.StringIO(text), sep=sep, skipinitialspace=skip, dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as exc:
        raise SpecError(f"not a table pandas can parse: {str(exc).strip().splitlines()[0]}") from exc
    markers = missing_markers(raw)
    read = ReadOptions(
        separator=sep, skipinitialspace=skip, na_values=sorted(markers), keep_default_na=False, encoding=encoding
    )
    return Dialect(read=read, markers_seen_in=markers)


def compression_of(url: str) -> str | None:
    """pandas' name for the compression a file's ending says (``data.csv.gz`` -> ``gzip``), or None."""
    for end, name in COMPRESSIONS.items():
        if url.lower().endswith(end):
            return name
    return None


def decompress(data: bytes, compression: str | None) -> bytes:
    """The bytes of a (possibly compressed) file as text bytes: the single member of a zip.

    Raises:
        SpecError: the bytes are not in that format, or ``.zst`` without the zstandard package.
    """
    import bz2
    import gzip
    import lzma
    import zipfile

    try:
        if compression == "gzip":
            return gzip.decompress(data)
        if compression == "bz2":
            return bz2.decompress(data)
        if compression == "xz":
            return lzma.decompress(data)
        if compression == "zip":
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = [n for n in archive.namelist() if not n.endswith("/")]
                if len(names) != 1:
                    raise SpecError(f"a zip file must hold exactly one CSV file; this one holds {len(names)}")
                return archive.read(names[0])
        if compression == "zstd":
            try:
                import zstandard
            except ImportError as exc:
                raise SpecError("reading .zst files needs the zstandard package: uv pip install zstandard") from exc
            return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile) as exc:
        raise SpecError(f"not a valid {compression} file ({exc})") from exc
    return data


def detect_file_dialect(url: str, storage_options: dict[str, Any] | None = None) -> Dialect | None:
    """The dialect of a CSV file (local path or URL); None for Parquet, which needs none.

    Raises:
        SpecError: the file is missing, empty or unreadable.
    """
    if url.endswith(".parquet"):
        return None
    try:
        fs, path = fsspec.core.url_to_fs(url, **(storage_options or {}))
        if not fs.isfile(path):
            raise SpecError(f"{url} does not exist")
        data = fs.cat_file(path)
    except SpecError:
        raise
    except Exception as exc:  # transport or permission errors: one line for a person
        raise SpecError(f"cannot read {url}: {exc}") from exc
    try:
        data = decompress(data, compression_of(url))
        try:
            return detect_dialect(data.decode("utf-8"))
        except UnicodeDecodeError:  # not UTF-8: latin-1 decodes any byte, as most legacy exports need
            return detect_dialect(data.decode("latin-1"), encoding="latin-1")
    except SpecError as exc:
        raise SpecError(f"cannot read {url}: {exc}") from exc
