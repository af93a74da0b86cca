"""The core's groups: each exports its public names once, lazily, and the core's top stays small."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from driftgate._lazy import exports_of
from tests.conftest import ROOT

GROUPS = sorted(p.parent.name for p in (ROOT / "driftgate").glob("*/__init__.py"))


def test_the_core_folder_holds_at_most_twelve_modules() -> None:
    assert GROUPS == ["alerts", "dataset", "models", "pages", "registry", "stores"]
    assert len(list((ROOT / "driftgate").glob("*.py"))) <= 12


@pytest.mark.parametrize("group", GROUPS)
def test_every_exported_name_resolves_to_its_module(group: str) -> None:
    package = importlib.import_module(f"driftgate.{group}")
    where = exports_of(package.__file__ or "")
    assert where, f"driftgate.{group} exports nothing"
    assert package.__all__ == sorted(where)
    modules = {p.stem for p in (ROOT / "driftgate" / group).glob("*.py")}
    # a name that is also a module's would be shadowed by the module once it is imported
    assert not modules & set(where), f"driftgate.{group} exports a name its module also has"
    for name, module in where.items():
        assert getattr(package, name) is getattr(importlib.import_module(module), name)
    with pytest.raises(AttributeError, match=f"module 'driftgate.{group}' has no attribute 'nope'"):
        _ = package.nope


def test_the_quick_registry_path_never_imports_mlflow_through_its_group() -> None:
    """``promote``/``rollback`` on SQLite import ``driftgate.registry.champion_sqlite``, whose group also holds
    the MLflow client: the group's ``__init__`` must not import it."""
    code = "import sys, driftgate.registry.champion_sqlite; print('mlflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"
