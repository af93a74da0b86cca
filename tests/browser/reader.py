"""What a reader sees on a page, checked in the browser: text, charts, links."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

# Python reprs, library conventions and absolute paths leaking into what a person reads
LEAKS = re.compile(
    r"np\.|numpy\.|NoneType|file://|\d[eE]\+0|\d[eE]-0\d|<class |object at 0x|\bdtype\(|Timestamp\("
    r"|\b(?:None|True|False|nan|NaN)\b"
)

SVG_TEXT_OUTSIDE = """() => {
  const out = [];
  for (const svg of document.querySelectorAll("svg")) {
    const box = svg.getBoundingClientRect();
    for (const t of svg.querySelectorAll("text")) {
      const r = t.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1)
        out.push(`${t.textContent} [${Math.round(r.left)}..${Math.round(r.right)}] outside `
                 + `[${Math.round(box.left)}..${Math.round(box.right)}]`);
    }
  }
  return out;
}"""

TEXT_OVERLAPS = """() => {
  const out = [];
  for (const svg of document.querySelectorAll("svg")) {
    const boxes = [...svg.querySelectorAll("text")].map((t) => [t.textContent, t.getBoundingClientRect()]);
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const [a, ra] = boxes[i], [b, rb] = boxes[j];
      const w = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
      const h = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
      if (w > 2 && h > 2) out.push(`${a} / ${b}`);
    }
  }
  return out;
}"""

CHARTS_WITHOUT_AXIS_TITLES = """() => [...document.querySelectorAll("svg")]
  .filter((svg) => !svg.classList.contains("chart") || svg.querySelectorAll("text.axis-title").length === 0)
  .map((svg) => svg.getAttribute("aria-label") || svg.outerHTML.slice(0, 80))"""


def leaks(text: str) -> list[str]:
    """Each leaking match with a little context."""
    return [text[max(m.start() - 30, 0) : m.end() + 30].replace("\n", " ") for m in LEAKS.finditer(text)]


def visible_text(p: Any) -> str:
    return str(p.locator("body").inner_text())


def svg_texts_outside(p: Any) -> list[str]:
    return list(p.evaluate(SVG_TEXT_OUTSIDE))


def svg_texts_overlapping(p: Any) -> list[str]:
    return list(p.evaluate(TEXT_OVERLAPS))


def charts_without_axis_titles(p: Any) -> list[str]:
    return list(p.evaluate(CHARTS_WITHOUT_AXIS_TITLES))


def internal_links(p: Any, origin: str) -> set[str]:
    """Every link of the page to the service itself, absolute, without fragment."""
    hrefs = p.eval_on_selector_all("a[href]", "els => els.map((e) => e.getAttribute('href'))")
    out = set()
    for href in hrefs:
        url = urljoin(p.url, href).split("#", 1)[0]
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" == origin:
            out.add(url)
    return out
