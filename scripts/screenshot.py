"""Screenshots of pages: one URL, or every page of a running console into docs/.

Needs Debian's chromium (apt-get install chromium); Playwright drives it, never downloads one.

    uv run python scripts/screenshot.py http://127.0.0.1:8000/reports/4 reports-4.png
    uv run python scripts/screenshot.py http://127.0.0.1:4200/deployments prefect.png --wait-ms 8000
    uv run python scripts/screenshot.py --console http://127.0.0.1:8000 docs/

The ``--console`` mode writes the README's and docs/console.md's pictures (``console-*.png``):
home, the prediction form and its answer, the timeline, the versions, a version, the comparison,
the monitor, a validation report and the API docs.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger("screenshot")

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--disable-background-networking"]


def _browser(pw: Any) -> Any:
    if not Path(CHROMIUM).exists():
        raise SystemExit("no /usr/bin/chromium: apt-get install chromium")
    return pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def screenshot(url: str, out: Path, width: int = 1280, height: int = 900, wait_ms: int = 0) -> Path:
    """One page, full height, after its network went quiet (and ``wait_ms`` more)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = _browser(pw)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(url, wait_until="networkidle")
        if wait_ms:
            page.wait_for_timeout(wait_ms)
        page.screenshot(path=str(out), full_page=True)
        browser.close()
    if not out.is_file() or out.stat().st_size == 0:
        raise SystemExit(f"chromium wrote no screenshot for {url}")
    return out


def console(base: str, folder: Path) -> list[Path]:
    """Every console page of the service at ``base`` into ``folder/console-<page>.png``."""
    from playwright.sync_api import sync_playwright

    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with sync_playwright() as pw:
        browser = _browser(pw)
        page = browser.new_page(viewport={"width": 1280, "height": 900})

        def shot(name: str, path: str | None = None) -> None:
            if path is not None:
                page.goto(base + path, wait_until="networkidle")
            out = folder / f"console-{name}.png"
            page.screenshot(path=str(out), full_page=True)
            written.append(out)
            log.info("%s -> %s", page.url, out)

        shot("home", "/console")
        shot("predict", "/console/predict")
        page.click("#predict-submit")
        page.wait_for_selector("#contributions tbody tr.rest")
        shot("predict-result")
        shot("timeline", "/console/timeline")
        quarantined = page.locator("tr.quarantined a.validation-link").first
        validation = quarantined.get_attribute("href") if quarantined.count() else None
        shot("versions", "/reports")
        newest = page.locator("#compare-newest")
        compare = newest.get_attribute("href") if newest.count() else None
        versions = page.locator("#versions tr[data-version]:not(.refused)").all()
        if versions:
            shot("version", f"/reports/{versions[0].get_attribute('data-version')}")
        if compare:
            shot("compare", compare)
        shot("monitor", "/console/monitor")
        if validation:
            shot("validation", validation)
        page.goto(base + "/schema", wait_until="networkidle")
        page.wait_for_selector(".swagger-ui .opblock", timeout=15000)
        shot("api-docs")
        browser.close()
    return written


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url", help="the page (or with --console the service's base URL)")
    ap.add_argument("out", type=Path, help="the PNG file (or with --console the folder)")
    ap.add_argument("--console", action="store_true", help="every console page into OUT/console-*.png")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=900)
    ap.add_argument("--wait-ms", type=int, default=0)
    args = ap.parse_args()
    if args.console:
        for path in console(re.sub(r"/+$", "", args.url), args.out):
            sys.stdout.write(f"{path} ({path.stat().st_size} bytes)\n")
        return
    path = screenshot(args.url, args.out, args.width, args.height, args.wait_ms)
    sys.stdout.write(f"{path} ({path.stat().st_size} bytes)\n")


if __name__ == "__main__":
    main()
