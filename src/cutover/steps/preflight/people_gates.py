"""Gates on people and time: the deployment window, the contacts, the sign-offs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cutover.checks import contacts as contact_checks
from cutover.checks import window as window_checks
from cutover.checks.result import Evidence, GateResult, GateStatus, passed, waiting
from cutover.steps.preflight.context import GateSpec, PreflightContext

if TYPE_CHECKING:
    from cutover.runbook.models import Runbook


def gate_window(spec: GateSpec, ctx: PreflightContext) -> GateResult:
    config = ctx.runbook.window
    window = window_checks.Window(
        timezone=config.timezone, days=tuple(config.days), start=config.start_time, end=config.end_time
    )
    approvers = tuple(ctx.runbook.roles[r].title if r in ctx.runbook.roles else r for r in config.exception_approvers)
    result = window_checks.check_window(spec.id, spec.title, window, ctx.at, approvers=approvers)
    if result.status == GateStatus.WAITING_SIGNOFF:
        if not config.enforce:
            detail = result.detail.split("; needs")[0] + " (not enforced: window.enforce is false)"
            return GateResult(spec.id, spec.title, GateStatus.SKIPPED, False, detail, result.evidence)
        return GateResult(
            spec.id,
            spec.title,
            result.status,
            result.blocking,
            result.detail + f"; run: cutover waive {spec.id} --reason TEXT --approver NAME",
            result.evidence,
        )
    return result


def gate_contacts(spec: GateSpec, ctx: PreflightContext) -> GateResult:
    """Required roles and everyone on an escalation path can be reached (docs/runbook.md, `roles`)."""
    escalated = {role_id for row in ctx.runbook.alerts.escalation for role_id in row.path}
    contacts = [
        contact_checks.Contact(
            role_id, role.title, role.name, role.email, role.phone, role.required, role_id in escalated
        )
        for role_id, role in ctx.runbook.roles.items()
    ]
    return contact_checks.check_contacts(spec.id, spec.title, contacts)


def gate_signoff(spec: GateSpec, ctx: PreflightContext) -> GateResult:
    from cutover.engine.signoffs import evaluate
    from cutover.steps import signoff_rule

    rule = signoff_rule(_PlanStepView(spec), ctx.runbook)
    records = ctx.view.signoffs.get(spec.id, ())
    state = evaluate(rule, records)
    if state.satisfied:
        signed = [r for r in records if r.by in state.signers]
        links = [r.evidence for r in signed if r.evidence]
        who = ", ".join(f"{r.by} ({r.role})" for r in signed)
        evidence = Evidence.json(
            "signoff.json",
            [{"by": r.by, "role": r.role, "at": r.at, "evidence": r.evidence, "note": r.note} for r in signed],
        )
        return passed(
            spec.id,
            spec.title,
            f"signed by {who}" + (f"; evidence: {', '.join(links)}" if links else ""),
            evidence,
            blocking=spec.blocking,
        )
    roles = ", ".join(_role_title(ctx.runbook, r) for r in rule.roles)
    needs = f"{state.needed - len(state.signers)} more " if state.needed > 1 else ""
    evidence_flag = " --evidence URL" if rule.evidence_required else ""
    return waiting(
        spec.id,
        spec.title,
        f"needs {needs}sign-off by {roles}: cutover signoff {spec.id} --by NAME --role {rule.roles[0]}{evidence_flag}",
        blocking=spec.blocking,
    )


def _role_title(runbook: Runbook, role_id: str) -> str:
    role = runbook.roles.get(role_id)
    return role.title if role is not None else role_id


@dataclass(frozen=True)
class _PlanStepView:
    """The attributes `cutover.steps.signoff_rule` reads from a plan step."""

    spec: GateSpec

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def kind(self) -> str:
        return "signoff"

    @property
    def params(self) -> Mapping[str, object]:
        return self.spec.params
