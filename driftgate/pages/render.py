"""Every HTML page driftgate writes, from Jinja2 templates (autoescaped) and one stylesheet.

Lake and MLflow reports are standalone files (the stylesheet is inlined: they open from disk,
S3 or MLflow's UI); the service's console links the same stylesheet from ``/static``. Charts
are server-drawn SVG (:mod:`driftgate.pages.charts`, drawn by ``templates/_charts.html``); every number
goes through :func:`number` (the ``num`` filter), so a value reads the same on every page.
Nothing points to another host.
"""

from __future__ import annotations

import math
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from driftgate.dataset.spec import METRIC_DIRECTIONS

STYLESHEET = "driftgate.css"


def static_dir() -> Path:
    """The folder of the stylesheet and the console's script (shipped in the wheel)."""
    return Path(str(files("driftgate.pages") / "static"))


@cache
def stylesheet() -> str:
    return (static_dir() / STYLESHEET).read_text(encoding="utf-8")


def number(value: Any, digits: int = 4) -> str:
    """Any value for people, one way everywhere (the ``num`` filter of every template).

    Numbers get ``digits`` significant digits, thousands separators and never an exponent (counts
    stay exact); missing values are ``-``; numpy scalars are numbers, never ``np.float64(...)``;
    ``file://`` paths of the lake become relative lake keys; lists and dicts are shown item by item.

    >>> number(14938.67408922361), number(0.98765), number(100000), number(None), number(1.5e-9)
    ('14,940', '0.9877', '100,000', '-', '0.0000000015')
    """
    if hasattr(value, "item") and callable(value.item) and getattr(value, "shape", None) == ():
        value = value.item()  # a numpy scalar
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return _float(value, digits)
    if isinstance(value, str):
        return lake_key(value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {number(v, digits)}" for k, v in value.items()) or "-"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(number(v, digits) for v in value) or "-"
    return str(value)


def _float(value: float, digits: int) -> str:
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    rounded = round(value, digits - 1 - magnitude)
    if rounded == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(rounded))))
    text = f"{rounded:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def signed(value: Any, digits: int = 4) -> str:
    """A change: ``+1,071`` / ``-385`` (``-`` when missing)."""
    text = number(value, digits)
    if text in ("-", "0") or text.startswith("-"):
        return text
    return f"+{text}"


def pvalue(value: Any) -> str:
    """A p-value: two significant digits, ``< 0.0001`` below that (never an exponent)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1e-4:
        return "< 0.0001"
    return number(value, 2)


def percent(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{float(value):.{digits}%}"


_LAKE_MARKER = "/lake/"


def lake_key(text: str) -> str:
    """A lake path as its key relative to the lake (``raw/ds/batch=3``); other text unchanged.

    >>> lake_key("file:///home/me/.driftgate/lake/raw/diamonds/batch=3")
    'raw/diamonds/batch=3'
    """
    if text.startswith("file://"):
        path = text.removeprefix("file://")
        return path.split(_LAKE_MARKER, 1)[1] if _LAKE_MARKER in path else path.rsplit("/", 1)[-1]
    if text.startswith("/") and _LAKE_MARKER in text and " " not in text:
        return text.split(_LAKE_MARKER, 1)[1]
    if text.startswith("s3://"):
        return text.split("/", 3)[-1] if text.count("/") >= 3 else text
    return text


METRIC_NAMES = {
    "rmse": "RMSE",
    "mae": "MAE",
    "r2": "R²",
    "roc_auc": "ROC AUC",
    "f1": "F1",
    "accuracy": "accuracy",
    "log_loss": "log loss",
}
_STAGES = (("test_", "test"), ("cv_", "cross-validated"), ("realized_", "realized"), ("estimated_", "estimated"))


def metric_label(key: str) -> str:
    """A logged metric's name for people, with its direction.

    >>> metric_label("cv_rmse_score")
    'RMSE, cross-validated (lower is better)'
    """
    stage, name = "", key
    for prefix, word in _STAGES:
        if key.startswith(prefix):
            stage, name = word, key.removeprefix(prefix)
            break
    name = name.removesuffix("_score")
    direction = METRIC_DIRECTIONS.get(name)
    if direction is None:
        return key.replace("_", " ")
    better = "higher is better" if direction == "maximize" else "lower is better"
    return f"{METRIC_NAMES.get(name, name)}{', ' + stage if stage else ''} ({better})"


def metric_value(key: str, value: Any) -> Any:
    """A logged metric's value as people read it: scikit-learn's search negates losses (``neg_rmse``), undone here."""
    name = key.removeprefix("cv_").removesuffix("_score")
    if key.startswith("cv_") and METRIC_DIRECTIONS.get(name) == "minimize" and isinstance(value, (int, float)):
        return abs(value)
    return value


def metric_rows(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """``(label, formatted value)`` of each metric, labelled with its direction."""
    return [(metric_label(k), number(metric_value(k, v))) for k, v in sorted(metrics.items())]


@cache
def environment() -> jinja2.Environment:
    """The one template environment: autoescape on everywhere, undefined names are errors."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("driftgate.pages", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = number
    env.filters["signed"] = signed
    env.filters["pct"] = percent
    env.filters["pvalue"] = pvalue
    env.filters["metric"] = metric_label
    env.globals["metric_rows"] = metric_rows
    return env


def render(template: str, /, **context: Any) -> str:
    """A page of the service (links ``/static/driftgate.css``)."""
    context.setdefault("inline_css", None)
    return environment().get_template(template).render(**context)


def render_standalone(template: str, /, **context: Any) -> str:
    """A report file that opens anywhere: the stylesheet is inlined, nothing is fetched."""
    return render(template, **context | {"inline_css": Markup(stylesheet())})  # our own file, not input


def png_data_uri(data: bytes) -> str:
    """A PNG inline in the page (``data:`` URI): the page needs no second request."""
    import base64

    return f"data:image/png;base64,{base64.b64encode(data).decode()}"
