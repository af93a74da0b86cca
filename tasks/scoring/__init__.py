"""Stage ``scoring``: files scored with the champion, row by row against the input contract."""

from driftgate.tasks.scoring._batch import (
    ScoredFile,
    ScoringModel,
    check_rows,
    check_rows_task,
    load_scoring_model_task,
    score_rows_task,
    write_outputs_task,
)
from driftgate.tasks.scoring._cluster import score_file, score_files_on_cluster_task
from driftgate.tasks.scoring._inputs import (
    input_location,
    inputs_under,
    list_inputs_task,
    read_input,
    read_input_task,
)

__all__ = [
    "ScoredFile",
    "ScoringModel",
    "check_rows",
    "check_rows_task",
    "input_location",
    "inputs_under",
    "list_inputs_task",
    "load_scoring_model_task",
    "read_input",
    "read_input_task",
    "score_file",
    "score_files_on_cluster_task",
    "score_rows_task",
    "write_outputs_task",
]
