"""The runbook as an ordered, flat list of steps: what `cutover plan` prints and what the engine runs.

`build_plan(runbook)` follows the seed's order: pre-deployment checklist (every box an automated gate or a
sign-off), org identity guard, backup, release branch and tag, validation, quick deploy, verification, monitoring
and the post-deployment checklists. `build_rollback_plan(runbook)` is the contingency: steps that run only when a
rollback is triggered. Building a plan has no side effects: no `sf`, no git, no network, no files.

`PlanStep.action` is the executor key the engine looks up in `cutover.steps.registry`; `params` carries what the
executor needs, so executors do not have to re-derive it from the runbook.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from cutover.runbook.models import (
    STAGES,
    Runbook,
    Signoff,
    command_argv,
    command_text,
    parse_duration,
)

StepKind = Literal["automated", "signoff"]

STAGE_TITLES: dict[str, str] = {
    "preflight": "Pre-deployment checklist: gates and sign-offs",
    "guard": "Verify the production org connection",
    "backup": "Back up the current production state",
    "release": "Create the release branch and tag",
    "validate": "Validate the deployment (dry run)",
    "deploy": "Deploy to production",
    "verify": "Post-deployment verification",
    "monitor": "Monitoring and alerts",
    "post_deploy": "Post-deployment follow-up",
    "rollback": "Rollback (contingency: runs only when triggered)",
}

# Seed "Pre-Deployment Checklist" sections, in order; sign-offs whose `source` names one are placed with its gates.
_PREFLIGHT_SECTIONS = ("Code Quality", "Security Verification", "Testing", "Documentation", "Stakeholder Communication")

# Runtime values the plan cannot know; the engine fills them in.
BACKUP_DIR = "<backup-dir>"
VALIDATED_JOB_ID = "<validated-job-id>"
DEPLOY_JOB_ID = "<deploy-job-id>"
ROLLBACK_DIR = "<rollback-dir>"


@dataclass(frozen=True)
class PlanStep:
    id: str  # stable: `<stage>.<name>`, `signoff.<id>` or `custom.<id>`
    stage: str
    title: str
    kind: StepKind
    action: str  # executor key in cutover.steps.registry
    checks: list[str] = field(default_factory=list)  # what the step verifies, in words
    sf_command: str | None = None  # the equivalent `sf` command line
    command: str | None = None  # a non-sf command (npm, git, tar)
    params: dict[str, Any] = field(default_factory=dict)
    blocking: bool = True  # a failure (or a missing sign-off) stops the run
    role: str | None = None  # sign-offs: the role that attests
    source: str = ""  # the seed section this step implements

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------------------------------
# Command rendering (display only: the sf adapter builds its own argv)
# ---------------------------------------------------------------------------------------------------------------------

_SAFE_ARG = re.compile(r"^[\w@%+=:,./<>{}-]+$")


def _quote(arg: str) -> str:
    if _SAFE_ARG.match(arg):
        return arg
    if not any(ch in arg for ch in '"$`\\!'):
        return f'"{arg}"'  # SOQL reads better in double quotes, as the seed writes it
    return shlex.quote(arg)


def sf_line(runbook: Runbook, *args: str, wait: bool = False) -> str:
    """`sf <command> --target-org <alias> <args> [--wait N] --json` as one printable line."""
    command: list[str] = []
    flags: list[str] = []
    for arg in args:
        (flags if flags or arg.startswith("-") else command).append(arg)
    parts = ["sf", *command, "--target-org", runbook.target.alias, *flags]
    if wait:
        parts += ["--wait", str(runbook.sf.wait_minutes)]
    parts.append("--json")
    return " ".join(_quote(p) for p in parts)


def _pct(value: float) -> str:
    return f"{value:g}%"


# ---------------------------------------------------------------------------------------------------------------------
# Stages
# ---------------------------------------------------------------------------------------------------------------------


def _signoff_step(signoff: Signoff, runbook: Runbook) -> PlanStep:
    role = runbook.roles[signoff.role]
    checks = [signoff.title]
    if signoff.description:
        checks.append(signoff.description)
    if signoff.evidence_required:
        checks.append("Evidence attached (file, link or note)")
    return PlanStep(
        id=f"signoff.{signoff.id}",
        stage=signoff.stage,
        title=signoff.title,
        kind="signoff",
        action="signoff",
        checks=checks,
        params={
            "signoff_id": signoff.id,
            "role": signoff.role,
            "role_title": role.title,
            "evidence_required": signoff.evidence_required,
        },
        blocking=signoff.blocking,
        role=signoff.role,
        source=signoff.source,
    )


def _preflight_gates(runbook: Runbook) -> dict[str, list[PlanStep]]:
    pre = "Pre-Deployment Checklist"
    rb = runbook
    gates: dict[str, list[PlanStep]] = {section: [] for section in _PREFLIGHT_SECTIONS}
    commands = rb.project.commands

    def command_gate(key: str, title: str, check: str) -> PlanStep | None:
        command = getattr(commands, key)
        if command is None:
            return None
        text = command_text(command)
        return PlanStep(
            id=f"preflight.{key.replace('_', '-')}",
            stage="preflight",
            title=title,
            kind="automated",
            action="gate.command",
            checks=[f"{check}: {text} exits 0"],
            command=text,
            params={"command_key": key, "argv": command_argv(command)},
            source=f"{pre} > Code Quality",
        )

    code = gates["Code Quality"]
    for key, title, check in (
        ("test_all", "Run all tests locally", "All tests passing locally"),
        ("lint", "Lint", "Lint checks pass"),
        ("fmt_check", "Check formatting", "Format checks pass"),
    ):
        step = command_gate(key, title, check)
        if step:
            code.append(step)
    code.append(
        PlanStep(
            id="preflight.reviews",
            stage="preflight",
            title="Code review",
            kind="automated",
            action="gate.reviews",
            checks=[
                f"Code review completed (minimum {rb.reviews.min_approvals} reviewers)",
                *(["No reviewer approved their own change"] if rb.separation_of_duties.reviewer_not_author else []),
            ],
            params={
                "min_approvals": rb.reviews.min_approvals,
                "reviewer_not_author": rb.separation_of_duties.reviewer_not_author,
                "base_branch": rb.release.base_branch,
            },
            source=f"{pre} > Code Quality",
        )
    )
    base, remote = rb.release.base_branch, rb.release.remote
    code.append(
        PlanStep(
            id="preflight.git",
            stage="preflight",
            title="Git state",
            kind="automated",
            action="gate.git",
            checks=[
                "Working tree is clean (nothing uncommitted)",
                f"{base} is up to date with {remote}/{base}",
                f"No merge conflicts with {base} branch",
            ],
            command=f"git fetch {remote} {base} && git merge-tree --write-tree HEAD {remote}/{base}",
            params={"base_branch": base, "remote": remote},
            source=f"{pre} > Code Quality",
        )
    )

    security = gates["Security Verification"]
    secrets = rb.security.secrets
    security.append(
        PlanStep(
            id="preflight.secrets",
            stage="preflight",
            title="Scan for hardcoded credentials",
            kind="automated",
            action="gate.secrets",
            checks=[
                "No hardcoded credentials in codebase "
                f"(patterns {', '.join(secrets.patterns)}; excluding {', '.join(secrets.exclude_dirs)}"
                + (f"; accepted findings in {secrets.baseline})" if secrets.baseline else ")")
            ],
            # The seed's own check, for people who want to look by hand; the gate uses detect-secrets.
            command=f'grep -rniE "{"|".join(secrets.patterns)}" '
            + " ".join(f"--exclude-dir={d}" for d in secrets.exclude_dirs)
            + " .",
            params=secrets.model_dump(),
            source=f"{pre} > Security Verification",
        )
    )
    sec = rb.security
    enforcement = " or ".join(f"WITH {mode}" for mode in sec.soql_enforcement)
    security.append(
        PlanStep(
            id="preflight.apex-security",
            stage="preflight",
            title="Apex security scan",
            kind="automated",
            action="gate.apex_scan",
            checks=[
                f"All SOQL queries use {enforcement}",
                f"CRUD/FLS checks present via {' or '.join(g + '()' for g in sec.crud_guards)}",
                "All @AuraEnabled methods use FLS stripping with "
                + " or ".join(m.rsplit(".", 1)[-1] + "()" for m in sec.strip_methods),
            ],
            command=f"cutover scan apex {' '.join(sec.scan_paths)}",
            params=sec.model_dump(exclude={"secrets"}),
            source=f"{pre} > Security Verification",
        )
    )
    security.append(
        PlanStep(
            id="preflight.permission-sets",
            stage="preflight",
            title="Permission sets in the release",
            kind="automated",
            action="gate.permission_sets",
            checks=[
                "Permission sets updated: every permission set in the source is valid and listed in the manifest",
            ],
            params={"source_dir": rb.project.source_dir, "manifest": rb.project.manifest},
            source=f"{pre} > Security Verification",
        )
    )

    testing = gates["Testing"]
    test_org = rb.sf.test_org
    testing.append(
        PlanStep(
            id="preflight.apex-coverage",
            stage="preflight",
            title="Apex test coverage",
            kind="automated",
            action="gate.coverage",
            checks=[
                f"Apex test coverage ≥ {_pct(rb.thresholds.apex_coverage)} (org-wide)",
                *([] if test_org else ["Read from the validation run when no test org is set (sf.test_org)"]),
            ],
            sf_command=(
                f"sf apex run test --target-org {test_org} --test-level {rb.sf.test_level} --code-coverage "
                f"--wait {rb.sf.wait_minutes} --json"
                if test_org
                else None
            ),
            params={"kind": "apex", "threshold": rb.thresholds.apex_coverage, "test_org": test_org},
            source=f"{pre} > Testing",
        )
    )
    if commands.test_unit is not None:
        testing.append(
            PlanStep(
                id="preflight.lwc-coverage",
                stage="preflight",
                title="LWC test coverage",
                kind="automated",
                action="gate.coverage",
                checks=[
                    f"LWC test coverage ≥ {_pct(rb.thresholds.lwc_coverage)} "
                    f"(lines, from {rb.project.lwc_coverage_summary})"
                ],
                command=command_text(commands.test_unit),
                params={
                    "kind": "lwc",
                    "threshold": rb.thresholds.lwc_coverage,
                    "argv": command_argv(commands.test_unit),
                    "summary": rb.project.lwc_coverage_summary,
                },
                source=f"{pre} > Testing",
            )
        )

    docs = rb.project.docs
    doc_checks = []
    if docs.readme:
        doc_checks.append(
            f"{docs.readme} updated with current version number ({rb.release.version})"
            if docs.readme_mentions_version
            else f"{docs.readme} exists"
        )
    if docs.changelog:
        doc_checks.append(
            f"{docs.changelog} updated with release notes for {rb.release.version}"
            if docs.changelog_mentions_version
            else f"{docs.changelog} exists"
        )
    if docs.api_docs:
        doc_checks.append(f"API documentation current: {docs.api_docs} changed since the last release")
    doc_checks.append(f"Known issues documented ({len(rb.known_issues)} in the runbook)")
    gates["Documentation"].append(
        PlanStep(
            id="preflight.docs",
            stage="preflight",
            title="Documentation",
            kind="automated",
            action="gate.docs",
            checks=doc_checks,
            params={**docs.model_dump(), "version": rb.release.version, "known_issues": len(rb.known_issues)},
            source=f"{pre} > Documentation",
        )
    )

    window = rb.window
    approvers = ", ".join(rb.roles[r].title for r in window.exception_approvers)
    comms = gates["Stakeholder Communication"]
    comms.append(
        PlanStep(
            id="preflight.window",
            stage="preflight",
            title="Deployment window",
            kind="automated",
            action="gate.window",
            checks=[
                f"Deployment window scheduled and communicated: {window.describe()}",
                f"Now is inside the window (estimated duration {window.duration_hours:g} h); "
                f"an exception needs a sign-off by {approvers}",
            ],
            params=window.model_dump(),
            blocking=window.enforce,
            source="Deployment Timeline > Recommended Deployment Window",
        )
    )
    required = [rid for rid, role in rb.roles.items() if role.required]
    comms.append(
        PlanStep(
            id="preflight.contacts",
            stage="preflight",
            title="Team roles and contacts",
            kind="automated",
            action="gate.contacts",
            checks=[
                "Every required role has a named person with an email or phone (no TBD): "
                + ", ".join(rb.roles[r].title for r in required),
                "Everyone on the escalation path is reachable",
            ],
            params={"required_roles": required},
            source="Deployment Timeline > Team Roles",
        )
    )
    return gates


def _preflight(runbook: Runbook) -> list[PlanStep]:
    gates = _preflight_gates(runbook)
    signoffs = [s for s in runbook.signoffs if s.stage == "preflight"]
    steps: list[PlanStep] = []
    placed: set[str] = set()
    for section in _PREFLIGHT_SECTIONS:
        steps += gates[section]
        for signoff in signoffs:
            if signoff.source.endswith(section) and signoff.id not in placed:
                steps.append(_signoff_step(signoff, runbook))
                placed.add(signoff.id)
    steps += [_signoff_step(s, runbook) for s in signoffs if s.id not in placed]
    return steps


def _guard(runbook: Runbook) -> list[PlanStep]:
    expect = runbook.target.expect
    checks = [f"Connection to {runbook.target.alias} works (connectedStatus: Connected)"]
    for key, label in (("org_id", "Org id"), ("username", "Username"), ("instance_url", "Instance URL")):
        value = getattr(expect, key)
        checks.append(f"{label} is {value}" if value else f"{label}: NOT SET in target.expect (cannot be proved)")
    if expect.sandbox is not None:
        checks.append("The org is a sandbox" if expect.sandbox else "The org is not a sandbox (production)")
    checks.append("Verify the org username and instance URL match production")
    return [
        PlanStep(
            id="guard.org-identity",
            stage="guard",
            title=f"Verify you are connected to the RIGHT org ({runbook.target.alias})",
            kind="automated",
            action="sf.guard",
            checks=checks,
            sf_command=sf_line(runbook, "org", "display"),
            params={"alias": runbook.target.alias, "expect": expect.model_dump()},
            source="Pre-Deployment Steps > 2. Verify Production Org Connection",
        )
    ]


def _backup(runbook: Runbook) -> list[PlanStep]:
    project = runbook.project
    folder = f"{project.backup_dir}/production-backup-<YYYYMMDD-HHMMSS>"
    selection = ["--manifest", project.manifest] if project.manifest else ["--source-dir", project.source_dir]
    return [
        PlanStep(
            id="backup.retrieve",
            stage="backup",
            title="Backup Current Production State",
            kind="automated",
            action="sf.backup",
            checks=[
                f"Retrieve current production metadata ({' '.join(selection)}) into {folder}",
                "Verify backup completed: retrieve Succeeded, every retrieved file present; release components the "
                "org does not have yet are recorded (added_by_release) for the rollback",
                f"Archive backup to {folder}.tar.gz",
                "Record the SHA-256 of the archive as evidence",
            ],
            sf_command=sf_line(
                runbook,
                "project",
                "retrieve",
                "start",
                *selection,
                "--target-metadata-dir",
                folder,
                "--unzip",
                wait=True,
            ),
            command=f"tar -czf {folder}.tar.gz {folder} && sha256sum {folder}.tar.gz",
            params={
                "backup_dir": project.backup_dir,
                "folder_format": "production-backup-%Y%m%d-%H%M%S",
                "manifest": project.manifest,
                "source_dir": project.source_dir,
            },
            source="Pre-Deployment Steps > 1. Backup Current Production State",
        )
    ]


def _release(runbook: Runbook) -> list[PlanStep]:
    rel = runbook.release
    branch, tag = rel.branch_name(), rel.tag_name()
    push = f" && git push {rel.remote} {branch} {tag}" if rel.push else ""
    return [
        PlanStep(
            id="release.branch-and-tag",
            stage="release",
            title=f"Create Deployment Branch {branch} and tag {tag}",
            kind="automated",
            action="git.release",
            checks=[
                f"{rel.base_branch} is up to date with {rel.remote}/{rel.base_branch}",
                f"Create release branch {branch}",
                f"Tag the release: annotated tag {tag} ({rel.tag_text()!r})",
                *([f"Push the branch and the tag to {rel.remote}"] if rel.push else []),
            ],
            command=(
                f"git checkout {rel.base_branch} && git pull {rel.remote} {rel.base_branch} && "
                f"git checkout -b {branch} && git tag -a {tag} -m {shlex.quote(rel.tag_text())}{push}"
            ),
            params={
                "version": rel.version,
                "base_branch": rel.base_branch,
                "branch": rel.branch,
                "tag": rel.tag,
                "tag_message": rel.tag_message,
                "remote": rel.remote,
                "push": rel.push,
            },
            source="Pre-Deployment Steps > 3. Create Deployment Branch",
        )
    ]


def _deploy_selection(runbook: Runbook) -> list[str]:
    project = runbook.project
    return ["--manifest", project.manifest] if project.manifest else ["--source-dir", project.source_dir]


def _validate(runbook: Runbook) -> list[PlanStep]:
    th = runbook.thresholds
    return [
        PlanStep(
            id="validate.dry-run",
            stage="validate",
            title="Validate Deployment (DRY RUN) with RunLocalTests"
            if runbook.sf.test_level == "RunLocalTests"
            else f"Validate Deployment (DRY RUN) with {runbook.sf.test_level}",
            kind="automated",
            action="sf.validate",
            checks=[
                "Status: Succeeded",
                f"All tests pass ({_pct(th.test_pass_rate)})",
                f"Code coverage ≥ {_pct(th.apex_coverage)}",
                "No component failures",
                "No test failures",
                "If validation fails: stop the deployment (fix in sandbox, re-test)",
            ],
            sf_command=sf_line(
                runbook,
                "project",
                "deploy",
                "start",
                "--dry-run",
                "--test-level",
                runbook.sf.test_level,
                *_deploy_selection(runbook),
                wait=True,
            ),
            params={
                "test_level": runbook.sf.test_level,
                "manifest": runbook.project.manifest,
                "source_dir": runbook.project.source_dir,
                "apex_coverage": th.apex_coverage,
                "test_pass_rate": th.test_pass_rate,
            },
            source="Deployment Steps > Step 1: Validate Deployment (DRY RUN)",
        )
    ]


def _deploy(runbook: Runbook) -> list[PlanStep]:
    th = runbook.thresholds
    return [
        PlanStep(
            id="deploy.quick",
            stage="deploy",
            title="Deploy to Production: quick deploy of the validated job",
            kind="automated",
            action="sf.quick_deploy",
            checks=[
                "Deploys exactly the package that passed validation (no second test run)",
                "Deployment Status: Succeeded",
                f"Tests Complete: {_pct(th.test_pass_rate)} (from the validation)",
                f"Code Coverage ≥ {_pct(th.apex_coverage)}",
                "Monitor Deployment Progress until done",
            ],
            sf_command=sf_line(runbook, "project", "deploy", "quick", "--job-id", VALIDATED_JOB_ID, wait=True),
            params={
                "progress_command": sf_line(runbook, "project", "deploy", "report", "--job-id", DEPLOY_JOB_ID),
                "wait_minutes": runbook.sf.wait_minutes,
            },
            source="Deployment Steps > Step 2: Deploy to Production",
        )
    ]


def _job_filter(runbook: Runbook) -> str:
    names = [job.name for job in runbook.scheduled_jobs]
    return " OR ".join(f"CronJobDetail.Name LIKE '{name}%'" for name in names)


def _verify(runbook: Runbook) -> list[PlanStep]:
    rb = runbook
    verify = rb.verify
    steps: list[PlanStep] = []
    on_failure = " (a failure triggers the rollback)" if rb.rollback.automatic_on_verification_failure else ""
    for group in rb.checklists.smoke_tests:
        steps.append(
            PlanStep(
                id=f"verify.smoke-{group.id}",
                stage="verify",
                title=f"Smoke tests: {group.title}",
                kind="signoff",
                action="signoff",
                checks=list(group.items),
                sf_command=f"sf org open --target-org {rb.target.alias}",
                params={"signoff_id": f"smoke-{group.id}", "role": group.role, "evidence_required": False},
                blocking=group.blocking,
                role=group.role,
                source="Deployment Steps > Step 3: Post-Deployment Verification > 3.1 Smoke Tests",
            )
        )
    if verify.run_tests:
        steps.append(
            PlanStep(
                id="verify.apex-tests",
                stage="verify",
                title="Run post-deployment verification tests" + on_failure,
                kind="automated",
                action="sf.verify_tests",
                checks=[
                    "All tests pass",
                    f"Code coverage ≥ {_pct(rb.thresholds.apex_coverage)}",
                ],
                sf_command=sf_line(
                    rb, "apex", "run", "test", "--test-level", verify.test_level, "--code-coverage", wait=True
                ),
                params={"test_level": verify.test_level, "apex_coverage": rb.thresholds.apex_coverage},
                source="Deployment Steps > Step 3: Post-Deployment Verification > 3.2 Automated Verification",
            )
        )
    steps.append(
        PlanStep(
            id="verify.apex-logs",
            stage="verify",
            title=f"Check Debug Logs (first {verify.log_watch})" + on_failure,
            kind="automated",
            action="sf.verify_logs",
            # ApexLog has no severity column: a transaction that ended in an unhandled exception is a log with
            # Status = 'Failure', which is what the seed's query counts.
            checks=[
                "No new debug logs with ERROR severity (failed transactions in ApexLog)",
                "No new exceptions in exception logs",
                f"No new failure logs related to deployment (at most {verify.max_failure_logs} ApexLog rows with "
                "Status = 'Failure')",
            ],
            sf_command=sf_line(rb, "data", "query", "--query", verify.apex_log_query),
            params={
                "query": verify.apex_log_query,
                "watch_seconds": int(parse_duration(verify.log_watch).total_seconds()),
                "max_failure_logs": verify.max_failure_logs,
            },
            source="Deployment Steps > Step 3: Post-Deployment Verification > 3.3 Monitor for Errors",
        )
    )
    if rb.scheduled_jobs:
        query = (
            "SELECT Id, CronJobDetail.Name, State, NextFireTime, PreviousFireTime FROM CronTrigger "
            f"WHERE {_job_filter(rb)} ORDER BY NextFireTime"
        )
        steps.append(
            PlanStep(
                id="verify.scheduled-jobs",
                stage="verify",
                title="Check Scheduled Jobs" + on_failure,
                kind="automated",
                action="sf.verify_jobs",
                checks=[
                    f"{job.name} ({job.frequency}, {len(job.crons)} CronTrigger{'s' if len(job.crons) > 1 else ''}) "
                    f"in {job.expected_state} state with valid NextFireTime: {job.purpose}"
                    + (f"; {job.verification.replace('`', '')}" if job.verification else "")
                    for job in rb.scheduled_jobs
                ],
                sf_command=sf_line(rb, "data", "query", "--query", query),
                params={
                    "query": query,
                    "jobs": [job.model_dump(by_alias=True) for job in rb.scheduled_jobs],
                },
                source="Scheduled Jobs Verification",
            )
        )
    steps.append(
        PlanStep(
            id="verify.permission-sets",
            stage="verify",
            title="Check Permission Set Assignments",
            kind="automated",
            action="sf.verify_permission_sets",
            checks=[f"At least {verify.min_permission_set_assignments} Elaro permission set assignment(s) exist"],
            sf_command=sf_line(rb, "data", "query", "--query", verify.permission_set_query),
            params={"query": verify.permission_set_query, "minimum": verify.min_permission_set_assignments},
            source="Appendix A: Useful Commands > Check Permission Set Assignments",
        )
    )
    # The seed's "Immediate (Within 1 Hour)" checklist belongs right after verification, before the 24 h of
    # monitoring, so it closes this stage rather than opening post_deploy.
    steps.append(_announce(rb))
    steps.append(
        _checklist(
            rb,
            step_id="verify.checklist-1h",
            stage="verify",
            title="Post-deployment checklist: Immediate (Within 1 Hour)",
            items=rb.checklists.post_deploy.within_1h,
            blocking=True,
        )
    )
    return steps


def _announce(runbook: Runbook) -> PlanStep:
    return PlanStep(
        id="verify.announce",
        stage="verify",
        title="Deployment announcement sent to stakeholders",
        kind="automated",
        action="notify",
        checks=[
            "Deployment announcement sent to stakeholders on: "
            + ", ".join(f"{c.type} {c.target}" for c in runbook.alerts.channels)
        ],
        params={"event": "deployment_succeeded", "severity": "LOW"},
        source="Post-Deployment Checklist > Immediate (Within 1 Hour)",
    )


def _checklist(
    runbook: Runbook,
    *,
    step_id: str,
    stage: str,
    title: str,
    items: list[str],
    blocking: bool,
    extra: tuple[str, ...] | list[str] = (),
) -> PlanStep:
    role = runbook.checklists.post_deploy.role
    return PlanStep(
        id=step_id,
        stage=stage,
        title=title,
        kind="signoff",
        action="checklist",
        checks=[*items, *extra],
        params={"signoff_id": step_id.split(".", 1)[1], "role": role, "items": [*items, *extra]},
        blocking=blocking,
        role=role,
        source="Post-Deployment Checklist > " + title.split(": ", 1)[-1],
    )


def _monitor(runbook: Runbook) -> list[PlanStep]:
    rb = runbook
    mon = rb.monitoring
    limits = rb.thresholds.limits
    automated = [m for m in mon.metrics if m.check != "manual"]
    manual = [m for m in mon.metrics if m.check == "manual"]
    checks = []
    for metric in automated:
        if metric.check == "limit" and metric.limit:
            threshold = getattr(limits, metric.limit)
            checks.append(f"{metric.group}: {metric.title} < {_pct(threshold)} of limit ({metric.severity})")
        else:
            checks.append(f"{metric.group}: {metric.title} ({metric.severity})")
    escalation = [
        f"{row.severity}: respond within {row.response_time}, " + " → ".join(rb.roles[r].title for r in row.path)
        for row in rb.alerts.escalation
    ]
    channels = [f"{c.type.capitalize()}: {c.target} ({c.min_severity} and above)" for c in rb.alerts.channels]
    return [
        PlanStep(
            id="monitor.alert-routing",
            stage="monitor",
            title="Announce monitoring on every alert channel (proves alert routing)",
            kind="automated",
            action="notify",
            checks=[*channels, *(f"Escalation Path {line}" for line in escalation)],
            params={
                "event": "monitoring_started",
                "severity": "LOW",
                # Never the url: apprise URLs carry tokens, and params are stored with the run.
                "channels": [c.model_dump(exclude={"url"}) for c in rb.alerts.channels],
                "escalation": [e.model_dump() for e in rb.alerts.escalation],
            },
            source="Monitoring & Alerts (First 24 Hours) > Alert Channels, Escalation Path",
        ),
        PlanStep(
            id="monitor.limits",
            stage="monitor",
            title=f"Monitor critical metrics every {mon.interval} for {mon.duration}",
            kind="automated",
            action="monitor.limits",
            checks=[*checks, f"A breach alerts the channels and follows the Escalation Path ({mon.breach_severity})"],
            sf_command=sf_line(rb, "data", "query", "--query", mon.limits_query),
            params={
                "duration_seconds": mon.duration_seconds,
                "interval_seconds": mon.interval_seconds,
                "limits_query": mon.limits_query,
                "snapshot_names": dict(mon.snapshot_names),
                "thresholds": limits.model_dump(),
                "metrics": [m.model_dump() for m in automated],
                "breach_severity": mon.breach_severity,
                "escalation": [e.model_dump() for e in rb.alerts.escalation],
            },
            source="Monitoring & Alerts (First 24 Hours) > Critical Metrics to Monitor",
        ),
        _checklist(
            rb,
            step_id="monitor.checklist-24h",
            stage="monitor",
            title="Post-deployment checklist: First 24 Hours",
            items=rb.checklists.post_deploy.first_24h,
            blocking=True,
            extra=[f"{m.group}: {m.title}" for m in manual],
        ),
    ]


def _post_deploy(runbook: Runbook) -> list[PlanStep]:
    return [
        _checklist(
            runbook,
            step_id="post_deploy.checklist-1w",
            stage="post_deploy",
            title="Post-deployment checklist: First Week",
            items=runbook.checklists.post_deploy.first_week,
            blocking=False,  # a follow-up: the run does not stay open for a week
        ),
    ]


_STAGE_BUILDERS = {
    "preflight": _preflight,
    "guard": _guard,
    "backup": _backup,
    "release": _release,
    "validate": _validate,
    "deploy": _deploy,
    "verify": _verify,
    "monitor": _monitor,
    "post_deploy": _post_deploy,
}


def _custom_step(runbook: Runbook, index: int) -> PlanStep:
    step = runbook.custom_steps[index]
    return PlanStep(
        id=f"custom.{step.id}",
        stage=step.after,
        title=step.title or step.id,
        kind="automated",
        action="custom.command",
        checks=[f"{command_text(step.run)} exits 0 within {step.timeout}"],
        command=command_text(step.run),
        params={
            "argv": command_argv(step.run),
            "timeout_seconds": step.timeout_seconds,
            "idempotent": step.idempotent,
            "env": dict(step.env),
            "cwd": step.cwd,
        },
        blocking=step.blocking,
        source="custom_steps",
    )


def build_plan(runbook: Runbook) -> list[PlanStep]:
    """Every step of the run, in order, for the stages the runbook lists; custom steps after their stage."""
    steps: list[PlanStep] = []
    for stage in STAGES:
        if stage not in runbook.stages:
            continue
        steps += _STAGE_BUILDERS[stage](runbook)
        steps += [_signoff_step(s, runbook) for s in runbook.signoffs if s.stage == stage and stage != "preflight"]
        steps += [_custom_step(runbook, i) for i, c in enumerate(runbook.custom_steps) if c.after == stage]
    return steps


def build_rollback_plan(runbook: Runbook) -> list[PlanStep]:
    """The contingency: what runs when a rollback is triggered (automatically or by an approver)."""
    rb = runbook
    rollback = rb.rollback
    quick = rollback.quick
    source = "Rollback Procedure (If Needed)"
    triggers = [t.description + (" (automatic)" if t.automatic else "") for t in rollback.triggers]
    approvers = ", ".join(rb.roles[r].title for r in rollback.approvers)
    steps = [
        PlanStep(
            id="rollback.decide",
            stage="rollback",
            title="Decide to roll back",
            kind="signoff",
            action="signoff",
            checks=[f"Trigger Criteria: {t}" for t in triggers]
            + [f"A manual rollback is approved by {approvers}; an automatic trigger needs no approval"],
            params={
                "signoff_id": "rollback-decision",
                "role": rollback.approvers[0] if rollback.approvers else None,
                "automatic_on_verification_failure": rollback.automatic_on_verification_failure,
                "triggers": [t.model_dump() for t in rollback.triggers],
            },
            role=rollback.approvers[0] if rollback.approvers else None,
            source=f"{source} > Trigger Criteria",
        ),
        PlanStep(
            id="rollback.redeploy-backup",
            stage="rollback",
            title=f"Quick Rollback (Option 1): deploy the backup to production ({quick.duration})",
            kind="automated",
            action="sf.rollback",
            checks=[
                f"The backup archive's SHA-256 matches the one recorded at backup time ({BACKUP_DIR})",
                "Deploy backup to production: Status Succeeded",
            ],
            sf_command=sf_line(
                rb,
                "project",
                "deploy",
                "start",
                "--metadata-dir",  # the backup is metadata format (retrieved with --target-metadata-dir)
                BACKUP_DIR,
                "--test-level",
                quick.test_level,
                wait=True,
            ),
            params={"test_level": quick.test_level},
            source=f"{source} > Quick Rollback (Option 1)",
        ),
    ]
    if quick.remove_added_components:
        steps.append(
            PlanStep(
                id="rollback.remove-added",
                stage="rollback",
                title="Delete the components the release added (a redeploy of the backup leaves them behind)",
                kind="automated",
                action="sf.rollback_destructive",
                checks=["Components deployed by the release but absent from the backup are deleted"],
                sf_command=sf_line(
                    rb,
                    "project",
                    "deploy",
                    "start",
                    "--manifest",
                    f"{ROLLBACK_DIR}/package.xml",
                    "--post-destructive-changes",
                    f"{ROLLBACK_DIR}/destructiveChangesPost.xml",
                    "--test-level",
                    quick.test_level,
                    wait=True,
                ),
                params={"test_level": quick.test_level},
                source=f"{source} > Quick Rollback (Option 1)",
            )
        )
    if quick.recreate_scheduled_jobs and rb.scheduled_jobs:
        steps.append(
            PlanStep(
                id="rollback.scheduled-jobs",
                stage="rollback",
                title="Re-create the scheduled jobs and check them",
                kind="automated",
                action="sf.verify_jobs",
                checks=[f"{job.name} scheduled ({', '.join(job.crons)}) and WAITING" for job in rb.scheduled_jobs],
                sf_command=sf_line(rb, "apex", "run", "--file", f"{ROLLBACK_DIR}/schedule-jobs.apex"),
                params={"recreate": True, "jobs": [job.model_dump(by_alias=True) for job in rb.scheduled_jobs]},
                source="Scheduled Jobs Verification",
            )
        )
    steps.append(
        PlanStep(
            id="rollback.notify",
            stage="rollback",
            title="Notify all stakeholders of rollback",
            kind="automated",
            action="notify",
            checks=["Rollback announced on every alert channel (CRITICAL, follows the Escalation Path)"],
            params={"event": "rollback", "severity": "CRITICAL"},
            source=f"{source} > Post-Rollback Actions",
        )
    )
    destructive = rollback.destructive_option
    steps.append(
        PlanStep(
            id="rollback.destructive-option",
            stage="rollback",
            title="Destructive Rollback (Option 2): org restore by Salesforce Support",
            kind="signoff",
            action="checklist",
            checks=[
                destructive.description,
                f"Open a case, priority {destructive.priority}, with: {', '.join(destructive.include)}",
                destructive.contact,
                destructive.premier_support,
            ],
            params={
                "signoff_id": "destructive-rollback",
                "role": rollback.approvers[0] if rollback.approvers else None,
            },
            blocking=False,
            role=rollback.approvers[0] if rollback.approvers else None,
            source=f"{source} > Destructive Rollback (Option 2)",
        )
    )
    steps.append(
        PlanStep(
            id="rollback.post-actions",
            stage="rollback",
            title="Post-Rollback Actions",
            kind="signoff",
            action="checklist",
            checks=list(rb.checklists.post_rollback),
            params={"signoff_id": "post-rollback", "role": rb.checklists.post_deploy.role},
            blocking=False,
            role=rb.checklists.post_deploy.role,
            source=f"{source} > Post-Rollback Actions",
        )
    )
    return steps
