"""Prediction ids: the caller's (an id column of the record, or a request header), else generated.

An id column is never a feature: it is taken out of the record before the input contract sees
it, answered beside the prediction and logged with it, so ``POST /feedback`` can name it later.

A prediction id names exactly one logged prediction: an id of the caller's that was already used
(by a logged prediction, or by a request still on its way to the log) is refused with 409 before
anything is predicted, so a client's retry or a proxy reusing request ids can never make a label
land on another prediction. Generated ids are 128 random bits and are not checked.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

from driftgate.models.contract import ContractError, Problem
from driftgate.serving.body import json_type
from driftgate.stores.predictions_db import MAX_ID_LENGTH


def _check(value: Any, field: str, record: int | None) -> tuple[str | None, Problem | None]:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None, Problem(field, f"an id must be a string or an integer, got {json_type(value)}", record)
    text = str(value)
    if not text or len(text) > MAX_ID_LENGTH:
        return None, Problem(field, f"an id must hold 1 to {MAX_ID_LENGTH} characters, got {len(text)}", record)
    return text, None


def take_ids(records: Any, id_columns: list[str], header: str | None, header_name: str) -> list[str]:
    """One id per record, taking the id columns out of the records (which are changed in place).

    The record's first id column present wins; else ``<header>-<i>`` when the request carried the
    id header; else 128 random bits (32 hex digits, like a uuid4's hex). Anything that is not a
    list of objects is left for the contract to refuse.

    Raises:
        ContractError: an id that is not a short string or integer, or one repeated in the request.
    """
    return take_ids_marked(records, id_columns, header, header_name)[0]


def take_ids_marked(
    records: Any, id_columns: list[str], header: str | None, header_name: str
) -> tuple[list[str], list[str]]:
    """:func:`take_ids`, and which of the ids are the caller's (from an id column or the header)."""
    if not isinstance(records, list):
        return [], []
    problems: list[Problem] = []
    prefix = None
    if header:  # an empty header: no id of the caller's, so a generated one
        prefix, problem = _check(header, header_name, None)
        if problem:
            raise ContractError([problem])
    ids: list[str] = []
    callers: list[str] = []
    for i, rec in enumerate(records):
        found = None
        if id_columns and isinstance(rec, dict):
            for col in id_columns:
                if col in rec:
                    value = rec.pop(col)
                    if found is None and value is not None:  # null: no id of the caller's
                        found, problem = _check(value, col, i)
                        if problem:
                            problems.append(problem)
        if found is None and prefix is not None:
            found = f"{prefix}-{i}"
        if found is None:
            found = os.urandom(16).hex()  # as random as uuid4, 4x faster
        else:
            callers.append(found)
        ids.append(found)
    if not problems and len(set(ids)) != len(ids):
        seen: set[str] = set()
        for i, pid in enumerate(ids):
            if pid in seen:
                problems.append(Problem(id_columns[0] if id_columns else "id", f"id {pid!r} repeats in the request", i))
            seen.add(pid)
    if problems:
        raise ContractError(problems[:20])
    return ids, callers


class IdLedger:
    """The caller ids this process has answered and not yet seen written to the prediction log.

    With the log's own lookup (``logged``) it answers whether an id was used before. Claiming is
    one step under a lock, so two concurrent requests with one id cannot both pass.
    """

    def __init__(self, logged: Callable[[list[str]], set[str]]) -> None:
        self._logged = logged
        self._pending: set[str] = set()
        self._lock = threading.Lock()

    def claim_here(self, ids: list[str]) -> list[str]:
        """Claim ids against this process's own pending ones; the ids already taken (then nothing is claimed)."""
        with self._lock:
            taken = [i for i in ids if i in self._pending]
            if not taken:
                self._pending.update(ids)
        return taken

    def taken_in_log(self, ids: list[str]) -> list[str]:
        """The ids the prediction log already holds (a blocking read: call it off the event loop)."""
        found = self._logged(ids)
        return [i for i in ids if i in found]

    def release(self, ids: Iterable[str]) -> None:
        """Forget ids: written to the log (it answers for them from now on), or never used."""
        if self._pending:
            with self._lock:
                self._pending.difference_update(ids)

    def __len__(self) -> int:
        return len(self._pending)
