"""CI cannot drift: the workflow and .ci/run call the same make targets, and the config files parse."""

from __future__ import annotations

import re

import yaml

from tests.conftest import ROOT


def make_targets(commands: list[str]) -> list[str]:
    return [t for c in commands for t in re.findall(r"^make (\w+)$", c.strip())]


def test_the_workflow_and_ci_run_call_the_same_make_targets() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key `on` as True
    assert "push" in on
    assert "pull_request" in on
    steps = workflow["jobs"]["test"]["steps"]
    assert any(str(s.get("uses", "")).startswith("astral-sh/setup-uv") and s["with"]["enable-cache"] for s in steps)
    in_workflow = make_targets([s["run"] for s in steps if "run" in s])
    in_ci_run = make_targets((ROOT / ".ci" / "run").read_text().splitlines())
    assert in_workflow == in_ci_run == ["lint", "test"]


def test_compose_prefect_and_precommit_files_parse() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    assert {"postgres", "minio", "mlflow", "prefect", "worker", "data-api", "service"} <= set(compose["services"])
    prefect = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    names = {d["name"] for d in prefect["deployments"]}
    assert {"continuous-training", "ingest-batches", "monitor-predictions", "batch-predict"} <= names
    for d in prefect["deployments"]:
        module, func = d["entrypoint"].split(":")
        assert f"def {func}(" in (ROOT / module).read_text()
    hooks = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    assert {"ruff-check", "ruff-format"} <= {h["id"] for r in hooks["repos"] for h in r["hooks"]}
