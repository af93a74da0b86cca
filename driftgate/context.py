"""What a stage needs to run, built once from the settings: the spec, the lake, the names, the stores.

A stage reads these, never ``ctx.settings`` itself (``tests/unit/test_layers.py`` fails on that):
its policy comes as an argument (``driftgate.policies``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from driftgate.dataset.spec import DatasetSpec, load_spec
from driftgate.names import suite_path
from driftgate.settings import Settings
from driftgate.stores.lake import Lake


@dataclass(frozen=True)
class Context:
    settings: Settings
    spec: DatasetSpec
    lake: Lake

    @property
    def model_name(self) -> str:
        return self.settings.model_name or self.spec.model_name

    @property
    def predictions_db(self) -> str:
        """The prediction log's database URL (``DRIFTGATE_PREDICTIONS_DB``, or SQLite in the home)."""
        return self.settings.resolved_predictions_db_url()

    @property
    def suite_file(self) -> Path:
        return suite_path(self.settings.expectations_dir, self.spec.name)


def build_context(settings: Settings, dataset: str | None = None) -> Context:
    spec = load_spec(dataset or settings.dataset, settings.datasets_dir)
    return Context(settings, spec, Lake(settings.resolved_lake_url(), settings.storage_options()))
