"""Every HTML page: Jinja2 templates, server-drawn SVG charts and the one stylesheet.

Names are exported lazily (driftgate/_lazy.py): importing one module of the group never
imports its siblings (``registry.champion_sqlite`` stays free of MLflow; ``models`` of pandas where it can)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from driftgate._lazy import lazy_exports

if TYPE_CHECKING:
    from driftgate.pages.charts import CHAR_W as CHAR_W
    from driftgate.pages.charts import Chart as Chart
    from driftgate.pages.charts import Panel as Panel
    from driftgate.pages.charts import bar_chart as bar_chart
    from driftgate.pages.charts import histogram_chart as histogram_chart
    from driftgate.pages.charts import line_panels as line_panels
    from driftgate.pages.charts import nice_ticks as nice_ticks
    from driftgate.pages.charts import paired_bar_chart as paired_bar_chart
    from driftgate.pages.render import METRIC_NAMES as METRIC_NAMES
    from driftgate.pages.render import lake_key as lake_key
    from driftgate.pages.render import metric_label as metric_label
    from driftgate.pages.render import metric_rows as metric_rows
    from driftgate.pages.render import metric_value as metric_value
    from driftgate.pages.render import number as number
    from driftgate.pages.render import percent as percent
    from driftgate.pages.render import png_data_uri as png_data_uri
    from driftgate.pages.render import pvalue as pvalue
    from driftgate.pages.render import render_standalone as render_standalone
    from driftgate.pages.render import static_dir as static_dir

__all__, __getattr__ = lazy_exports(__name__, __file__)
