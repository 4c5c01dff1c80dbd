"""`sf.quick_deploy`: seed "Step 2: Deploy to Production" — promote exactly the package that passed validation.

Right before submitting, `sf org display` checks that the alias still points at the org this run's guard proved
(a run can pause for hours between the guard and the deploy). Then `sf project deploy quick --job-id <validation
id> --async` (the validation id comes from the `sf.validate` step of this run, which must have passed); the new
deploy id is recorded (`deploy_id`) *before* waiting, then `deploy report` is polled with live progress until
done. Succeeded → passed; Failed/Canceled → blocking failure naming the first problems. A validation that can no
longer be quick-deployed (CannotQuickDeployError: older than 10 days, or another deploy changed the org since) →
blocking failure with the hint to validate again.

Never two deploys for one run: after a crash the engine calls `reattach`, which polls the recorded deploy id; and
before submitting, the step looks for a deploy id an earlier attempt of this run recorded (a `cutover retry` clears
the step's ids, not the audit log): if that deploy succeeded or is still running, it is adopted instead of
submitting another. Only an earlier deploy that failed or was canceled allows a new submission.

Interrupted (SIGINT/SIGTERM, a crash) while submitting, before sf answered with a deploy id: the engine calls
`recover`, which asks the org (`cutover.steps.interrupted`: Tooling API `DeployRequest`, by the user the alias logs in
as, created since the interrupted attempt started, not one this run recorded): exactly one deploy there → adopted and
followed; none → the quick deploy is submitted; several, or an org that cannot answer the question → the step fails
saying so (waive or retry after checking).
"""

from __future__ import annotations

from typing import Any

from cutover.engine import StepContext, StepOutcome, StepStatus
from cutover.sf import DeployResult, SfCli, SfError
from cutover.steps._sf import sf_session
from cutover.steps.guard import same_org_id, verified_identity
from cutover.steps.interrupted import ask_org_after_interrupt
from cutover.steps.registry import StepServices, register_action
from cutover.steps.validate import POLL_INTERVAL_S, failure_reasons, record_report, summary_line, wait_for_deploy

VALIDATE_ACTION = "sf.validate"
CANNOT_QUICK_DEPLOY_NAMES = ("CannotQuickDeployError", "INVALID_ID_FIELD")


def validated_job(ctx: StepContext) -> tuple[str | None, str]:
    """(validation id, why not) from this run's passed validation step."""
    for record in ctx.store.steps(ctx.run_id):
        if record.spec.action != VALIDATE_ACTION:
            continue
        job_id = record.external_ids.get("validation_id")
        if record.status != StepStatus.PASSED:
            return None, f"the validation step {record.id} is {record.status.value}, not passed"
        if not job_id:
            return None, f"the validation step {record.id} recorded no validation id"
        return str(job_id), ""
    return None, "this run has no validation step (sf.validate)"


def earlier_deploy_ids(ctx: StepContext) -> list[str]:
    """Deploy ids this step recorded in earlier attempts of the run (newest last), from the audit log."""
    ids = []
    for event in ctx.store.events(ctx.run_id):
        if (
            event.type == "step.external_id"
            and event.step_id == ctx.step.id
            and event.payload.get("key") == "deploy_id"
        ):
            ids.append(str(event.payload.get("value")))
    return ids


def cannot_quick_deploy(exc: SfError) -> bool:
    data = exc.data if isinstance(exc.data, dict) else {}
    text = f"{exc.name or ''} {data.get('errorCode') or ''} {exc.message}"
    return any(name in text for name in CANNOT_QUICK_DEPLOY_NAMES)


def org_reason(exc: SfError) -> str:
    """The org's own words (`data.message`, e.g. "INVALID_ID_FIELD: the org changed since the validation")."""
    data = exc.data if isinstance(exc.data, dict) else {}
    return str(data.get("message") or exc.message)


class QuickDeploy:
    idempotent = False  # a deploy changes production: after a crash only `reattach` (by recorded id) is safe

    def __init__(self, params: dict[str, Any], runbook: Any, services: Any) -> None:
        self.params = params
        self.runbook = runbook
        self.services = services
        self.alias = services.target_org or runbook.target.alias
        self.timeout_s = float(params.get("wait_minutes") or runbook.sf.wait_minutes) * 60
        self.interval_s = float(params.get("poll_interval_s", POLL_INTERVAL_S))

    def run(self, ctx: StepContext) -> StepOutcome:
        validation_id, why = validated_job(ctx)
        if validation_id is None:
            return StepOutcome.failed(f"nothing to quick-deploy: {why}")
        with sf_session(ctx, self.services, self.runbook) as sf:
            adopted = self._adopt_earlier(ctx, sf)
            if adopted is not None:
                return self._finish(ctx, sf, adopted, validation_id)
            moved = self._alias_moved(ctx, sf)
            if moved:
                return StepOutcome.failed(moved)
            ctx.progress.update(f"quick-deploying validation {validation_id} to {self.alias}")
            try:
                queued = sf.deploy_quick(self.alias, validation_id, async_=True)
            except SfError as exc:
                if cannot_quick_deploy(exc):
                    return StepOutcome.failed(
                        f"validation {validation_id} can no longer be quick-deployed ({org_reason(exc)}); nothing was "
                        "deployed. Validate again, then deploy the new validation: `cutover retry validate.dry-run && "
                        f"cutover retry {ctx.step.id} && cutover resume`",
                        validation_id=validation_id,
                    )
                raise
            if not queued.id:
                return StepOutcome.failed("sf accepted the quick deploy but returned no deploy id")
            ctx.set_external_id("deploy_id", queued.id)
            ctx.set_external_id("validation_id", validation_id)
            return self._finish(ctx, sf, queued.id, validation_id)

    def reattach(self, ctx: StepContext, external_ids: dict[str, Any]) -> StepOutcome:
        deploy_id = external_ids.get("deploy_id")
        validation_id = str(external_ids.get("validation_id") or "")
        if not deploy_id:  # interrupted before sf answered with a deploy id: ask the org
            return self.recover(ctx)
        ctx.event("deploy.reattached", job_id=deploy_id)
        with sf_session(ctx, self.services, self.runbook) as sf:
            return self._finish(ctx, sf, str(deploy_id), validation_id)

    def recover(self, ctx: StepContext) -> StepOutcome:
        """Interrupted before a deploy id was recorded: the org says whether the deploy exists (adopt) or not
        (submit). See `cutover.steps.interrupted`."""
        validation_id, why = validated_job(ctx)
        if validation_id is None:
            return StepOutcome.failed(f"nothing to quick-deploy: {why}")
        with sf_session(ctx, self.services, self.runbook) as sf:
            adopted = self._adopt_earlier(ctx, sf)
            if adopted is not None:
                return self._finish(ctx, sf, adopted, validation_id)
            found, refused = ask_org_after_interrupt(ctx, sf, self.alias, what="the quick deploy")
            if refused is not None:
                return refused
            if found is None:
                return self.run(ctx)
            ctx.set_external_id("validation_id", validation_id)
            return self._finish(ctx, sf, found, validation_id)

    def _alias_moved(self, ctx: StepContext, sf: SfCli) -> str | None:
        """Re-check, right before changing production, that the alias still points at the org the guard proved
        (a run can pause for hours; someone may log the alias in to another org meanwhile)."""
        proved = verified_identity(ctx)
        if not proved or not proved.get("org_id"):
            return None
        now = sf.org_display(self.alias)
        if same_org_id(str(proved["org_id"]), now.org_id):
            return None
        return (
            f"WRONG ORG: {self.alias} now points at {now.username} ({now.org_id}), not the org the guard verified "
            f"({proved.get('username')}, {proved['org_id']}); nothing was deployed"
        )

    def _adopt_earlier(self, ctx: StepContext, sf: SfCli) -> str | None:
        earlier = earlier_deploy_ids(ctx)
        if not earlier:
            return None
        latest = earlier[-1]
        report = sf.deploy_report(self.alias, latest)
        if report.failed:
            ctx.event("deploy.previous_failed", job_id=latest, status=report.status)
            return None
        ctx.event("deploy.adopted", job_id=latest, status=report.status)
        ctx.set_external_id("deploy_id", latest)
        return latest

    def _finish(self, ctx: StepContext, sf: SfCli, deploy_id: str, validation_id: str) -> StepOutcome:
        report: DeployResult = wait_for_deploy(
            ctx, sf, self.alias, deploy_id, label="deploy", timeout_s=self.timeout_s, interval_s=self.interval_s
        )
        record_report(ctx, sf, "deploy-result.json")
        of = f" of validation {validation_id}" if validation_id else ""
        data = {"deploy_id": deploy_id, "validation_id": validation_id, "status": report.status}
        if report.succeeded:
            return StepOutcome.passed(f"{summary_line(report)} (deploy {deploy_id}{of})", **data)
        reasons = "; ".join(failure_reasons(report))
        return StepOutcome.failed(
            f"deploy {deploy_id}{of} {report.status or 'failed'}: {summary_line(report)}"
            + (f"; {reasons}" if reasons else "")
            + " — with rollbackOnError the org is unchanged",
            **data,
        )


@register_action("sf.quick_deploy")
def _deploy_factory(plan_step: Any, runbook: Any, services: StepServices) -> QuickDeploy:
    return QuickDeploy(dict(plan_step.params or {}), runbook, services)
