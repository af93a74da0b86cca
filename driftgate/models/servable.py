"""Whether a registered version can be served, recorded when it was checked, so asking again costs no load.

:func:`driftgate.models.model_loader.check_servable` loads a version exactly as the service will: that
takes seconds (skops, scikit-learn, the artifact). Its verdict depends only on the artifact (a
registered version's files are never rewritten), the dataset spec, the libraries that load and
run it, and the loader's own checks. So every check records its verdict on the version, as the
tag :data:`SERVABLE_TAG`, with a fingerprint of those inputs. ``status``, ``promote`` and
``rollback`` read the tag: a verdict whose fingerprint matches today's is reused; a missing,
unreadable or stale one (the spec was edited, a library upgraded) means checking again.

Nothing here imports MLflow, scikit-learn or pandas: reading a verdict must stay cheap.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from driftgate.dataset.spec import DatasetSpec
from driftgate.errors import ModelLoadError

SERVABLE_TAG = "driftgate.servable"
REFUSED = "refused:"  # between what was refused and why, in every refusal's message
# What the safe loader trusts beyond skops' defaults, measured with ``skops.io.get_untrusted_types``
# on every family (tests/service/test_model_loading.py keeps it so). Part of the fingerprint.
# LightGBM's types: what a version trained on a Dask cluster (tasks/train/_distributed.py) holds.
LIGHTGBM_TRUSTED_TYPES: tuple[str, ...] = (
    "collections.OrderedDict",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
)
TRUSTED_TYPES: tuple[str, ...] = (
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "numpy.dtype",
    *LIGHTGBM_TRUSTED_TYPES,
)
# Bump when driftgate.models.model_loader's checks change: every recorded verdict is then stale.
CHECK_REVISION = 1
# The libraries whose upgrade can change whether a stored model loads and answers.
LIBRARIES = ("scikit-learn", "skops", "numpy", "scipy", "pandas", "mlflow", "lightgbm", "driftgate")


def _installed(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "-"


def fingerprint(spec: DatasetSpec) -> str:
    """What a verdict depends on besides the artifact: the spec, the libraries, the loader's checks."""
    inputs = {
        "spec": spec.model_dump(mode="json"),
        "libraries": {p: _installed(p) for p in LIBRARIES},
        "trusted": list(TRUSTED_TYPES),
        "checks": CHECK_REVISION,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check of one version: None when it loads, else the reason it is refused."""

    fingerprint: str
    refused: str | None = None

    def to_tag(self) -> str:
        return json.dumps({"fingerprint": self.fingerprint, "refused": self.refused})

    @classmethod
    def from_tag(cls, raw: str | None) -> Verdict | None:
        """The recorded verdict; None when there is none or it is unreadable (then: check again)."""
        if not raw:
            return None
        try:
            found = json.loads(raw)
        except (ValueError, RecursionError):
            return None
        if not isinstance(found, dict) or not isinstance(found.get("fingerprint"), str):
            return None
        refused = found.get("refused")
        if refused is not None and not isinstance(refused, str):
            return None
        return cls(found["fingerprint"], refused)


def recorded_verdict(raw: str | None, spec: DatasetSpec) -> Verdict | None:
    """The verdict in a version's :data:`SERVABLE_TAG`, if it still holds for ``spec`` and today's libraries."""
    verdict = Verdict.from_tag(raw)
    return verdict if verdict is not None and verdict.fingerprint == fingerprint(spec) else None


def refusal(name: str, version: str | int, reason: str) -> ModelLoadError:
    """The error ``check_servable`` raised for a version, rebuilt from its recorded reason."""
    return ModelLoadError(f"model {name!r} version {version} {REFUSED} {reason}")
