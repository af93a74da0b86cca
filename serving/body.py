"""Reading a ``{"records": [...]}`` body that may be hostile: every oddity becomes a 4xx, never a 500.

The body's size is already bounded (``DRIFTGATE_MAX_BODY_BYTES``, enforced by Litestar before
this runs). Records are first counted without being built (msgspec skips each one as raw
bytes), so an over-long list is refused before any record object exists. Then the standard
library parses the body with hooks that refuse what JSON allows but a record must not hold:
duplicate keys, lone UTF-16 surrogates (they break encoding the answer and the log), nesting
deeper than the interpreter's stack; integers of more than 18 digits become floats, and NaN/Infinity
become floats too, so the contract can name the field holding a non-finite number.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from driftgate.contract import ContractError, Problem


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
    try:
        raw = json.loads(body, object_pairs_hook=_object, parse_int=_integer, parse_constant=float)
    except _BadKeyError as exc:
        raise ContractError([exc.problem]) from None
    except RecursionError:
        raise MalformedBodyError("the body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:  # UnicodeDecodeError: not UTF-8
        raise MalformedBodyError(f"the body is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ContractError([Problem("body", f"must be a JSON object, got {type(raw).__name__}")])
    if "records" not in raw:
        raise ContractError([Problem("records", "is required")])
    extra = [k for k in raw if k != "records"]
    if extra:
        raise ContractError([Problem(str(extra[0]), "is not a member of the request (only 'records')")])
    return raw["records"]
