"""Runbook sections about operations: monitoring, alerts, rollback, known issues, checklists, custom steps."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from cutover.runbook.models._defaults import default, default_list
from cutover.runbook.models._types import (
    Command,
    Duration,
    Identifier,
    LimitName,
    LocatedValueError,
    RoleId,
    Severity,
    Stage,
    TestLevel,
    _Model,
    parse_duration,
)


class MonitoringMetric(_Model):
    """One of the seed's "Critical Metrics to Monitor". `check: limit` compares a governor-limit snapshot with
    `thresholds.limits`; `check: query` runs `query` and compares its record count with `expect`;
    `check: manual` is attested by a person at the end of the monitoring window."""

    id: Identifier
    group: str
    title: str
    check: Literal["limit", "query", "manual"] = "manual"
    limit: LimitName | None = None
    query: str | None = None
    expect: Literal["nonzero", "zero"] | None = None
    severity: Severity = "HIGH"

    @model_validator(mode="after")
    def _consistent(self) -> MonitoringMetric:
        if self.check == "limit" and self.limit is None:
            raise LocatedValueError(("limit",), "a metric with check: limit must name the limit (soql, dml, cpu, heap)")
        if self.check == "query" and not self.query:
            raise LocatedValueError(("query",), "a metric with check: query must have a query")
        return self


def _default_metrics() -> list[MonitoringMetric]:
    return [MonitoringMetric.model_validate(metric) for metric in default_list("monitoring", "metrics")]


class MonitoringConfig(_Model):
    """Seed "Monitoring & Alerts (First 24 Hours)"."""

    duration: Duration = "24h"
    interval: Duration = "15m"
    # A query of governor-limit snapshots the org writes itself (Name identifies the limit, Value__c is a %).
    # Optional (None: not queried); the org's own /limits, ApexLog failures and scheduled jobs are always watched.
    limits_query: str | None = None
    # Snapshot Name → threshold key; matched case-insensitively as a prefix of Name.
    snapshot_names: dict[str, LimitName] = Field(default_factory=dict, max_length=100)
    breach_severity: Severity = "HIGH"
    metrics: list[MonitoringMetric] = Field(default_factory=_default_metrics, max_length=200)

    @model_validator(mode="after")
    def _interval_fits(self) -> MonitoringConfig:
        if parse_duration(self.interval) > parse_duration(self.duration):
            raise LocatedValueError(
                ("interval",), f"the interval ({self.interval}) is longer than the duration ({self.duration})"
            )
        return self

    @property
    def duration_seconds(self) -> int:
        return int(parse_duration(self.duration).total_seconds())

    @property
    def interval_seconds(self) -> int:
        return int(parse_duration(self.interval).total_seconds())


class AlertChannel(_Model):
    """Seed "Alert Channels". `url` is an apprise URL (mailto://, slack://, pagerduty://, json://...) that the notify
    layer sends to; `target` is what people read. Put secrets (webhook tokens) in the environment: `${ENV_VAR}`."""

    id: Identifier
    type: Literal["email", "slack", "pagerduty", "teams", "webhook", "apprise"]
    target: str
    url: str | None = None
    min_severity: Severity = "LOW"


class EscalationRow(_Model):
    """Seed "Escalation Path": who is paged, in order, and how fast they must respond."""

    severity: Severity
    response_time: Duration
    path: list[RoleId] = Field(min_length=1)


def _default_escalation() -> list[EscalationRow]:
    return [EscalationRow.model_validate(row) for row in default_list("alerts", "escalation")]


class AlertsConfig(_Model):
    channels: list[AlertChannel] = Field(default_factory=list, max_length=100)
    escalation: list[EscalationRow] = Field(default_factory=_default_escalation, max_length=4)
    # Who is called, in order, when nobody on the escalation path answers.
    internal_escalation: list[RoleId] = Field(default_factory=lambda: ["deployment_lead"], max_length=100)

    @model_validator(mode="after")
    def _unique(self) -> AlertsConfig:
        seen: set[str] = set()
        for index, row in enumerate(self.escalation):
            if row.severity in seen:
                raise LocatedValueError(("escalation", index, "severity"), f"severity {row.severity} is listed twice")
            seen.add(row.severity)
        ids: set[str] = set()
        for index, channel in enumerate(self.channels):
            if channel.id in ids:
                raise LocatedValueError(("channels", index, "id"), f"duplicate channel id {channel.id!r}")
            ids.add(channel.id)
        return self

    def escalation_for(self, severity: str) -> EscalationRow | None:
        return next((row for row in self.escalation if row.severity == severity), None)


class RollbackTrigger(_Model):
    id: Identifier
    description: str
    automatic: bool = False  # True: cutover itself detects it (verification failure) and rolls back


def _default_triggers() -> list[RollbackTrigger]:
    return [RollbackTrigger.model_validate(trigger) for trigger in default_list("rollback", "triggers")]


class QuickRollback(_Model):
    """Seed "Quick Rollback (Option 1)": redeploy the backup. cutover also deletes what the release added, which a
    plain redeploy leaves behind, and re-creates scheduled jobs the deploy may have aborted."""

    duration: str = "15-30 minutes"
    test_level: TestLevel = "RunLocalTests"
    remove_added_components: bool = True
    recreate_scheduled_jobs: bool = True


class DestructiveOption(_Model):
    """Seed "Destructive Rollback (Option 2)": only if schema changes were made and Option 1 fails."""

    description: str = Field(default_factory=lambda: _destructive_text("description"))
    contact: str = Field(default_factory=lambda: _destructive_text("contact"))
    premier_support: str = Field(default_factory=lambda: _destructive_text("premier_support"))
    priority: str = "P1 - Critical"
    include: list[str] = Field(
        default_factory=lambda: ["Org ID", "Backup timestamp", "Reason for restore"], max_length=100
    )


def _destructive_text(key: str) -> str:
    return str(default("rollback", "destructive_option", key))


class RollbackConfig(_Model):
    triggers: list[RollbackTrigger] = Field(default_factory=_default_triggers, max_length=100)
    automatic_on_verification_failure: bool = True
    approvers: list[RoleId] = Field(default_factory=lambda: ["deployment_lead"], max_length=100)
    quick: QuickRollback = QuickRollback()
    destructive_option: DestructiveOption = DestructiveOption()


class KnownIssue(_Model):
    id: Identifier
    title: str
    symptom: str
    workaround: str
    permanent_fix: str = ""


class ChecklistGroup(_Model):
    """A titled group of checklist items attested together by one role."""

    id: Identifier
    title: str
    role: RoleId = "qa_lead"
    items: list[str] = Field(min_length=1, max_length=1000)
    blocking: bool = True


def _default_smoke_tests() -> list[ChecklistGroup]:
    return [ChecklistGroup.model_validate(group) for group in default_list("checklists", "smoke_tests")]


class PostDeployChecklists(_Model):
    """Seed "Post-Deployment Checklist": Immediate (within 1 hour), First 24 Hours, First Week."""

    within_1h: list[str] = Field(default_factory=lambda: _post_deploy("within_1h"), max_length=1000)
    first_24h: list[str] = Field(default_factory=lambda: _post_deploy("first_24h"), max_length=1000)
    first_week: list[str] = Field(default_factory=lambda: _post_deploy("first_week"), max_length=1000)
    role: RoleId = "deployment_lead"


def _post_deploy(key: str) -> list[str]:
    return [str(item) for item in default_list("checklists", "post_deploy", key)]


class ChecklistsConfig(_Model):
    smoke_tests: list[ChecklistGroup] = Field(default_factory=_default_smoke_tests, max_length=100)
    post_deploy: PostDeployChecklists = PostDeployChecklists()
    post_rollback: list[str] = Field(
        default_factory=lambda: [str(item) for item in default_list("checklists", "post_rollback")], max_length=1000
    )


class CustomStep(_Model):
    """A project command run by the engine after a stage (data migrations, rehearsal hooks, ...)."""

    id: Identifier
    title: str = ""
    after: Stage
    run: Command
    timeout: Duration = "10m"
    idempotent: bool = False
    blocking: bool = True
    env: dict[str, str] = Field(default_factory=dict, max_length=100)
    cwd: str | None = None

    @property
    def timeout_seconds(self) -> int:
        return int(parse_duration(self.timeout).total_seconds())
