"""prefect.yaml declares the event triggers that ``driftgate automations apply`` also creates, alike."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from driftgate.alerts.automations import RUNS, RunOn, trigger_spec
from tests.conftest import ROOT

DEPLOYMENTS: dict[str, dict[str, Any]] = {
    d["name"]: d for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
}


def declared(run: RunOn) -> dict[str, Any]:
    deployment = DEPLOYMENTS[run.deployment.split("/")[1]]
    (trigger,) = [t for t in deployment.get("triggers", []) if t["name"] == run.name]
    return trigger


@pytest.mark.parametrize("run", RUNS, ids=[r.name for r in RUNS])
def test_each_run_automation_is_a_trigger_of_its_deployment_in_prefect_yaml(run: RunOn) -> None:
    from prefect.events import DeploymentTriggerTypes
    from pydantic import TypeAdapter

    trigger = declared(run)
    TypeAdapter(DeploymentTriggerTypes).validate_python(trigger)  # what prefect deploy will build
    spec = trigger_spec(run.event, run.match)
    assert {k: trigger[k] for k in spec if k != "type"} == {k: v for k, v in spec.items() if k != "type"}
    assert trigger["parameters"] == run.parameters
    assert trigger["description"] == run.description


def test_batches_arriving_train_and_the_hourly_cron_is_an_option() -> None:
    (cron,) = DEPLOYMENTS["continuous-training"]["schedules"]
    assert (cron["cron"], cron["active"]) == ("0 * * * *", False)
    (poll,) = DEPLOYMENTS["ingest-batches"]["schedules"]
    assert poll["active"] is True
