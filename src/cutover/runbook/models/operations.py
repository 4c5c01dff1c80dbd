"""Runbook sections about operations: monitoring, alerts, rollback, known issues, checklists, custom steps."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from cutover.runbook.models._seed import seed_list, seed_text
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
    return [MonitoringMetric.model_validate(metric) for metric in seed_list("monitoring", "metrics")]


class MonitoringConfig(_Model):
    """Seed "Monitoring & Alerts (First 24 Hours)"."""

    duration: Duration = "24h"
    interval: Duration = "15m"
    # Seed Appendix A "View Governor Limits": snapshots the org writes; Name identifies the limit, Value__c is a %.
    # Optional (None: not queried); the org's own /limits, ApexLog failures and scheduled jobs are always watched.
    limits_query: str | None = Field(default_factory=lambda: seed_text("monitoring", "limits_query"))
    # Snapshot Name → threshold key; matched case-insensitively as a prefix of Name.
    snapshot_names: dict[str, LimitName] = Field(
        default_factory=lambda: {"SOQL": "soql", "DML": "dml", "CPU": "cpu", "Heap": "heap"}
    )
    breach_severity: Severity = "HIGH"
    metrics: list[MonitoringMetric] = Field(default_factory=_default_metrics)

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


def _default_channels() -> list[AlertChannel]:
    return [AlertChannel.model_validate(channel) for channel in seed_list("alerts", "channels")]


class EscalationRow(_Model):
    """Seed "Escalation Path": who is paged, in order, and how fast they must respond."""

    severity: Severity
    response_time: Duration
    path: list[RoleId] = Field(min_length=1)


def _default_escalation() -> list[EscalationRow]:
    return [
        EscalationRow(severity="CRITICAL", response_time="15m", path=["deployment_lead", "cto"]),
        EscalationRow(severity="HIGH", response_time="1h", path=["deployment_lead", "engineering_manager"]),
        EscalationRow(severity="MEDIUM", response_time="4h", path=["customer_support", "deployment_lead"]),
        EscalationRow(severity="LOW", response_time="24h", path=["customer_support"]),
    ]


class AlertsConfig(_Model):
    channels: list[AlertChannel] = Field(default_factory=_default_channels)
    escalation: list[EscalationRow] = Field(default_factory=_default_escalation)
    # Seed "Appendix B: Emergency Contacts > Internal Escalation", in order.
    internal_escalation: list[RoleId] = Field(
        default_factory=lambda: ["deployment_lead", "engineering_manager", "vp_engineering", "cto"]
    )

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
    return [
        RollbackTrigger(id="critical-functionality-broken", description="Critical functionality broken"),
        RollbackTrigger(id="users-locked-out", description=">10% of users unable to access system"),
        RollbackTrigger(id="data-integrity", description="Data integrity issues"),
        RollbackTrigger(id="security-vulnerability", description="Security vulnerabilities discovered"),
        RollbackTrigger(
            id="verification-failed",
            description="Post-deployment verification failed (tests, coverage, failure logs, scheduled jobs)",
            automatic=True,
        ),
    ]


class QuickRollback(_Model):
    """Seed "Quick Rollback (Option 1)": redeploy the backup. cutover also deletes what the release added, which a
    plain redeploy leaves behind, and re-creates scheduled jobs the deploy may have aborted."""

    duration: str = "15-30 minutes"
    test_level: TestLevel = "RunLocalTests"
    remove_added_components: bool = True
    recreate_scheduled_jobs: bool = True


class DestructiveOption(_Model):
    """Seed "Destructive Rollback (Option 2)": only if schema changes were made and Option 1 fails."""

    description: str = (
        "Use only if schema changes were made and Option 1 fails: ask Salesforce Support for an org restore."
    )
    contact: str = "Salesforce Support: 1-800-NO-SOFTWARE (1-800-667-6389)"
    premier_support: str = "Premier Success Support: available 24/7 for P1 issues"
    priority: str = "P1 - Critical"
    include: list[str] = Field(default_factory=lambda: ["Org ID", "Backup timestamp", "Reason for restore"])


class RollbackConfig(_Model):
    triggers: list[RollbackTrigger] = Field(default_factory=_default_triggers)
    automatic_on_verification_failure: bool = True
    approvers: list[RoleId] = Field(default_factory=lambda: ["deployment_lead"])
    quick: QuickRollback = QuickRollback()
    destructive_option: DestructiveOption = DestructiveOption()


class KnownIssue(_Model):
    id: Identifier
    title: str
    symptom: str
    workaround: str
    permanent_fix: str = ""


def _default_known_issues() -> list[KnownIssue]:
    return [KnownIssue.model_validate(issue) for issue in seed_list("known_issues")]


class ChecklistGroup(_Model):
    """A titled group of checklist items attested together by one role."""

    id: Identifier
    title: str
    role: RoleId = "qa_lead"
    items: list[str] = Field(min_length=1)
    blocking: bool = True


def _default_smoke_tests() -> list[ChecklistGroup]:
    return [ChecklistGroup.model_validate(group) for group in seed_list("checklists", "smoke_tests")]


class PostDeployChecklists(_Model):
    """Seed "Post-Deployment Checklist": Immediate (within 1 hour), First 24 Hours, First Week."""

    within_1h: list[str] = Field(default_factory=lambda: seed_list("checklists", "post_deploy", "within_1h"))
    first_24h: list[str] = Field(default_factory=lambda: seed_list("checklists", "post_deploy", "first_24h"))
    first_week: list[str] = Field(default_factory=lambda: seed_list("checklists", "post_deploy", "first_week"))
    role: RoleId = "deployment_lead"


class ChecklistsConfig(_Model):
    smoke_tests: list[ChecklistGroup] = Field(default_factory=_default_smoke_tests)
    post_deploy: PostDeployChecklists = PostDeployChecklists()
    post_rollback: list[str] = Field(
        default_factory=lambda: [
            "Notify all stakeholders of rollback",
            "Create incident post-mortem document",
            "Schedule retrospective meeting",
            "Update deployment checklist based on lessons learned",
            "Fix issues in sandbox before next deployment attempt",
        ]
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
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None

    @property
    def timeout_seconds(self) -> int:
        return int(parse_duration(self.timeout).total_seconds())
