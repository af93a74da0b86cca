"""driftgate's exceptions.

DriftgateError                  base of everything driftgate raises on purpose
├── SpecError                   a dataset spec is missing or malformed
├── BatchConflictError               a batch number already holds different content
├── BatchIntegrityError         a stored batch does not hash to its manifest's sha256
├── BatchFetchError             the data API did not deliver a batch after all retries
├── LakeFullError               the lake's disk has no room for a write (nothing partial is left)
├── ModelRegistryError          a model version is missing, unloadable, or an alias is unset
│   ├── ChampionMovedError      the alias moved between the comparison and the move (compare-and-set)
│   └── ModelLoadError          a version was refused by the safe loader (format, types, signature, answers)
└── SuiteError                  an expectation suite is missing or malformed
"""

from __future__ import annotations


class DriftgateError(Exception):
    """Base class: its message is meant for a person and says what was expected and found."""


class SpecError(DriftgateError):
    """A dataset spec is missing or malformed."""


class BatchConflictError(DriftgateError):
    """A batch number already holds different content in the lake."""


class BatchIntegrityError(DriftgateError):
    """A stored batch's rows do not hash to the sha256 its manifest records."""


class BatchFetchError(DriftgateError):
    """The data API did not deliver a batch after all retries."""


class LakeFullError(DriftgateError):
    """The lake's file system has no room for a write; the partial file was removed."""


class ModelRegistryError(DriftgateError):
    """A model version does not exist, fails to load, or an alias is unset."""


class ChampionMovedError(ModelRegistryError):
    """``champion`` no longer points where the caller compared against: the move is refused."""


class ModelLoadError(ModelRegistryError):
    """The safe loader refused a version; the message says why and names no path or host."""


class SuiteError(DriftgateError):
    """An expectation suite is missing or malformed."""
