"""Run mypy on the installed package layout.

The design card keeps ``flows/``, ``tasks/`` and ``serving/`` at the top of the repository, and
setuptools installs them as ``driftgate.flows``, ``driftgate.tasks`` and ``driftgate.serving``
(``[tool.setuptools.package-dir]``, read here: the one place the mapping is declared). mypy has no
setting that renames a folder to a package (``mypy_path`` and ``explicit_package_bases`` only add
roots), and setuptools' strict editable mode links files into a tree mypy reads as outside the
project; so this script builds the installed layout as a tree of hard links under
``build/typecheck/`` and checks that tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
MAPPED = {
    package.removeprefix("driftgate."): folder for package, folder in PACKAGE_DIR.items() if package != "driftgate"
}


def build_tree() -> Path:
    tree = ROOT / "build" / "typecheck"
    shutil.rmtree(tree, ignore_errors=True)
    package = tree / "driftgate"
    ignore = shutil.ignore_patterns("__pycache__")
    # mypy does not walk symlinked folders; hard links keep the tree cheap
    shutil.copytree(ROOT / "driftgate", package, ignore=ignore, copy_function=os.link)
    for name, folder in MAPPED.items():
        shutil.copytree(ROOT / folder, package / name, ignore=ignore, copy_function=os.link)
    return tree


def main() -> int:
    tree = build_tree()
    return subprocess.call([sys.executable, "-m", "mypy", str(tree / "driftgate"), *sys.argv[1:]], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
