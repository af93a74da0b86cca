"""Messages a person can act on: long lists cut with their count, columns named on their own line."""

from __future__ import annotations

import pandas as pd

from driftgate.dataset.spec import load_spec
from driftgate.models.contract import FieldRule, InputContract, shown_values
from driftgate.tasks.scoring import check_rows
from driftgate.tasks.scoring._inputs import InputFile
from tests.conftest import ROOT

COUNTRIES = ["United-States", "Mexico", *(f"Country-{i:02d}" for i in range(38))]


def test_an_unknown_category_lists_the_count_and_the_most_frequent_values_first_marked_as_cut() -> None:
    rule = FieldRule("native-country", "categorical", values=frozenset(COUNTRIES), listed=tuple(COUNTRIES))
    _, reason = rule.check("Atlantis")
    assert reason is not None
    assert reason.startswith("unknown category 'Atlantis'; allowed: 40 values, most frequent first: United-States,")
    assert reason.endswith("… (28 more)")
    assert shown_values(["a", "b"]) == "a, b"


def test_the_contract_keeps_the_spec_order_of_values() -> None:
    spec = load_spec("synthetic-classification", ROOT / "datasets")
    contract = InputContract.from_spec(spec, 10)
    cat = next(r for r in contract.fields if r.name == "cat_0")
    assert list(cat.listed) == spec.feature("cat_0").values


def test_a_file_whose_header_differs_names_missing_and_unexpected_columns() -> None:
    spec = load_spec("synthetic-classification", ROOT / "datasets")
    contract = InputContract.from_spec(spec, 10)
    frame = pd.DataFrame(
        {
            "NUM_0": [1.0],
            "num_1": [0.0],
            "num_2": [0.0],
            "num_3": [0.0],
            "cat_0": ["a"],
            "cat_1": ["b"],
            "row_id": ["x"],
        }
    )
    check = check_rows(InputFile("new.csv", frame, {}), contract, ["row_id"])
    assert check.missing_columns == ["num_0"]
    assert check.unexpected_columns == ["NUM_0"]


def test_predict_batch_prints_missing_and_unexpected_columns_on_their_own_lines() -> None:
    from driftgate.tasks.scoring import ScoredFile

    scored = ScoredFile("new.csv", 0, 3, None, "new.rejected.parquet", ["num_0"], ["NUM_0", "extra"])
    assert scored.column_lines() == ["  missing columns (1): num_0", "  unexpected columns (2): NUM_0, extra"]


def test_refusals_name_json_types_never_python_ones() -> None:
    rule = FieldRule("age", "numeric")
    assert rule.check("41")[1] == "must be a number, got a string"
    assert FieldRule("colour", "categorical").check([1])[1] == "must be a string, got an array"
    spec = load_spec("synthetic-classification", ROOT / "datasets")
    problems = _problems(InputContract.from_spec(spec, 10), [None])
    assert problems == ["must be an object, got null"]


def _problems(contract: InputContract, records: list[object]) -> list[str]:
    from driftgate.models.contract import ContractError

    try:
        contract.decode(records)
    except ContractError as exc:
        return [p.reason for p in exc.problems]
    return []
