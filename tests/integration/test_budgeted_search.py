"""The budgeted search: the champion's parameters first, the budget honoured, the model loadable."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from mlflow.models import infer_signature

from driftgate.model_loader import load_local
from driftgate.policies import SearchSettings
from driftgate.settings import get_settings
from driftgate.tasks.train import FAMILIES, TrainingData, champion_start, search, split_xy, train_task
from driftgate.tracking import configure_mlflow, experiment_id
from tests.unit.test_encoding_by_cardinality import coded_table

WARM = ("linear", {"C": 0.37, "class_weight": "balanced"})


def test_with_no_budget_left_the_champions_parameters_are_the_one_candidate_and_are_refitted() -> None:
    spec, rows = coded_table(1200, seed=2)
    result = search(spec, rows, SearchSettings(n_iter=3, cv_folds=2, n_jobs=1, budget_s=1e-9), first=WARM)
    assert [(c.family, c.params) for c in result.candidates] == [WARM]
    assert (result.best_family, result.best_params) == WARM
    assert result.model.named_steps["model"].C == 0.37  # refitted with them on all rows
    assert len(result.model.predict(rows[spec.feature_names])) == len(rows)


def test_without_a_budget_every_candidate_is_tried_once_and_the_warm_start_among_them() -> None:
    spec, rows = coded_table(1200, seed=3)
    result = search(spec, rows, SearchSettings(n_iter=3, cv_folds=2, n_jobs=1), first=WARM)
    assert len(result.candidates) == len(FAMILIES) * 3
    assert (WARM[0], WARM[1]) in [(c.family, c.params) for c in result.candidates]
    assert result.best_cv_score == max(c.cv_score for c in result.candidates if c.rank == 1)


def test_a_target_encoded_model_saves_and_loads_through_the_safe_loader(tmp_path: Path) -> None:
    from driftgate.tasks.train._run import SKOPS_TRUSTED

    spec, rows = coded_table(1500, seed=4)
    result = search(spec, rows, SearchSettings(n_iter=2, cv_folds=2, n_jobs=1))
    assert "target" in result.model.named_steps["pre"].named_transformers_
    X, _ = split_xy(rows, spec)
    mlflow.sklearn.save_model(
        result.model,
        tmp_path / "model",
        serialization_format="skops",
        skops_trusted_types=SKOPS_TRUSTED,
        signature=infer_signature(X.head(50), result.model.predict_proba(X.head(50))),
    )
    loaded = load_local(tmp_path / "model", spec)
    assert loaded.model.predict_proba(X.head(200)) == pytest.approx(result.model.predict_proba(X.head(200)))


def test_a_retrain_starts_from_the_champions_logged_parameters(driftgate_env: Path) -> None:
    spec, rows = coded_table(1600, seed=5)
    client = configure_mlflow(get_settings())
    experiment = experiment_id(get_settings(), spec.name)
    data = TrainingData(
        train=rows.iloc[:1000], validation=rows.iloc[1000:1300], test=rows.iloc[1300:], newest_test=rows.iloc[1300:]
    )
    cfg = SearchSettings(n_iter=2, cv_folds=2, n_jobs=1)
    assert champion_start(client, spec, spec.model_name, cfg) is None  # no champion yet: no warm start
    first, _ = train_task.fn(client, experiment, spec, spec.model_name, data, cfg, ["first"], 1)
    client.set_registered_model_alias(spec.model_name, "champion", first.version)
    assert champion_start(client, spec, spec.model_name, cfg) == (first.family, first.params)
    second, _ = train_task.fn(client, experiment, spec, spec.model_name, data, cfg, ["again"], 2)
    tag = client.get_run(second.run_id).data.tags["driftgate.warm_start"]
    assert tag == mlflow.utils.proto_json_utils.json.dumps([first.family, first.params])
