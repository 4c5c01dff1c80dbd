"""The runbook file (`cutover.yaml`): pydantic models, loading with `file:line` errors, the templates, the plan.

from cutover.runbook import find_runbook, load_runbook
runbook = load_runbook(find_runbook(project_dir))
from cutover.runbook.plan import build_plan
"""

from __future__ import annotations

from cutover.runbook.loader import RUNBOOK_FILENAME, RunbookError, find_runbook, load_runbook, parse_runbook
from cutover.runbook.models import (
    STAGES,
    AlertChannel,
    AlertsConfig,
    ChecklistGroup,
    ChecklistsConfig,
    CustomStep,
    EscalationRow,
    KnownIssue,
    MonitoringConfig,
    MonitoringMetric,
    OrgExpectation,
    PostDeployChecklists,
    ProjectCommands,
    ProjectConfig,
    ReleaseConfig,
    ReviewsConfig,
    Role,
    RollbackConfig,
    RollbackTrigger,
    Runbook,
    ScheduledJob,
    SecurityConfig,
    SeparationOfDuties,
    SfConfig,
    Signoff,
    TargetConfig,
    Thresholds,
    VerifyConfig,
    WindowConfig,
    command_argv,
    command_text,
    parse_duration,
)

__all__ = [
    "RUNBOOK_FILENAME",
    "STAGES",
    "AlertChannel",
    "AlertsConfig",
    "ChecklistGroup",
    "ChecklistsConfig",
    "CustomStep",
    "EscalationRow",
    "KnownIssue",
    "MonitoringConfig",
    "MonitoringMetric",
    "OrgExpectation",
    "PostDeployChecklists",
    "ProjectCommands",
    "ProjectConfig",
    "ReleaseConfig",
    "ReviewsConfig",
    "Role",
    "RollbackConfig",
    "RollbackTrigger",
    "Runbook",
    "RunbookError",
    "ScheduledJob",
    "SecurityConfig",
    "SeparationOfDuties",
    "SfConfig",
    "Signoff",
    "TargetConfig",
    "Thresholds",
    "VerifyConfig",
    "WindowConfig",
    "command_argv",
    "command_text",
    "find_runbook",
    "load_runbook",
    "parse_duration",
    "parse_runbook",
    "template_text",
]


def template_text() -> str:
    """The commented Elaro seed runbook that `cutover init --template elaro` writes."""
    from importlib.resources import files

    return (files("cutover.runbook") / "templates" / "elaro.yaml").read_text(encoding="utf-8")
