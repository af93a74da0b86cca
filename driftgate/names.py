"""Names derived from a dataset: where its suite lives, how its Prefect artifacts are keyed."""

from __future__ import annotations

import re
from pathlib import Path

_NOT_KEY = re.compile(r"[^a-z0-9-]+")


def artifact_key(*parts: object) -> str:
    """A Prefect artifact key from parts (Prefect allows lowercase letters, digits and dashes).

    >>> artifact_key("gate", "my_data", "v", 3)
    'gate-my-data-v-3'
    """
    raw = "-".join(str(p) for p in parts).lower()
    return _NOT_KEY.sub("-", raw).strip("-")


def suite_path(expectations_dir: Path, dataset: str) -> Path:
    """The Great Expectations suite of ``dataset``: ``<expectations_dir>/<dataset>.json``."""
    return expectations_dir / f"{dataset}.json"


FIT_TAG = "driftgate.fit"
"""Run tag of a version whose served model is a refit on every labelled row of its window (a dataset with a
time order): which fit its metrics belong to. Set by the training stage; read by the console and the monitor."""

PROBATION_RUN_TAG = "driftgate.probation."
"""Prefix of the run tags a settled probation leaves on both versions (``outcome``: rolled back, restored,
kept; ``against``, ``reason``, ``rows``, ``looks``, ``confidence``, ``at``). Set by the monitor stage
(tasks/monitor/_probation.py); read by the console."""
