"""The data API's replay of a file serves every row, also when the rows do not divide evenly."""

from __future__ import annotations

import numpy as np
import pandas as pd

from driftgate.dataset.infer import InitOptions, infer_spec
from driftgate.dataset.scenario import make_batch, plan_batches


def test_a_replay_serves_every_row_of_a_file_whose_rows_do_not_divide_evenly() -> None:
    rng = np.random.default_rng(0)
    rows = 32_561  # census income's training file
    frame = pd.DataFrame({"age": rng.integers(17, 90, rows), "label": rng.choice(["<=50K", ">50K"], rows)})
    spec = infer_spec(frame, InitOptions(target="label"), name="census", source="census.csv").spec
    plan = plan_batches(frame, spec)
    served = np.concatenate(plan)
    assert len(served) == rows
    assert len(np.unique(served)) == rows
    assert sum(len(make_batch(frame, spec, plan, n)) for n in range(1, len(plan) + 1)) == rows
