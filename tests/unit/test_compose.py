"""docker-compose.yaml without Docker: services, images, ports, dependencies, health checks, settings, secrets."""

from __future__ import annotations

import json
import re

import yaml

from driftgate.settings import Settings
from tests.conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
SERVICES = COMPOSE["services"]
RAW = (ROOT / "docker-compose.yaml").read_text()


def env_of(name: str) -> dict[str, str]:
    env = SERVICES[name].get("environment", {})
    return {str(k): str(v) for k, v in env.items()}


def test_every_service_has_an_image_or_a_build_and_the_shared_image_is_built() -> None:
    for name, svc in SERVICES.items():
        assert "image" in svc or "build" in svc, name
    built = {svc["image"] for svc in SERVICES.values() if "build" in svc}
    assert "driftgate:latest" in built
    build = next(svc["build"] for svc in SERVICES.values() if "build" in svc)
    assert (ROOT / build["context"] / build["dockerfile"]).is_file()


def test_dependencies_ports_and_health_checks() -> None:
    for name, svc in SERVICES.items():
        deps = svc.get("depends_on", [])
        for dep in deps if isinstance(deps, list) else deps.keys():
            assert dep in SERVICES, f"{name} depends on unknown {dep}"
        if isinstance(deps, dict):
            for dep, cond in deps.items():
                if cond.get("condition") == "service_healthy":
                    assert "healthcheck" in SERVICES[dep], f"{name} waits for {dep} to be healthy: it has no check"
    ports = {name: [p.split(":")[0] for p in svc.get("ports", [])] for name, svc in SERVICES.items()}
    assert ports["service"] == ["8000"]
    assert ports["prefect"] == ["4200"]
    assert ports["mlflow"] == ["5000"]
    assert ports["data-api"] == ["8900"]
    for name in ("postgres", "minio", "mlflow", "prefect", "data-api", "service"):
        assert "healthcheck" in SERVICES[name], name
    assert set(SERVICES["prometheus"]["profiles"]) == set(SERVICES["grafana"]["profiles"]) == {"monitoring"}


def test_the_code_gets_every_setting_it_needs_and_only_real_ones() -> None:
    fields = {f"DRIFTGATE_{n.upper()}" for n in Settings.model_fields}
    needed = {"DRIFTGATE_LAKE_URL", "DRIFTGATE_S3_ENDPOINT_URL", "DRIFTGATE_S3_KEY", "DRIFTGATE_S3_SECRET",
              "DRIFTGATE_DATA_API_URL", "DRIFTGATE_PREDICTIONS_DB_URL", "DRIFTGATE_DATASET", "MLFLOW_TRACKING_URI",
              "MLFLOW_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PREFECT_API_URL",
              "DRIFTGATE_PROJECT_DIR"}  # fmt: skip
    for name in ("worker", "service", "data-api"):
        env = env_of(name)
        assert needed <= set(env), (name, needed - set(env))
        unknown = {k for k in env if k.startswith("DRIFTGATE_") and k not in fields | {"DRIFTGATE_PROJECT_DIR"}}
        assert not unknown, unknown
    assert "DRIFTGATE_PROJECT_DIR" in (ROOT / "prefect.yaml").read_text()


def test_secrets_come_from_env_and_every_one_is_in_the_example() -> None:
    example = {line.split("=", 1)[0] for line in (ROOT / ".env.example").read_text().splitlines()
               if line and not line.startswith("#")}  # fmt: skip
    used = set(re.findall(r"(?<!\$)\$\{(\w+)", RAW))
    assert used <= example, used - example
    assert "change-me" not in RAW
    assert not re.search(r"^\s*\w*(PASSWORD|SECRET)\w*:\s*[^$\s]", RAW, re.M)  # no literal secrets


def test_mounted_files_exist_and_the_dashboard_uses_real_metrics() -> None:
    for svc in SERVICES.values():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
    dashboard = json.loads((ROOT / "deployments/grafana/dashboards/driftgate-service.json").read_text())
    telemetry = (ROOT / "serving/telemetry.py").read_text()
    for panel in dashboard["panels"]:
        for metric in re.findall(r"driftgate_(\w+?)(?:_total|_bucket|_sum|_count)?\b", panel["targets"][0]["expr"]):
            assert f'_{metric}"' in telemetry or f'_{metric}"' in telemetry, metric
