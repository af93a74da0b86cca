"""A flow command starts without the packages only some runs need (``bench/imports.py`` measures the saving).

Every ``driftgate run``/``ingest``/``backtest``/``predict-batch``/``monitor``, and every test that runs
a flow in a subprocess, imports its flow module first. Dask, distributed and LightGBM serve only a
window sent to a cluster; scikit-learn and scipy.stats only a step that fits, scores or tests;
SQLAlchemy only a SQL source (and the monitor, which reads the prediction database): each is
imported by the function that uses it, so importing a flow module imports none of them.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

FLOWS = ("training", "ingest", "backtest", "batch_predict")
DEFERRED = ("dask", "distributed", "lightgbm", "sklearn", "scipy.stats", "sqlalchemy", "shap", "great_expectations")

# the deferred packages imported after the flows, then after the monitor's flow too
CODE = f"""
import json, sys
{"".join(f"import driftgate.flows.{flow}; " for flow in FLOWS)}
flows = [m for m in {DEFERRED!r} if m in sys.modules]
import driftgate.flows.monitor
print(json.dumps([flows, [m for m in {DEFERRED!r} if m in sys.modules]]))
"""


def test_importing_a_flow_module_imports_no_cluster_fitting_or_statistics_package() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True, cwd=ROOT)
    flows, with_monitor = json.loads(out.stdout.splitlines()[-1])
    assert flows == []
    assert with_monitor == ["sqlalchemy"]  # the monitor reads the prediction database on every run
