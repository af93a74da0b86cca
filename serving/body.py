"""Reading a ``{"records": [...]}`` body that may be hostile: every oddity becomes a 4xx, never a 500.

The body's size is already bounded (``DRIFTGATE_MAX_BODY_BYTES``, enforced by Litestar before
this runs). Records are first counted without being built (msgspec skips each one as raw
bytes), so an over-long list is refused before any record object exists. Then the standard
library parses the body with hooks that refuse what JSON allows but a record must not hold:
duplicate keys, lone UTF-16 surrogates (they break encoding the answer and the log), nesting
deeper than the interpreter's stack; integers of more than 18 digits become floats, and NaN/Infinity
become floats too, so the contract can name the field holding a non-finite number.

The strict parse costs ~8 µs for a one-record body, ~3 % of the service's time per request, so a
fast path decodes with msgspec (~0.6 µs) and keeps the result only when it provably equals the
strict one: msgspec raises on NaN/Infinity, on 1e400, on invalid UTF-8 and on deep nesting (all
left to the strict parse, which says what is wrong); a body with a ``\\u`` escape (the only way
to a lone surrogate in valid UTF-8) or an integer of 19+ digits takes the strict path; and duplicate
keys are ruled out by counting: every key of the text has one ``:`` after it, so when the body's
``:`` count equals the keys msgspec kept, no key was repeated (and no string held a ``:``; a body
whose strings do hold one takes the strict path).
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from driftgate.models.contract import ContractError, Problem


class MalformedBodyError(ValueError):
    """The request body is not JSON at all (400, not 422)."""


class _Envelope(msgspec.Struct):
    records: list[msgspec.Raw]


class _BadKeyError(ValueError):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


def _text_ok(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (\ud800 ... \udfff) from a JSON escape
        return False
    return True


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object hook: refuse duplicate keys and unencodable text, keep everything else."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if not _text_ok(key):
            raise _BadKeyError(Problem(ascii(key), "a key holds a lone UTF-16 surrogate (not valid Unicode)"))
        if key in out:
            raise _BadKeyError(Problem(key, "appears more than once in one object"))
        if isinstance(value, str) and not _text_ok(value):
            raise _BadKeyError(Problem(key, "holds a lone UTF-16 surrogate (not valid Unicode)"))
        out[key] = value
    return out


def _integer(text: str) -> int | float:
    """Integers as ints while exact in a float64's range; longer ones as floats (1e400 becomes inf)."""
    return int(text) if len(text.lstrip("-")) <= 18 else float(text)


_EXACT = 10**18  # the strict parse keeps integers of up to 18 digits exact, longer ones become floats


def _keys(value: Any) -> int:
    """The keys of every object in a decoded JSON value; -1 when it holds an integer of 19+ digits."""
    items = value.values() if isinstance(value, dict) else value
    n = len(value) if isinstance(value, dict) else 0
    for v in items:
        t = type(v)
        if t is dict or t is list:
            k = _keys(v)
            if k < 0:
                return -1
            n += k
        elif t is int and not -_EXACT < v < _EXACT:
            return -1
    return n


def _fast(body: bytes) -> Any:
    """The body decoded by msgspec when that equals the strict parse (see the module doc), else ``_SLOW``."""
    if b"\\u" in body:  # an escape: the only way to a lone surrogate in valid UTF-8
        return _SLOW
    try:
        raw = msgspec.json.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError, ValueError):
        return _SLOW
    if not isinstance(raw, (dict, list)):
        return _SLOW  # a scalar: refused either way, in the strict parse's words
    return raw if body.count(b":") == _keys(raw) else _SLOW


_SLOW = object()


def _strict(body: bytes) -> Any:
    try:
        return json.loads(body, object_pairs_hook=_object, parse_int=_integer, parse_constant=float)
    except _BadKeyError as exc:
        raise ContractError([exc.problem]) from None
    except RecursionError:
        raise MalformedBodyError("the body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:  # UnicodeDecodeError: not UTF-8
        raise MalformedBodyError(f"the body is not valid JSON: {exc}") from None


_JSON_TYPES = {
    type(None): "null",
    bool: "boolean",
    int: "number",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def json_type(value: Any) -> str:
    """A decoded JSON value's type in JSON's words (``null``, never ``NoneType``)."""
    return _JSON_TYPES.get(type(value), type(value).__name__)


def count_records(body: bytes) -> int | None:
    """How many records the body holds, without building them (None: let the full parse say what is wrong)."""
    try:
        return len(msgspec.json.decode(body, type=_Envelope).records)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        return None


def parse_records(body: bytes, max_records: int | None = None) -> Any:
    """The ``records`` of a request body (the contract checks each of them).

    Args:
        body: the raw request body.
        max_records: refuse more records than this before parsing them.

    Raises:
        MalformedBodyError: not JSON, or nested too deeply.
        ContractError: too many records, a duplicate key, a lone surrogate, or not an object with
            exactly a ``records`` member.
    """
    if max_records is not None:
        n = count_records(body)
        if n is not None and n > max_records:
            raise ContractError([Problem("records", f"holds {n} records; the maximum is {max_records}")])
    raw = _fast(body)
    if raw is _SLOW:
        raw = _strict(body)
    if not isinstance(raw, dict):
        raise ContractError([Problem("body", f"must be a JSON object, got {json_type(raw)}")])
    if "records" not in raw:
        raise ContractError([Problem("records", "is required")])
    extra = [k for k in raw if k != "records"]
    if extra:
        raise ContractError([Problem(str(extra[0]), "is not a member of the request (only 'records')")])
    return raw["records"]
