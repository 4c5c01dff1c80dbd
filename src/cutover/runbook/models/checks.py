"""Runbook sections about checks: thresholds, security scanning, scheduled jobs and verification."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from cutover.runbook.models._seed import seed_list, seed_text
from cutover.runbook.models._types import (
    Duration,
    Percentage,
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
    crud_guards: list[str] = Field(default_factory=lambda: seed_list("security", "crud_guards"))
    strip_methods: list[str] = Field(default_factory=lambda: seed_list("security", "strip_methods"))
    scan_paths: list[str] = Field(default_factory=lambda: ["force-app"])
    skip_test_classes: bool = True
    # Apex scanner rule id -> "error" (fails the gate), "warning" (reported, does not fail) or "off" (not run).
    # Rules not named keep "error". The scanner validates the ids (cutover.checks.apex.config.RULE_IDS).
    rules: dict[str, Literal["error", "warning", "off"]] = Field(default_factory=dict)
    secrets: SecretsConfig = SecretsConfig()


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
    "AuditPoller :00", "AuditPoller :15", ...).
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
    return [ScheduledJob.model_validate(job) for job in seed_list("scheduled_jobs")]


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
    # Checked after the deploy only when set (None: no permission-set assignment check).
    permission_set_query: str | None = Field(default_factory=lambda: seed_text("verify", "permission_set_query"))
    min_permission_set_assignments: int = Field(default=1, ge=0)
    # Re-create missing/aborted scheduled jobs with `sf apex run` during verification (unset: only when
    # target.production is false, i.e. rehearsals; in production an operator decides).
    recreate_missing_jobs: bool | None = None
