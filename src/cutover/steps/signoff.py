"""The `signoff` action: a manual checklist item is done when enough distinct people in an accepted role signed it.

Sign-offs are given with `cutover signoff STEP --by WHO --role ROLE` (before or while the run waits); separation of
duties is checked then, by the engine. Here the run only asks whether the step is satisfied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cutover.engine import StepContext, StepOutcome
from cutover.engine.signoffs import evaluate, waiting_message
from cutover.steps.registry import StepServices, register_action

if TYPE_CHECKING:
    from cutover.runbook.models import Runbook
    from cutover.runbook.plan import PlanStep


class SignoffStep:
    idempotent = True  # only reads sign-offs

    def run(self, ctx: StepContext) -> StepOutcome:
        rule = ctx.step.signoff
        if rule is None:
            return StepOutcome.failed(f"{ctx.step.id} has no sign-off rule (roles) in the plan")
        state = evaluate(rule, ctx.signoffs_for())
        if not state.satisfied and ctx.step.params.get("automatic_on_verification_failure"):
            trigger = _automatic_rollback_trigger(ctx)
            if trigger is not None:
                return StepOutcome.passed(f"automatic rollback: {trigger} failed verification; no approval needed")
        if not state.satisfied:
            return StepOutcome.waiting_signoff(waiting_message(ctx.step, state))
        signed = [s for s in ctx.signoffs_for() if s.by in state.signers]
        who = ", ".join(f"{s.by} ({s.role})" for s in signed)
        return StepOutcome.passed(f"signed by {who}", signers=[{"by": s.by, "role": s.role} for s in signed])


def _automatic_rollback_trigger(ctx: StepContext) -> str | None:
    """The step whose failure started this run's rollback by itself (on_failure=rollback), if that is what happened."""
    for record in ctx.store.steps(ctx.run_id):
        if record.spec.on_failure == "rollback" and record.status == "failed":
            return record.id
    return None


@register_action("signoff")
@register_action("checklist")  # a checklist is attested as a whole by one person in its role
def _signoff(plan_step: PlanStep, runbook: Runbook, services: StepServices) -> SignoffStep:
    return SignoffStep()
