"""Lazy exports for the core's groups: a group's ``__init__`` names its exports once, for mypy.

Each group (``driftgate.dataset``, ``driftgate.stores``, ...) lists its public names as
``if TYPE_CHECKING:`` imports, which type checkers and readers see; at run time this module reads
that same block from the file and imports a sibling module only when one of its names is first
used (PEP 562). So ``from driftgate.registry.champion_sqlite import promote_sqlite`` never imports
MLflow through the group's ``__init__``, and the list of exports is written in one place.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable
from pathlib import Path


def exports_of(init_file: str) -> dict[str, str]:
    """``{name: module}`` from the ``if TYPE_CHECKING:`` imports of a group's ``__init__``."""
    tree = ast.parse(Path(init_file).read_text(encoding="utf-8"))
    where: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and statement.module:
                    where.update({alias.asname or alias.name: statement.module for alias in statement.names})
    return where


def lazy_exports(package: str, init_file: str) -> tuple[list[str], Callable[[str], object]]:
    """``(__all__, __getattr__)`` for the group ``package`` whose ``__init__`` is ``init_file``."""
    where = exports_of(init_file)

    def __getattr__(name: str) -> object:  # noqa: N807 (PEP 562's name)
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return sorted(where), __getattr__
