"""The README stays true: every setting, command and service route it must document is there."""

from __future__ import annotations

import re
from pathlib import Path

from driftgate.settings import Settings
from tests.conftest import ROOT
from tests.unit.test_cli import COMMANDS

README = (ROOT / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    for name in Settings.model_fields:
        assert f"DRIFTGATE_{name.upper()}" in README, name


def test_every_command_is_documented() -> None:
    for command in COMMANDS:
        assert f"driftgate {command}" in README, command


def test_every_service_route_is_documented(tmp_path: Path) -> None:
    from driftgate.serving.app import create_app

    settings = Settings(
        home=tmp_path, dataset="synthetic-regression", datasets_dir=ROOT / "datasets", admin_api_key="k"
    )
    app = create_app(settings)
    paths = {p for route in app.routes for p in [route.path] if not p.startswith("/schema")}
    for path in paths:
        shown = re.sub(r"\{(\w+):\w+\}", r"{\1}", path)
        assert f"`GET {shown}" in README or f"`POST {shown}" in README, path


def test_the_quickstart_has_exactly_the_two_commands() -> None:
    quick = README.split("## Quickstart", 1)[1].split("##", 1)[0]
    block = quick.split("```bash", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in block.strip().splitlines()] == ["make demo", "make test"]
