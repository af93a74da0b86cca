"""Render a page of a running service or UI in headless Chromium and save a screenshot.

Needs Debian's chromium (apt-get install chromium). Examples:

    uv run python scripts/screenshot.py http://127.0.0.1:8000/reports/4 reports-4.png
    uv run python scripts/screenshot.py http://127.0.0.1:4200/deployments prefect.png --wait-ms 8000
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def screenshot(url: str, out: Path, width: int = 1280, height: int = 2400, wait_ms: int = 2000) -> Path:
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        raise SystemExit("no chromium found: apt-get install chromium")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={profile}",
             f"--window-size={width},{height}", f"--virtual-time-budget={wait_ms}", f"--screenshot={out.resolve()}",
             url],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    if not out.is_file() or out.stat().st_size == 0:
        raise SystemExit(f"chromium wrote no screenshot for {url}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url")
    ap.add_argument("out", type=Path)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=2400)
    ap.add_argument("--wait-ms", type=int, default=2000)
    args = ap.parse_args()
    path = screenshot(args.url, args.out, args.width, args.height, args.wait_ms)
    sys.stdout.write(f"{path} ({path.stat().st_size} bytes)\n")


if __name__ == "__main__":
    main()
