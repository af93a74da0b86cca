"""Imports point down only, and the folders say which layer a module is in.

The folder-to-package mapping is read from ``pyproject.toml`` (``[tool.setuptools.package-dir]``),
the one place it is declared. Layers, bottom to top: the core (``driftgate/``), the stages
(``tasks/<stage>/``), then flows and the service beside each other, then the top layer
(``cli/`` and ``local/``, installed as ``driftgate.cli`` and ``driftgate.local``). A stage
reaches another stage only through that stage's package (its ``__init__``), never a private
module; and no module hides an import of a sibling module inside a function (the way import
cycles are smuggled past Python).
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT

SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
MAPPING: dict[str, Path] = {package: ROOT / folder for package, folder in SETUPTOOLS["package-dir"].items()}
TOP = {"cli", "local"}  # the top layer's folders: the command and the local stack of real servers
ALLOWED = {
    "core": {"core"},
    "tasks": {"core", "tasks"},
    "flows": {"core", "tasks", "flows"},
    "serving": {"core", "tasks", "serving"},
    "top": {"core", "tasks", "flows", "serving", "top"},
}


def layer(module: str) -> str:
    """The layer a driftgate module belongs to, by the folder that holds it."""
    for package in MAPPING:
        if package != "driftgate" and (module == package or module.startswith(package + ".")):
            name = package.rsplit(".", 1)[1]
            return "top" if name in TOP else name
    return "core"


def stage(module: str) -> str | None:
    """``driftgate.tasks.<stage>...`` -> ``<stage>`` (None outside the stages)."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["driftgate", "tasks"] else None


def modules() -> list[tuple[str, Path]]:
    found = []
    mapped = {folder.resolve() for folder in MAPPING.values()}
    for package, folder in MAPPING.items():
        for path in sorted(folder.rglob("*.py")):
            if package == "driftgate" and any(p.resolve() in mapped for p in path.parents if p != folder):
                continue
            parts = [p for p in path.relative_to(folder).with_suffix("").parts if p != "__init__"]
            found.append((".".join([package, *parts]), path))
    return found


def imported(path: Path) -> list[tuple[int, str, bool]]:
    """(line, module, inside a function) for every absolute import."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nested = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for inner in ast.walk(node)
    }
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name, id(node) in nested) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module, id(node) in nested))
    return out


def wrong_imports(module: str, path: Path) -> list[str]:
    mine, wrong = layer(module), []
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for line, target, in_function in imported(path):
        head = target.split(".")[0]
        where = f"{path.name}:{line}"
        if head in ("tasks", "flows", "serving"):
            wrong.append(f"{where} imports top-level {target!r} (use driftgate.{target})")
        if head != "driftgate":
            continue
        if layer(target) not in ALLOWED[mine]:
            wrong.append(f"{where} ({mine}) imports {target} ({layer(target)})")
        theirs = stage(target)
        if theirs and theirs != stage(module) and len(target.split(".")) > 3:
            wrong.append(f"{where} imports {target}: use the stage's package driftgate.tasks.{theirs}")
        if stage(module) and target == "driftgate.settings":
            wrong.append(f"{where} imports the settings: a stage takes its policy (driftgate.policies)")
        if in_function and target.rsplit(".", 1)[0] == package and target != module:
            wrong.append(f"{where} imports sibling {target} inside a function (a hidden import cycle?)")
    if stage(module):
        wrong += [f"{path.name}:{line} reads .settings: a stage takes its policy" for line in settings_reads(path)]
    return wrong


def settings_reads(path: Path) -> list[int]:
    """Lines where a module reads an attribute named ``settings`` (``ctx.settings``, ``self.settings``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr == "settings"]


@pytest.mark.parametrize(("module", "path"), modules(), ids=[m for m, _ in modules()])
def test_imports_point_down_only(module: str, path: Path) -> None:
    wrong = wrong_imports(module, path)
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    ("source", "module", "problem"),
    [
        ("from driftgate.flows.training import continuous_training\n", "driftgate.serving.app", "(flows)"),
        ("from driftgate.cli import app\n", "driftgate.registry.client", "(top)"),
        ("from driftgate.tasks.gate._gate import gate\n", "driftgate.tasks.loop._outcome", "stage's package"),
        ("def f():\n    from driftgate.tasks.train._halving import h\n", "driftgate.tasks.train._search", "sibling"),
        ("from driftgate.settings import Settings\n", "driftgate.tasks.drift._report", "its policy"),
        ("def f(ctx):\n    return ctx.settings.resolved_predictions_db_url()\n", "driftgate.tasks.monitor._x", "reads"),
    ],
)
def test_the_layer_rule_catches_a_wrong_arrow(tmp_path: Path, source: str, module: str, problem: str) -> None:
    """Each rule can fail: upward, another stage's private module, a hidden sibling import, settings in a stage
    (imported, or read from the context)."""
    bad = tmp_path / "bad.py"
    bad.write_text(source)
    assert any(problem in w for w in wrong_imports(module, bad))


def test_the_mapping_is_read_from_pyproject_and_covers_every_folder() -> None:
    assert layer("driftgate.tasks.gate") == "tasks"
    assert layer("driftgate.cli.loop") == "top"
    assert layer("driftgate.registry.client") == "core"
    assert MAPPING["driftgate.flows"] == ROOT / "flows"
    listed = set(SETUPTOOLS["packages"])
    for module, path in modules():
        if path.name == "__init__.py":
            assert module in listed, f"{module} is a package folder missing from [tool.setuptools] packages"


def test_only_driftgate_is_installed_at_the_top() -> None:
    assert all(p == "driftgate" or p.startswith("driftgate.") for p in SETUPTOOLS["packages"])
