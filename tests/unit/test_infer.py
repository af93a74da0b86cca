"""Inferring a dataset spec and a CSV dialect from a table (driftgate init's pure core)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftgate.dialect import detect_dialect, missing_markers
from driftgate.errors import SpecError
from driftgate.infer import dataset_name_from, infer_spec, spec_yaml
from driftgate.sources import load_source, read_table
from driftgate.spec import ReadOptions, load_spec

DIRTY = """id, age, colour, score, label
1, 31, red, 0.5, yes
2, ?, None, 0.7, no
3, 45, blue, ?, yes
4, 52, None, 0.1, no
5, 38, red, , no
"""


def table(rows: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer": [f"c{i}" for i in range(rows)],
            "age": rng.integers(18, 90, rows),
            "income": rng.normal(50_000, 10_000, rows),
            "plan": rng.choice(["basic", "pro", "None"], rows),
            "country": "NL",
            "code": [f"k{i % 150}" for i in range(rows)],
            "churn": rng.choice(["stay", "stay", "leave"], rows),
            "spend": rng.gamma(2.0, 30.0, rows),
        }
    )


def test_spaces_after_commas_and_question_marks_are_detected_and_none_stays_a_category(tmp_path: Path) -> None:
    dialect = detect_dialect(DIRTY)
    assert dialect.read.separator == ","
    assert dialect.read.skipinitialspace
    assert dialect.read.na_values == ["", "?"]
    assert not dialect.read.keep_default_na
    path = tmp_path / "dirty.csv"
    path.write_text(DIRTY)
    frame = read_table(path, read=dialect.read)
    assert list(frame.columns) == ["id", "age", "colour", "score", "label"]
    assert frame["age"].dtype == "float64"
    assert frame["age"].isna().sum() == 1
    assert frame["score"].isna().sum() == 2
    assert frame["colour"].tolist() == ["red", "None", "blue", "None", "red"]


def test_pandas_defaults_would_lose_the_none_category(tmp_path: Path) -> None:
    path = tmp_path / "dirty.csv"
    path.write_text(DIRTY)
    naive = read_table(path, read=ReadOptions(skipinitialspace=True, na_values=["?"]))
    assert naive["colour"].isna().sum() == 2  # what the explicit markers above prevent


def test_semicolons_and_stray_tokens_in_numeric_columns() -> None:
    text = "a;b;c\n" + "".join(f"{i};{i * 2};x{i % 3}\n" for i in range(30)) + "n/d;5;x1\n"
    dialect = detect_dialect(text)
    assert dialect.read.separator == ";"
    assert not dialect.read.skipinitialspace
    assert dialect.markers_seen_in == {"n/d": ["a"]}


def test_a_token_that_is_a_value_elsewhere_is_not_a_marker() -> None:
    raw = pd.DataFrame({"n": ["1", "2", "3", "None"] * 10, "c": ["None", "a", "b", "a"] * 10})
    assert missing_markers(raw) == {}


def test_classification_binary_gets_roc_auc_and_the_minority_as_positive_class() -> None:
    inferred = infer_spec(table(), "churn", name="shop", source="shop.csv", id_columns=["customer"])
    spec = inferred.spec
    assert spec.task == "classification"
    assert spec.metric.name == "roc_auc"
    assert spec.positive_class == "leave"
    assert spec.id_columns == ["customer"]
    assert "customer" not in spec.feature_names
    assert spec.feature("plan").values == ["None", "basic", "pro"]
    age = spec.feature("age")
    assert age.min is not None
    assert age.max is not None
    assert age.min < 18
    assert age.max > 89
    left_out = {d.column: d.why for d in inferred.decisions if d.role == "left out"}
    assert left_out["country"] == "constant"
    assert "levels" in left_out["code"]


def test_many_levels_and_id_like_columns_are_kept_when_asked() -> None:
    spec = infer_spec(table(), "churn", name="shop", source="s.csv", keep=["code"], max_levels=10).spec
    assert "code" in spec.feature_names
    assert "customer" not in spec.feature_names  # unique per row: like an id
    assert "plan" in spec.feature_names  # 3 levels


@pytest.mark.parametrize(
    ("target", "labels", "task", "metric"),
    [
        ("spend", None, "regression", "rmse"),
        ("churn", ["a", "b", "c"], "classification", "accuracy"),
        ("churn", [0, 1, 2], "classification", "accuracy"),
    ],
)
def test_task_and_metric_follow_the_target(target: str, labels: list[object] | None, task: str, metric: str) -> None:
    frame = table()
    if labels is not None:
        frame[target] = [labels[i % len(labels)] for i in range(len(frame))]
    spec = infer_spec(frame, target, name="shop", source="s.csv").spec
    assert (spec.task, spec.metric.name) == (task, metric)
    if task == "regression":
        assert spec.target_min == 0
        assert spec.target_max is not None
        assert spec.target_max > frame[target].max()


@pytest.mark.parametrize(
    ("change", "target", "kwargs", "message"),
    [
        (None, "nope", {}, "target column 'nope' is not in"),
        (None, "country", {}, "is constant"),
        (None, "customer", {"task": "classification"}, "one row per class"),
        (None, "plan", {"task": "regression"}, "cannot be a regression target"),
        (None, "churn", {"metric": "rmse"}, "does not judge classification"),
        (None, "churn", {"id_columns": ["missing"]}, "--id column 'missing'"),
        (lambda f: f.iloc[:0], "churn", {}, "no rows"),
        (None, "churn", {"name": "../evil"}, "dataset name '../evil' is invalid"),
    ],
)
def test_bad_input_is_one_clear_error(change, target: str, kwargs: dict[str, object], message: str) -> None:
    frame = table() if change is None else change(table())
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(".", r"\.")):
        infer_spec(frame, target, **{"name": "shop", "source": "s.csv", **kwargs})  # type: ignore[arg-type]


def test_the_written_spec_loads_back_and_reads_its_own_file(tmp_path: Path) -> None:
    path = tmp_path / "Shop data.csv"
    frame = table()
    path.write_text(frame.to_csv(index=False).replace(",", ", "))
    dialect = detect_dialect(path.read_text())
    name = dataset_name_from(str(path))
    assert name == "Shop-data"
    inferred = infer_spec(read_table(path, read=dialect.read), "churn", name=name, source=str(path),
                          read=dialect.read, id_columns=["customer"])  # fmt: skip
    (tmp_path / f"{name}.yaml").write_text(spec_yaml(inferred.spec, "a comment"))
    loaded = load_spec(name, tmp_path)
    assert loaded == inferred.spec
    rows = load_source(loaded)
    assert len(rows) == len(frame)
    assert rows["plan"].value_counts()["None"] == (frame["plan"] == "None").sum()
    assert rows["customer"].tolist() == frame["customer"].tolist()
