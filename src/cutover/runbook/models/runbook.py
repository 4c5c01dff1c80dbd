"""The whole runbook file: `Runbook`, with cross-reference checks and the problems a person must fix."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from cutover.runbook.models._types import (
    STAGES,
    LocatedValueError,
    NotBool,
    RoleId,
    Stage,
    _Model,
)
from cutover.runbook.models.checks import (
    ScheduledJob,
    SecurityConfig,
    Thresholds,
    VerifyConfig,
)
from cutover.runbook.models.operations import (
    AlertsConfig,
    ChecklistsConfig,
    CustomStep,
    KnownIssue,
    MonitoringConfig,
    RollbackConfig,
)
from cutover.runbook.models.people import (
    ReviewsConfig,
    Role,
    SeparationOfDuties,
    Signoff,
    _default_roles,
    _default_signoffs,
)
from cutover.runbook.models.project import ProjectConfig, ReleaseConfig, SfConfig, TargetConfig, WindowConfig

#: The longest list of sign-offs, scheduled jobs, known issues or custom steps a runbook may hold.
MAX_ITEMS = 1000


class Runbook(_Model):
    version: Annotated[Literal[1], NotBool] = 1
    name: str = "Production deployment"
    release: ReleaseConfig = ReleaseConfig()
    project: ProjectConfig = ProjectConfig()
    sf: SfConfig = SfConfig()
    target: TargetConfig
    window: WindowConfig = WindowConfig()
    roles: dict[RoleId, Role] = Field(default_factory=_default_roles, max_length=100)
    separation_of_duties: SeparationOfDuties = SeparationOfDuties()
    reviews: ReviewsConfig = ReviewsConfig()
    thresholds: Thresholds = Thresholds()
    security: SecurityConfig = SecurityConfig()
    signoffs: list[Signoff] = Field(default_factory=_default_signoffs, max_length=MAX_ITEMS)
    # Scheduled Apex the release must leave running; `cutover init --target-org` lists the org's.
    scheduled_jobs: list[ScheduledJob] = Field(default_factory=list, max_length=MAX_ITEMS)
    verify: VerifyConfig = VerifyConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    alerts: AlertsConfig = AlertsConfig()
    rollback: RollbackConfig = RollbackConfig()
    known_issues: list[KnownIssue] = Field(default_factory=list, max_length=MAX_ITEMS)
    checklists: ChecklistsConfig = ChecklistsConfig()
    stages: list[Stage] = Field(default_factory=lambda: list(STAGES), min_length=1, max_length=len(STAGES))
    custom_steps: list[CustomStep] = Field(default_factory=list, max_length=MAX_ITEMS)

    @model_validator(mode="after")
    def _check_references(self) -> Runbook:
        for loc, message in self._reference_errors():
            raise LocatedValueError(loc, message)
        return self

    def _reference_errors(self) -> list[tuple[tuple[str | int, ...], str]]:
        errors: list[tuple[tuple[str | int, ...], str]] = []
        known = set(self.roles)

        def role(loc: tuple[str | int, ...], role_id: str) -> None:
            if role_id not in known:
                errors.append((loc, f"unknown role {role_id!r} (roles: {', '.join(sorted(known)) or 'none'})"))

        for i, signoff in enumerate(self.signoffs):
            role(("signoffs", i, "role"), signoff.role)
        for i, group in enumerate(self.separation_of_duties.exclusive):
            for j, role_id in enumerate(group):
                role(("separation_of_duties", "exclusive", i, j), role_id)
            if len(set(group)) != len(group):
                errors.append((("separation_of_duties", "exclusive", i), "a role cannot be exclusive with itself"))
        for i, role_id in enumerate(self.window.exception_approvers):
            role(("window", "exception_approvers", i), role_id)
        for i, row in enumerate(self.alerts.escalation):
            for j, role_id in enumerate(row.path):
                role(("alerts", "escalation", i, "path", j), role_id)
        for i, role_id in enumerate(self.alerts.internal_escalation):
            role(("alerts", "internal_escalation", i), role_id)
        for i, role_id in enumerate(self.rollback.approvers):
            role(("rollback", "approvers", i), role_id)
        for i, group in enumerate(self.checklists.smoke_tests):
            role(("checklists", "smoke_tests", i, "role"), group.role)
        role(("checklists", "post_deploy", "role"), self.checklists.post_deploy.role)

        def unique(section: str, items: list[Any]) -> None:
            seen: set[str] = set()
            for i, item in enumerate(items):
                if item.id in seen:
                    errors.append(((section, i, "id"), f"duplicate id {item.id!r}"))
                seen.add(item.id)

        unique("signoffs", self.signoffs)
        unique("custom_steps", self.custom_steps)
        unique("known_issues", self.known_issues)
        seen_triggers: set[str] = set()
        for i, trigger in enumerate(self.rollback.triggers):
            if trigger.id in seen_triggers:
                errors.append((("rollback", "triggers", i, "id"), f"duplicate id {trigger.id!r}"))
            seen_triggers.add(trigger.id)
        seen_groups: set[str] = set()
        for i, group in enumerate(self.checklists.smoke_tests):
            if group.id in seen_groups:
                errors.append((("checklists", "smoke_tests", i, "id"), f"duplicate id {group.id!r}"))
            seen_groups.add(group.id)
        seen_jobs: set[str] = set()
        for i, job in enumerate(self.scheduled_jobs):
            if job.name in seen_jobs:
                errors.append((("scheduled_jobs", i, "name"), f"scheduled job {job.name!r} is listed twice"))
            seen_jobs.add(job.name)
        seen_metrics: set[str] = set()
        for i, metric in enumerate(self.monitoring.metrics):
            if metric.id in seen_metrics:
                errors.append((("monitoring", "metrics", i, "id"), f"duplicate id {metric.id!r}"))
            seen_metrics.add(metric.id)

        seen_stages: set[str] = set()
        for i, stage in enumerate(self.stages):
            if stage in seen_stages:
                errors.append((("stages", i), f"stage {stage!r} is listed twice"))
            seen_stages.add(stage)
        if [s for s in STAGES if s in seen_stages] != [s for s in dict.fromkeys(self.stages)]:
            errors.append((("stages",), f"stages must keep the runbook order: {', '.join(STAGES)}"))
        for i, step in enumerate(self.custom_steps):
            if step.after not in seen_stages:
                errors.append((("custom_steps", i, "after"), f"stage {step.after!r} is not in `stages`"))
        # Sign-offs of a stage the runbook does not run are simply not planned (a rehearsal may skip preflight).
        return errors

    # -----------------------------------------------------------------------------------------------------------------

    def role(self, role_id: str) -> Role:
        return self.roles[role_id]

    def problems(self) -> list[str]:
        """Visible problems that do not make the file invalid but that a release manager must see (and that the
        contacts/guard gates turn into failures): unfilled contacts, a missing org identity expectation, ..."""
        found: list[str] = []
        expect = self.target.expect
        missing = [key for key in ("org_id", "username", "instance_url") if getattr(expect, key) is None]
        if missing:
            found.append(
                f"target.expect: no expected {', '.join(missing)} for org {self.target.alias!r}: "
                "the org identity guard cannot prove this is the right org "
                "(fill them in; `cutover target pin` copies them from the org)"
            )
        if self.target.production and expect.sandbox:
            found.append("target: production is true but target.expect.sandbox is true")
        escalated = {role_id for row in self.alerts.escalation for role_id in row.path}
        signing = {s.role for s in self.signoffs} | {g.role for g in self.checklists.smoke_tests}
        signing |= {self.checklists.post_deploy.role, *self.rollback.approvers, *self.window.exception_approvers}
        for role_id, role in self.roles.items():
            unset = role.unset_fields()
            # A name plus one way to reach them is enough; a missing phone alone is not worth a warning.
            if role.reachable:
                continue
            if role.required:
                why = "required role"
            elif role_id in escalated:
                why = "on the escalation path"
            elif role_id in signing:
                why = "signs off steps"
            else:
                continue
            found.append(
                f"roles.{role_id}: {role.title} ({why}) has no {', '.join(unset)} (TBD): "
                "fill in a name and an email or phone"
            )
        for index, channel in enumerate(self.alerts.channels):
            if channel.url is None:
                found.append(
                    f"alerts.channels[{index}]: {channel.type} channel {channel.target!r} has no url: "
                    "alerts to it are only printed, not sent"
                )
        if self.release.version in ("", "0.0.0"):
            found.append("release.version is not set")
        return found

    def project_problems(self, project_dir: Path) -> list[str]:
        """Problems between the runbook and the project folder it sits in (read-only look at the files)."""
        found: list[str] = []
        project_dir = Path(project_dir)
        if not (project_dir / "sfdx-project.json").is_file():
            found.append(f"no sfdx-project.json in {project_dir}: sf commands need the SFDX project folder")
        if not (project_dir / self.project.source_dir).is_dir():
            found.append(f"project.source_dir: {self.project.source_dir}/ does not exist")
        if self.project.manifest and not (project_dir / self.project.manifest).is_file():
            found.append(
                f"project.manifest: {self.project.manifest} does not exist (validate, deploy and backup use it)"
            )
        return found
