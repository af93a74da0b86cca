"""Events driftgate emits and the Prefect automations that turn them into alerts.

Names are exported lazily (driftgate/_lazy.py): importing one module of the group never
imports its siblings (``registry.champion_sqlite`` stays free of MLflow; ``models`` of pandas where it can)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from driftgate._lazy import lazy_exports

if TYPE_CHECKING:
    from driftgate.alerts.automations import NOTIFY as NOTIFY
    from driftgate.alerts.automations import RUNS as RUNS
    from driftgate.alerts.automations import RunOn as RunOn
    from driftgate.alerts.automations import apply_automations as apply_automations
    from driftgate.alerts.automations import list_automations as list_automations
    from driftgate.alerts.automations import trigger_spec as trigger_spec
    from driftgate.alerts.events import DEGRADED as DEGRADED
    from driftgate.alerts.events import DRIFT_DETECTED as DRIFT_DETECTED
    from driftgate.alerts.events import INGESTED as INGESTED
    from driftgate.alerts.events import PROMOTED as PROMOTED
    from driftgate.alerts.events import QUARANTINED as QUARANTINED
    from driftgate.alerts.events import ROLLED_BACK as ROLLED_BACK
    from driftgate.alerts.events import batch_ingested as batch_ingested
    from driftgate.alerts.events import batch_quarantined as batch_quarantined
    from driftgate.alerts.events import drift_detected as drift_detected
    from driftgate.alerts.events import gate_refused as gate_refused
    from driftgate.alerts.events import model_promoted as model_promoted
    from driftgate.alerts.events import model_rolled_back as model_rolled_back
    from driftgate.alerts.events import model_trained as model_trained
    from driftgate.alerts.events import monitor_degraded as monitor_degraded

__all__, __getattr__ = lazy_exports(__name__, __file__)
