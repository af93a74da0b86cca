"""Commands that answer at once: ``status`` reads the registry and the verdict recorded at promotion.

Real parts: MLflow on SQLite in a temp folder, real small models, the safe loader, the installed
entry point in a subprocess. No timing is asserted (the machine is shared): what is asserted is the
work a command does not do (no model loaded, no MLflow, scikit-learn, skops or Prefect imported).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from driftgate.dataset.spec import load_spec
from driftgate.errors import ModelLoadError, ModelRegistryError
from driftgate.models.servable import SERVABLE_TAG, Verdict, fingerprint, recorded_verdict
from driftgate.registry.champion_sqlite import KNOWN_SCHEMAS, ClientNeededError, promote_sqlite, rollback_sqlite
from driftgate.registry.client import HISTORY_TAG, promote, rollback, set_champion
from driftgate.registry.tracking import configure_mlflow
from driftgate.registry.view import read_sqlite, read_with_client
from driftgate.settings import get_settings
from tests.conftest import ROOT
from tests.models import break_version, training_rows

DATASET = "synthetic-classification"
SPEC = load_spec(DATASET, ROOT / "datasets")
HEAVY = ("mlflow", "sklearn", "skops", "prefect")

# a command as the entry point runs it, then which heavy packages the process imported
COMMAND_THEN_MODULES = """
import json, sys
from driftgate.cli import main
sys.argv = ["driftgate", *%r]
try:
    main()
except SystemExit as exc:
    code = exc.code
print("MODULES " + json.dumps(sorted({m.split(".")[0] for m in sys.modules} & set(%r))))
sys.exit(code)
"""


@pytest.fixture
def client(mlflow_home: Path) -> MlflowClient:
    return configure_mlflow(get_settings())


def status_in_a_fresh_process() -> tuple[str, list[str]]:
    return in_a_fresh_process("status", "--dataset", DATASET)


def in_a_fresh_process(*command: str) -> tuple[str, list[str]]:
    """The command's output and the heavy packages it imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    out = subprocess.run(
        [sys.executable, "-c", COMMAND_THEN_MODULES % (list(command), HEAVY)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    return "\n".join(lines[:-1]), json.loads(lines[-1].removeprefix("MODULES "))


def test_status_reads_the_recorded_verdict_and_loads_no_model(client: MlflowClient) -> None:
    from driftgate.local.quick_model import register_quick_model

    version, _ = register_quick_model(SPEC, SPEC.model_name, training_rows(SPEC, seed=1, n=600), seed=1, max_iter=5)
    promote(client, SPEC.model_name, version, SPEC)  # checked as the service loads it: the verdict is recorded
    tag = client.get_model_version(SPEC.model_name, version).tags[SERVABLE_TAG]
    assert recorded_verdict(tag, SPEC) == Verdict(fingerprint(SPEC))

    output, heavy = status_in_a_fresh_process()
    assert f"model {SPEC.model_name}: 1 versions, champion {version}" in output
    assert "does not load" not in output
    assert heavy == []  # no model loaded, and nothing of MLflow, scikit-learn, skops or Prefect imported


def test_a_refusal_is_recorded_and_a_stale_verdict_is_checked_again(
    client: MlflowClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftgate.local.quick_model import register_quick_model

    datasets = tmp_path / "datasets"  # the spec after a person's edit: cat_1 is a key, no longer a feature
    datasets.mkdir()
    raw = yaml.safe_load((ROOT / "datasets" / f"{DATASET}.yaml").read_text())
    raw["features"] = [f for f in raw["features"] if f["name"] != "cat_1"]
    raw["id_columns"] = ["cat_1"]
    (datasets / f"{DATASET}.yaml").write_text(yaml.safe_dump(raw))
    edited = load_spec(DATASET, datasets)

    name = SPEC.model_name
    v1, _ = register_quick_model(SPEC, name, training_rows(SPEC, seed=2, n=600), seed=1, max_iter=5)
    promote(client, name, v1, SPEC)
    with pytest.raises(ModelLoadError, match="cat_1") as first:
        promote(client, name, v1, edited)  # its verdict under SPEC is stale under the edit: checked again
    break_version(client, name, v1)
    with pytest.raises(ModelLoadError) as again:
        promote(client, name, v1, edited)  # the recorded refusal answers: the broken file is never read
    assert str(again.value) == str(first.value)

    monkeypatch.setenv("DRIFTGATE_DATASETS_DIR", str(datasets))
    output, heavy = status_in_a_fresh_process()
    broken = [line for line in output.splitlines() if "does not load" in line]
    assert len(broken) == 1, output
    assert f"champion {v1} does not load" in broken[0]
    assert "cat_1" in broken[0]
    assert heavy == []  # the recorded refusal, read: nothing loaded


def test_the_sqlite_reader_agrees_with_mlflows_client(client: MlflowClient) -> None:
    """The fast reader reads MLflow's own tables: an MLflow upgrade that moves them fails here."""
    from driftgate.local.quick_model import register_quick_model

    name = SPEC.model_name
    uri = get_settings().resolved_tracking_uri()
    db = Path(uri.removeprefix("sqlite:///"))
    assert read_sqlite(db, name) == read_with_client(uri, name)  # no such model
    rows = training_rows(SPEC, seed=3, n=600)
    versions = [register_quick_model(SPEC, name, rows, seed=s, max_iter=5)[0] for s in (1, 2, 3)]
    assert read_sqlite(db, name) == read_with_client(uri, name)  # versions, no champion
    set_champion(client, name, versions[1])
    client.set_model_version_tag(name, versions[1], "note", "kept")
    client.delete_model_version(name, versions[2])
    fast, slow = read_sqlite(db, name), read_with_client(uri, name)
    assert fast == slow
    assert (fast.versions, fast.champion, fast.champion_tags.get("note")) == (2, versions[1], "kept")
    assert read_sqlite(db.with_name("missing.db"), name).versions == 0


def registry_file() -> Path:
    return Path(get_settings().resolved_tracking_uri().removeprefix("sqlite:///"))


def champion_and_history(client: MlflowClient, name: str) -> tuple[str, list[str]]:
    """What MLflow's own client reads back."""
    champion = str(client.get_model_version_by_alias(name, "champion").version)
    return champion, json.loads(client.get_registered_model(name).tags[HISTORY_TAG])


def test_the_sqlite_writer_moves_the_champion_as_mlflows_client_does(client: MlflowClient) -> None:
    """promote and rollback without MLflow: MLflow's client reads the same alias and history as its own writes give."""
    from driftgate.local.quick_model import register_quick_model

    name, db = SPEC.model_name, registry_file()
    rows = training_rows(SPEC, seed=4, n=600)
    v1, v2, v3 = (register_quick_model(SPEC, name, rows, seed=s, max_iter=5)[0] for s in (1, 2, 3))
    with sqlite3.connect(db) as raw:  # the schema this MLflow creates is one the writer was tested on
        assert raw.execute("SELECT version_num FROM alembic_version").fetchone()[0] in KNOWN_SCHEMAS

    with pytest.raises(
        ClientNeededError, match="verdict"
    ):  # never checked: it must be loaded, which MLflow's path does
        promote_sqlite(db, name, v1, SPEC)
    assert read_sqlite(db, name).champion is None  # nothing was written
    for v in (v1, v2, v3):
        promote(client, name, v, SPEC)  # the gate's way: checked, verdict recorded
    assert champion_and_history(client, name) == (v3, [v1, v2, v3])

    promote_sqlite(db, name, f"0{v1}", SPEC)
    assert champion_and_history(client, name) == (v1, [v1, v2, v3, v1])
    promote_sqlite(db, name, v1, SPEC)  # promoting the champion again adds nothing
    assert champion_and_history(client, name) == (v1, [v1, v2, v3, v1])
    done = rollback_sqlite(db, name, SPEC)
    assert (done.current, done.previous, done.skipped) == (v1, v3, 0)
    assert champion_and_history(client, name) == (v3, [v1, v2, v3])

    with pytest.raises(ModelRegistryError, match="has no version 9"):
        promote_sqlite(db, name, "9", SPEC)
    with pytest.raises(ModelRegistryError, match="has no version x"):
        promote_sqlite(db, name, "x", SPEC)
    rollback(client, name, SPEC)  # MLflow's path reads what the SQLite path wrote, and the reverse
    assert champion_and_history(client, name) == (v2, [v1, v2])
    assert rollback_sqlite(db, name, SPEC).previous == v1
    with pytest.raises(ModelRegistryError, match="no previous champion"):
        rollback_sqlite(db, name, SPEC)


def test_the_sqlite_writer_refuses_as_the_client_does_and_leaves_unknown_schemas_alone(
    client: MlflowClient, tmp_path: Path
) -> None:
    from driftgate.local.quick_model import register_quick_model

    name, db = SPEC.model_name, registry_file()
    v1, v2 = (
        register_quick_model(SPEC, name, training_rows(SPEC, seed=5, n=600), seed=s, max_iter=5)[0] for s in (1, 2)
    )
    promote(client, name, v1, SPEC)
    promote(client, name, v2, SPEC)
    client.set_model_version_tag(
        name, v1, SERVABLE_TAG, Verdict(fingerprint(SPEC), "it was broken on purpose").to_tag()
    )
    with pytest.raises(ModelLoadError) as slow:
        promote(client, name, v1, SPEC)
    with pytest.raises(ModelLoadError) as fast:
        promote_sqlite(db, name, v1, SPEC)
    assert str(fast.value) == str(slow.value)
    with pytest.raises(ModelRegistryError, match=r"no earlier champion .* loads: .*broken on purpose"):
        rollback_sqlite(db, name, SPEC)
    assert champion_and_history(client, name) == (v2, [v1, v2])  # a refusal writes nothing

    with sqlite3.connect(db) as raw:  # a schema from another MLflow: the writer must not touch it
        raw.execute("UPDATE alembic_version SET version_num = 'f00dfeed0000'")
    client.set_model_version_tag(name, v1, SERVABLE_TAG, Verdict(fingerprint(SPEC)).to_tag())
    with pytest.raises(ClientNeededError, match="f00dfeed0000"):
        promote_sqlite(db, name, v1, SPEC)
    assert champion_and_history(client, name) == (v2, [v1, v2])


@pytest.mark.slow  # three fresh interpreters and four trained versions
def test_promote_and_rollback_commands_import_no_mlflow(client: MlflowClient) -> None:
    from driftgate.local.quick_model import register_quick_model

    name = SPEC.model_name
    v1, v2 = (
        register_quick_model(SPEC, name, training_rows(SPEC, seed=6, n=600), seed=s, max_iter=5)[0] for s in (1, 2)
    )
    promote(client, name, v1, SPEC)
    promote(client, name, v2, SPEC)
    output, heavy = in_a_fresh_process("promote", v1, "--dataset", DATASET)
    assert output == f"champion of {name} is now version {v1} (by hand: the gate was not asked)"
    assert heavy == []
    output, heavy = in_a_fresh_process("rollback", "--dataset", DATASET)
    assert output == f"champion of {name} rolled back to version {v2} (by hand: the gate was not asked)"
    assert heavy == []
    assert champion_and_history(client, name) == (v2, [v1, v2])

    v3 = register_quick_model(SPEC, name, training_rows(SPEC, seed=7, n=600), seed=3, max_iter=5)[0]
    output, heavy = in_a_fresh_process(
        "promote", v3, "--dataset", DATASET
    )  # never checked: MLflow's path loads it as the service would
    assert output == f"champion of {name} is now version {v3} (by hand: the gate was not asked)"
    assert "mlflow" in heavy
    assert "skops" in heavy
    assert champion_and_history(client, name) == (v3, [v1, v2, v3])


def test_init_and_expectations_init_import_no_prefect_or_mlflow(
    driftgate_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writing a spec and a suite needs pandas, not the validation stage's Prefect and Great Expectations."""
    monkeypatch.setenv("DRIFTGATE_DATASETS_DIR", str(tmp_path / "datasets"))
    monkeypatch.setenv("DRIFTGATE_EXPECTATIONS_DIR", str(tmp_path / "expectations"))
    table = tmp_path / "shop.csv"
    table.write_text(
        "size,colour,label\n" + "".join(f"{i % 17},{'rb'[i % 2]},{'yn'[i % 3 == 0]}\n" for i in range(300))
    )
    output, heavy = in_a_fresh_process("init", str(table), "--target", "label")
    assert (tmp_path / "datasets" / "shop.yaml").is_file(), output
    assert (tmp_path / "expectations" / "shop.json").is_file(), output
    assert heavy == []
    (tmp_path / "expectations" / "shop.json").unlink()
    output, heavy = in_a_fresh_process("expectations", "init", "--dataset", "shop", "--reference", str(table))
    assert (tmp_path / "expectations" / "shop.json").is_file(), output
    assert heavy == []
