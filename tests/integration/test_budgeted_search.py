"""The budgeted search: the champion's parameters first, the budget honoured, the model loadable."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import mlflow
import pytest
from mlflow.models import infer_signature

from driftgate.models.model_loader import load_local
from driftgate.policies import SearchSettings
from driftgate.registry.tracking import configure_mlflow, experiment_id
from driftgate.settings import get_settings
from driftgate.tasks.train import (
    FAMILIES,
    SEARCHED_ROWS_TAG,
    TrainingData,
    champion_start,
    plan_search,
    refit_configuration,
    search,
    split_xy,
    train_task,
)
from tests.unit.test_encoding_by_cardinality import coded_table

WARM = ("linear", {"C": 0.37, "class_weight": "balanced"})

pytestmark = pytest.mark.training  # every test here runs a search or trains a window


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
    first, _, _ = train_task.fn(client, experiment, spec, spec.model_name, data, cfg, ["first"], 1)
    client.set_registered_model_alias(spec.model_name, "champion", first.version)
    assert champion_start(client, spec, spec.model_name, cfg) == (first.family, first.params)
    second, _, _ = train_task.fn(client, experiment, spec, spec.model_name, data, cfg, ["again"], 2)
    tag = client.get_run(second.run_id).data.tags["driftgate.warm_start"]
    assert tag == mlflow.utils.proto_json_utils.json.dumps([first.family, first.params])


def test_a_refit_is_the_model_the_search_would_refit_with_the_same_configuration() -> None:
    spec, rows = coded_table(1200, seed=6)
    searched = search(spec, rows, SearchSettings(n_iter=3, cv_folds=2, n_jobs=1, budget_s=1e-9), first=WARM)
    refitted = refit_configuration(spec, rows, SearchSettings(n_iter=3, cv_folds=2, n_jobs=1), WARM)
    assert (refitted.best_family, refitted.best_params, refitted.candidates) == (*WARM, [])
    X, _ = split_xy(rows, spec)
    assert refitted.model.predict_proba(X) == pytest.approx(searched.model.predict_proba(X))
    with pytest.raises(ValueError, match="cannot refit family 'nope'"):
        refit_configuration(spec, rows, SearchSettings(), ("nope", {}))


def test_a_same_regime_retrain_refits_the_champions_configuration_until_the_window_doubles(
    driftgate_env: Path,
) -> None:
    spec, rows = coded_table(2400, seed=7)
    client = configure_mlflow(get_settings())
    experiment = experiment_id(get_settings(), spec.name)
    test = rows.iloc[2000:]

    def window(n: int) -> TrainingData:
        return TrainingData(train=rows.iloc[:n], validation=test, test=test, newest_test=test)

    cfg = SearchSettings(n_iter=2, cv_folds=2, n_jobs=1, search_growth=2.0)
    first, _, _ = train_task.fn(client, experiment, spec, spec.model_name, window(600), cfg, ["first"], 1)
    client.set_registered_model_alias(spec.model_name, "champion", first.version)
    assert client.get_run(first.run_id).data.tags[SEARCHED_ROWS_TAG] == "600"

    # 1,000 rows of the same regime < 2 x 600: the champion's family and parameters, refitted, no candidates
    refit, model, _ = train_task.fn(
        client, experiment, spec, spec.model_name, window(1000), cfg, ["growth"], 2, same_regime=True
    )
    run = client.get_run(refit.run_id)
    assert (refit.family, refit.params) == (first.family, first.params)
    assert run.data.tags["driftgate.search"].startswith(f"refit of champion version {first.version}'s configuration")
    assert run.data.tags[SEARCHED_ROWS_TAG] == "600"  # the configuration is still the one searched on 600 rows
    assert run.data.params["train_rows"] == "1000"
    assert not any(k.startswith("cv_") for k in run.data.metrics)  # no candidate scored: no CV score logged
    children = client.search_runs([experiment], f"tags.mlflow.parentRunId = '{refit.run_id}'")
    assert children == []
    assert "test_accuracy" in run.data.metrics
    assert len(model.predict(test[spec.feature_names])) == len(test)

    # the refit becomes champion; at 1,200 rows (2 x 600) the retrain searches again
    client.set_registered_model_alias(spec.model_name, "champion", refit.version)
    again, _, _ = train_task.fn(
        client, experiment, spec, spec.model_name, window(1200), cfg, ["growth"], 3, same_regime=True
    )
    run = client.get_run(again.run_id)
    assert run.data.tags["driftgate.search"].startswith("search: 1200 training rows reach 2 x the 600 rows")
    assert run.data.tags[SEARCHED_ROWS_TAG] == "1200"
    assert client.search_runs([experiment], f"tags.mlflow.parentRunId = '{again.run_id}'")  # candidates logged

    # another search strategy builds its winner otherwise (and searches other families): it searches
    other = replace(cfg, strategy="family-halving")
    assert not plan_search(client, spec, spec.model_name, other, 1000, same_regime=True).refit
    assert plan_search(client, spec, spec.model_name, cfg, 1000, same_regime=True).refit

    # not the same regime (a drift retrain): always a search, from the champion's configuration
    drift, _, _ = train_task.fn(client, experiment, spec, spec.model_name, window(700), cfg, ["drift"], 4)
    assert client.get_run(drift.run_id).data.tags["driftgate.search"].startswith("search from champion version")
