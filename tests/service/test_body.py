"""The request-body parser's msgspec fast path gives what the strict parse gives, or steps aside.

``_fast`` may only ever return exactly what the strict parse (stdlib json with hooks) returns, same
types and same key order, or decline; it must never accept a body the strict parse refuses. The
table holds everyday bodies and every hostile body of test_hostile_input.py.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from driftgate.models.contract import ContractError
from driftgate.serving.body import _SLOW, MalformedBodyError, _fast, _strict, parse_records
from tests.service.test_hostile_input import EDGE_BODIES

RECORD = {"carat": 1.07, "cut": "Premium", "color": "E", "depth": 62, "table": None, "ok": True}

BODIES = {
    "one record": json.dumps({"records": [RECORD]}).encode(),
    "compact": json.dumps({"records": [RECORD] * 3}, separators=(",", ":")).encode(),
    "no records": b'{"records": []}',
    "unicode text": json.dumps({"records": [{"cut": "Très bon ✓"}]}, ensure_ascii=False).encode(),
    "a colon inside a string": b'{"records": [{"t": "12:30"}]}',
    "a duplicate key hidden by a colon in a string": b'{"records": [{"a": "x:y", "a": 1}]}',
    "a duplicate key in a nested object": b'{"records": [{"a": {"b": 1, "b": 2}}]}',
    "a duplicate top-level key": b'{"records": [], "records": [{}]}',
    "escapes": b'{"records": [{"a": "tab\\t quote\\" slash\\/ back\\\\"}]}',
    "a \\u escape that is fine": b'{"records": [{"a": "\\u00e9"}]}',
    "18-digit integers": b'{"records": [{"a": 999999999999999999, "b": -999999999999999999}]}',
    "19-digit integers": b'{"records": [{"a": 1000000000000000000}]}',
    "a 19-digit negative integer": b'{"records": [{"a": -1000000000000000000}]}',
    "a long digit run in a string": b'{"records": [{"a": "12345678901234567890123"}]}',
    "tricky floats": b'{"records": [{"a": 0.1, "b": 1e-320, "c": 2.2250738585072014e-308, "d": 1.7976931348623157e308,'
    b' "e": -0.0, "f": 1E5, "g": 123456789.123456789, "h": 9007199254740993.0}]}',
    "a float beyond float64": b'{"records": [{"a": 1e400}]}',
    "a scalar body": b"12345678901234567890",
    "a list body": b"[1, 2]",
    "an extra member": b'{"records": [], "x": 1}',
    "trailing garbage": b'{"records": []} x',
    "a byte-order mark": b'\xef\xbb\xbf{"records": []}',
    "raw surrogate bytes": b'{"records": [{"a": "\xed\xa0\x80"}]}',
    **{f"hostile: {case}": body for case, (body, _, _) in EDGE_BODIES.items()},
}


def _same(a: Any, b: Any) -> bool:
    """Equal with the same types, signs of zero and key order (1 == 1.0 is not enough here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    return bool(a == b)


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_the_fast_path_equals_the_strict_parse_or_steps_aside(body: bytes) -> None:
    fast = _fast(body)
    try:
        strict = _strict(body)
    except (ContractError, MalformedBodyError):
        assert fast is _SLOW  # whatever the strict parse refuses, the fast path never accepts
        return
    assert fast is _SLOW or _same(fast, strict)


def test_the_fast_path_takes_everyday_bodies() -> None:
    for case in ("one record", "compact", "no records", "unicode text", "18-digit integers", "tricky floats"):
        assert _fast(BODIES[case]) is not _SLOW, case


def test_duplicate_keys_are_refused_whichever_path_reads_them() -> None:
    for case in ("a duplicate key in a nested object", "a duplicate top-level key"):
        with pytest.raises(ContractError, match="more than once"):
            parse_records(BODIES[case])
    with pytest.raises(ContractError, match="more than once"):  # the colon in a string sends it to the strict path
        parse_records(BODIES["a duplicate key hidden by a colon in a string"])


def test_long_integers_become_floats_as_before() -> None:
    [rec] = parse_records(BODIES["19-digit integers"])
    assert rec["a"] == 1e18
    assert isinstance(rec["a"], float)
