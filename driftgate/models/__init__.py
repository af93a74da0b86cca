"""A model at work: the one loader, what makes a version servable, prediction, the input contract, partition scoring.

Names are exported lazily (driftgate/_lazy.py): importing one module of the group never
imports its siblings (``registry.champion_sqlite`` stays free of MLflow; ``models`` of pandas where it can)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from driftgate._lazy import lazy_exports

if TYPE_CHECKING:
    from driftgate.models.contract import ContractError as ContractError
    from driftgate.models.contract import FieldRule as FieldRule
    from driftgate.models.contract import InputContract as InputContract
    from driftgate.models.contract import Problem as Problem
    from driftgate.models.contract import shown_values as shown_values
    from driftgate.models.model_loader import LoadedModel as LoadedModel
    from driftgate.models.model_loader import check_servable as check_servable
    from driftgate.models.model_loader import load_local as load_local
    from driftgate.models.model_loader import load_registered as load_registered
    from driftgate.models.partitions import encode_part as encode_part
    from driftgate.models.partitions import label_part as label_part
    from driftgate.models.partitions import score_part as score_part
    from driftgate.models.predict import Predictions as Predictions
    from driftgate.models.servable import LIGHTGBM_TRUSTED_TYPES as LIGHTGBM_TRUSTED_TYPES
    from driftgate.models.servable import REFUSED as REFUSED
    from driftgate.models.servable import SERVABLE_TAG as SERVABLE_TAG
    from driftgate.models.servable import TRUSTED_TYPES as TRUSTED_TYPES
    from driftgate.models.servable import Verdict as Verdict
    from driftgate.models.servable import fingerprint as fingerprint
    from driftgate.models.servable import recorded_verdict as recorded_verdict
    from driftgate.models.servable import refusal as refusal
    from driftgate.models.trials import score_candidate as score_candidate

__all__, __getattr__ = lazy_exports(__name__, __file__)
