"""The data API: a dataset served in numbered batches with a drift scenario (and faults)."""

from driftgate.local.data_api.app import Faults, create_data_api

__all__ = ["Faults", "create_data_api"]
