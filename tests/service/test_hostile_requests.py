"""Hostile requests replayed against a real service on 127.0.0.1, each with the status it must get.

The table is the attack of issue #28 (and the smaller points found with it): media types a
browser sends without asking, cross-site origins, encoded bodies, reused ids, odd query
parameters. Every answer is also checked for the service's one error shape, a single charset and
no Python type names.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from driftgate.local.servers import ServerThread
from driftgate.serving.app import create_app
from driftgate.serving.guards import cross_site_problem, is_loopback, media_type_problem
from driftgate.serving.server import server_options
from driftgate.settings import Settings
from tests.service.conftest import API_KEY, Registry, record
from tests.service.test_service import served_version, wait_for

JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
MULTIPART = {"content-type": "multipart/form-data; boundary=x"}
TEXT = {"content-type": "text/plain"}
KEY = {"X-API-Key": API_KEY}
BODY = json.dumps({"records": [record()]}).encode()


@dataclass(frozen=True)
class Hostile:
    method: str
    path: str
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


HOSTILE = {
    "predict as text/plain": Hostile("POST", "/predict", 415, BODY, {"content-type": "text/plain"}),
    "predict as a form": Hostile("POST", "/predict", 415, b"records=1", FORM),
    "predict as multipart": Hostile("POST", "/predict", 415, b"--x--", MULTIPART),
    "predict as XML": Hostile("POST", "/predict", 415, b"<r/>", {"content-type": "application/xml"}),
    "predict with no content type": Hostile("POST", "/predict", 415, BODY),
    "predict gzip-encoded": Hostile("POST", "/predict", 415, gzip.compress(BODY), {**JSON, "content-encoding": "gzip"}),
    "predict in latin-1": Hostile("POST", "/predict", 415, BODY, {"content-type": "application/json; charset=latin-1"}),
    "explain as text/plain": Hostile("POST", "/explain", 415, BODY, {"content-type": "text/plain"}),
    "feedback as text/plain": Hostile("POST", "/feedback", 415, b'{"labels": []}', {**KEY, **TEXT}),
    "feedback gzip-encoded": Hostile(
        "POST", "/feedback", 415, gzip.compress(b'{"labels": []}'), {**KEY, **JSON, "content-encoding": "gzip"}
    ),
    "reload as text/plain": Hostile("POST", "/admin/reload", 415, b"x", {**KEY, "content-type": "text/plain"}),
    "predict from another origin": Hostile("POST", "/predict", 403, BODY, {**JSON, "origin": "http://evil.example"}),
    "predict from a null origin": Hostile("POST", "/predict", 403, BODY, {**JSON, "origin": "null"}),
    "predict fetched cross-site": Hostile("POST", "/predict", 403, BODY, {**JSON, "sec-fetch-site": "cross-site"}),
    "predict fetched same-site": Hostile("POST", "/predict", 403, BODY, {**JSON, "sec-fetch-site": "same-site"}),
    "feedback from another origin": Hostile(
        "POST", "/feedback", 403, b'{"labels": []}', {**KEY, **JSON, "origin": "http://evil.example"}
    ),
    "reload fetched cross-site": Hostile("POST", "/admin/reload", 403, b"", {**KEY, "sec-fetch-site": "cross-site"}),
    "reload without the key": Hostile("POST", "/admin/reload", 401),
    "reload with a wrong key": Hostile("POST", "/admin/reload", 401, b"", {"X-API-Key": "w" * len(API_KEY)}),
    "feedback without the key": Hostile("POST", "/feedback", 401, b'{"labels": []}', JSON),
    "compare missing a query parameter": Hostile("GET", "/reports/compare?a=1", 400),
    "explain with a query parameter out of range": Hostile("POST", "/explain?top=0", 400, BODY, JSON),
    "a null record": Hostile("POST", "/predict", 422, b'{"records": [null]}', JSON),
    "a null body": Hostile("POST", "/predict", 422, b"null", JSON),
    "a null label item": Hostile("POST", "/feedback", 422, b'{"labels": [null]}', {**KEY, **JSON}),
    "a list as an id": Hostile("POST", "/feedback", 422, b'{"labels": [{"id": [1], "label": "1"}]}', {**KEY, **JSON}),
    "an empty request id": Hostile("POST", "/predict", 200, BODY, {**JSON, "X-Request-Id": ""}),
    "predict from this origin": Hostile("POST", "/predict", 200, BODY, {**JSON, "sec-fetch-site": "same-origin"}),
    "predict as JSON, charset utf-8": Hostile(
        "POST", "/predict", 200, BODY, {"content-type": "application/json; charset=utf-8"}
    ),
}


@pytest.fixture
def service(champion_v1: Registry) -> Iterator[tuple[str, Registry]]:
    with ServerThread(create_app(champion_v1.settings), **server_options(champion_v1.settings)) as srv:
        assert wait_for(lambda: served_version(srv.url) == "1")
        yield srv.url, champion_v1


def _send(url: str, h: Hostile) -> httpx.Response:
    headers = dict(h.headers)
    if "origin" in headers and headers["origin"] == "self":
        headers["origin"] = url
    return httpx.request(h.method, f"{url}{h.path}", content=h.body or None, headers=headers, timeout=30)


def _one_charset(r: httpx.Response) -> None:
    kind = r.headers.get("content-type", "")
    assert kind.lower().count("charset") <= 1, kind


def test_each_hostile_request_gets_its_status_in_the_one_error_shape(service: tuple[str, Registry]) -> None:
    url = service[0]
    for case, h in HOSTILE.items():
        r = _send(url, h)
        assert r.status_code == h.status, (case, r.status_code, r.text[:300])
        _one_charset(r)
        assert "NoneType" not in r.text, (case, r.text[:300])
        assert "access-control-allow-origin" not in r.headers, case
        if r.status_code >= 400:
            body = r.json()
            assert set(body) == {"status_code", "detail", "errors"}, (case, body)
            assert body["status_code"] == r.status_code


def test_query_parameter_errors_are_not_called_body_errors(service: tuple[str, Registry]) -> None:
    r = httpx.get(f"{service[0]}/reports/compare", params={"a": 1})
    assert r.status_code == 400
    assert "body" not in r.json()["detail"]
    assert "query parameter" in r.json()["detail"]


def test_a_reused_id_column_value_is_409_naming_it(service: tuple[str, Registry]) -> None:
    url = service[0]
    r = httpx.post(f"{url}/predict", json={"records": [record()]}, headers={"X-Request-Id": "retry"})
    assert r.status_code == 200
    for _ in range(3):  # a client's retries: each refused, nothing logged twice
        again = httpx.post(f"{url}/predict", json={"records": [record(), record()]}, headers={"X-Request-Id": "retry"})
        assert again.status_code == 409
        assert "'retry-0'" in again.json()["detail"]
        assert again.json()["errors"][0]["field"] == "id"


def test_a_same_origin_post_passes_and_no_cors_is_granted(service: tuple[str, Registry]) -> None:
    url = service[0]
    r = httpx.post(f"{url}/predict", json={"records": [record()]}, headers={"origin": url})
    assert r.status_code == 200, r.text
    preflight = httpx.request(
        "OPTIONS",
        f"{url}/predict",
        headers={
            "origin": "http://evil.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_metrics_and_report_pages_carry_one_charset(service: tuple[str, Registry]) -> None:
    url = service[0]
    for path in ("/metrics", "/reports", "/console", "/health"):
        _one_charset(httpx.get(f"{url}{path}"))


def test_openapi_declares_the_api_key_scheme_on_key_guarded_routes(service: tuple[str, Registry]) -> None:
    doc = httpx.get(f"{service[0]}/schema/openapi.json").json()
    scheme = doc["components"]["securitySchemes"]["apiKey"]
    assert scheme == {**scheme, "type": "apiKey", "name": "X-API-Key", "in": "header"}
    for path in ("/admin/reload", "/feedback"):
        assert doc["paths"][path]["post"]["security"] == [{"apiKey": []}], path


@pytest.fixture
def keyless(champion_v1: Registry, monkeypatch: pytest.MonkeyPatch) -> Registry:
    monkeypatch.delenv("DRIFTGATE_ADMIN_API_KEY")
    return champion_v1


@pytest.mark.parametrize("open_to_all", [False, True])
def test_feedback_without_an_admin_key_is_taken_from_loopback_only(keyless: Registry, open_to_all: bool) -> None:
    settings = Settings(feedback_open=open_to_all)
    assert settings.admin_api_key is None
    with ServerThread(create_app(settings), **server_options(settings)) as srv:
        assert wait_for(lambda: served_version(srv.url) == "1")
        ids = httpx.post(f"{srv.url}/predict", json={"records": [record(), record()]}).json()["ids"]
        assert wait_for(lambda: httpx.post(f"{srv.url}/feedback", json={"labels": []}).status_code == 422)
        # uvicorn trusts X-Forwarded-For from 127.0.0.1 (a local reverse proxy): the client is then remote
        remote = httpx.post(
            f"{srv.url}/feedback",
            json={"labels": [{"id": ids[0], "label": "1"}]},
            headers={"x-forwarded-for": "203.0.113.9"},
        )
        local = httpx.post(f"{srv.url}/feedback", json={"labels": [{"id": ids[1], "label": "1"}]})
    assert local.status_code == 200, local.text
    if open_to_all:
        assert remote.status_code == 200, remote.text
    else:
        assert remote.status_code == 403
        assert "DRIFTGATE_FEEDBACK_OPEN" in remote.json()["detail"]


@pytest.mark.parametrize(
    ("content_type", "encoding", "optional", "refused"),
    [
        ("application/json", None, False, False),
        ("Application/JSON; charset=UTF-8", None, False, False),
        ('application/json; charset="utf8"', "identity", False, False),
        (None, None, True, False),  # an admin call without a body
        (None, None, False, True),
        ("text/plain", None, False, True),
        ("application/json; charset=utf-16", None, False, True),
        ("application/jsonx", None, False, True),
        ("application/json", "gzip", False, True),
        ("application/json", "br", True, True),
    ],
)
def test_media_type_rules(content_type: str | None, encoding: str | None, optional: bool, refused: bool) -> None:
    assert (media_type_problem(content_type, encoding, body_optional=optional) is not None) == refused


@pytest.mark.parametrize(
    ("fetch_site", "origin", "refused"),
    [
        (None, None, False),  # not a browser (curl, a client library)
        ("same-origin", None, False),
        ("none", None, False),
        ("same-origin", "https://proxy.example", False),  # behind a proxy: the browser's word decides
        ("cross-site", None, True),
        ("same-site", "http://127.0.0.1:3000", True),
        (None, "http://127.0.0.1:8000", False),
        (None, "http://127.0.0.1:3000", True),
        (None, "null", True),
    ],
)
def test_cross_site_rules(fetch_site: str | None, origin: str | None, refused: bool) -> None:
    assert (cross_site_problem(fetch_site, origin, "http", "127.0.0.1:8000") is not None) == refused


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("::1", True),
        ("203.0.113.9", False),
        ("10.0.0.2", False),
        (None, False),
        ("testclient", False),
    ],
)
def test_loopback_rule(host: str | None, loopback: bool) -> None:
    assert is_loopback(host) == loopback
