"""The one chart helper of every driftgate page: server-drawn SVG, no library, no CDN.

Why hand-written rather than matplotlib (already a dependency): matplotlib's SVG draws text as
glyph paths (or as text it cannot measure for us), weighs tens of kilobytes a chart and costs an
import of ~1 s in the service; the charts here are a few lines, bars and labels whose geometry is
plain arithmetic a unit test can check (every label inside its box). Each builder returns a
:class:`Chart` (a list of SVG elements); ``templates/_charts.html`` draws any chart with one macro.

Rules every chart follows: one quantity per axis (two series over the same x are two panels
sharing that x), axis titles with units, ticks in plain numbers (thousands separators, rounded
to a "nice" step), gaps where a value is missing (a quarantined batch), labels sized to fit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from driftgate.pages.render import number, percent

CHAR_W = 6.6  # px per character of the 11px chart font (a generous average: labels are sized to fit)
FONT_H = 11


def text_width(text: str) -> float:
    return len(text) * CHAR_W


def fit(text: str, room: float) -> str:
    """``text`` cut with an ellipsis so it fits ``room`` pixels (the full text goes in a tooltip)."""
    if text_width(text) <= room:
        return text
    keep = max(int(room / CHAR_W) - 1, 1)
    return text[:keep] + "…"


@dataclass(frozen=True)
class El:
    """One SVG element: tag, attributes, text content, tooltip."""

    tag: str
    attrs: tuple[tuple[str, Any], ...]
    text: str = ""
    tip: str = ""


@dataclass
class Chart:
    """An SVG chart: its size, its accessible name and its elements in drawing order."""

    width: int
    height: int
    label: str
    elements: list[El] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (css class, text) shown under the chart

    def add(self, tag: str, text: str = "", tip: str = "", **attrs: Any) -> None:
        def value(v: Any) -> Any:
            return round(v, 1) if isinstance(v, float) else v

        pairs = tuple((k.rstrip("_").replace("_", "-"), value(v)) for k, v in attrs.items())
        self.elements.append(El(tag, pairs, text, tip))

    def label_text(self, x: float, y: float, text: str, anchor: str = "start", cls: str = "", tip: str = "") -> None:
        self.add("text", text, tip, x=x, y=y, text_anchor=anchor, class_=cls or "label")

    @property
    def texts(self) -> list[El]:
        return [e for e in self.elements if e.tag == "text"]


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering ``lo…hi`` (steps of 1, 2, 2.5 or 5 times a power of ten)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0]
    if hi - lo < 1e-12:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    t = start
    while t < hi + step * 0.999:
        ticks.append(round(t, 12))
        t += step
    return ticks


def _tick_text(value: float, unit: str) -> str:
    return f"{number(value * 100, 3)}%" if unit == "%" else number(value, 3)


@dataclass(frozen=True)
class Panel:
    """One quantity over the shared x: its axis title (with unit) and a value per x (None: no value)."""

    title: str
    values: Sequence[float | None]
    unit: str = ""  # "%": values are shares, ticks read as percents
    cls: str = "s1"


def line_panels(
    xs: Sequence[int],
    panels: Sequence[Panel],
    *,
    x_title: str = "batch number",
    gaps: Sequence[int] = (),
    width: int = 720,
    panel_height: int = 130,
) -> Chart:
    """Small multiples: one panel per quantity, stacked over the same x; a shaded band (and a break in
    the line) at each x of ``gaps`` (e.g. quarantined batches)."""
    left, right, top_pad, gap_h, bottom = 64, 16, 22, 34, 40
    height = len(panels) * (panel_height + top_pad) + (len(panels) - 1) * (gap_h - top_pad) + bottom
    c = Chart(width, height, "; ".join(p.title for p in panels) + f" by {x_title}")
    every = sorted(set(xs) | set(gaps))
    if not every:
        return c
    x0, x1 = min(every), max(every)
    plot_w = width - left - right
    half = plot_w / (2 * max(len(every), 1))

    def px(x: float) -> float:
        return left + half + (plot_w - 2 * half) * ((x - x0) / (x1 - x0) if x1 > x0 else 0.5)

    top = top_pad
    for k, panel in enumerate(panels):
        bottom_y = top + panel_height
        present = [v for v in panel.values if v is not None and math.isfinite(v)]
        lo, hi = (min(present), max(present)) if present else (0.0, 1.0)
        if panel.unit == "%":
            lo, hi = 0.0, max(hi, 0.05)
        ticks = nice_ticks(lo, hi)
        t0, t1 = ticks[0], ticks[-1] if ticks[-1] > ticks[0] else ticks[0] + 1

        def py(v: float, t0: float = t0, t1: float = t1, bottom_y: float = bottom_y) -> float:
            return bottom_y - panel_height * (v - t0) / (t1 - t0)

        c.label_text(left - 56, top - 8, fit(panel.title, width - 16), cls="axis-title")
        for g in gaps:
            c.add(
                "rect",
                tip=f"{x_title} {g}: quarantined (no value)",
                x=px(g) - half * 0.8,
                y=top,
                width=half * 1.6,
                height=panel_height,
                class_="gap",
            )
        for t in ticks:
            c.add("line", x1=left, x2=width - right, y1=py(t), y2=py(t), class_="grid")
            c.label_text(left - 6, py(t) + 4, _tick_text(t, panel.unit), anchor="end")
        c.add("line", x1=left, x2=left, y1=top, y2=bottom_y, class_="axis")
        c.add("line", x1=left, x2=width - right, y1=bottom_y, y2=bottom_y, class_="axis")
        segments: list[list[tuple[float, float]]] = [[]]
        previous: int | None = None
        for x, v in zip(xs, panel.values, strict=True):
            if v is None or not math.isfinite(v) or x in gaps:
                segments.append([])
                continue
            if previous is not None and any(previous < g < x for g in gaps):
                segments.append([])
            segments[-1].append((px(x), py(v)))
            previous = x
            shown = _tick_text(v, panel.unit) if panel.unit == "%" else number(v)
            c.add("circle", tip=f"{x_title} {x}: {shown}", cx=px(x), cy=py(v), r=3.5, class_=f"dot {panel.cls}")
        for seg in segments:
            if len(seg) > 1:
                d = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(seg))
                c.add("path", d=d, class_=f"line {panel.cls}")
        if k == len(panels) - 1:
            step = max(1, math.ceil(len(every) / max(plot_w // 36, 1)))
            for x in every[::step]:
                c.label_text(px(x), bottom_y + 14, str(x), anchor="middle")
            c.label_text(left + plot_w / 2, bottom_y + 32, x_title, anchor="middle", cls="axis-title")
        top = bottom_y + gap_h
    if gaps:
        c.legend.append(("gap", "shaded: quarantined batch (no value, the line breaks)"))
    return c


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    x_title: str,
    width: int = 560,
    row: int = 22,
    signed_values: bool = False,
) -> Chart:
    """Horizontal bars (one per label) on one x axis; bars left of zero for negative values.

    Room for the labels, the value texts and the tick texts is reserved, so no text leaves the chart
    or covers another.
    """
    values = [v for _, v in items]
    shown = [(_signed(v) if signed_values else number(v)) for v in values]
    label_w = min(max([text_width(n) for n, _ in items] + [40]) + 8, width * 0.3)
    value_w = max([text_width(s) for s in shown] + [24]) + 8
    lo, hi = min([*values, 0.0]), max([*values, 0.0])
    ticks = nice_ticks(lo, hi, 4)
    t0, t1 = ticks[0], ticks[-1] if ticks[-1] > ticks[0] else ticks[0] + 1
    plot_l = label_w + (value_w if lo < 0 else 6)
    plot_r = width - value_w
    height = len(items) * row + 52
    c = Chart(width, height, f"{x_title} per feature")

    def px(v: float) -> float:
        return plot_l + (plot_r - plot_l) * (v - t0) / (t1 - t0)

    axis_y = len(items) * row + 4
    for t in ticks:
        c.add("line", x1=px(t), x2=px(t), y1=0, y2=axis_y, class_="grid")
        c.label_text(px(t), axis_y + 14, number(t, 3), anchor="middle")
    c.add("line", x1=px(0), x2=px(0), y1=0, y2=axis_y, class_="axis")
    for i, ((name, v), text) in enumerate(zip(items, shown, strict=True)):
        y = i * row + 4
        a, b = sorted((px(0), px(v)))
        c.label_text(label_w - 8, y + 12, fit(name, label_w - 10), anchor="end", tip=name)
        c.add(
            "rect", tip=f"{name}: {text}", x=a, y=y, width=max(b - a, 0.5), height=14, class_="pos" if v >= 0 else "neg"
        )
        if v >= 0:
            c.label_text(b + 4, y + 12, text, cls="value")
        else:
            c.label_text(a - 4, y + 12, text, anchor="end", cls="value")
    c.label_text((plot_l + plot_r) / 2, axis_y + 32, x_title, anchor="middle", cls="axis-title")
    return c


def paired_bar_chart(
    rows: Sequence[tuple[str, float, float]], names: tuple[str, str], *, x_title: str, width: int = 560, row: int = 38
) -> Chart:
    """Two bars per label on one x axis starting at zero (e.g. two versions' importance)."""
    top = max([max(a, b) for _, a, b in rows] + [1e-12])
    ticks = nice_ticks(0.0, top, 4)
    shown = [(number(a), number(b)) for _, a, b in rows]
    label_w = min(max([text_width(n) for n, _, _ in rows] + [40]) + 8, width * 0.3)
    value_w = max([text_width(s) for pair in shown for s in pair] + [24]) + 8
    plot_l, plot_r = label_w, width - value_w
    axis_y = len(rows) * row + 4
    c = Chart(width, axis_y + 48, f"{x_title}: {names[0]} and {names[1]}")
    c.legend = [("ref", names[0]), ("bar", names[1])]

    def px(v: float) -> float:
        return plot_l + (plot_r - plot_l) * v / ticks[-1]

    for t in ticks:
        c.add("line", x1=px(t), x2=px(t), y1=0, y2=axis_y, class_="grid")
        c.label_text(px(t), axis_y + 14, number(t, 3), anchor="middle")
    c.add("line", x1=plot_l, x2=plot_l, y1=0, y2=axis_y, class_="axis")
    for i, ((name, a, b), (sa, sb)) in enumerate(zip(rows, shown, strict=True)):
        y = i * row + 3
        c.label_text(label_w - 8, y + 19, fit(name, label_w - 10), anchor="end", tip=name)
        for j, (v, s, cls, who) in enumerate(((a, sa, "ref", names[0]), (b, sb, "bar", names[1]))):
            yy = y + j * 16
            c.add(
                "rect", tip=f"{name}, {who}: {s}", x=plot_l, y=yy, width=max(px(v) - plot_l, 0.5), height=11, class_=cls
            )
            c.label_text(px(v) + 4, yy + 10, s, cls="value")
    c.label_text((plot_l + plot_r) / 2, axis_y + 32, x_title, anchor="middle", cls="axis-title")
    return c


def histogram_chart(hist: dict[str, list[Any]], column: str, *, width: int = 260, height: int = 96) -> Chart:
    """Reference (grey) and batch (red) shares of rows per bin or level of one column, side by side."""
    ref, cur = list(hist.get("reference") or []), list(hist.get("current") or [])
    left, bottom, top_pad = 34, 30, 6
    c = Chart(width, height, f"share of rows per {'level' if 'levels' in hist else 'bin'} of {column}")
    if not ref:
        return c
    cur = cur or [0.0] * len(ref)
    top = max(max(ref), max(cur), 1e-9)
    ticks = nice_ticks(0.0, top, 3)
    plot_h, plot_w = height - bottom - top_pad, width - left - 8
    w = plot_w / len(ref)
    for t in ticks:
        y = top_pad + plot_h * (1 - t / ticks[-1])
        c.add("line", x1=left, x2=width - 8, y1=y, y2=y, class_="grid")
        c.label_text(left - 3, y + 4, percent(t, 0), anchor="end", cls="tick")
    levels = hist.get("levels")
    edges = hist.get("edges")
    for i, (r, k) in enumerate(zip(ref, cur, strict=True)):
        where = f"{levels[i]}" if levels else (f"{number(edges[i])} to {number(edges[i + 1])}" if edges else str(i))
        for j, (v, cls, who) in enumerate(((r, "ref", "reference"), (k, "cur", "batch"))):
            h = plot_h * v / ticks[-1]
            c.add(
                "rect",
                tip=f"{column} {where}: {who} {percent(v)}",
                x=left + i * w + j * w / 2,
                y=top_pad + plot_h - h,
                width=max(w / 2 - 0.5, 0.5),
                height=h,
                class_=cls,
            )
    base = top_pad + plot_h
    c.add("line", x1=left, x2=width - 8, y1=base, y2=base, class_="axis")
    if edges:
        c.label_text(left, base + 11, number(edges[0], 3), cls="tick")
        c.label_text(width - 8, base + 11, number(edges[-1], 3), anchor="end", cls="tick")
    elif levels:
        c.label_text(left, base + 11, fit(f"{len(levels)} levels", plot_w), cls="tick")
    c.label_text(
        left + plot_w / 2,
        height - 3,
        fit(f"{column} ({'levels' if levels else 'bins'}); y: share of rows", plot_w),
        anchor="middle",
        cls="axis-title",
    )
    return c


def _signed(v: float) -> str:
    text = number(v)
    return text if text.startswith("-") or text == "0" else f"+{text}"
