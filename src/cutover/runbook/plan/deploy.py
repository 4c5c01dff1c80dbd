"""The guard, backup, release, validate and deploy stages."""

from __future__ import annotations

import shlex

from cutover.runbook.models import (
    Runbook,
)
from cutover.runbook.plan._common import (
    DEPLOY_JOB_ID,
    VALIDATED_JOB_ID,
    PlanStep,
    deploy_selection,
    pct,
    sf_line,
)


def guard_steps(runbook: Runbook) -> list[PlanStep]:
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


def backup_steps(runbook: Runbook) -> list[PlanStep]:
    project = runbook.project
    folder = f"{project.backup_dir}/production-backup-<YYYYMMDD-HHMMSS>"
    selection = project.source_selection()
    delta_checks: list[str] = []
    if project.delta.enabled:  # cutover.delta: the run's frozen delta, not the whole source
        from cutover.delta.plan import FROZEN_DIR, plan_check, plan_selection

        selection = plan_selection()
        delta_checks = [
            plan_check(runbook),
            f"Retrieve what the delta deletes ({FROZEN_DIR}/destructiveChangesPost.xml)",
        ]
    return [
        PlanStep(
            id="backup.retrieve",
            stage="backup",
            title="Backup Current Production State",
            kind="automated",
            action="sf.backup",
            checks=[
                *delta_checks,
                f"Retrieve current production metadata ({' '.join(selection)}) into {folder}",
                # backup.py retrieves each destructive manifest too and merges it in: the rollback restores them.
                *(
                    f"Retrieve what the release deletes (--manifest {path}) into the same backup"
                    for path in project.destructive_changes.paths()
                ),
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
                "source_dirs": project.source_dirs,
            },
            source="Pre-Deployment Steps > 1. Backup Current Production State",
        )
    ]


def release_steps(runbook: Runbook) -> list[PlanStep]:
    rel = runbook.release
    branch, tag = rel.branch_name(), rel.tag_name()
    # With a deploy stage the push waits for the deploy (deploy.push-release): a failed attempt leaves no remote refs.
    push_now = rel.push and "deploy" not in runbook.stages
    push = f" && git push {rel.remote} {branch} {tag}" if push_now else ""
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
                *([f"Push the branch and the tag to {rel.remote}"] if push_now else []),
                *([f"Pushed to {rel.remote} only after a successful deploy"] if rel.push and not push_now else []),
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


def validate_steps(runbook: Runbook) -> list[PlanStep]:
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
                f"All tests pass ({pct(th.test_pass_rate)})",
                *([f"Code coverage ≥ {pct(th.apex_coverage)}"] if runbook.project.has_apex else []),
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
                *deploy_selection(runbook),
                wait=True,
            ),
            params={
                "test_level": runbook.sf.test_level,
                "manifest": runbook.project.manifest,
                "source_dir": runbook.project.source_dir,
                "source_dirs": runbook.project.source_dirs,
                "apex_coverage": th.apex_coverage if runbook.project.has_apex else 0.0,  # no Apex: no coverage to meet
                "test_pass_rate": th.test_pass_rate,
            },
            source="Deployment Steps > Step 1: Validate Deployment (DRY RUN)",
        )
    ]


def deploy_steps(runbook: Runbook) -> list[PlanStep]:
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
                f"Tests Complete: {pct(th.test_pass_rate)} (from the validation)",
                *([f"Code Coverage ≥ {pct(th.apex_coverage)}"] if runbook.project.has_apex else []),
                "Monitor Deployment Progress until done",
            ],
            sf_command=sf_line(runbook, "project", "deploy", "quick", "--job-id", VALIDATED_JOB_ID, wait=True),
            params={
                "progress_command": sf_line(runbook, "project", "deploy", "report", "--job-id", DEPLOY_JOB_ID),
                "wait_minutes": runbook.sf.wait_minutes,
            },
            source="Deployment Steps > Step 2: Deploy to Production",
        ),
        *_push_release_steps(runbook),
    ]


def _push_release_steps(runbook: Runbook) -> list[PlanStep]:
    """The release branch and tag reach the remote only once the deploy succeeded (non-blocking: the deploy is
    done; a failed push is pushed by hand)."""
    rel = runbook.release
    if not rel.push or "release" not in runbook.stages:
        return []
    branch, tag = rel.branch_name(), rel.tag_name()
    return [
        PlanStep(
            id="deploy.push-release",
            stage="deploy",
            title=f"Push release branch {branch} and tag {tag} to {rel.remote}",
            kind="automated",
            action="git.push_release",
            checks=[f"{branch} and {tag} pushed to {rel.remote} (never --force) after the deploy succeeded"],
            command=f"git push {rel.remote} {branch} {tag}",
            params={"version": rel.version, "branch": rel.branch, "tag": rel.tag, "remote": rel.remote},
            blocking=False,
            source="Pre-Deployment Steps > 3. Create Deployment Branch",
        )
    ]
