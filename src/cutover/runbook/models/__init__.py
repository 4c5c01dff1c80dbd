"""The runbook file (`cutover.yaml`) as pydantic models, one module per group of sections.

Every section is optional except `target`. The defaults are those of the generic template `templates/generic.yaml`
(what `cutover init` writes for a project it knows nothing about): safe in any org, no scheduled jobs, no custom
queries, no project commands, no guard methods of a project. List and text defaults are read from that template
(`_defaults.py`), so no project's names are written in code; a test keeps the template equal to the defaults. The
Elaro template (`--template elaro`) writes every Elaro value itself and never depends on these defaults. Unknown keys
are errors (`extra="forbid"`): a typo in a threshold must not silently fall back to a default.

Cross-references (a sign-off naming a role, a custom step placed after a stage) are checked in
`Runbook._check_references`, which raises `LocatedValueError` so the loader can point at the offending key's line.

`from cutover.runbook.models import X` keeps working for every model and helper.
"""

from __future__ import annotations

from cutover.runbook.models._types import (
    STAGES,
    UNSET_CONTACT_VALUES,
    WEEKDAYS,
    ClockTime,
    Command,
    DeployTestLevel,
    Duration,
    Identifier,
    LimitName,
    LocatedValueError,
    Percentage,
    RoleId,
    Severity,
    Stage,
    TestLevel,
    Weekday,
    command_argv,
    command_text,
    is_unset_contact,
    parse_duration,
)
from cutover.runbook.models.checks import (
    LimitThresholds,
    ScheduledJob,
    SecretsConfig,
    SecurityConfig,
    Thresholds,
    VerifyConfig,
)
from cutover.runbook.models.operations import (
    AlertChannel,
    AlertsConfig,
    ChecklistGroup,
    ChecklistsConfig,
    CustomStep,
    DestructiveOption,
    EscalationRow,
    KnownIssue,
    MonitoringConfig,
    MonitoringMetric,
    PostDeployChecklists,
    QuickRollback,
    RollbackConfig,
    RollbackTrigger,
)
from cutover.runbook.models.people import ReviewsConfig, Role, SeparationOfDuties, Signoff
from cutover.runbook.models.project import (
    DestructiveChanges,
    DocsConfig,
    OrgExpectation,
    ProjectCommands,
    ProjectConfig,
    ReleaseConfig,
    SfConfig,
    TargetConfig,
    WindowConfig,
)
from cutover.runbook.models.runbook import Runbook

__all__ = [
    "STAGES",
    "UNSET_CONTACT_VALUES",
    "WEEKDAYS",
    "AlertChannel",
    "AlertsConfig",
    "ChecklistGroup",
    "ChecklistsConfig",
    "ClockTime",
    "Command",
    "CustomStep",
    "DeployTestLevel",
    "DestructiveChanges",
    "DestructiveOption",
    "DocsConfig",
    "Duration",
    "EscalationRow",
    "Identifier",
    "KnownIssue",
    "LimitName",
    "LimitThresholds",
    "LocatedValueError",
    "MonitoringConfig",
    "MonitoringMetric",
    "OrgExpectation",
    "Percentage",
    "PostDeployChecklists",
    "ProjectCommands",
    "ProjectConfig",
    "QuickRollback",
    "ReleaseConfig",
    "ReviewsConfig",
    "Role",
    "RoleId",
    "RollbackConfig",
    "RollbackTrigger",
    "Runbook",
    "ScheduledJob",
    "SecretsConfig",
    "SecurityConfig",
    "SeparationOfDuties",
    "Severity",
    "SfConfig",
    "Signoff",
    "Stage",
    "TargetConfig",
    "TestLevel",
    "Thresholds",
    "VerifyConfig",
    "Weekday",
    "WindowConfig",
    "command_argv",
    "command_text",
    "is_unset_contact",
    "parse_duration",
]
