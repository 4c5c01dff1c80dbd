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
`recover`, which asks the org (Tooling API `DeployRequest`, by the user the alias logs in as, created since the
interrupted attempt started): exactly one deploy there → adopted and followed; none → the quick deploy is submitted;
several, or an org that cannot answer the question → the step fails saying so (waive or retry after checking).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cutover.engine import StepContext, StepOutcome, StepStatus
from cutover.sf import DeployResult, SfCli, SfError
from cutover.steps._sf import sf_session
from cutover.steps.guard import same_org_id, verified_identity
from cutover.steps.registry import StepServices, register_action
from cutover.steps.validate import POLL_INTERVAL_S, failure_reasons, record_report, summary_line, wait_for_deploy

VALIDATE_ACTION = "sf.validate"
CANNOT_QUICK_DEPLOY_NAMES = ("CannotQuickDeployError", "INVALID_ID_FIELD")
#: How far before the interrupted attempt's start the org's deploys are looked for (clocks differ).
CLOCK_SKEW_S = 60


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


def interrupted_attempt_start(ctx: StepContext) -> str:
    """When the interrupted attempt of this step started (its last `step.started` event), minus a minute of skew."""
    started = next(
        (e.at for e in reversed(ctx.store.events(ctx.run_id)) if e.type == "step.started" and e.step_id == ctx.step.id),
        None,
    )
    moment = datetime.fromisoformat(started.replace("Z", "+00:00")) if started else datetime.now(UTC)
    return (moment - timedelta(seconds=CLOCK_SKEW_S)).strftime("%Y-%m-%dT%H:%M:%SZ")


def find_interrupted_deploy(sf: SfCli, alias: str, since: str) -> tuple[str | None, str | None]:
    """(the id of the one deploy (not a validation) the alias's user started in the org since `since`, a problem).

    None, None: the org holds no such deploy. A problem: the org could not be asked, or holds several."""
    try:
        user = sf.org_display(alias).username
        soql = (
            "SELECT Id, Status, CreatedDate FROM DeployRequest "
            f"WHERE CreatedDate >= {since} AND CheckOnly = false AND CreatedBy.Username = '{_soql_quote(user)}' "
            "ORDER BY CreatedDate"
        )
        rows = sf.data_query(alias, soql, tooling=True).rows()
    except SfError as exc:
        return None, f"the org could not be asked for its deploys ({exc.message[:200]})"
    ids = [str(row.get("Id")) for row in rows if row.get("Id")]
    if len(ids) > 1:
        return None, f"the org holds {len(ids)} deploys since {since} ({', '.join(ids[:5])}), not one"
    return (ids[0] if ids else None), None


def _soql_quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


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
        (submit). See `find_interrupted_deploy`."""
        validation_id, why = validated_job(ctx)
        if validation_id is None:
            return StepOutcome.failed(f"nothing to quick-deploy: {why}")
        since = interrupted_attempt_start(ctx)
        with sf_session(ctx, self.services, self.runbook) as sf:
            adopted = self._adopt_earlier(ctx, sf)
            if adopted is not None:
                return self._finish(ctx, sf, adopted, validation_id)
            found, problem = find_interrupted_deploy(sf, self.alias, since)
            if problem is not None:
                ctx.event("deploy.recover_unknown", since=since, problem=problem)
                return StepOutcome.failed(
                    f"interrupted while submitting the quick deploy, and {problem}: it may or may not exist in the "
                    f"org. Check `sf project deploy report --target-org {self.alias}` / Setup > Deployment Status, "
                    f"then `cutover waive {ctx.step.id} --reason TEXT --approver WHO` or `cutover retry {ctx.step.id}`"
                )
            if found is None:
                ctx.event("deploy.recover_none", since=since)
                ctx.progress.note(f"the org holds no deploy since {since}: submitting the quick deploy")
                return self.run(ctx)
            ctx.event("deploy.recover_adopted", since=since, job_id=found)
            ctx.set_external_id("deploy_id", found)
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
