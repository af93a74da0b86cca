"""Imports point down only: core <- tasks <- flows; core <- tasks <- serving; everything <- CLI.

A small AST walk over every module of the installed layout (``driftgate.*`` with ``flows/``,
``tasks/`` and ``serving/`` mapped in by ``[tool.setuptools.package-dir]``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

FOLDERS = {
    "driftgate": ROOT / "driftgate",
    "driftgate.tasks": ROOT / "tasks",
    "driftgate.flows": ROOT / "flows",
    "driftgate.serving": ROOT / "serving",
}
TOP = ("driftgate.cli", "driftgate.stack", "driftgate.demo", "driftgate.data_api")
GENERIC = ("tasks", "flows", "serving")


def layer(module: str) -> str:
    """The layer a driftgate module belongs to."""
    for name in ("driftgate.tasks", "driftgate.flows", "driftgate.serving"):
        if module == name or module.startswith(name + "."):
            return name.rsplit(".", 1)[1]
    if module.startswith(TOP):
        return "top"
    return "core"


ALLOWED = {
    "core": {"core"},
    "tasks": {"core", "tasks"},
    "flows": {"core", "tasks", "flows"},
    "serving": {"core", "tasks", "serving"},
    "top": {"core", "tasks", "flows", "serving", "top"},
}


def modules() -> list[tuple[str, Path]]:
    found = []
    for package, folder in FOLDERS.items():
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            name = ".".join([package, *parts])
            if package == "driftgate" and parts and parts[0] in GENERIC:
                continue
            found.append((name, path))
    return found


def imported(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return out


@pytest.mark.parametrize(("module", "path"), modules(), ids=[m for m, _ in modules()])
def test_imports_point_down_only(module: str, path: Path) -> None:
    mine = layer(module)
    wrong = []
    for line, target in imported(path):
        head = target.split(".")[0]
        if head in GENERIC:
            wrong.append(f"{path.name}:{line} imports top-level {target!r} (use driftgate.{target})")
        elif head == "driftgate" and layer(target) not in ALLOWED[mine]:
            wrong.append(f"{path.name}:{line} ({mine}) imports {target} ({layer(target)})")
    assert not wrong, "\n".join(wrong)


def test_the_layer_rule_catches_a_wrong_arrow(tmp_path: Path) -> None:
    """The walk sees an upward import (so the test above can fail)."""
    bad = tmp_path / "bad.py"
    bad.write_text("from driftgate.flows.training import continuous_training\n")
    targets = [t for _, t in imported(bad)]
    assert layer(targets[0]) == "flows"
    assert layer(targets[0]) not in ALLOWED["serving"]
    assert "flows" not in ALLOWED[layer("driftgate.registry")]


def test_only_driftgate_is_installed_at_the_top() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert all(p == "driftgate" or p.startswith("driftgate.") for p in config["packages"])
    assert config["package-dir"]["driftgate.flows"] == "flows"
