"""Numbers read one way on every page, and every chart keeps its texts inside its box."""

from __future__ import annotations

import numpy as np
import pytest

from driftgate.pages.charts import (
    CHAR_W,
    Chart,
    Panel,
    bar_chart,
    histogram_chart,
    line_panels,
    nice_ticks,
    paired_bar_chart,
)
from driftgate.pages.render import lake_key, metric_label, metric_value, number, pvalue


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (14938.67408922361, "14,940"),
        (np.float64(67.79379395740465), "67.79"),
        (np.int64(100000), "100,000"),
        (0.98765, "0.9877"),
        (1.485e4, "14,850"),
        (2.81e3, "2,810"),
        (-385.2, "-385.2"),
        (1e20, "100,000,000,000,000,000,000"),
        (None, "-"),
        (float("nan"), "-"),
        (True, "yes"),
        ([1.23456, "a"], "1.235, a"),
        ("file:///home/me/.driftgate/lake/raw/diamonds/batch=3", "raw/diamonds/batch=3"),
    ],
)
def test_a_number_reads_with_four_significant_digits_and_no_exponent_or_repr(value: object, shown: str) -> None:
    assert number(value) == shown


def test_a_tiny_p_value_is_bounded_not_written_with_an_exponent() -> None:
    assert pvalue(3e-12) == "< 0.0001"
    assert pvalue(0.0312) == "0.031"


def test_a_searched_loss_is_shown_as_the_loss_with_its_direction() -> None:
    assert metric_label("cv_rmse_score") == "RMSE, cross-validated (lower is better)"
    assert metric_value("cv_rmse_score", -1071.2) == 1071.2
    assert metric_label("test_roc_auc") == "ROC AUC, test (higher is better)"
    assert lake_key("/srv/x/lake/raw/ds/batch=1") == "raw/ds/batch=1"


@pytest.mark.parametrize(("lo", "hi"), [(678.4, 1001.0), (0.0, 0.988), (-385.0, 2810.0), (5.0, 5.0)])
def test_ticks_are_round_and_cover_the_range(lo: float, hi: float) -> None:
    ticks = nice_ticks(lo, hi)
    assert ticks[0] <= lo
    assert ticks[-1] >= hi
    assert all("e" not in number(t) for t in ticks)


def _inside(chart: Chart) -> list[str]:
    """Texts whose estimated box leaves the chart."""
    out = []
    for e in chart.texts:
        a = dict(e.attrs)
        w = len(e.text) * CHAR_W
        left = {"start": a["x"], "middle": a["x"] - w / 2, "end": a["x"] - w}[a.get("text-anchor", "start")]
        if left < 0 or left + w > chart.width or a["y"] > chart.height or a["y"] < 9:
            out.append(f"{e.text!r} at {a['x']},{a['y']}")
    return out


def test_every_chart_keeps_its_labels_inside_and_titles_its_axes() -> None:
    long = "a_feature_name_much_longer_than_any_label_column"
    charts = [
        line_panels(
            [1, 2, 3, 5],
            [
                Panel("RMSE (lower is better)", [1000.0, 2810.0, None, 678.0]),
                Panel("drift share (%)", [0.0, 0.988, 0.5, 0.2], unit="%"),
            ],
            gaps=[4],
        ),
        bar_chart([("carat", -385.0), (long, 2810.0), ("x", 12.5)], x_title="change of mean |SHAP value|"),
        paired_bar_chart(
            [("carat", 2810.0, 1500.0), (long, 10.0, 30.0)], ("version 1", "version 2"), x_title="mean |SHAP value|"
        ),
        histogram_chart({"edges": [0.0, 1.0, 2.0], "reference": [0.5, 0.5], "current": [0.2, 0.8]}, "carat"),
    ]
    for chart in charts:
        assert not _inside(chart), _inside(chart)
        assert any(dict(e.attrs).get("class") == "axis-title" for e in chart.texts), chart.label


def test_the_line_breaks_at_a_quarantined_batch() -> None:
    chart = line_panels([1, 2, 3, 5, 6], [Panel("RMSE", [1.0, 2.0, 3.0, 4.0, 5.0])], gaps=[4])
    paths = [e for e in chart.elements if e.tag == "path"]
    assert len(paths) == 2
    assert sum(e.tag == "rect" for e in chart.elements) == 1
