"""The runbook as an ordered, flat list of steps: what `cutover plan` prints and what the engine runs.

`build_plan(runbook)` follows the seed's order: pre-deployment checklist (every box an automated gate or a
sign-off), org identity guard, backup, release branch and tag, validation, quick deploy, verification, monitoring
and the post-deployment checklists. `build_rollback_plan(runbook)` is the contingency: steps that run only when a
rollback is triggered. Building a plan has no side effects: no `sf`, no git, no network, no files.

`PlanStep.action` is the executor key the engine looks up in `cutover.steps.registry`; `params` carries what the
executor needs, so executors do not have to re-derive it from the runbook.
"""

from __future__ import annotations

from cutover.runbook.models import STAGES, Runbook, command_argv, command_text
from cutover.runbook.plan._common import (
    BACKUP_DIR,
    DEPLOY_JOB_ID,
    ROLLBACK_DIR,
    STAGE_TITLES,
    VALIDATED_JOB_ID,
    PlanStep,
    StepKind,
    sf_line,
    signoff_step,
)
from cutover.runbook.plan.after import monitor_steps, post_deploy_steps, verify_steps
from cutover.runbook.plan.deploy import backup_steps, deploy_steps, guard_steps, release_steps, validate_steps
from cutover.runbook.plan.overlap import annotate_overlap
from cutover.runbook.plan.preflight import preflight_steps
from cutover.runbook.plan.rollback import build_rollback_plan

__all__ = [
    "BACKUP_DIR",
    "DEPLOY_JOB_ID",
    "ROLLBACK_DIR",
    "STAGE_TITLES",
    "VALIDATED_JOB_ID",
    "PlanStep",
    "StepKind",
    "build_plan",
    "build_rollback_plan",
    "sf_line",
]


_STAGE_BUILDERS = {
    "preflight": preflight_steps,
    "guard": guard_steps,
    "backup": backup_steps,
    "release": release_steps,
    "validate": validate_steps,
    "deploy": deploy_steps,
    "verify": verify_steps,
    "monitor": monitor_steps,
    "post_deploy": post_deploy_steps,
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
        steps += [signoff_step(s, runbook) for s in runbook.signoffs if s.stage == stage and stage != "preflight"]
        steps += [_custom_step(runbook, i) for i, c in enumerate(runbook.custom_steps) if c.after == stage]
    return annotate_overlap(steps, runbook)
