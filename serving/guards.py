"""Guards of the routes that take a body or change state: JSON only, same origin only, feedback from loopback.

A browser sends a "simple" cross-origin POST (``text/plain``, a form, multipart, or a body with
no type) without asking the server first, so any page a user opens could post to a service on
their machine or network. Three checks close that door, each before the body is read:

- **JSON only**: ``Content-Type`` must be ``application/json`` (``charset=utf-8`` allowed) and the
  body must not be encoded (``Content-Encoding`` other than ``identity``); anything else is 415.
- **Same origin only** on routes that change state: a request whose ``Sec-Fetch-Site`` says it
  came from another site is 403; from a browser too old to send it, one whose ``Origin`` is not
  this service's own (scheme and ``Host``) is 403. The service sends
  no CORS headers, so a browser never gets a preflight's permission either.
- **Feedback from loopback** when no admin key is set (``DRIFTGATE_FEEDBACK_OPEN=true`` lifts it):
  labels become training data, so with no key only processes on this machine may send them.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException
from litestar.handlers import BaseRouteHandler

JSON_TYPES = frozenset({"application/json"})
SAME_ORIGIN_FETCH = frozenset({"same-origin", "none"})  # "none": typed in the address bar, a bookmark


class MediaTypeError(HTTPException):
    status_code = 415


class CrossSiteError(HTTPException):
    status_code = 403


def media_type_problem(content_type: str | None, content_encoding: str | None, *, body_optional: bool) -> str | None:
    """Why a request's body is not plain JSON, or None when it is.

    >>> media_type_problem("application/json; charset=UTF-8", None, body_optional=False) is None
    True
    >>> media_type_problem("text/plain", None, body_optional=False)
    "Content-Type must be application/json, got 'text/plain'"
    """
    if content_encoding and content_encoding.strip().lower() not in ("", "identity"):
        return f"Content-Encoding {content_encoding.strip()[:40]!r} is not accepted: send the JSON body unencoded"
    if content_type is None:
        return None if body_optional else "Content-Type must be application/json, got none"
    kind, _, params = content_type.partition(";")
    if kind.strip().lower() not in JSON_TYPES:
        return f"Content-Type must be application/json, got {kind.strip()[:60]!r}"
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return f"a JSON body must be UTF-8, got charset {value.strip()[:20]!r}"
    return None


def cross_site_problem(fetch_site: str | None, origin: str | None, scheme: str, host: str | None) -> str | None:
    """Why a request looks like it came from another site's page, or None.

    >>> cross_site_problem("cross-site", None, "http", "127.0.0.1:8000")
    'a request from another site (Sec-Fetch-Site: cross-site) may not change state here'
    >>> cross_site_problem(None, "http://127.0.0.1:8000", "http", "127.0.0.1:8000") is None
    True
    """
    if fetch_site is not None:  # a browser that says where the request comes from: that decides
        if fetch_site.strip().lower() in SAME_ORIGIN_FETCH:
            return None
        return f"a request from another site (Sec-Fetch-Site: {fetch_site.strip()[:20]}) may not change state here"
    if origin is not None and origin.strip().lower() != f"{scheme}://{host or ''}".lower():
        return f"a request from origin {origin.strip()[:80]!r} may not change state here (only this service's own)"
    return None


def is_loopback(host: str | None) -> bool:
    """The client address is this machine's (127.0.0.0/8, ::1)."""
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_media(connection: ASGIConnection[Any, Any, Any, Any], body_optional: bool) -> None:
    headers = connection.headers
    problem = media_type_problem(
        headers.get("content-type"), headers.get("content-encoding"), body_optional=body_optional
    )
    if problem:
        raise MediaTypeError(detail=problem)


def _check_origin(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    headers = connection.headers
    problem = cross_site_problem(
        headers.get("sec-fetch-site"), headers.get("origin"), connection.scope["scheme"], headers.get("host")
    )
    if problem:
        raise CrossSiteError(detail=problem)


def json_body(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard of routes that read a JSON body and answer from it (``/predict``, ``/explain``)."""
    _check_media(connection, body_optional=False)


def json_state_change(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard of routes that change state with a JSON body (``/feedback``): JSON, same origin."""
    _check_media(connection, body_optional=False)
    _check_origin(connection)


def admin_call(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard of admin routes: no body or a JSON one, same origin."""
    _check_media(connection, body_optional=True)
    _check_origin(connection)


def feedback_source_problem(client_host: str | None, *, has_key: bool, open_to_all: bool) -> str | None:
    """Why this client may not send labels (no admin key set and not on loopback), or None."""
    if has_key or open_to_all or is_loopback(client_host):
        return None
    return (
        "with no admin key set, /feedback takes labels from this machine only "
        "(set DRIFTGATE_ADMIN_API_KEY, or DRIFTGATE_FEEDBACK_OPEN=true)"
    )
