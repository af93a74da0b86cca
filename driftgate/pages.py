"""Every HTML page driftgate writes, from Jinja2 templates (autoescaped) and one stylesheet.

Lake and MLflow reports are standalone files (the stylesheet is inlined: they open from disk,
S3 or MLflow's UI); the service's console links the same stylesheet from ``/static``. Charts
are server-drawn SVG: the functions here compute the geometry, ``templates/_charts.html`` draws it.
Nothing points to another host.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

STYLESHEET = "driftgate.css"


def static_dir() -> Path:
    """The folder of the stylesheet and the console's script (shipped in the wheel)."""
    return Path(str(files("driftgate") / "static"))


@cache
def stylesheet() -> str:
    return (static_dir() / STYLESHEET).read_text(encoding="utf-8")


def number(value: Any, digits: int = 4) -> str:
    """A number for people: ``digits`` significant digits, ``-`` for missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def percent(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{float(value):.{digits}%}"


@cache
def environment() -> jinja2.Environment:
    """The one template environment: autoescape on everywhere, undefined names are errors."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("driftgate", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = number
    env.filters["pct"] = percent
    return env


def render(template: str, /, **context: Any) -> str:
    """A page of the service (links ``/static/driftgate.css``)."""
    context.setdefault("inline_css", None)
    return environment().get_template(template).render(**context)


def render_standalone(template: str, /, **context: Any) -> str:
    """A report file that opens anywhere: the stylesheet is inlined, nothing is fetched."""
    return render(template, **context | {"inline_css": Markup(stylesheet())})  # our own file, not input


# --- chart geometry ------------------------------------------------------------------------
@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    cls: str
    title: str = ""


def histogram_pair(reference: list[float], current: list[float], width: int = 240, height: int = 40) -> list[Rect]:
    """Side-by-side bars of two histograms over the same bins (reference grey, current red)."""
    if not reference:
        return []
    top = max(max(reference), max(current or [0.0]), 1e-9)
    w = width / len(reference)
    rects = []
    for i, (r, c) in enumerate(zip(reference, current or [0.0] * len(reference), strict=True)):
        for j, (v, cls) in enumerate(((r, "ref"), (c, "cur"))):
            h = height * v / top
            rects.append(Rect(round(i * w + j * w / 2, 1), round(height - h, 1), round(w / 2, 1), round(h, 1), cls))
    return rects


@dataclass(frozen=True)
class Series:
    """One line of a chart: its points (None: no value at that x) scaled into the plot."""

    name: str
    cls: str
    points: list[tuple[float, float, str]]  # x, y in pixels, label
    path: str
    low: float
    high: float


def line_chart(
    xs: list[int], series: dict[str, list[float | None]], width: int = 720, height: int = 220, pad: int = 40
) -> dict[str, Any]:
    """Geometry of a chart with one x axis (batches) and each series on its own y scale."""
    if not xs:
        return {"width": width, "height": height, "series": [], "ticks": [], "pad": pad}
    span = max(xs) - min(xs) or 1
    plot_w, plot_h = width - 2 * pad, height - 2 * pad

    def x_of(x: int) -> float:
        return round(pad + plot_w * (x - min(xs)) / span, 1)

    out = []
    for k, (name, values) in enumerate(series.items(), start=1):
        present = [v for v in values if v is not None and not math.isnan(v)]
        lo, hi = (min(present), max(present)) if present else (0.0, 1.0)
        if hi - lo < 1e-12:
            lo, hi = lo - 0.5 * (abs(lo) or 1), hi + 0.5 * (abs(hi) or 1)
        pts = [
            (x_of(x), round(pad + plot_h * (1 - (v - lo) / (hi - lo)), 1), f"batch {x}: {number(v)}")
            for x, v in zip(xs, values, strict=True)
            if v is not None and not math.isnan(v)
        ]
        path = " ".join(f"{'M' if i == 0 else 'L'}{px},{py}" for i, (px, py, _) in enumerate(pts))
        out.append(Series(name, f"{k}", pts, path, lo, hi))
    ticks = [(x_of(x), str(x)) for x in xs]
    return {"width": width, "height": height, "series": out, "ticks": ticks, "pad": pad}


def diverging_bars(items: list[tuple[str, float]], width: int = 560, row: int = 20, label: int = 140) -> dict[str, Any]:
    """Horizontal bars around a zero line (e.g. the change of each feature's importance)."""
    top = max([abs(v) for _, v in items] + [1e-12])
    half = (width - label - 60) / 2
    zero = label + half
    bars = []
    for i, (name, v) in enumerate(items):
        w = half * abs(v) / top
        x = zero if v >= 0 else zero - w
        bars.append({"y": i * row + 4, "x": round(x, 1), "w": round(max(w, 0.5), 1), "cls": "pos" if v >= 0 else "neg",
                     "name": name, "value": number(v, 3), "tx": round(zero + (w + 4 if v >= 0 else -w - 4), 1),
                     "anchor": "start" if v >= 0 else "end"})  # fmt: skip
    return {"width": width, "height": len(items) * row + 10, "zero": round(zero, 1), "bars": bars, "label": label}


def paired_bars(
    rows: list[tuple[str, float, float]], width: int = 560, row: int = 26, label: int = 140
) -> dict[str, Any]:
    """Two horizontal bars per label on one scale (e.g. two versions' importance)."""
    top = max([max(a, b) for _, a, b in rows] + [1e-12])
    scale = (width - label - 70) / top
    bars = [{"y": i * row + 3, "name": name, "a": round(a * scale, 1), "b": round(b * scale, 1),
             "va": number(a, 3), "vb": number(b, 3)} for i, (name, a, b) in enumerate(rows)]  # fmt: skip
    return {"width": width, "height": len(rows) * row + 8, "label": label, "bars": bars}


def png_data_uri(data: bytes) -> str:
    """A PNG inline in the page (``data:`` URI): the page needs no second request."""
    import base64

    return f"data:image/png;base64,{base64.b64encode(data).decode()}"
