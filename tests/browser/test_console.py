"""The console in a real browser (Debian's Chromium) after a real loop: every page, the prediction
form, and the way from a batch to its reports and the version it produced."""

from __future__ import annotations

import http.client
import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import DATASET, Loop, Watch
from tests.conftest import ROOT

DOCS = ROOT / "docs"
Page = tuple[Any, Watch]


def _open(page: Page, url: str, shot: str | None = None) -> Any:
    p, watch = page
    response = p.goto(url, wait_until="networkidle")
    assert response is not None
    assert response.status == 200, f"{url}: {response.status}"
    if shot:
        DOCS.mkdir(exist_ok=True)
        p.screenshot(path=str(DOCS / f"console-{shot}.png"), full_page=True)
    watch.clean()
    return p


def _versions(loop: Loop) -> list[str]:
    return sorted({o.version for o in loop.outcomes if o.version}, key=int)


def test_every_page_opens_with_no_console_error_and_no_request_elsewhere(page: Page, loop: Loop) -> None:
    versions = _versions(loop)
    assert len(versions) >= 2, loop.outcomes
    pages = {
        "home": "/console",
        "predict": "/console/predict",
        "timeline": "/console/timeline",
        "versions": "/reports",
        "version": f"/reports/{versions[-1]}",
        "compare": f"/reports/compare?a={versions[0]}&b={versions[-1]}",
        "monitor": "/console/monitor",
    }
    for shot, path in pages.items():
        p = _open(page, loop.url + path, shot)
        assert p.locator("header.top nav a").count() >= 5  # every console page has the navigation
    p = _open(page, f"{loop.url}/console")
    assert "version" in p.locator("#champion").inner_text()
    assert p.locator("#champion table").inner_text().count("test_") >= 1  # test metrics of the champion
    p = _open(page, f"{loop.url}/reports/compare?a={versions[0]}&b={versions[-1]}")
    assert p.locator("svg rect").count() >= 6  # the change in importance is drawn
    p, watch = page
    p.goto(f"{loop.url}/schema", wait_until="networkidle")  # Swagger UI from the service's own assets
    p.wait_for_selector(".swagger-ui .opblock", timeout=15000)
    assert "/predict" in p.locator(".swagger-ui").inner_text()
    p.screenshot(path=str(DOCS / "console-api-docs.png"))
    watch.clean()


def test_prediction_form_shows_the_prediction_its_contributions_and_field_errors(page: Page, loop: Loop) -> None:
    p = _open(page, f"{loop.url}/console/predict")
    assert p.input_value("#f-num_0") != ""  # the example is pre-filled
    assert p.locator("#f-cat_0 option").all_inner_texts() == ["a", "b", "c", "d", "e"]
    p.fill("#f-num_0", "3.5")
    p.select_option("#f-cat_1", "c")
    p.click("#predict-submit")
    p.wait_for_selector("#contributions tbody tr")
    prediction = float(p.inner_text("#prediction"))
    assert prediction == prediction  # a number, not NaN
    features = [r.get_attribute("data-feature") for r in p.locator("#contributions tbody tr").all()]
    assert features
    assert set(features) <= {"num_0", "num_1", "num_2", "num_3", "cat_0", "cat_1"}
    assert p.locator("#waterfall svg rect").count() >= len(features)
    assert p.inner_text("#error-num_0") == ""
    _, watch = page
    p.screenshot(path=str(DOCS / "console-predict-result.png"), full_page=True)
    p.fill("#f-num_1", "11")  # the spec allows -10 … 10
    p.click("#predict-submit")
    p.wait_for_selector("#error-num_1:not(:empty)")  # a CSS wait: the page's CSP forbids eval
    assert "above the allowed maximum" in p.inner_text("#error-num_1")
    assert p.inner_text("#error-num_0") == ""
    p.fill("#f-num_1", "1")
    p.fill("#f-num_2", "lots")
    p.click("#predict-submit")
    p.wait_for_selector("#error-num_2:not(:empty)")
    assert "must be a number" in p.inner_text("#error-num_2")
    assert p.inner_text("#error-num_1") == ""
    watch.errors = [e for e in watch.errors if "422" not in e]  # the browser logs the refused request itself
    watch.clean()


def test_timeline_leads_from_batches_to_their_reports_and_versions(page: Page, loop: Loop) -> None:
    by_batch = {o.batch: o for o in loop.outcomes}
    assert by_batch[4].valid is False
    retrained = next(o for o in loop.outcomes if o.retrained and o.drift is not None and o.version)
    p = _open(page, f"{loop.url}/console/timeline")
    assert p.locator("svg.chart path").count() == 2  # metric and drift share over batches
    row = p.locator("#batch-4")
    assert "quarantined" in (row.get_attribute("class") or "")
    row.locator("a.validation-link").click()
    p.wait_for_load_state("networkidle")
    assert "failed: quarantined" in p.locator("h1").inner_text()
    assert p.locator("table tr").count() >= 2  # the failed expectations
    page[1].clean()
    _open(page, f"{loop.url}/console/timeline")
    p.locator(f"#batch-{retrained.batch} a.drift-link").click()
    p.wait_for_load_state("networkidle")
    assert f"Drift of {DATASET} batch {retrained.batch}" in p.locator("h1").inner_text()
    assert "Retrain: yes" in p.content()
    page[1].clean()
    _open(page, f"{loop.url}/console/timeline")
    p.locator(f"#batch-{retrained.batch} a.version-link").click()
    p.wait_for_load_state("networkidle")
    assert p.locator("h1").inner_text().endswith(f"version {retrained.version}")
    assert p.locator("figure img").count() >= 3  # bar, beeswarm, dependence
    assert p.locator("#lineage").count() == 1
    page[1].clean()


@pytest.mark.parametrize("path", [
    "/console/lake/reports/../state/{ds}/processed/batch=1.json",
    "/console/lake/reports/../raw/{ds}/batch=1/_manifest.json",
    "/console/lake/../raw/{ds}/batch=1/_manifest.json",
    "/console/lake/reports/validation/{ds}/../../../raw/{ds}/batch=1/_manifest.json",
    "/console/lake/reports/%2e%2e/raw/{ds}/batch=1/_manifest.json",
    "/console/lake/state/{ds}/cursor.json",
    "/console/lake/raw/{ds}/batch=1/part.parquet",
])  # fmt: skip
def test_lake_route_refuses_paths_outside_reports_sent_raw(loop: Loop, path: str) -> None:
    target = path.format(ds=DATASET)
    assert ".." in target or "%2e" in target or "/reports/" not in target
    conn = http.client.HTTPConnection(urlsplit(loop.url).netloc, timeout=10)
    conn.putrequest("GET", target, skip_accept_encoding=True)  # sent as written: no client normalises the dots
    conn.endheaders()
    r = conn.getresponse()
    body = r.read().decode(errors="replace")
    conn.close()
    assert r.status == 404, (target, r.status)
    assert "sha256" not in body
    assert "last_batch" not in body


def test_lake_route_serves_reports_with_a_sandbox_policy(loop: Loop) -> None:
    conn = http.client.HTTPConnection(urlsplit(loop.url).netloc, timeout=10)
    conn.request("GET", f"/console/lake/reports/validation/{DATASET}/batch=4.html")
    r = conn.getresponse()
    body = r.read().decode()
    assert r.status == 200
    assert "sandbox" in (r.getheader("content-security-policy") or "")
    assert re.search(r"failed: quarantined", body)
