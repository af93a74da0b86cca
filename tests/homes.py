"""State built once and copied for each test: a registry, a trained home, a finished loop.

MLflow's SQLite store records absolute artifact locations (experiments, runs, logged models, model
versions), so a plain copy of a folder would still point at the original's artifacts: every test
would read and corrupt the same files. ``copy_state`` copies the folder and rewrites the original's
path to the copy's in every SQLite table and every small text file (an ``MLmodel``, a manifest), so
the copy is whole and independent; the template is never written to after it is built.
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

TEXT_LIMIT = 1 << 20  # larger files are data (Parquet, models), never a path to rewrite
BINARY_SUFFIXES = frozenset({".parquet", ".skops", ".pkl", ".png", ".svg", ".npy", ".ubj", ".lgb", ".txt.gz"})


def copy_state(template: Path, target: Path) -> Path:
    """Copy ``template``'s contents into ``target`` (created if missing) with every path to it rewritten."""
    shutil.copytree(template, target, dirs_exist_ok=True, symlinks=True)
    old, new = f"{template.resolve()}/", f"{target.resolve()}/"
    for path in target.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        if _is_sqlite(path):
            _rewrite_sqlite(path, old, new)
        elif path.suffix not in BINARY_SUFFIXES and path.stat().st_size <= TEXT_LIMIT:
            _rewrite_text(path, old, new)
    return target


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(16) == b"SQLite format 3\x00"


def _rewrite_sqlite(db: Path, old: str, new: str) -> None:
    with closing(sqlite3.connect(db)) as conn, conn:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for _, column, kind, *_ in conn.execute(f'PRAGMA table_info("{table}")').fetchall():
                if kind and not any(word in kind.upper() for word in ("CHAR", "TEXT", "CLOB")):
                    continue  # numbers and blobs hold no path
                conn.execute(
                    f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) WHERE instr("{column}", ?) > 0',
                    (old, new, old),
                )


def _rewrite_text(path: Path, old: str, new: str) -> None:
    raw = path.read_bytes()
    if old.encode() not in raw:
        return
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return  # binary: nothing of ours to rewrite
    path.write_text(text.replace(old, new), encoding="utf-8")
