"""The runbook file (`cutover.yaml`) as pydantic models.

Every section is optional except `target`, and every default comes from the Elaro production runbook
(`shared/seed/elaro-production-runbook.md`), so a three-line file is a valid runbook that behaves like the seed.
Unknown keys are errors (`extra="forbid"`): a typo in a threshold must not silently fall back to a default.

Cross-references (a sign-off naming a role, a custom step placed after a stage) are checked in
`Runbook._check_references`, which raises `LocatedValueError` so the loader can point at the offending key's line.
"""

from __future__ import annotations

import re
import shlex
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

# ---------------------------------------------------------------------------------------------------------------------
# Small value types
# ---------------------------------------------------------------------------------------------------------------------

STAGES: tuple[str, ...] = (
    "preflight",
    "guard",
    "backup",
    "release",
    "validate",
    "deploy",
    "verify",
    "monitor",
    "post_deploy",
)
Stage = Literal["preflight", "guard", "backup", "release", "validate", "deploy", "verify", "monitor", "post_deploy"]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Severity = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW"]
TestLevel = Literal["NoTestRun", "RunSpecifiedTests", "RunLocalTests", "RunAllTestsInOrg"]
LimitName = Literal["soql", "dml", "cpu", "heap"]

_ID_RE = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
_DURATION_RE = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_PLACEHOLDER_RE = re.compile(r"{([^{}]*)}")

#: What counts as "nobody filled this in" in a contact field.
UNSET_CONTACT_VALUES = frozenset({"", "tbd", "tba", "n/a", "todo", "?"})


class LocatedValueError(ValueError):
    """A validation error that knows which key (below the model that raised it) is at fault.

    pydantic keeps the exception object in the error's `ctx["error"]`; the loader appends `loc` to the error's own
    location so the message names e.g. `signoffs[3].role` and its line, not just the top of the file.
    """

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


def _identifier(value: str) -> str:
    if not _ID_RE.match(value):
        raise ValueError(f"{value!r} is not a valid id (use lower-case letters, digits, '-' or '_')")
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]
RoleId = Identifier


def parse_duration(text: str) -> timedelta:
    """'24h', '15m', '1h30m', '2d', '45s', '1w' → timedelta. Raises ValueError on anything else."""
    match = _DURATION_RE.match(text.strip())
    if not text.strip() or not match or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration (examples: 30s, 15m, 1h30m, 24h, 2d)")
    weeks, days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


def _duration(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 15m or 24h")
    if isinstance(value, int):  # bare numbers are seconds, like `timeout: 600`
        if value <= 0:
            raise ValueError("a duration must be positive")
        return f"{value}s"
    if isinstance(value, str):
        if parse_duration(value) <= timedelta(0):
            raise ValueError("a duration must be positive")
        return value.strip()
    raise ValueError("expected a duration such as 15m or 24h")


#: A duration kept as the user wrote it ("24h"), validated; use `parse_duration()` to compute with it.
Duration = Annotated[str, BeforeValidator(_duration)]


def _clock_time(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        # YAML 1.1 readers turn 18:00 into 1080 (sexagesimal); accept it rather than confuse people.
        return f"{value // 60:02d}:{value % 60:02d}"
    if not isinstance(value, str) or not _TIME_RE.match(value.strip()):
        raise ValueError(f'{value!r} is not a time of day in 24-hour HH:MM form (e.g. "18:00")')
    return value.strip()


ClockTime = Annotated[str, BeforeValidator(_clock_time)]


def _percentage(value: Any) -> Any:
    if isinstance(value, str) and value.strip().endswith("%"):
        value = value.strip()[:-1].strip()
        try:
            value = float(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a percentage") from exc
    return value


Percentage = Annotated[float, BeforeValidator(_percentage), Field(ge=0, le=100)]


def _command(value: Any) -> Any:
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("a command cannot be empty")
        try:
            shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"cannot split command {value!r}: {exc}") from exc
        return value
    if isinstance(value, list):
        if not value or not all(isinstance(part, str) for part in value) or not value[0].strip():
            raise ValueError("a command list must be a non-empty list of strings (argv)")
        return value
    raise ValueError("expected a command string or an argv list of strings")


#: A command: a string (split like a POSIX shell, never run through one) or an argv list.
Command = Annotated[str | list[str], BeforeValidator(_command)]


def command_argv(command: str | list[str]) -> list[str]:
    """The argv of a Command (strings are split like a POSIX shell but never run through one)."""
    return shlex.split(command) if isinstance(command, str) else list(command)


def command_text(command: str | list[str]) -> str:
    """A Command as one printable line."""
    return command if isinstance(command, str) else shlex.join(command)


def is_unset_contact(value: str | None) -> bool:
    return value is None or value.strip().lower() in UNSET_CONTACT_VALUES


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# ---------------------------------------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------------------------------------


def _check_placeholders(value: str, allowed: set[str]) -> str:
    for name in _PLACEHOLDER_RE.findall(value):
        if name not in allowed:
            raise ValueError(
                f"unknown placeholder {{{name}}} (allowed: {', '.join(sorted('{' + a + '}' for a in allowed))})"
            )
    return value


class ReleaseConfig(_Model):
    """Seed "3. Create Deployment Branch": release branch from an up-to-date main, annotated tag, push."""

    version: str = "3.0.0"
    base_branch: str = "main"
    branch: str = "release/v{version}"
    tag: str = "v{version}"
    tag_message: str = "Production release v{version} - {date}"
    remote: str = "origin"
    push: bool = True

    @model_validator(mode="after")
    def _placeholders(self) -> ReleaseConfig:
        allowed = {"version", "date"}
        for key in ("branch", "tag", "tag_message"):
            try:
                _check_placeholders(getattr(self, key), allowed)
            except ValueError as exc:
                raise LocatedValueError((key,), str(exc)) from None
        return self

    def _fill(self, template: str, when: datetime | None) -> str:
        when = when or datetime.now()
        return template.replace("{version}", self.version).replace("{date}", when.strftime("%Y%m%d"))

    def branch_name(self, when: datetime | None = None) -> str:
        return self._fill(self.branch, when)

    def tag_name(self, when: datetime | None = None) -> str:
        return self._fill(self.tag, when)

    def tag_text(self, when: datetime | None = None) -> str:
        when = when or datetime.now()
        return self.tag_message.replace("{version}", self.version).replace("{date}", when.strftime("%Y-%m-%d"))


class ProjectCommands(_Model):
    """Seed "Code Quality" and "Testing": the project's own commands (run as argv, never through a shell)."""

    test_all: Command | None = "npm run test:all"
    lint: Command | None = "npm run lint"
    fmt_check: Command | None = "npm run fmt:check"
    test_unit: Command | None = "npm run test:unit"


class DocsConfig(_Model):
    """Seed "Documentation": files that must be current for the release."""

    readme: str | None = "README.md"
    changelog: str | None = "CHANGELOG.md"
    api_docs: str | None = None  # "(if applicable)": checked only when set
    readme_mentions_version: bool = True
    changelog_mentions_version: bool = True


class ProjectConfig(_Model):
    source_dir: str = "force-app"
    manifest: str | None = "manifest/package.xml"
    commands: ProjectCommands = ProjectCommands()
    docs: DocsConfig = DocsConfig()
    # Where `npm run test:unit` (jest --coverage) leaves its json-summary; read by the LWC coverage gate.
    lwc_coverage_summary: str = "coverage/coverage-summary.json"
    backup_dir: str = "backups"
    logs_dir: str = "logs"


class SfConfig(_Model):
    binary: str | None = None  # override of the sf CLI (else $CUTOVER_SF, else `sf` on PATH)
    wait_minutes: int = Field(default=33, ge=1, le=1440)
    api_version: str | None = Field(default=None, pattern=r"^\d{2,3}\.0$")
    test_level: TestLevel = "RunLocalTests"
    # Org where the pre-deployment Apex tests run (a full sandbox). Unset: the coverage gate reads the validation.
    test_org: str | None = None


class OrgExpectation(_Model):
    """Seed "2. Verify Production Org Connection": what the RIGHT org looks like. Missing values are problems."""

    org_id: str | None = Field(default=None, pattern=r"^00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$")
    username: str | None = None
    instance_url: str | None = Field(default=None, pattern=r"^https?://[^\s/]+(?:/\S*)?$")
    sandbox: bool | None = False


class TargetConfig(_Model):
    alias: str = Field(min_length=1, pattern=r"^\S+$")  # an sf alias or username
    expect: OrgExpectation = OrgExpectation()
    production: bool = True


class WindowConfig(_Model):
    """Seed "Recommended Deployment Window": Friday 6:00 PM - 10:00 PM EST, 2-4 hours."""

    # The seed says EST; America/New_York follows daylight saving time (EDT in summer), which is what people mean.
    timezone: str = "America/New_York"
    days: Annotated[
        list[Annotated[Weekday, BeforeValidator(lambda v: v.strip().lower() if isinstance(v, str) else v)]],
        BeforeValidator(lambda v: [v] if isinstance(v, str) else v),  # `days: friday` means [friday]
    ] = Field(default_factory=lambda: ["friday"], min_length=1)
    start: ClockTime = "18:00"
    end: ClockTime = "22:00"
    duration_hours: float = Field(default=4, gt=0, le=24)  # upper estimate (seed: 2-4 hours)
    enforce: bool = True
    exception_approvers: list[RoleId] = Field(default_factory=lambda: ["deployment_lead"])

    @model_validator(mode="after")
    def _valid(self) -> WindowConfig:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise LocatedValueError(
                ("timezone",), f"unknown time zone {self.timezone!r} (use an IANA name such as America/New_York)"
            ) from None
        if self.start == self.end:
            raise LocatedValueError(("end",), "the window ends when it starts")
        if self.duration_hours > self.length_hours + 1e-9:
            raise LocatedValueError(
                ("duration_hours",),
                f"the estimated duration ({self.duration_hours:g} h) does not fit the window ({self.length_hours:g} h)",
            )
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def start_time(self) -> time:
        return time.fromisoformat(self.start)

    @property
    def end_time(self) -> time:
        return time.fromisoformat(self.end)

    @property
    def length_hours(self) -> float:
        start = self.start_time.hour * 60 + self.start_time.minute
        end = self.end_time.hour * 60 + self.end_time.minute
        return ((end - start) % (24 * 60)) / 60

    def is_open(self, at: datetime) -> bool:
        """Whether the window is open at `at` (aware datetime; naive means the window's own zone).

        A window whose end is before its start runs past midnight and belongs to the day it starts on.
        """
        local = at.replace(tzinfo=self.tz) if at.tzinfo is None else at.astimezone(self.tz)
        now = local.time().replace(second=0, microsecond=0)
        today = WEEKDAYS[local.weekday()]
        yesterday = WEEKDAYS[(local.weekday() - 1) % 7]
        if self.start_time < self.end_time:
            return today in self.days and self.start_time <= now < self.end_time
        return (today in self.days and now >= self.start_time) or (yesterday in self.days and now < self.end_time)

    def describe(self) -> str:
        days = ", ".join(d.capitalize() for d in self.days)
        return f"{days} {self.start}-{self.end} {self.timezone}"


class Role(_Model):
    """Seed "Team Roles" and "Deployment Contacts". `TBD` is allowed but reported by `Runbook.problems()`."""

    title: str
    responsibility: str = ""
    name: str = "TBD"
    email: str = "TBD"
    phone: str = "TBD"
    required: bool = True

    def unset_fields(self) -> list[str]:
        return [key for key in ("name", "email", "phone") if is_unset_contact(getattr(self, key))]

    @property
    def reachable(self) -> bool:
        return not is_unset_contact(self.name) and not (is_unset_contact(self.email) and is_unset_contact(self.phone))


def _default_roles() -> dict[str, Role]:
    return {
        "deployment_lead": Role(title="Deployment Lead", responsibility="Overall coordination"),
        "developer": Role(title="Developer", responsibility="Technical execution"),
        "qa_lead": Role(title="QA Lead", responsibility="Post-deployment validation"),
        "security_reviewer": Role(title="Security Reviewer", responsibility="Security sign-off"),
        "customer_support": Role(title="Customer Support", responsibility="User communication"),
        "engineering_manager": Role(title="Engineering Manager", responsibility="Escalation (HIGH)"),
        "security_lead": Role(title="Security Lead", responsibility="Security escalation"),
        "vp_engineering": Role(title="VP of Engineering", responsibility="Internal escalation", required=False),
        "cto": Role(title="CTO", responsibility="Escalation (CRITICAL)", required=False),
    }


class SeparationOfDuties(_Model):
    """Pairs (or groups) of roles that must be held by different people in one run."""

    exclusive: list[Annotated[list[RoleId], Field(min_length=2)]] = Field(
        default_factory=lambda: [
            ["developer", "security_reviewer"],
            ["deployment_lead", "security_reviewer"],
            ["developer", "qa_lead"],
        ]
    )
    reviewer_not_author: bool = True


class ReviewsConfig(_Model):
    """Seed "Code review completed (minimum 2 reviewers)"."""

    min_approvals: int = Field(default=2, ge=0, le=20)


class LimitThresholds(_Model):
    """Seed "Governor Limits Dashboard": alert at or above these percentages of each limit."""

    soql: Percentage = 80
    dml: Percentage = 80
    cpu: Percentage = 75
    heap: Percentage = 70


class Thresholds(_Model):
    apex_coverage: Percentage = 85
    lwc_coverage: Percentage = 80
    test_pass_rate: Percentage = 100  # seed "All tests pass (100%)"
    limits: LimitThresholds = LimitThresholds()


class SecretsConfig(_Model):
    baseline: str | None = ".secrets.baseline"
    # The seed's grep: `grep -r "password\|api_key\|secret" --exclude-dir=node_modules`
    patterns: list[str] = Field(default_factory=lambda: ["password", "api_key", "secret"])
    exclude_dirs: list[str] = Field(default_factory=lambda: ["node_modules", ".sfdx", ".sf", ".cutover", "backups"])


class SecurityConfig(_Model):
    """Seed "Security Verification": rules the Apex scanner enforces."""

    soql_enforcement: list[Literal["SECURITY_ENFORCED", "USER_MODE"]] = Field(
        default_factory=lambda: ["SECURITY_ENFORCED", "USER_MODE"], min_length=1
    )
    crud_guards: list[str] = Field(default_factory=lambda: ["ElaroSecurityUtils.validateCRUDAccess"])
    strip_methods: list[str] = Field(
        default_factory=lambda: ["ElaroSecurityUtils.stripInaccessibleFields", "Security.stripInaccessible"]
    )
    scan_paths: list[str] = Field(default_factory=lambda: ["force-app"])
    skip_test_classes: bool = True
    # Apex scanner rule id -> "error" (fails the gate), "warning" (reported, does not fail) or "off" (not run).
    # Rules not named keep "error". The scanner validates the ids (cutover.checks.apex.config.RULE_IDS).
    rules: dict[str, Literal["error", "warning", "off"]] = Field(default_factory=dict)
    secrets: SecretsConfig = SecretsConfig()


class Signoff(_Model):
    """A manual checklist item: a named person in `role` attests it, with evidence when required."""

    id: Identifier
    title: str
    role: RoleId
    stage: Stage = "preflight"
    evidence_required: bool = False
    blocking: bool = True
    description: str = ""
    source: str = ""  # the seed section it comes from


def _default_signoffs() -> list[Signoff]:
    pre = "Pre-Deployment Checklist"
    return [
        Signoff(
            id="security-review",
            title="Security review completed by designated security reviewer",
            role="security_reviewer",
            evidence_required=True,
            source=f"{pre} > Security Verification",
        ),
        Signoff(
            id="sandbox-permission-test",
            title="Permission sets updated and tested in sandbox",
            role="qa_lead",
            evidence_required=True,
            source=f"{pre} > Security Verification",
        ),
        Signoff(
            id="manual-testing",
            title="Manual testing completed in full sandbox",
            role="qa_lead",
            evidence_required=True,
            source=f"{pre} > Testing",
        ),
        Signoff(
            id="load-testing",
            title="Load testing with 1000+ compliance records completed",
            role="qa_lead",
            evidence_required=True,
            source=f"{pre} > Testing",
        ),
        Signoff(
            id="restricted-profile-testing",
            title="Security testing with restricted user profiles completed",
            role="security_reviewer",
            evidence_required=True,
            source=f"{pre} > Testing",
        ),
        Signoff(
            id="governor-monitoring-verified",
            title="Governor limit monitoring verified (System Monitor Dashboard)",
            role="developer",
            source=f"{pre} > Testing",
        ),
        Signoff(
            id="api-docs",
            title="API documentation current (if applicable)",
            role="developer",
            source=f"{pre} > Documentation",
        ),
        Signoff(
            id="deployment-notes",
            title="Deployment notes documented (this file)",
            role="deployment_lead",
            source=f"{pre} > Documentation",
        ),
        Signoff(
            id="stakeholder-notification",
            title="Deployment notification sent to all stakeholders",
            role="deployment_lead",
            source=f"{pre} > Stakeholder Communication",
        ),
        Signoff(
            id="rollback-team-standby",
            title="Rollback team identified and on standby",
            role="deployment_lead",
            source=f"{pre} > Stakeholder Communication",
        ),
        Signoff(
            id="support-briefed",
            title="Customer support team briefed on changes",
            role="customer_support",
            source=f"{pre} > Stakeholder Communication",
        ),
    ]


_CRON_FIELD_RE = re.compile(r"^[0-9A-Za-z*?/,#LW-]+$")


def _cron(value: str) -> str:
    fields = value.split()
    if len(fields) not in (6, 7) or not all(_CRON_FIELD_RE.match(f) for f in fields):
        raise ValueError(
            f"{value!r} is not a Salesforce cron expression "
            "(Seconds Minutes Hours Day_of_month Month Day_of_week [Year], e.g. '0 0 2 * * ?')"
        )
    return value


class ScheduledJob(_Model):
    """Seed "Scheduled Jobs Verification". Salesforce cron fires at most hourly per CronTrigger, so a job that runs
    every 15 minutes is four CronTriggers (`crons`); each is expected in state WAITING with a NextFireTime.

    `name` is the CronJobDetail.Name, matched as a prefix (a job with four crons is scheduled as
    "ElaroAuditTrailPoller :00", "ElaroAuditTrailPoller :15", ...).
    """

    name: str = Field(min_length=1)
    class_name: str | None = Field(default=None, alias="class")
    frequency: str
    crons: list[Annotated[str, AfterValidator(_cron)]] = Field(min_length=1)
    purpose: str = ""
    verification: str = ""
    verification_query: str | None = None
    expected_state: str = "WAITING"


def _default_scheduled_jobs() -> list[ScheduledJob]:
    return [
        ScheduledJob(
            name="ElaroAuditTrailPoller",
            class_name="ElaroAuditTrailPoller",
            frequency="Every 15 min",
            crons=["0 0 * * * ?", "0 15 * * * ?", "0 30 * * * ?", "0 45 * * * ?"],
            purpose="Poll audit trail events",
            verification="Check `Elaro_Audit_Log__c` for recent records",
            verification_query="SELECT COUNT() FROM Elaro_Audit_Log__c WHERE CreatedDate = TODAY",
        ),
        ScheduledJob(
            name="RetentionEnforcementScheduler",
            class_name="RetentionEnforcementScheduler",
            frequency="Daily 2 AM",
            crons=["0 0 2 * * ?"],
            purpose="Enforce data retention",
            verification="Check scheduler last run time",
        ),
        ScheduledJob(
            name="ConsentExpirationScheduler",
            class_name="ConsentExpirationScheduler",
            frequency="Daily 3 AM",
            crons=["0 0 3 * * ?"],
            purpose="Check consent expiration",
            verification="Verify consent records processed",
        ),
        ScheduledJob(
            name="ElaroCCPASLAMonitorScheduler",
            class_name="ElaroCCPASLAMonitorScheduler",
            frequency="Hourly",
            crons=["0 0 * * * ?"],
            purpose="Monitor CCPA SLA",
            verification="Check SLA violations count",
        ),
        ScheduledJob(
            name="ElaroGLBAAnnualNoticeBatch",
            class_name="ElaroGLBAAnnualNoticeBatch",
            frequency="Yearly",
            crons=["0 0 0 1 1 ?"],
            purpose="GLBA annual notice",
            verification="Verify scheduled for next year",
        ),
    ]


class VerifyConfig(_Model):
    """Seed "Step 3: Post-Deployment Verification" (3.2 automated verification, 3.3 monitor for errors)."""

    run_tests: bool = True
    test_level: TestLevel = "RunLocalTests"
    log_watch: Duration = "30m"  # "Check Debug Logs (First 30 minutes)"
    # The seed filters `Status = 'Failure' AND CreatedDate = TODAY`, which a real org rejects: ApexLog has no
    # CreatedDate (it has StartTime), and Status holds 'Success' or the exception text, never 'Failure'.
    apex_log_query: str = (
        "SELECT Id, Request, Operation, Status, DurationMilliseconds FROM ApexLog "
        "WHERE Status != 'Success' AND StartTime = TODAY ORDER BY StartTime DESC LIMIT 10"
    )
    max_failure_logs: int = Field(default=0, ge=0)
    permission_set_query: str = (
        "SELECT Id, Assignee.Name, PermissionSet.Name FROM PermissionSetAssignment "
        "WHERE PermissionSet.Name LIKE 'Elaro%'"
    )
    min_permission_set_assignments: int = Field(default=1, ge=0)
    # Re-create missing/aborted scheduled jobs with `sf apex run` during verification (unset: only when
    # target.production is false, i.e. rehearsals; in production an operator decides).
    recreate_missing_jobs: bool | None = None


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
    gov, gaps, audit, access = (
        "Governor Limits Dashboard",
        "Compliance Gap Activity",
        "Audit Trail Logging",
        "User Access",
    )
    return [
        MonitoringMetric(id="soql", group=gov, title="SOQL queries", check="limit", limit="soql"),
        MonitoringMetric(id="dml", group=gov, title="DML statements", check="limit", limit="dml"),
        MonitoringMetric(id="cpu", group=gov, title="CPU time", check="limit", limit="cpu"),
        MonitoringMetric(id="heap", group=gov, title="Heap size", check="limit", limit="heap"),
        MonitoringMetric(id="gaps-created", group=gaps, title="New gaps being created successfully"),
        MonitoringMetric(id="gap-transitions", group=gaps, title="Gap status transitions working"),
        MonitoringMetric(id="remediation-workflows", group=gaps, title="Remediation workflows executing"),
        MonitoringMetric(
            id="audit-logs-created",
            group=audit,
            title="Audit logs being created",
            check="query",
            query="SELECT Id FROM Elaro_Audit_Log__c WHERE CreatedDate = TODAY LIMIT 1",
            expect="nonzero",
            severity="CRITICAL",
        ),
        MonitoringMetric(id="retention-enforced", group=audit, title="Retention policies enforced"),
        MonitoringMetric(id="audit-no-gaps", group=audit, title="No gaps in audit trail", severity="CRITICAL"),
        MonitoringMetric(id="users-login", group=access, title="Users can login successfully", severity="CRITICAL"),
        MonitoringMetric(id="permission-sets-applied", group=access, title="Permission sets applied correctly"),
        MonitoringMetric(id="fls-not-blocking", group=access, title="FLS checks not blocking legitimate access"),
    ]


class MonitoringConfig(_Model):
    """Seed "Monitoring & Alerts (First 24 Hours)"."""

    duration: Duration = "24h"
    interval: Duration = "15m"
    # Seed Appendix A "View Governor Limits": snapshots the org writes; Name identifies the limit, Value__c is a %.
    limits_query: str = (
        "SELECT Id, Name, Value__c FROM Governor_Limit_Snapshot__c WHERE CreatedDate = TODAY "
        "ORDER BY CreatedDate DESC LIMIT 10"
    )
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
    return [
        AlertChannel(id="email", type="email", target="ops-team@solentra.com"),
        AlertChannel(id="slack", type="slack", target="#elaro-production-alerts"),
        AlertChannel(id="pagerduty", type="pagerduty", target="Production on-call rotation", min_severity="HIGH"),
    ]


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
    return [
        KnownIssue(
            id="large-data-volume",
            title="Large Data Volume Performance",
            symptom="Dashboard loads slowly with >10,000 compliance gaps",
            workaround='Enable pagination, set default filter to "Last 90 Days"',
            permanent_fix="Planned for v3.1 (scheduled query optimization)",
        ),
        KnownIssue(
            id="pdf-timeout",
            title="PDF Generation Timeout",
            symptom="PDF export fails for reports >100 pages",
            workaround="Split report into smaller date ranges",
            permanent_fix="Planned for v3.1 (async PDF generation)",
        ),
    ]


class ChecklistGroup(_Model):
    """A titled group of checklist items attested together by one role."""

    id: Identifier
    title: str
    role: RoleId = "qa_lead"
    items: list[str] = Field(min_length=1)
    blocking: bool = True


def _default_smoke_tests() -> list[ChecklistGroup]:
    return [
        ChecklistGroup(
            id="login-navigation",
            title="Login & Navigation",
            items=["Login to production org", "Navigate to Elaro app", "Verify app loads without errors"],
        ),
        ChecklistGroup(
            id="compliance-dashboard",
            title="Compliance Dashboard",
            items=[
                "Navigate to Compliance Dashboard",
                "Verify dashboard widgets load",
                "Check compliance gaps display correctly",
                "Verify no console errors (F12 Developer Tools)",
            ],
        ),
        ChecklistGroup(
            id="core-functionality",
            title="Core Functionality",
            items=[
                "Create test compliance gap (manually)",
                "Verify gap appears in dashboard",
                "Verify audit trail logging works",
                "Test quick actions (if available)",
            ],
        ),
        ChecklistGroup(
            id="system-monitor",
            title="System Monitor Dashboard",
            items=[
                "Navigate to System Monitor Dashboard",
                "Verify governor limit gauges display",
                "Check API usage metrics",
                "Verify no alerts triggered",
            ],
        ),
    ]


class PostDeployChecklists(_Model):
    """Seed "Post-Deployment Checklist": Immediate (within 1 hour), First 24 Hours, First Week."""

    within_1h: list[str] = Field(
        default_factory=lambda: [
            "Smoke tests passed",
            "Automated tests passed",
            "No critical errors in logs",
            "System Monitor Dashboard shows healthy metrics",
            "Scheduled jobs verified running",
            "Deployment announcement sent to stakeholders",
        ]
    )
    first_24h: list[str] = Field(
        default_factory=lambda: [
            "Monitor governor limits dashboard",
            "Review debug logs for warnings/errors",
            "Verify audit trail logging continues",
            "Check compliance gap creation rate",
            "Monitor user feedback channels",
        ]
    )
    first_week: list[str] = Field(
        default_factory=lambda: [
            "Review production metrics vs. baseline",
            "Collect user feedback",
            "Document any issues or bugs",
            "Plan hotfix deployment if needed",
            "Update runbook based on lessons learned",
        ]
    )
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


# ---------------------------------------------------------------------------------------------------------------------
# The whole file
# ---------------------------------------------------------------------------------------------------------------------


class Runbook(_Model):
    version: Literal[1] = 1
    name: str = "Elaro production deployment"
    release: ReleaseConfig = ReleaseConfig()
    project: ProjectConfig = ProjectConfig()
    sf: SfConfig = SfConfig()
    target: TargetConfig
    window: WindowConfig = WindowConfig()
    roles: dict[RoleId, Role] = Field(default_factory=_default_roles)
    separation_of_duties: SeparationOfDuties = SeparationOfDuties()
    reviews: ReviewsConfig = ReviewsConfig()
    thresholds: Thresholds = Thresholds()
    security: SecurityConfig = SecurityConfig()
    signoffs: list[Signoff] = Field(default_factory=_default_signoffs)
    scheduled_jobs: list[ScheduledJob] = Field(default_factory=_default_scheduled_jobs)
    verify: VerifyConfig = VerifyConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    alerts: AlertsConfig = AlertsConfig()
    rollback: RollbackConfig = RollbackConfig()
    known_issues: list[KnownIssue] = Field(default_factory=_default_known_issues)
    checklists: ChecklistsConfig = ChecklistsConfig()
    stages: list[Stage] = Field(default_factory=lambda: list(STAGES), min_length=1)
    custom_steps: list[CustomStep] = Field(default_factory=list)

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
                "the org identity guard cannot prove this is the right org"
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
            found.append(f"roles.{role_id}: {role.title} ({why}) has no {', '.join(unset)} (TBD)")
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
