"""``DRIFTGATE_REGISTRY_RETRY_DELAYS``: after how long, and how often, the registry's tasks run again.

``train-model`` and ``champion-gate`` are decorated with the default delays (decorators run at
import); the training flow calls them with the setting's. The MLflow outage fault tests
(tests/faults/test_mlflow_outage_mid_run.py) see the configured delays in Prefect's retry lines.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from driftgate.policies import Question, RegistryRetryPolicy
from driftgate.settings import Settings
from driftgate.tasks.gate import gate_task
from driftgate.tasks.policy import registry_down, registry_retried
from driftgate.tasks.train import train_task


def test_the_default_is_three_retries_2_5_10_s_apart_and_the_decorators_hold_it() -> None:
    assert Settings().registry_retry_policy() == RegistryRetryPolicy(delays_s=(2.0, 5.0, 10.0))
    for task in (train_task, gate_task):
        assert (task.retries, task.retry_delay_seconds) == (3, [2.0, 5.0, 10.0])
        assert task.retry_condition_fn is registry_down


def test_the_setting_reaches_both_registry_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTGATE_REGISTRY_RETRY_DELAYS", "0.5, 1,30")
    policy = Settings().registry_retry_policy()
    assert (policy.delays_s, policy.retries) == ((0.5, 1.0, 30.0), 3)
    for task in (train_task, gate_task):
        retried = registry_retried(task, policy)
        assert retried.name == task.name
        assert (retried.retries, retried.retry_delay_seconds) == (3, [0.5, 1.0, 30.0])
        assert retried.retry_condition_fn is registry_down  # still only a registry that did not answer
    one = registry_retried(train_task, Settings(registry_retry_delays="60").registry_retry_policy())
    assert (one.retries, one.retry_delay_seconds) == (1, [60.0])  # one retry per delay


def test_the_training_flow_calls_train_model_with_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from driftgate.flows import training

    class CalledError(Exception):
        pass

    options: dict[str, Any] = {}

    class Recorder:
        def with_options(self, **given: Any) -> Any:
            options.update(given)

            def call(*args: Any, **kwargs: Any) -> Any:
                raise CalledError

            return call

    monkeypatch.setattr(training, "train_task", Recorder())
    ctx = SimpleNamespace(settings=Settings(registry_retry_delays="0.25,4"), spec=None, model_name="m")
    with pytest.raises(CalledError):
        training.train_and_gate(
            ctx,  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
            "0",
            SimpleNamespace(reasons=["first"], batch=1),  # type: ignore[arg-type]
            data=None,  # type: ignore[arg-type]
            window=None,  # type: ignore[arg-type]
            trigger=None,  # type: ignore[arg-type]
            question=Question.SUPERIORITY,
            policy=None,  # type: ignore[arg-type]
            judged_on=[1],
        )
    assert options == {"retries": 2, "retry_delay_seconds": [0.25, 4.0], "retry_condition_fn": registry_down}


@pytest.mark.parametrize("value", ["", "2,,5", "soon", "-1", "nan", "inf", "[2, 5]", ",".join(["1"] * 51)])
def test_a_bad_value_is_refused_naming_the_setting_and_the_form(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("DRIFTGATE_REGISTRY_RETRY_DELAYS", value)
    with pytest.raises(ValidationError) as refused:
        Settings()
    (problem,) = refused.value.errors()
    assert problem["loc"] == ("registry_retry_delays",)
    assert "give 1 to 50 delays in seconds, separated by commas, each a number >= 0 (e.g. 2,5,10)" in problem["msg"]


def test_a_command_given_a_bad_value_stops_in_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from driftgate.cli._app import _check_settings
    from driftgate.errors import DriftgateError
    from driftgate.settings import get_settings

    monkeypatch.setenv("DRIFTGATE_REGISTRY_RETRY_DELAYS", "2s,5s")
    get_settings.cache_clear()
    try:
        with pytest.raises(DriftgateError) as refused:
            _check_settings()
    finally:
        get_settings.cache_clear()
    assert str(refused.value) == (
        "invalid setting DRIFTGATE_REGISTRY_RETRY_DELAYS: Value error, give 1 to 50 delays in seconds, "
        "separated by commas, each a number >= 0 (e.g. 2,5,10)"
    )
