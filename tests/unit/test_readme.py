"""The README and docs/ stay true: every setting, command and service route is documented where a
reader looks for it, the README stays short, and every relative link and screenshot resolves.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from driftgate.settings import Settings
from tests.conftest import ROOT
from tests.unit.test_cli import COMMANDS

README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
README_MAX_BYTES = 15_000

FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def prose(path: Path) -> str:
    """A page without its fenced code blocks (links and headings inside them are not real)."""
    return FENCE.sub("", text(path))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    plain = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    return re.sub(r"[^\w\- ]", "", plain.lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(h) for h in HEADING.findall(prose(path))}


def settings_doc() -> ModuleType:
    spec = importlib.util.spec_from_file_location("settings_doc", ROOT / "scripts" / "settings_doc.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_is_at_most_15_kb() -> None:
    size = len(README.read_bytes())
    assert size <= README_MAX_BYTES, (
        f"README.md is {size} bytes (at most {README_MAX_BYTES}): move reference text to a page under docs/ and link it"
    )


def test_the_quickstart_has_exactly_the_two_commands() -> None:
    quick = text(README).split("## Quickstart", 1)[1].split("##", 1)[0]
    block = quick.split("```bash", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in block.strip().splitlines()] == ["make demo", "make test"]


def test_settings_md_is_generated_from_the_settings_and_up_to_date() -> None:
    doc = settings_doc()
    assert text(DOCS / "settings.md") == doc.render(), f"docs/settings.md is out of date: run {doc.FIX}"


def test_every_setting_is_in_settings_md() -> None:
    page = text(DOCS / "settings.md")
    missing = [name for name in Settings.model_fields if f"DRIFTGATE_{name.upper()}" not in page]
    assert not missing, f"not in docs/settings.md: {missing}; run {settings_doc().FIX}"


def test_every_command_is_in_cli_md() -> None:
    page = text(DOCS / "cli.md")
    missing = [command for command in COMMANDS if f"`driftgate {command}" not in page]
    assert not missing, f"commands missing from the table of docs/cli.md: {missing}"


def test_every_service_route_is_in_service_md_or_console_md(tmp_path: Path) -> None:
    from driftgate.serving.app import create_app

    settings = Settings(
        home=tmp_path, dataset="synthetic-regression", datasets_dir=ROOT / "datasets", admin_api_key="k"
    )
    app = create_app(settings)
    pages = text(DOCS / "service.md") + text(DOCS / "console.md")
    missing = []
    for route in app.routes:
        if route.path.startswith("/schema/"):
            continue  # Litestar's own OpenAPI routes; /schema itself is documented
        shown = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        for method in sorted(set(getattr(route, "methods", ())) - {"OPTIONS", "HEAD"}):
            if not re.search(rf"`{method} {re.escape(shown)}[`?\s]", pages):
                missing.append(f"{method} {shown}")
    assert not missing, f"routes missing from docs/service.md and docs/console.md: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_every_relative_link_and_screenshot_resolves(page: Path) -> None:
    broken = []
    for target in LINK.findall(prose(page)):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no file {file.relative_to(ROOT) if file.is_relative_to(ROOT) else file}")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading with anchor #{anchor} in {file.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {(README.parent / t.partition("#")[0]).resolve() for t in LINK.findall(prose(README))}
    unlinked = [p.name for p in DOCS.glob("*.md") if p.resolve() not in linked]
    assert not unlinked, f"docs pages the README does not link: {unlinked}"
