"""The probation record in the registry (#37): opened by the gates' compare-and-set, ended by any other move."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from driftgate.dataset.spec import load_spec
from driftgate.errors import ChampionMovedError
from driftgate.registry.champion_sqlite import rollback_sqlite
from driftgate.registry.client import HISTORY_TAG, champion_version, promote, roll_back_champion, set_champion
from driftgate.registry.probation import Probation, probation, record_probation
from driftgate.registry.tracking import configure_mlflow
from driftgate.settings import get_settings
from tests.conftest import ROOT
from tests.models import training_rows

SPEC = load_spec("synthetic-classification", ROOT / "datasets")


@pytest.fixture
def versions(mlflow_home: Path) -> tuple[MlflowClient, list[str]]:
    from driftgate.local.quick_model import register_quick_model

    client = configure_mlflow(get_settings())  # the quick model registers where MLflow points: this test's store
    rows = training_rows(SPEC, seed=4, n=600)
    return client, [register_quick_model(SPEC, SPEC.model_name, rows, seed=s, max_iter=5)[0] for s in (1, 2, 3)]


def history(client: MlflowClient) -> list[str]:
    return list(json.loads(client.get_registered_model(SPEC.model_name).tags[HISTORY_TAG]))


def test_the_gates_promotion_opens_a_probation_and_a_rollback_ends_it(versions) -> None:  # type: ignore[no-untyped-def]
    client, (v1, v2, v3) = versions
    name = SPEC.model_name
    set_champion(client, name, v1, expected=None)  # a first champion: nothing to be on probation against
    assert probation(client, name) is None
    set_champion(client, name, v2, expected=v1)  # the gate's compare-and-set
    opened = probation(client, name)
    assert (opened.champion, opened.previous, opened.looked_rows) == (v2, v1, 0)
    record_probation(client, name, Probation(v2, v1, opened.since, looked_rows=300, looks=1))
    assert probation(client, name).looked_rows == 300

    with pytest.raises(ChampionMovedError):
        roll_back_champion(client, name, to=v1, expected=v3, spec=SPEC)  # compared against another champion
    assert str(champion_version(client, name).version) == v2
    roll_back_champion(client, name, to=v1, expected=v2, spec=SPEC)
    assert str(champion_version(client, name).version) == v1
    assert history(client) == [v1]  # the rolled-back stint is forgotten: a later rollback goes further back
    assert probation(client, name) is None


def test_a_move_by_hand_ends_an_open_probation(versions) -> None:  # type: ignore[no-untyped-def]
    client, (v1, v2, v3) = versions
    name = SPEC.model_name
    set_champion(client, name, v1)
    set_champion(client, name, v2, expected=v1)
    promote(client, name, v3, SPEC)  # a person: the gate was not asked, nor is the probation
    assert probation(client, name) is None

    set_champion(client, name, v2, expected=v3)
    assert probation(client, name).previous == v3
    path = Path(get_settings().resolved_tracking_uri().removeprefix("sqlite:///"))
    done = rollback_sqlite(path, name, SPEC)  # `driftgate rollback` on the default store: one transaction
    assert (done.current, done.previous) == (v2, v3)
    assert probation(client, name) is None


def test_an_unreadable_probation_tag_is_a_registry_error(versions) -> None:  # type: ignore[no-untyped-def]
    from driftgate.errors import ModelRegistryError

    client, _ = versions
    client.set_registered_model_tag(SPEC.model_name, "driftgate.probation", '{"champion": "2"}')
    with pytest.raises(ModelRegistryError, match=r"driftgate\.probation"):
        probation(client, SPEC.model_name)
