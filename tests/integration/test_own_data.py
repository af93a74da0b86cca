"""The README's "Your own data" block, run as it stands, on a dirty CSV made from real data.

The commands are parsed out of the README's fenced block, so the test breaks when the README
drifts. They run as subprocesses in an empty folder with a fresh ``DRIFTGATE_HOME``; lines
ending in ``&`` start in the background, and the test waits for them to answer as a person
would. The only change made to the commands: the ports 8900 and 8000 become free ones.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from driftgate.errors import DriftgateError
from driftgate.local.stack import wait_http as wait_healthy
from tests.conftest import ROOT, free_port, popen_logged, stop

BIN = Path(sys.executable).parent
COLUMNS = {
    "mean radius": "radius",
    "mean texture": "texture",
    "mean concave points": "concave_points",
    "worst area": "area",
    "worst smoothness": "smoothness",
}
NEW_ROWS = 60


def readme_commands() -> list[str]:
    section = (ROOT / "README.md").read_text().split("## Your own data", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]


def write_patients(folder: Path) -> None:
    """patients.csv and new_patients.csv: spaces after commas, '?' for missing, an id, a cut last line."""
    from sklearn.datasets import load_breast_cancer

    cancer = load_breast_cancer(as_frame=True).frame
    rng = np.random.default_rng(0)
    table = cancer[list(COLUMNS)].rename(columns=COLUMNS).astype(object)
    table.insert(0, "patient_id", [f"p-{i:04d}" for i in range(len(table))])
    table["clinic"] = rng.choice(["north", "south", "None"], len(table))  # "None" is a real clinic
    table["diagnosis"] = np.where(cancer["target"] == 0, "malignant", "benign")
    for col in ("texture", "smoothness"):
        table.loc[rng.random(len(table)) < 0.03, col] = "?"
    old, new = table.iloc[:-NEW_ROWS], table.iloc[-NEW_ROWS:].drop(columns=["diagnosis"])
    (folder / "patients.csv").write_text(old.to_csv(index=False).replace(",", ", "))
    text = new.to_csv(index=False).replace(",", ", ")
    (folder / "new_patients.csv").write_text(text[: text.rstrip("\n").rfind(", ") - 3])  # last line cut short


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, seconds: float = 300) -> None:
    """The stack's own health wait, with the server's log in the failure."""
    try:
        wait_healthy(url, proc, timeout=seconds)
    except DriftgateError as exc:
        raise AssertionError(f"{exc}:\n{log.read_text()[-3000:]}") from exc


@pytest.fixture
def background() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        stop(p)


@pytest.mark.slow  # the README's commands as processes: init, run, serve, curl
def test_readme_own_data_block_from_a_dirty_csv_to_a_served_champion(
    tmp_path: Path, background: list[subprocess.Popen[bytes]]
) -> None:
    assert shutil.which("curl"), "the README's block uses curl"
    work = tmp_path / "work"
    work.mkdir()
    write_patients(work)
    api_port, serve_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRIFTGATE_", "PREFECT_", "MLFLOW_"))}
    env.update(
        DRIFTGATE_HOME=str(tmp_path / "fresh" / "home"),
        DRIFTGATE_DATA_API_URL=f"http://127.0.0.1:{api_port}",
        DRIFTGATE_SEARCH_ITER="2",  # speed only; the commands are the README's
        DRIFTGATE_EXPLAIN_ROWS="200",
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    outputs: dict[str, str] = {}
    for line in readme_commands():
        line = line.replace("8900", str(api_port)).replace("8000", str(serve_port))
        if line.startswith("export "):
            key, value = line.removeprefix("export ").split("=", 1)
            env[key] = value
            continue
        args = shlex.split(line.removesuffix("&").strip())
        if line.endswith("&"):
            log = tmp_path / f"{args[1]}.log"
            proc = popen_logged(args, log, cwd=work, env=env)
            background.append(proc)
            port = api_port if args[1] == "data-api" else serve_port
            wait_http(f"http://127.0.0.1:{port}/{'health' if args[1] == 'data-api' else 'ready'}", proc, log)
            continue
        out = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True, timeout=1200)
        assert "Traceback" not in out.stdout + out.stderr, f"{line}\n{out.stderr[-3000:]}"
        assert out.returncode == 0, f"{line}\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
        outputs[args[0] if args[0] == "curl" else args[1]] = out.stdout
        assert "Created version" not in out.stderr, f"{line}: MLflow's own prints reached the user"

    assert "'?'" in outputs["init"]  # the missing marker was found and written down
    spec_text = (work / "datasets" / "patients.yaml").read_text()
    assert "skipinitialspace: true" in spec_text
    clinic = next(f for f in yaml.safe_load(spec_text)["features"] if f["name"] == "clinic")
    assert sorted(clinic["values"]) == ["None", "north", "south"]  # the clinic called None stayed a category
    assert (work / "expectations" / "patients.json").is_file()
    assert "champion 1" in outputs["status"]

    answer = json.loads(outputs["curl"])
    assert answer["predictions"] in (["malignant"], ["benign"])
    assert answer["model"]["version"] == "1"

    scored = pd.read_parquet(work / "new_patients.predictions.parquet")
    rejected = pd.read_parquet(work / "new_patients.rejected.parquet")
    assert len(scored) == NEW_ROWS - 1
    assert scored["patient_id"].tolist() == [f"p-{i:04d}" for i in range(569 - NEW_ROWS, 568)]
    assert rejected["row"].tolist() == [NEW_ROWS - 1]
    assert "1 rejected" in outputs["predict-batch"]
