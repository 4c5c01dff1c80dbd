"""Runbook sections about checks: thresholds, security scanning, scheduled jobs and verification."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from cutover.runbook.models._cron import check_cron
from cutover.runbook.models._types import (
    Count,
    Duration,
    Percentage,
    ProjectPath,
    TestLevel,
    _Model,
)


class LimitThresholds(_Model):
    """Seed "Governor Limits Dashboard": alert at or above these percentages of each limit."""

    soql: Percentage = 80
    dml: Percentage = 80
    cpu: Percentage = 75
    heap: Percentage = 70


class Thresholds(_Model):
    apex_coverage: Percentage = 75  # the platform's own minimum for a production deploy
    lwc_coverage: Percentage = 80
    test_pass_rate: Percentage = 100
    limits: LimitThresholds = LimitThresholds()


class SecretsConfig(_Model):
    baseline: ProjectPath | None = None  # a detect-secrets baseline of accepted findings, when the project keeps one
    # The seed's grep: `grep -r "password\|api_key\|secret" --exclude-dir=node_modules`
    patterns: list[str] = Field(default_factory=lambda: ["password", "api_key", "secret"])
    exclude_dirs: list[str] = Field(default_factory=lambda: ["node_modules", ".sfdx", ".sf", ".cutover", "backups"])


class SecurityConfig(_Model):
    """Seed "Security Verification": rules the Apex scanner enforces."""

    soql_enforcement: list[Literal["SECURITY_ENFORCED", "USER_MODE"]] = Field(
        default_factory=lambda: ["USER_MODE", "SECURITY_ENFORCED"], min_length=1
    )
    # The project's own CRUD/FLS helper methods (Class.method) that count as checks; none unless the runbook says.
    crud_guards: list[str] = Field(default_factory=list, max_length=100)
    strip_methods: list[str] = Field(default_factory=lambda: ["Security.stripInaccessible"], max_length=100)
    scan_paths: list[ProjectPath] = Field(default_factory=lambda: ["force-app"])
    skip_test_classes: bool = True
    # Apex scanner rule id -> "error" (fails the gate), "warning" (reported, does not fail) or "off" (not run).
    # Rules not named keep "error". The scanner validates the ids (cutover.checks.apex.config.RULE_IDS).
    rules: dict[str, Literal["error", "warning", "off"]] = Field(default_factory=dict)
    secrets: SecretsConfig = SecretsConfig()


class ScheduledJob(_Model):
    """Seed "Scheduled Jobs Verification". Salesforce cron fires at most hourly per CronTrigger, so a job that runs
    every 15 minutes is four CronTriggers (`crons`); each is expected in state WAITING with a NextFireTime.

    `name` is the CronJobDetail.Name, matched as a prefix (a job with four crons is scheduled as
    "AuditPoller :00", "AuditPoller :15", ...).
    """

    name: str = Field(min_length=1)
    class_name: str | None = Field(default=None, alias="class")
    frequency: str
    crons: list[Annotated[str, AfterValidator(check_cron)]] = Field(min_length=1, max_length=60)
    purpose: str = ""
    verification: str = ""
    verification_query: str | None = None
    expected_state: str = "WAITING"


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
    max_failure_logs: Count = Field(default=0, ge=0, le=10_000)
    # A PermissionSetAssignment query checked after the deploy, only when set (None: no such check).
    permission_set_query: str | None = None
    min_permission_set_assignments: Count = Field(default=1, ge=0, le=1_000_000)
    # Re-create missing/aborted scheduled jobs with `sf apex run` during verification (unset: only when
    # target.production is false, i.e. rehearsals; in production an operator decides).
    recreate_missing_jobs: bool | None = None
