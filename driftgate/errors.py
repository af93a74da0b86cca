"""driftgate's exceptions.

DriftgateError                  base of everything driftgate raises on purpose
├── SpecError                   a dataset spec is missing or malformed
├── BatchConflictError               a batch number already holds different content
├── BatchFetchError             the data API did not deliver a batch after all retries
├── ModelRegistryError          a model version is missing, unloadable, or an alias is unset
└── SuiteError                  an expectation suite is missing or malformed
"""

from __future__ import annotations


class DriftgateError(Exception):
    """Base class: its message is meant for a person and says what was expected and found."""


class SpecError(DriftgateError):
    """A dataset spec is missing or malformed."""


class BatchConflictError(DriftgateError):
    """A batch number already holds different content in the lake."""


class BatchFetchError(DriftgateError):
    """The data API did not deliver a batch after all retries."""


class ModelRegistryError(DriftgateError):
    """A model version does not exist, fails to load, or an alias is unset."""


class SuiteError(DriftgateError):
    """An expectation suite is missing or malformed."""
