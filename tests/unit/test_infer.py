"""Inferring a dataset spec and a CSV dialect from a table (driftgate init's pure core)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftgate.cli.data import INIT_FLAGS
from driftgate.dataset.dialect import detect_dialect, missing_markers
from driftgate.dataset.infer import InitOptions, dataset_name_from, infer_spec, spec_yaml
from driftgate.dataset.sources import load_source, read_table
from driftgate.dataset.spec import ReadOptions, load_spec
from driftgate.errors import SpecError

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
    inferred = infer_spec(table(), InitOptions(target="churn", id_columns=["customer"]), name="shop", source="shop.csv")
    spec = inferred.spec
    assert spec.task == "classification"
    assert spec.metric.name == "roc_auc"
    assert spec.positive_class == "leave"
    assert spec.id_columns == ["customer"]
    assert "customer" not in spec.feature_names
    assert sorted(spec.feature("plan").values or []) == ["None", "basic", "pro"]
    age = spec.feature("age")
    assert age.min is not None
    assert age.max is not None
    assert age.min < 18
    assert age.max > 89
    left_out = {d.column: d.why for d in inferred.decisions if d.role == "left out"}
    assert left_out["country"] == "constant"
    assert "code" not in left_out  # 150 levels: kept, and the table says how it is encoded
    assert "encoded target" in next(d.why for d in inferred.decisions if d.column == "code")


def test_no_column_is_left_out_for_its_levels_and_a_unique_column_is_recorded_as_an_id() -> None:
    inferred = infer_spec(table(), InitOptions(target="churn"), name="shop", source="s.csv")
    assert "code" in inferred.spec.feature_names
    assert inferred.spec.id_columns == ["customer"]  # unique per row: carried through, never a feature
    assert "plan" in inferred.spec.feature_names  # 3 levels
    assert infer_spec(
        table(), InitOptions(target="churn", keep=["customer"]), name="shop", source="s.csv"
    ).spec.feature("customer")


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
    spec = infer_spec(frame, InitOptions(target=target), name="shop", source="s.csv").spec
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
    options = {k: v for k, v in kwargs.items() if k != "name"}
    said = InitOptions(target=target, option_names=INIT_FLAGS, **options)  # type: ignore[arg-type]
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(".", r"\.")):
        infer_spec(frame, said, name=str(kwargs.get("name", "shop")), source="s.csv")


def test_the_written_spec_loads_back_and_reads_its_own_file(tmp_path: Path) -> None:
    path = tmp_path / "Shop data.csv"
    frame = table()
    path.write_text(frame.to_csv(index=False).replace(",", ", "))
    dialect = detect_dialect(path.read_text())
    name = dataset_name_from(str(path))
    assert name == "Shop-data"
    inferred = infer_spec(
        read_table(path, read=dialect.read),
        InitOptions(target="churn", id_columns=["customer"]),
        name=name,
        source=str(path),
        read=dialect.read,
    )
    (tmp_path / f"{name}.yaml").write_text(spec_yaml(inferred.spec, "a comment"))
    loaded = load_spec(name, tmp_path)
    assert loaded == inferred.spec
    rows = load_source(loaded)
    assert len(rows) == len(frame)
    assert rows["plan"].value_counts()["None"] == (frame["plan"] == "None").sum()
    assert rows["customer"].tolist() == frame["customer"].tolist()


def test_readmission_shaped_columns_get_their_roles_and_every_decision_its_reason() -> None:
    from driftgate.dataset.synthetic import make_readmission

    inferred = infer_spec(
        make_readmission(n=1500, seed=1),
        InitOptions(target="readmitted", option_names=INIT_FLAGS),
        name="readmission",
        source="r.csv",
    )
    spec, why = inferred.spec, {d.column: d for d in inferred.decisions}
    assert spec.group_key == "patient_nbr"
    assert why["patient_nbr"].role == "group key"
    assert spec.id_columns == ["encounter_id"]
    for code in ("admission_type_id", "discharge_disposition_id", "admission_source_id"):
        assert spec.feature(code).type == "categorical", why[code]
        assert "--numeric to override" in why[code].why
    assert (spec.feature("admission_type_id").values or [])[0] == "1"  # most frequent first
    assert sorted(spec.feature("admission_type_id").values or []) == ["1", "2", "3", "4", "5", "6", "7", "8"]
    assert spec.feature("weight").type == "categorical"
    assert spec.feature("number_inpatient").type == "numeric"  # a count, not a code
    for diag in ("diag_1", "diag_2", "diag_3"):
        assert len(spec.feature(diag).values or []) > 500
        assert "encoded target" in why[diag].why
    assert len(inferred.decisions) == 50
    assert all(d.why for d in inferred.decisions)


def test_a_person_overrides_any_guess() -> None:
    from driftgate.dataset.synthetic import make_readmission

    frame = make_readmission(n=600, seed=2)
    spec = infer_spec(
        frame,
        InitOptions(
            target="readmitted", group="encounter_id", numeric=["admission_type_id"], categorical=["num_procedures"]
        ),
        name="r",
        source="r.csv",
    ).spec
    assert spec.group_key == "encounter_id"
    assert "patient_nbr" not in spec.id_columns
    assert spec.feature("admission_type_id").type == "numeric"
    assert spec.feature("num_procedures").type == "categorical"


def test_the_table_writes_values_as_people_do() -> None:
    frame = table()
    frame["zero"] = np.int64(0)
    frame["gap_codes"] = [(1, 5, 9, 20)[i % 4] for i in range(len(frame))]
    text = infer_spec(frame, InitOptions(target="churn"), name="shop", source="s.csv").table()
    assert "always 0" in text
    assert "np." not in text
    assert "int64" not in text
    assert "1, 5, 9, 20" in text


def test_a_file_too_small_to_train_and_test_on_is_refused_with_the_minimum() -> None:
    with pytest.raises(SpecError, match="has 40 rows with a target; driftgate needs at least 100"):
        infer_spec(table(rows=40), InitOptions(target="churn"), name="shop", source="s.csv")


def test_a_group_key_keeps_its_rows_on_one_side_in_every_batch() -> None:
    from driftgate.dataset.frames import assign_splits

    keys = pd.Series(np.repeat(np.arange(300), 4))
    sides = [assign_splits(len(keys), batch, keys=keys) for batch in (1, 2, 7)]
    per_key = pd.DataFrame({"key": np.tile(keys, 3), "side": np.concatenate(sides)}).groupby("key")["side"].nunique()
    assert (per_key == 1).all()
    shares = pd.Series(sides[0]).value_counts(normalize=True)
    assert 0.6 < shares["train"] < 0.8
    by_position = assign_splits(len(keys), 1, keys=None)
    assert pd.DataFrame({"key": keys, "side": by_position}).groupby("key")["side"].nunique().max() > 1


def test_init_reads_the_users_file_once_and_names_options_as_the_caller_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``plan_dataset`` reads the file once (it used to read it again to take the reference batch); the
    core names an option by the caller's words (the CLI's flags) or, without them, by its field."""
    import driftgate.dataset.own_data as own_data
    import driftgate.dataset.sources as sources
    from driftgate.settings import Settings

    path = tmp_path / "shop.csv"
    table().to_csv(path, index=False)
    reads: list[str] = []
    real = own_data.read_table

    def counted(*args: object, **kwargs: object) -> pd.DataFrame:  # a spy on the real reader, not a mock
        reads.append(str(args[0]))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(own_data, "read_table", counted)
    monkeypatch.setattr(sources, "read_table", counted)  # where load_source reads
    settings = Settings(home=tmp_path / "home", datasets_dir=tmp_path / "datasets")
    plan = own_data.plan_dataset(settings, str(path), InitOptions(target="churn"))
    assert reads == [str(path)]
    assert len(plan.reference) > 0
    assert plan.spec.feature_names
    (tmp_path / "datasets").mkdir()
    plan.spec_file.write_text("name: shop\n")
    with pytest.raises(Exception, match="exists; use force to replace it"):
        own_data.plan_dataset(settings, str(path), InitOptions(target="churn"))
    with pytest.raises(Exception, match="exists; use --force to replace it"):
        own_data.plan_dataset(settings, str(path), InitOptions(target="churn", option_names=INIT_FLAGS))
