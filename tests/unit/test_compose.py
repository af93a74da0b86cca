"""docker-compose.yaml without Docker: what is published, who holds which credentials, what start-up refuses."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest
import yaml

from driftgate.settings import Settings
from tests.conftest import ROOT

RAW = (ROOT / "docker-compose.yaml").read_text()
COMPOSE = yaml.safe_load(RAW)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
EXAMPLE = dict(
    line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines() if line and not line.startswith("#")
)
CHECK = ROOT / "deployments" / "check_secrets.py"
UIS = {"prefect": "4200", "mlflow": "5000", "minio": "9001", "grafana": "3000"}


def env_of(name: str) -> dict[str, str]:
    env = SERVICES[name].get("environment", {})
    return {str(k): str(v) for k, v in env.items()}


def deps_of(name: str) -> set[str]:
    deps = SERVICES[name].get("depends_on", [])
    return set(deps)


def secret_var(value: str) -> str | None:
    """The .env variable a compose value interpolates, if any."""
    found = re.search(r"\$\{(\w+)", value)
    return found.group(1) if found else None


def test_every_service_has_an_image_or_a_build_and_the_shared_image_is_built() -> None:
    for name, svc in SERVICES.items():
        assert "image" in svc or "build" in svc, name
    built = {svc["image"] for svc in SERVICES.values() if "build" in svc}
    assert "driftgate:latest" in built
    build = next(svc["build"] for svc in SERVICES.values() if "build" in svc)
    assert (ROOT / build["context"] / build["dockerfile"]).is_file()
    assert "--extra auth" in (ROOT / build["context"] / build["dockerfile"]).read_text()  # MLflow basic-auth


def test_dependencies_and_health_checks() -> None:
    for name in SERVICES:
        for dep in deps_of(name):
            assert dep in SERVICES, f"{name} depends on unknown {dep}"
        deps = SERVICES[name].get("depends_on", {})
        for dep, cond in deps.items() if isinstance(deps, dict) else []:
            if cond.get("condition") == "service_healthy":
                assert "healthcheck" in SERVICES[dep], f"{name} waits for {dep} to be healthy: it has no check"
    for name in ("postgres", "minio", "mlflow", "prefect", "data-api", "service"):
        assert "healthcheck" in SERVICES[name], name
    assert set(SERVICES["prometheus"]["profiles"]) == set(SERVICES["grafana"]["profiles"]) == {"monitoring"}


def test_only_the_model_service_is_published_and_the_uis_bind_loopback() -> None:
    published = {name: svc.get("ports", []) for name, svc in SERVICES.items() if svc.get("ports")}
    assert published["service"] == ["8000:8000"]
    for name, ports in published.items():
        if name == "service":
            continue
        assert name in UIS, f"{name} publishes {ports}: only the service and the UIs may"
        assert ports == [f"127.0.0.1:{UIS[name]}:{UIS[name]}"], (name, ports)
    assert COMPOSE["networks"]["backend"]["internal"] is True
    for name in ("postgres", "minio-init", "mlflow-users", "worker", "data-api", "prometheus"):
        assert SERVICES[name]["networks"] == ["backend"], name  # no published port, no route out
    assert SERVICES["check-secrets"]["network_mode"] == "none"


def test_every_published_ui_asks_for_credentials() -> None:
    mlflow = SERVICES["mlflow"]
    assert "--app-name basic-auth" in mlflow["command"]
    env = env_of("mlflow")
    assert secret_var(env["MLFLOW_AUTH_ADMIN_PASSWORD"]) == "MLFLOW_ADMIN_PASSWORD"
    assert secret_var(env["MLFLOW_FLASK_SERVER_SECRET_KEY"]) == "MLFLOW_FLASK_SECRET_KEY"
    ini = (ROOT / "deployments" / "mlflow-auth.ini").read_text()
    assert "admin_password" not in ini  # from the environment, never from a committed file
    assert env["MLFLOW_AUTH_CONFIG_PATH"] in {v.split(":")[1] for v in mlflow["volumes"]}
    assert secret_var(env_of("prefect")["PREFECT_SERVER_API_AUTH_STRING"]) == "PREFECT_AUTH_STRING"
    assert secret_var(env_of("minio")["MINIO_ROOT_PASSWORD"]) == "MINIO_ROOT_PASSWORD"
    assert secret_var(env_of("grafana")["GF_SECURITY_ADMIN_PASSWORD"]) == "GRAFANA_ADMIN_PASSWORD"


def test_the_worker_and_the_service_use_credentials_of_their_own() -> None:
    root_only = {"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "POSTGRES_PASSWORD", "MLFLOW_ADMIN_PASSWORD"}
    holders = {name for name in SERVICES for v in env_of(name).values() if secret_var(v) in root_only}
    assert holders <= {"check-secrets", "postgres", "minio", "minio-init", "mlflow", "mlflow-users"}, holders
    worker, service = env_of("worker"), env_of("service")
    assert (worker["DRIFTGATE_S3_KEY"], service["DRIFTGATE_S3_KEY"]) == ("driftgate-worker", "driftgate-service")
    assert secret_var(worker["DRIFTGATE_S3_SECRET"]) == "MINIO_WORKER_SECRET"
    assert secret_var(service["DRIFTGATE_S3_SECRET"]) == "MINIO_SERVICE_SECRET"
    assert worker["MLFLOW_TRACKING_USERNAME"] == "driftgate-worker"
    assert service["MLFLOW_TRACKING_USERNAME"] == "driftgate-service"
    for env in (worker, service):
        assert env["DRIFTGATE_PREDICTIONS_DB_URL"].startswith("postgresql+psycopg://predictions:")
        assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & set(env)  # artifacts go through MLflow
    assert "PREFECT_API_AUTH_STRING" in worker
    assert "PREFECT_API_URL" not in service
    assert env_of("mlflow")["AWS_ACCESS_KEY_ID"] == "mlflow"
    assert env_of("mlflow")["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql+psycopg://mlflow:")
    assert env_of("prefect")["PREFECT_API_DATABASE_CONNECTION_URL"].startswith("postgresql+asyncpg://prefect:")


def test_minio_users_get_a_policy_on_their_bucket_alone() -> None:
    init = (ROOT / "deployments" / "minio" / "init.sh").read_text()
    grants = dict(re.findall(r"mc admin policy attach local (\S+) --user (\S+)", init))
    assert grants == {
        "lake-readwrite": "driftgate-worker",
        "lake-readonly": "driftgate-service",
        "mlflow-artifacts": "mlflow",
    }
    buckets = {"lake-readwrite": "driftgate", "lake-readonly": "driftgate", "mlflow-artifacts": "mlflow"}
    for policy, bucket in buckets.items():
        doc = json.loads((ROOT / "deployments" / "minio" / f"{policy}.json").read_text())
        resources = {r for s in doc["Statement"] for r in s["Resource"]}
        assert resources == {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}, policy
        actions = {a for s in doc["Statement"] for a in s["Action"]}
        assert not any(a == "s3:*" or a.startswith("admin:") for a in actions)
        assert ("s3:PutObject" in actions) == (policy != "lake-readonly")


def test_each_database_has_its_own_role_with_rights_to_it_alone() -> None:
    sql = (ROOT / "deployments" / "postgres-init.sql").read_text()
    for db, var in (("mlflow", "MLFLOW"), ("prefect", "PREFECT"), ("predictions", "PREDICTIONS")):
        assert f"\\getenv {db}_password {var}_DB_PASSWORD" in sql
        assert re.search(rf"CREATE ROLE {db} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'{db}_password'", sql)
        assert f"CREATE DATABASE {db} OWNER {db};" in sql
        assert f"REVOKE ALL ON DATABASE {db} FROM PUBLIC;" in sql
        assert secret_var(env_of("postgres")[f"{var}_DB_PASSWORD"]) == f"{var}_DB_PASSWORD"
    assert "GRANT" not in sql.upper().replace("NOSUPERUSER", "")  # no role gets anything beyond its own database
    assert "POSTGRES_USER" not in env_of("postgres")  # the superuser keeps its default name, used by no client


def test_the_code_gets_every_setting_it_needs_and_only_real_ones() -> None:
    fields = {f"DRIFTGATE_{n.upper()}" for n in Settings.model_fields}
    needed = {
        "DRIFTGATE_LAKE_URL",
        "DRIFTGATE_S3_ENDPOINT_URL",
        "DRIFTGATE_S3_KEY",
        "DRIFTGATE_S3_SECRET",
        "DRIFTGATE_PREDICTIONS_DB_URL",
        "DRIFTGATE_DATASET",
        "MLFLOW_TRACKING_URI",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
        "DRIFTGATE_PROJECT_DIR",
    }
    for name in ("worker", "service"):
        env = env_of(name)
        assert needed <= set(env), (name, needed - set(env))
    assert {"DRIFTGATE_DATA_API_URL", "PREFECT_API_URL"} <= set(env_of("worker"))
    for name in SERVICES:
        known = fields | {"DRIFTGATE_PROJECT_DIR"}
        unknown = {k for k in env_of(name) if k.startswith("DRIFTGATE_") and k not in known}
        assert not unknown or name == "check-secrets", (name, unknown)
    assert "DRIFTGATE_PROJECT_DIR" in (ROOT / "prefect.yaml").read_text()


def test_secrets_come_from_env_and_every_one_is_in_the_example_and_checked_first() -> None:
    used = set(re.findall(r"(?<!\$)\$\{(\w+)", RAW))
    assert used <= set(EXAMPLE), used - set(EXAMPLE)
    assert "change-me" not in RAW
    assert not re.search(r"^\s*\w*(PASSWORD|SECRET)\w*:\s*[^$\s]", RAW, re.M)  # no literal secrets
    checked = {secret_var(v) for v in env_of("check-secrets").values()}
    assert {k for k in EXAMPLE if k != "MINIO_ROOT_USER"} <= checked
    for name in SERVICES:  # every service starts after the check, directly or through what it waits for
        if name == "check-secrets":
            continue
        seen, todo = set(), [name]
        while todo:
            for dep in deps_of(todo.pop()) - seen:
                seen.add(dep)
                todo.append(dep)
        assert "check-secrets" in seen, name
        cond = SERVICES[name].get("depends_on", {})
        if isinstance(cond, dict) and "check-secrets" in cond:
            assert cond["check-secrets"]["condition"] == "service_completed_successfully"


def run_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(CHECK)], env=env, capture_output=True, text=True, check=False)


def real_secrets() -> dict[str, str]:
    return {
        k: (f"admin:{k.lower()}-a8Fq2x" if k == "PREFECT_AUTH_STRING" else f"{k.lower()}-a8Fq2x9Lp")
        for k in EXAMPLE
        if k != "MINIO_ROOT_USER"
    }


def test_start_up_refuses_the_placeholders_of_the_example_in_one_line() -> None:
    result = run_check(dict(EXAMPLE))
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "refusing to start" in result.stderr
    for name in ("POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD", "PREFECT_AUTH_STRING", "DRIFTGATE_ADMIN_API_KEY"):
        assert name in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("MINIO_ROOT_PASSWORD", "minioadmin", "well-known default"),
        ("MLFLOW_ADMIN_PASSWORD", "password1234", "well-known default"),
        ("POSTGRES_PASSWORD", "short", "shorter than 12"),
        ("PREFECT_AUTH_STRING", "admin:change-me-too", "placeholder"),
        ("MINIO_WORKER_SECRET", "", "shorter than 12"),
    ],
)
def test_start_up_refuses_a_weak_secret(name: str, value: str, reason: str) -> None:
    env = real_secrets() | {name: value}
    result = run_check(env)
    assert result.returncode == 1
    assert name in result.stderr
    assert reason in result.stderr


def test_start_up_refuses_one_secret_shared_by_two_roles() -> None:
    env = real_secrets()
    env["MINIO_SERVICE_SECRET"] = env["MINIO_WORKER_SECRET"]
    result = run_check(env)
    assert result.returncode == 1
    assert "MINIO_WORKER_SECRET repeats MINIO_SERVICE_SECRET" in result.stderr


def test_start_up_accepts_real_secrets() -> None:
    result = run_check(real_secrets())
    assert result.returncode == 0, result.stderr
    assert f"{len(real_secrets())} checked" in result.stdout


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
            assert f'_{metric}"' in telemetry, metric


def test_alertmanager_is_not_published_and_its_webhook_url_comes_from_env() -> None:
    am = SERVICES["alertmanager"]
    assert "ports" not in am
    assert set(am["profiles"]) == set(SERVICES["prometheus"]["profiles"]) == {"monitoring"}
    assert secret_var(env_of("alertmanager")["ALERT_WEBHOOK_URL"]) == "ALERT_WEBHOOK_URL"
    assert "/alertmanager/webhook-url" in am["command"]  # the file alertmanager.yml's url_file names
    assert "alertmanager" in deps_of("prometheus")
    volumes = " ".join(SERVICES["prometheus"]["volumes"])
    assert "alerts.yml:/etc/prometheus/alerts.yml" in volumes
