"""The console in a real browser (Debian's Chromium) after a real loop, checked as a reader sees it:
every page reachable from the console, the prediction form, the way from a batch to its reports
and the version it produced, a refused version and a monitor run. Screenshots are not taken here
(``scripts/screenshot.py`` writes them)."""

from __future__ import annotations

import http.client
import re
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.browser.conftest import DATASET, Loop, Watch
from tests.browser.reader import (
    charts_without_axis_titles,
    internal_links,
    leaks,
    svg_texts_outside,
    svg_texts_overlapping,
    visible_text,
)

Page = tuple[Any, Watch]
START = ["/console", "/console/predict", "/console/timeline", "/reports", "/console/monitor"]
NOT_PAGES = ("/schema", "/metrics", "/static/")  # answered and checked as links, not read as pages


def _open(page: Page, url: str) -> Any:
    p, watch = page
    response = p.goto(url, wait_until="networkidle")
    assert response is not None
    assert response.status == 200, f"{url}: {response.status}"
    watch.clean()
    return p


def _versions(loop: Loop) -> list[str]:
    return sorted({o.version for o in loop.outcomes if o.version}, key=int)


def _read(p: Any) -> list[str]:
    """What is wrong on the open page for a reader."""
    problems = [f"shows {x!r}" for x in leaks(visible_text(p))]
    problems += [f"SVG text outside its chart: {x}" for x in svg_texts_outside(p)]
    problems += [f"SVG texts overlap: {x}" for x in svg_texts_overlapping(p)]
    problems += [f"chart without axis titles: {x}" for x in charts_without_axis_titles(p)]
    return problems


def test_every_page_reads_cleanly_and_every_internal_link_answers(page: Page, loop: Loop) -> None:
    """Every page reachable from the console: nothing blocked by CSP, no reprs, charts inside their box
    with axis titles, and every link to the service answers 200 with a body."""
    p, watch = page
    todo = [loop.url + path for path in START]
    seen: set[str] = set()
    links: set[str] = set()
    problems: dict[str, list[str]] = {}
    while todo and len(seen) < 80:
        url = todo.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = p.goto(url, wait_until="networkidle")
        assert response is not None
        found = [f"status {response.status}"] if response.status != 200 else []
        found += [f"blocked by CSP: {b}" for b in watch.blocked] + watch.errors + watch.foreign
        watch.blocked, watch.errors, watch.foreign = [], [], []
        found += _read(p)
        if found:
            problems[urlsplit(url).path] = found
        for link in internal_links(p, loop.url):
            links.add(link)
            if link not in seen and not any(urlsplit(link).path.startswith(x) for x in NOT_PAGES):
                todo.append(link)
    assert {"/console/lake/reports/validation", "/reports/compare"} <= {
        "/".join(urlsplit(u).path.split("/")[:5]) if "lake" in u else urlsplit(u).path for u in seen
    }, sorted(seen)
    dead = {}
    with httpx.Client(timeout=30) as client:
        for link in sorted(links):
            r = client.get(link)
            if r.status_code != 200 or not r.content.strip():
                dead[link] = r.status_code
    assert not problems, problems
    assert not dead, f"links that do not answer 200 with a body: {dead}"


def test_validation_reports_list_every_expectation_and_replace_data_docs(page: Page, loop: Loop) -> None:
    p = _open(page, f"{loop.url}/console/timeline")
    assert p.locator("a.datadocs-link").count() == 0  # GX Data Docs need CDNs: not linked
    row = p.locator("#batch-4")
    assert "quarantined" in (row.get_attribute("class") or "")
    row.locator("a.validation-link").click()
    p.wait_for_load_state("networkidle")
    assert "failed: quarantined" in p.locator("h1").inner_text()
    assert p.locator("#checks tr[data-verdict=failed]").count() >= 1
    mean = p.locator("#checks tr", has_text="column mean to be between").first.inner_text()
    assert re.search(r"min value: -?[\d,.]+\s+max value: -?[\d,.]+", mean), mean  # the expected range
    assert re.search(r"\t-?[\d,]+(\.\d+)?\t", mean), mean  # the observed mean, a plain number
    assert not leaks(visible_text(p))
    page[1].clean()
    passing = next(o.batch for o in loop.outcomes if o.valid)
    p = _open(page, f"{loop.url}/console/lake/reports/validation/{DATASET}/batch={passing}.html")
    assert "passed" in p.locator("h1").inner_text()
    assert p.locator("#checks tr[data-verdict=passed]").count() >= 10  # what was checked, not only a count


def test_timeline_chart_has_one_quantity_per_panel_and_a_gap_at_the_quarantined_batch(page: Page, loop: Loop) -> None:
    p = _open(page, f"{loop.url}/console/timeline")
    chart = p.locator("svg.chart").first
    titles = chart.locator("text.axis-title").all_text_contents()
    assert any("RMSE" in t and "lower is better" in t for t in titles), titles
    assert any("drift share" in t and "%" in t for t in titles), titles
    assert any(t == "batch number" for t in titles), titles
    assert chart.locator("rect.gap").count() >= 2  # batch 4, in both panels
    gap = chart.locator("rect.gap").first
    left = float(gap.get_attribute("x") or 0)
    right = left + float(gap.get_attribute("width") or 0)
    for d in chart.locator("path.line").evaluate_all("ps => ps.map((p) => p.getAttribute('d'))"):
        xs = [float(x) for x in re.findall(r"[ML]([\d.]+),", d)]
        assert not (min(xs) < left and max(xs) > right), d  # no line drawn across the quarantined batch
    ticks = chart.locator("text.label").all_text_contents()
    assert all(re.fullmatch(r"-?[\d,]+(\.\d+)?%?", t) for t in ticks), ticks


def test_timeline_tells_why_each_batch_did_what_it_did(page: Page, loop: Loop) -> None:
    retrained = next(o for o in loop.outcomes if o.retrained and o.drift is not None and o.version)
    p = _open(page, f"{loop.url}/console/timeline")
    assert "trigger" in p.locator("#timeline tr").first.inner_text()
    for o in loop.outcomes:
        trigger = getattr(o, "trigger", None)  # recorded once the triggers work lands
        if trigger:
            assert str(trigger) in p.locator(f"#batch-{o.batch} td.trigger").inner_text()
    backtests = list((loop.lake_root / "reports" / "backtest").rglob("*.html"))
    assert p.locator("a.backtest-link").count() == (1 if backtests else 0)
    p.locator(f"#batch-{retrained.batch} a.drift-link").click()
    p.wait_for_load_state("networkidle")
    assert f"Drift of {DATASET} batch {retrained.batch}" in p.locator("h1").inner_text()
    assert "Retrain: yes" in p.locator("main").inner_text()
    page[1].clean()
    _open(page, f"{loop.url}/console/timeline")
    p.locator(f"#batch-{retrained.batch} a.version-link").click()
    p.wait_for_load_state("networkidle")
    assert p.locator("h1").inner_text().endswith(f"version {retrained.version}")
    assert p.locator("figure img").count() >= 3  # bar, beeswarm, dependence
    assert p.locator("#lineage").count() == 1
    page[1].clean()


def test_metrics_read_with_their_direction_and_no_library_sign(page: Page, loop: Loop) -> None:
    version = _versions(loop)[-1]
    p = _open(page, f"{loop.url}/reports/{version}")
    metrics = dict(
        zip(
            p.locator("table.metrics th").all_inner_texts(),
            p.locator("table.metrics td").all_inner_texts(),
            strict=True,
        )
    )
    assert "RMSE, test (lower is better)" in metrics, metrics
    p = _open(page, f"{loop.url}/reports/{version}/explanation")
    text = visible_text(p)
    assert "cv_rmse_score" not in text
    cv = re.search(r"RMSE, cross-validated \(lower is better\)\s+(\S+)", text)
    assert cv is not None, text[:400]
    assert not cv.group(1).startswith("-"), cv.group(0)
    assert "raw/" in text  # lake keys, not absolute paths
    assert "file://" not in text


def test_compare_charts_keep_labels_inside_and_axis_titled(page: Page, loop: Loop) -> None:
    p = _open(page, f"{loop.url}/reports")
    p.locator("#compare-newest").click()
    p.wait_for_load_state("networkidle")
    assert p.url.split("?")[0].endswith("/reports/compare")
    assert p.locator("svg.chart").count() == 2
    assert not svg_texts_outside(p)
    assert not svg_texts_overlapping(p)
    assert not charts_without_axis_titles(p)
    assert not leaks(visible_text(p))


def test_a_refused_version_is_marked_with_its_reason_and_compare_names_it(page: Page, loop: Loop) -> None:
    refused = loop.refused
    p = _open(page, f"{loop.url}/reports")
    row = p.locator(f"#versions tr[data-version='{refused}']")
    assert "serialization format" in row.locator(".refused-reason").inner_text()
    newest = p.locator("#compare-newest").get_attribute("href") or ""
    assert f"={refused}" not in newest  # the default pair has explanations
    p = _open(page, f"{loop.url}/reports/{refused}")
    assert "refused" in p.locator("#refused").inner_text()
    response = p.goto(f"{loop.url}/reports/compare?a={_versions(loop)[-1]}&b={refused}")
    assert response is not None
    assert response.status == 404
    assert f"version {refused} has no logged explanation" in p.locator("main").inner_text()
    assert "serialization format" in p.locator("main").inner_text()


def test_monitor_tells_when_it_ran_what_it_found_and_what_it_did(page: Page, loop: Loop) -> None:
    assert loop.monitor is not None
    assert loop.monitor.checked
    p = _open(page, f"{loop.url}/console/monitor")
    card = p.locator("#last-check").inner_text()
    assert re.search(r"when\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC", card), card
    assert re.search(r"drift share\s+\d", card), card
    assert "what it did" in card
    assert p.locator("#realized tr").count() >= 2  # realized metric per version with its interval
    if loop.monitor.retrain:
        assert "--no-trigger" in card  # asked for a retrain, started none
    p.locator("a.monitor-link").click()
    p.wait_for_load_state("networkidle")
    title = p.locator("h1").inner_text()
    assert "batch 0" not in title, title
    assert "Drift of" not in title, title
    assert p.locator("main #performance").count() == 1  # inside the page, not after it
    text = p.locator("main").inner_text()
    assert "Retrain: yes" not in text
    page[1].clean()


def test_prediction_form_starts_from_a_typical_row_and_shows_work_and_the_whole_waterfall(
    page: Page, loop: Loop
) -> None:
    p = _open(page, f"{loop.url}/console/predict")
    for name in ("num_0", "num_1", "num_2", "num_3"):
        value = p.input_value(f"#f-{name}")
        assert value not in ("", "0"), (name, value)  # not the middle of the range: a training row's median
    assert p.locator("#f-cat_0 option").all_inner_texts() == ["a", "b", "c", "d", "e"]
    held: list[Any] = []
    p.route("**/predict", lambda route: held.append(route))
    p.click("#predict-submit")
    p.wait_for_selector("#busy", state="visible")  # the spinner while the model answers
    while not held:
        p.wait_for_timeout(50)
    held[0].continue_()
    p.unroute("**/predict")
    p.wait_for_selector("#contributions tbody tr.rest")
    p.wait_for_selector("#busy", state="hidden")
    assert re.fullmatch(r"-?[\d,]+(\.\d+)?", p.inner_text("#prediction"))
    digits = re.sub(r"\D", "", p.inner_text("#prediction")).lstrip("0")
    assert len(digits.rstrip("0")) <= 4  # four significant digits, as everywhere
    first = p.locator("#contributions tbody tr").first.inner_text()
    assert first.startswith("base value")
    features = [r.get_attribute("data-feature") for r in p.locator("#contributions tbody tr[data-feature]").all()]
    assert features
    assert set(features) <= {"num_0", "num_1", "num_2", "num_3", "cat_0", "cat_1"}
    svg = p.locator("#waterfall svg")
    assert "other features" in (svg.text_content() or "")
    assert "base value" in (svg.text_content() or "")
    assert svg.locator("text.axis-title").count() == 1
    assert not svg_texts_outside(p)
    assert not leaks(visible_text(p))
    _, watch = page
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


def test_swagger_ui_renders_from_the_services_own_assets(page: Page, loop: Loop) -> None:
    p, watch = page
    p.goto(f"{loop.url}/schema", wait_until="networkidle")
    p.wait_for_selector(".swagger-ui .opblock", timeout=15000)
    assert "/predict" in p.locator(".swagger-ui").inner_text()
    watch.clean()


@pytest.mark.parametrize(
    "path",
    [
        "/console/lake/reports/../state/{ds}/processed/batch=1.json",
        "/console/lake/reports/../raw/{ds}/batch=1/_manifest.json",
        "/console/lake/../raw/{ds}/batch=1/_manifest.json",
        "/console/lake/reports/validation/{ds}/../../../raw/{ds}/batch=1/_manifest.json",
        "/console/lake/reports/%2e%2e/raw/{ds}/batch=1/_manifest.json",
        "/console/lake/state/{ds}/cursor.json",
        "/console/lake/raw/{ds}/batch=1/part.parquet",
    ],
)
def test_lake_route_refuses_paths_outside_reports_sent_raw(loop: Loop, path: str) -> None:
    target = path.format(ds=DATASET)
    assert ".." in target or "%2e" in target or "/reports/" not in target
    conn = http.client.HTTPConnection(urlsplit(loop.url).netloc, timeout=10)
    try:
        conn.putrequest("GET", target, skip_accept_encoding=True)  # sent as written: no client normalises the dots
        conn.endheaders()
        r = conn.getresponse()
        body = r.read().decode(errors="replace")
    finally:
        conn.close()
    assert r.status == 404, (target, r.status)
    assert "sha256" not in body
    assert "last_batch" not in body


def test_lake_route_serves_reports_with_a_sandbox_policy(loop: Loop) -> None:
    conn = http.client.HTTPConnection(urlsplit(loop.url).netloc, timeout=10)
    try:
        conn.request("GET", f"/console/lake/reports/validation/{DATASET}/batch=4.html")
        r = conn.getresponse()
        body = r.read().decode()
    finally:
        conn.close()
    assert r.status == 200
    assert "sandbox" in (r.getheader("content-security-policy") or "")
    assert re.search(r"failed: quarantined", body)
