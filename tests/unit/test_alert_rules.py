"""The Prometheus alert rules: valid, unit-tested with promtool, on metrics the service exports, loaded and routed."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import ROOT

PROMETHEUS = ROOT / "deployments" / "prometheus"
RULES = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
ALERTS = {r["alert"]: r for g in RULES["groups"] for r in g["rules"]}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promtool")
    if exe is None:
        pytest.fail("promtool is not installed: `make promtool` installs it (Debian package prometheus)")
    return subprocess.run([exe, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=120, check=False)


def test_promtool_checks_the_rules_and_the_config_that_loads_them() -> None:
    rules = promtool("check", "rules", "alerts.yml")
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in rules.stdout
    config = promtool("check", "config", "prometheus.yml")  # also checks the rule files it names
    assert config.returncode == 0, config.stdout + config.stderr


def test_promtool_unit_tests_pass_and_cover_every_rule() -> None:
    result = promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    tests = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
    fired = {a["alertname"] for t in tests for a in t.get("alert_rule_test", []) if a.get("exp_alerts")}
    quiet = {a["alertname"] for t in tests for a in t.get("alert_rule_test", []) if not a.get("exp_alerts")}
    assert fired == quiet == set(ALERTS)  # each rule is seen firing, and seen staying quiet


def test_the_issue_s_rules_exist_on_metrics_the_service_exports() -> None:
    assert {
        "DriftgateHigh5xxRatio",
        "DriftgateHighP99Latency",
        "DriftgateModelReloadFailing",
        "DriftgateNoChampionLoaded",
        "DriftgateShadowDisagreement",
        "DriftgateLiveDrift",
        "DriftgatePredictionLogLosing",
    } <= set(ALERTS)
    telemetry = (ROOT / "serving" / "telemetry.py").read_text()
    for name, rule in ALERTS.items():
        for metric in re.findall(r"\bdriftgate_(\w+?)(?:_total|_bucket|_sum|_count)?\b", rule["expr"]):
            assert f'_{metric}"' in telemetry, (name, metric)
        assert rule["labels"]["severity"] in {"critical", "warning"}
        assert rule["annotations"]["summary"]


def test_prometheus_loads_the_rules_and_sends_to_alertmanager_with_a_webhook_receiver() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    (target,) = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert target == "alertmanager:9093"
    am = yaml.safe_load((PROMETHEUS / "alertmanager.yml").read_text())
    (receiver,) = am["receivers"]
    assert am["route"]["receiver"] == receiver["name"]
    (hook,) = receiver["webhook_configs"]
    assert "url" not in hook  # the URL is a credential: from .env through a file, never committed
    assert hook["url_file"].startswith("/alertmanager/")
