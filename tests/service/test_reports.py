"""SHAP on the service: /explain adds up to the model output; report pages list, show and compare versions."""

from __future__ import annotations

import math

import httpx
import pytest

from driftgate.local.servers import ServerThread
from driftgate.serving.app import create_app
from tests.service.conftest import Registry, record
from tests.service.test_service import served_version, wait_for


def test_explain_contributions_plus_base_add_up_to_the_model_output(explained: Registry) -> None:
    with ServerThread(create_app(explained.settings)) as srv:
        assert wait_for(lambda: served_version(srv.url) == "2")
        records = [record(), record(num_0=4.0, cat_0="e"), record(num_1=None)]
        r = httpx.post(f"{srv.url}/explain", params={"top": 3}, json={"records": records})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["model"]["version"] == "2"
        predictions = httpx.post(f"{srv.url}/predict", json={"records": records}).json()
        for item, label, probs in zip(
            body["explanations"], predictions["predictions"], predictions["probabilities"], strict=True
        ):
            assert len(item["top"]) == 3
            assert {c["feature"] for c in item["top"]} <= set(explained.spec.feature_names)
            magnitudes = [abs(c["shap"]) for c in item["top"]]
            assert magnitudes == sorted(magnitudes, reverse=True)
            total = item["base_value"] + sum(c["shap"] for c in item["top"]) + item["rest"]
            assert total == pytest.approx(item["raw_output"], abs=1e-6)
            p1 = 1 / (1 + math.exp(-item["raw_output"]))  # raw output of a classifier: log-odds of class "1"
            assert p1 == pytest.approx(probs["1"], abs=1e-6)
            assert item["prediction"] == label
        assert body["explanations"][2]["top"][0]["feature"] in explained.spec.feature_names
        bad = httpx.post(f"{srv.url}/explain", json={"records": [record(cat_0="zzz")]})
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "cat_0"


def test_report_pages_list_show_and_compare_versions(explained: Registry) -> None:
    with ServerThread(create_app(explained.settings)) as srv:
        index = httpx.get(f"{srv.url}/reports")
        assert index.status_code == 200
        assert index.headers["content-type"].startswith("text/html")
        assert 'href="/reports/1"' in index.text
        assert 'href="/reports/2"' in index.text
        assert 'class="champion">champion<' in index.text
        assert 'href="/static/driftgate.css"' in index.text  # the console's one stylesheet and its nav
        assert 'href="/console/timeline"' in index.text
        page = httpx.get(f"{srv.url}/reports/2")
        assert page.status_code == 200
        assert "synthetic-classifier version 2" in page.text
        assert page.text.count("data:image/png;base64,") >= 3  # bar, beeswarm, dependence plots inline
        assert "num_0" in page.text
        assert "http://" not in page.text
        assert "https://" not in page.text  # nothing fetched from the internet
        compare = httpx.get(f"{srv.url}/reports/compare", params={"a": 1, "b": 2})
        assert compare.status_code == 200
        assert "version 1" in compare.text
        assert "version 2" in compare.text
        for feature in explained.spec.feature_names:
            assert f"<td>{feature}</td>" in compare.text
        assert compare.text.count("<svg") == 2  # both importances and their change are drawn, not only tabulated
        logged = httpx.get(f"{srv.url}/reports/2/explanation")  # the page as logged to MLflow, standalone
        assert logged.status_code == 200
        assert "<style>" in logged.text
        assert "sandbox" in logged.headers["content-security-policy"]


@pytest.mark.parametrize(
    "path",
    [
        "/reports/99",
        "/reports/abc",
        "/reports/..%2F..%2Fetc%2Fpasswd",
        "/reports/../../etc/passwd",
        "/reports/compare?a=1&b=99",
    ],
)
def test_unknown_reports_are_404_pages_and_reveal_nothing(explained: Registry, path: str) -> None:
    with ServerThread(create_app(explained.settings)) as srv:
        r = httpx.get(f"{srv.url}{path}")
        assert r.status_code == 404
        assert "root:" not in r.text
