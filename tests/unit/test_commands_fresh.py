"""Every user-facing command works from an empty folder and a DRIFTGATE_HOME that does not exist yet.

The commands that start things (help and version, the flow commands that start Prefect) run as a
subprocess of the installed entry point, the way a new user types it; the ones whose parsing and
messages are tested run the entry point's ``main()`` in this process, in the same empty folder with
the same variables (``cli_in_process``). A command either succeeds or prints one line
``driftgate: error: ...`` and exits non-zero (Prefect
may still log that it stops its temporary server after it); no output ever holds a traceback.
(A fresh home used to crash Prefect's ephemeral server with a 700-line traceback.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT, Ran, free_port

EXE = Path(sys.executable).parent / "driftgate"
CSV = "id, size, colour, label\n" + "".join(
    f"{i}, {i % 17 + 0.5}, {('red', 'None', '?')[i % 3]}, {('yes', 'no')[i % 2]}\n" for i in range(120)
)


@pytest.fixture
def fresh(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """An empty working folder; the home sits two missing folders deep."""
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRIFTGATE_", "PREFECT_", "MLFLOW_"))}
    env.update(
        DRIFTGATE_HOME=str(tmp_path / "not" / "yet" / "home"),
        DRIFTGATE_DATA_API_URL=f"http://127.0.0.1:{free_port()}",  # nothing listens: fetches fail fast
        DRIFTGATE_FETCH_RETRIES="0",
    )
    return work, env


def run(fresh: tuple[Path, dict[str, str]], *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    work, base = fresh
    out = subprocess.run([str(EXE), *args], capture_output=True, text=True, cwd=work, env={**base, **env}, timeout=400)
    assert "Traceback" not in out.stdout + out.stderr, f"driftgate {' '.join(args)}:\n{out.stderr[-3000:]}"
    return out


@pytest.fixture
def here(fresh: tuple[Path, dict[str, str]], cli_in_process: Callable[..., Ran]) -> Callable[..., Ran]:
    """``driftgate ARGS`` in this process, in the fresh folder with the fresh home (``run``'s variables)."""
    work, base = fresh
    ours = {k: v for k, v in base.items() if k.startswith("DRIFTGATE_")}

    def command(*args: str, **env: str) -> Ran:
        out = cli_in_process(*args, env={**ours, **env}, cwd=work)
        assert "Traceback" not in out.stdout + out.stderr, f"driftgate {' '.join(args)}:\n{out.stderr[-3000:]}"
        return out

    return command


def assert_one_error_line(out: subprocess.CompletedProcess[str] | Ran, says: str) -> None:
    assert out.returncode != 0
    errors = [line for line in (out.stdout + out.stderr).splitlines() if line.startswith("driftgate: error:")]
    assert len(errors) == 1, out.stderr[-2000:]
    assert says in errors[0]


REPO_SPECS = {
    "DRIFTGATE_DATASETS_DIR": str(ROOT / "datasets"),
    "DRIFTGATE_EXPECTATIONS_DIR": str(ROOT / "expectations"),
}


def test_help_and_version(fresh: tuple[Path, dict[str, str]]) -> None:
    assert run(fresh, "--help").returncode == 0
    assert run(fresh, "init", "--help").returncode == 0
    assert run(fresh, "--version").stdout.startswith("driftgate ")


def test_init_then_expectations_init_in_an_empty_folder(
    fresh: tuple[Path, dict[str, str]], here: Callable[..., Ran]
) -> None:
    work, _ = fresh
    (work / "shop.csv").write_text(CSV)
    out = here("init", "shop.csv", "--target", "label", "--id", "id")
    assert out.returncode == 0, out.stderr
    assert (work / "datasets" / "shop.yaml").is_file()
    assert (work / "expectations" / "shop.json").is_file()
    assert here("expectations", "init", "--dataset", "shop").returncode == 0
    assert_one_error_line(here("init", "shop.csv", "--target", "label"), "exists; use --force")
    assert_one_error_line(here("init", "shop.csv", "--target", "nope", "--force"), "target column 'nope'")
    (work / "empty.csv").write_text("")
    assert_one_error_line(here("init", "empty.csv", "--target", "x"), "the file is empty")


def test_init_of_a_timed_file_proposes_the_time_and_its_calendar_and_the_flags_decline_them(
    fresh: tuple[Path, dict[str, str]], here: Callable[..., Ran]
) -> None:
    import yaml

    from driftgate.dataset.synthetic import make_time_ordered_frame

    work, _ = fresh
    make_time_ordered_frame(1200, seed=1).to_csv(work / "prices.csv", index=False)  # 25 days, half-hourly
    out = here("init", "prices.csv", "--target", "direction")
    assert out.returncode == 0, out.stderr
    assert "ts_hour         feature" in out.stdout
    assert "its month needs 730" in out.stdout
    spec = yaml.safe_load((work / "datasets" / "prices.yaml").read_text())
    assert spec["time"] == {"column": "ts", "ordered": False, "calendar": ["hour", "day_of_week"]}
    assert {"ts_hour", "ts_day_of_week"} <= {f["name"] for f in spec["features"]}
    out = here("init", "prices.csv", "--target", "direction", "--no-calendar", "--force")
    assert out.returncode == 0, out.stderr
    spec = yaml.safe_load((work / "datasets" / "prices.yaml").read_text())
    assert spec["time"]["calendar"] == []
    assert not any(f["name"].startswith("ts_") for f in spec["features"])
    out = here("init", "prices.csv", "--target", "direction", "--no-time", "--force")
    assert out.returncode == 0, out.stderr
    assert "time" not in yaml.safe_load((work / "datasets" / "prices.yaml").read_text())
    out = here("init", "prices.csv", "--target", "direction", "--ordered", "--exclude", "ts", "--force")
    assert "time order: rows in file order (--ordered)" in out.stdout
    assert_one_error_line(here("init", "prices.csv", "--target", "direction", "--time", "when", "--force"), "'when'")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("status",), "no dataset spec at datasets/diamonds.yaml"),  # no datasets/ in an empty folder
        (("status", "--dataset", "../../etc/passwd"), "dataset name '../../etc/passwd' is invalid"),
        (("init", "missing.csv", "--target", "y"), "missing.csv does not exist"),
    ],
)
def test_bad_input_is_one_line(here: Callable[..., Ran], args: tuple[str, ...], says: str) -> None:
    assert_one_error_line(here(*args), says)


def test_registry_commands_without_a_model(here: Callable[..., Ran]) -> None:
    status = here("status", "--dataset", "synthetic-regression", **REPO_SPECS)
    assert status.returncode == 0, status.stderr
    assert "champion none" in status.stdout
    assert_one_error_line(here("promote", "1", "--dataset", "synthetic-regression", **REPO_SPECS), "")
    assert_one_error_line(here("rollback", "--dataset", "synthetic-regression", **REPO_SPECS), "")


@pytest.mark.slow  # the installed command starts Prefect's ephemeral server in a fresh home
def test_flow_commands_start_prefect_in_a_fresh_home(fresh: tuple[Path, dict[str, str]]) -> None:
    done = run(fresh, "run", "--dataset", "synthetic-regression", "--no-ingest", **REPO_SPECS)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "no new batches" in done.stdout
    (fresh[0] / "new.csv").write_text("num_0\n1.0\n")
    no_model = run(fresh, "predict-batch", "./new.csv", "--dataset", "synthetic-regression", **REPO_SPECS)
    assert_one_error_line(no_model, "has no champion")


def test_a_bad_setting_is_one_line_naming_it(here: Callable[..., Ran]) -> None:
    out = here("monitor", DRIFTGATE_MONITOR_PROMOTE_SHADOW="maybe")
    assert_one_error_line(out, "invalid setting DRIFTGATE_MONITOR_PROMOTE_SHADOW: Input should be a valid boolean")
    out = here("status", DRIFTGATE_GATE_BOOTSTRAP="7")
    assert_one_error_line(out, "invalid setting DRIFTGATE_GATE_BOOTSTRAP: Input should be greater than or equal to 100")
