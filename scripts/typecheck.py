"""Run mypy on the installed package layout.

The design card keeps ``flows/``, ``tasks/`` and ``serving/`` at the top of the repository, and
setuptools installs them as ``driftgate.flows``, ``driftgate.tasks`` and ``driftgate.serving``
(``[tool.setuptools.package-dir]``). mypy cannot follow that mapping, so this script builds the
installed layout as a tree of hard links under ``build/typecheck/`` and checks that tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAPPED = {"flows": "flows", "tasks": "tasks", "serving": "serving"}


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
