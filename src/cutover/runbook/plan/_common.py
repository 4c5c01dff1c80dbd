"""What every stage builder shares: `PlanStep`, stage titles, runtime placeholders, sf command lines."""

from __future__ import annotations

import re
import shlex
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from cutover.runbook.models import (
    Runbook,
    Signoff,
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
PREFLIGHT_SECTIONS = ("Code Quality", "Security Verification", "Testing", "Documentation", "Stakeholder Communication")

#: Org-wide limits (`sf org list limits`) have no threshold in the seed; this one matches its SOQL/DML threshold.
ORG_LIMIT_THRESHOLD = 80.0

# Runtime values the plan cannot know; the engine fills them in.
BACKUP_DIR = "<backup-dir>"
VALIDATED_JOB_ID = "<validated-job-id>"
DEPLOY_JOB_ID = "<deploy-job-id>"
ROLLBACK_DIR = "<rollback-dir>"
#: With deletions and `manifest: null`, the validation lists the package directories in a package.xml it generates.
GENERATED_MANIFEST = "<generated-package.xml>"


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


def pct(value: float) -> str:
    return f"{value:g}%"


def signoff_step(signoff: Signoff, runbook: Runbook) -> PlanStep:
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


def deploy_selection(runbook: Runbook) -> list[str]:
    """What a deploy of the release sends: its manifest (or source folder) and the deletions it carries."""
    project = runbook.project
    if project.delta.enabled:  # the run's frozen delta (cutover.delta)
        from cutover.delta.plan import plan_deploy_selection

        return plan_deploy_selection(runbook)
    args = project.source_selection()
    if not project.manifest and project.destructive_changes.paths():
        # sf deletes only together with --manifest: the validation generates one listing the package directories.
        args = ["--manifest", GENERATED_MANIFEST]
    if project.destructive_changes.pre:
        args += ["--pre-destructive-changes", project.destructive_changes.pre]
    if project.destructive_changes.post:
        args += ["--post-destructive-changes", project.destructive_changes.post]
    return args


def checklist_step(
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
