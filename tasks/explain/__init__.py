"""Stage ``explain``: SHAP explanations per original feature and the version's report page."""

from driftgate.tasks.explain._report import (
    explain_registered,
    explain_registered_task,
    explain_task,
    log_explanation,
    plots,
    report_html,
)
from driftgate.tasks.explain._shap import PipelineExplainer, explain_sample

__all__ = [
    "PipelineExplainer",
    "explain_registered",
    "explain_registered_task",
    "explain_sample",
    "explain_task",
    "log_explanation",
    "plots",
    "report_html",
]
