"""The rollback contingency plan: steps that run only when a rollback is triggered."""

from __future__ import annotations

from cutover.runbook.models import (
    Runbook,
)
from cutover.runbook.plan._common import (
    BACKUP_DIR,
    ROLLBACK_DIR,
    PlanStep,
    sf_line,
)


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
                checks=[
                    "Deleted: components the backup proved absent and the deploy created; never standard objects or "
                    "fields, nor children of a custom object deleted with it",
                    "destructiveChangesPre.xml (what references) before destructiveChangesPost.xml (what is "
                    "referenced); counts: deleted, removed with their object, already gone, left in place (why)",
                ],
                # What runs (cutover.steps.rollback): an empty package.xml and the two manifests, as a metadata folder.
                sf_command=sf_line(
                    rb,
                    "project",
                    "deploy",
                    "start",
                    "--metadata-dir",
                    f"{ROLLBACK_DIR}/remove-added",
                    "--test-level",
                    quick.test_level,
                    "--ignore-warnings",
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
