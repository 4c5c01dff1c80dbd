"""Runbook sections about the project, the release, the sf CLI, the target org and the window."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, model_validator

from cutover.runbook.models._types import (
    _PLACEHOLDER_RE,
    WEEKDAYS,
    ClockTime,
    Command,
    Count,
    DeployTestLevel,
    LocatedValueError,
    NotBool,
    ProjectPath,
    RoleId,
    TestLevel,
    Weekday,
    _Model,
)


def _check_placeholders(value: str, allowed: set[str]) -> str:
    for name in _PLACEHOLDER_RE.findall(value):
        if name not in allowed:
            raise ValueError(
                f"unknown placeholder {{{name}}} (allowed: {', '.join(sorted('{' + a + '}' for a in allowed))})"
            )
    return value


class ReleaseConfig(_Model):
    """Seed "3. Create Deployment Branch": release branch from an up-to-date main, annotated tag, push."""

    version: str = "1.0.0"
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
    """Seed "Code Quality" and "Testing": the project's own commands (run as argv, never through a shell).
    None: no gate (`cutover init` writes one only for a package.json script that exists)."""

    test_all: Command | None = None
    lint: Command | None = None
    fmt_check: Command | None = None
    test_unit: Command | None = None


class DocsConfig(_Model):
    """Seed "Documentation": files that must be current for the release."""

    readme: ProjectPath | None = None  # checked only when set (`cutover init` sets the files that exist)
    changelog: ProjectPath | None = None
    api_docs: ProjectPath | None = None  # "(if applicable)": checked only when set
    readme_mentions_version: bool = False
    changelog_mentions_version: bool = True


class DestructiveChanges(_Model):
    """Components the release deletes: destructiveChanges manifests sent with the validation (and so with the quick
    deploy of the validated job). The backup retrieves them first, so a rollback restores them."""

    pre: ProjectPath | None = None  # deleted before the components are deployed (`--pre-destructive-changes`)
    post: ProjectPath | None = None  # deleted after they are deployed (`--post-destructive-changes`), the usual case

    def paths(self) -> list[str]:
        return [p for p in (self.pre, self.post) if p]


class DeltaConfig(_Model):
    """Delta releases (opt-in): deploy only the components changed since the last release tag, and delete from the
    org what the release removed from the source (`cutover.delta`)."""

    enabled: bool = False
    # A git tag or ref; None: the latest release tag reachable from HEAD other than the one this release creates.
    since: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"^[^\s\-:?*\[\\][^\s:?*\[\\]*$")


class ProjectConfig(_Model):
    source_dir: ProjectPath = "force-app"
    # Other package directories: with `manifest: null` they are validated, deployed and backed up together with
    # source_dir (one --source-dir each). `cutover init` lists every package directory of sfdx-project.json.
    extra_source_dirs: list[ProjectPath] = Field(default_factory=list, max_length=100)
    # None: the package directories are validated, deployed and backed up; else a package.xml.
    manifest: ProjectPath | None = None
    destructive_changes: DestructiveChanges = DestructiveChanges()
    delta: DeltaConfig = DeltaConfig()
    commands: ProjectCommands = ProjectCommands()
    docs: DocsConfig = DocsConfig()
    # Where `npm run test:unit` (jest --coverage) leaves its json-summary; read by the LWC coverage gate.
    lwc_coverage_summary: ProjectPath = "coverage/coverage-summary.json"
    backup_dir: ProjectPath = "backups"
    logs_dir: ProjectPath = "logs"
    # What the project holds (written by `cutover init`): without Apex there is no Apex coverage gate, Apex scan or
    # post-deployment Apex test run; without permission sets no permission-set gate.
    has_apex: bool = True
    has_permission_sets: bool = True

    @property
    def source_dirs(self) -> list[str]:
        """source_dir, then the extra package directories (each once)."""
        return list(dict.fromkeys([self.source_dir, *self.extra_source_dirs]))

    def source_selection(self) -> list[str]:
        """The sf selection flags of the release: --manifest, else one --source-dir per package directory."""
        if self.manifest:
            return ["--manifest", self.manifest]
        return [flag for folder in self.source_dirs for flag in ("--source-dir", folder)]


class SfConfig(_Model):
    binary: str | None = None  # override of the sf CLI (else $CUTOVER_SF, else `sf` on PATH)
    wait_minutes: Count = Field(default=33, ge=1, le=1440)
    api_version: str | None = Field(default=None, pattern=r"^\d{2,3}\.0$")
    test_level: DeployTestLevel = "RunLocalTests"

    @property
    def apex_test_level(self) -> TestLevel:
        """The level of `sf apex run test` runs (the sandbox coverage run): RunRelevantTests is a deploy-only level,
        so there it is RunLocalTests."""
        return "RunLocalTests" if self.test_level == "RunRelevantTests" else self.test_level

    # Org where the pre-deployment Apex tests run (a full sandbox). Unset: the coverage gate reads the validation.
    test_org: str | None = None
    # Run only the Apex tests relevant to the release (RunSpecifiedTests; `cutover.testsel`).
    relevant_tests: bool = False
    # Overlap independent work (the backup retrieve with the validation, post-deploy queries with the tests).
    overlap: bool = True


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

    timezone: str = "UTC"  # an IANA name; America/New_York follows daylight saving time
    days: Annotated[
        list[Annotated[Weekday, BeforeValidator(lambda v: v.strip().lower() if isinstance(v, str) else v)]],
        BeforeValidator(lambda v: [v] if isinstance(v, str) else v),  # `days: friday` means [friday]
    ] = Field(default_factory=lambda: ["tuesday", "wednesday", "thursday"], min_length=1, max_length=7)
    start: ClockTime = "18:00"
    end: ClockTime = "22:00"
    duration_hours: Annotated[float, NotBool] = Field(default=2, gt=0, le=24)  # upper estimate
    enforce: bool = True
    exception_approvers: list[RoleId] = Field(default_factory=lambda: ["deployment_lead"], max_length=100)

    @model_validator(mode="after")
    def _valid(self) -> WindowConfig:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise LocatedValueError(
                ("timezone",), f"unknown time zone {self.timezone!r} (use an IANA name such as America/New_York)"
            ) from None
        for index, day in enumerate(self.days):
            if day in self.days[:index]:
                raise LocatedValueError(("days", index), f"{day} is listed twice")
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
