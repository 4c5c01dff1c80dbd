"""After an interrupt before sf answered with a deploy id: ask the org whether the deploy exists (issue 11).

Shared by every step that deploys (`deploy.quick`, `rollback.redeploy-backup`, `rollback.remove-added`). The engine
calls a non-idempotent step's `recover` when it was interrupted before it recorded a job id; the step then asks
`ask_org_after_interrupt`: the Tooling API `DeployRequest`s (not validations) that the alias's user created since the
interrupted attempt started (minus a minute of clock skew), leaving out every deploy this run already recorded (the
release's quick deploy, the rollback's earlier deploys: they may fall inside the minute). Exactly one → adopted (its
id recorded as the step's `deploy_id`); none → the step submits; several, or an org that cannot answer → the step
fails saying so, with the commands to check, waive or retry (never a guess).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cutover.engine import StepContext, StepOutcome
from cutover.sf import SfError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from cutover.sf import SfCli

#: How far before the interrupted attempt's start the org's deploys are looked for (clocks differ).
CLOCK_SKEW_S = 60
#: The external ids that name a deploy or validation in the org (any step of the run).
DEPLOY_ID_KEYS = ("deploy_id", "validation_id")


def interrupted_attempt_start(ctx: StepContext) -> str:
    """When the interrupted attempt of this step started (its last `step.started` event), minus a minute of skew."""
    started = next(
        (e.at for e in reversed(ctx.store.events(ctx.run_id)) if e.type == "step.started" and e.step_id == ctx.step.id),
        None,
    )
    moment = datetime.fromisoformat(started.replace("Z", "+00:00")) if started else datetime.now(UTC)
    return (moment - timedelta(seconds=CLOCK_SKEW_S)).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_deploy_ids(ctx: StepContext) -> set[str]:
    """Every deploy or validation id any step of this run recorded (from the audit log), as 15-character ids."""
    return {
        str(event.payload.get("value"))[:15]
        for event in ctx.store.events(ctx.run_id)
        if event.type == "step.external_id"
        and event.payload.get("key") in DEPLOY_ID_KEYS
        and event.payload.get("value")
    }


def find_interrupted_deploy(
    sf: SfCli, alias: str, since: str, exclude: Iterable[str] = ()
) -> tuple[str | None, str | None]:
    """(the id of the one deploy (not a validation) the alias's user started in the org since `since` that is not in
    `exclude`, a problem). None, None: the org holds no such deploy. A problem: the org could not be asked, or holds
    several."""
    known = {str(x)[:15] for x in exclude}
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
    ids = [str(row.get("Id")) for row in rows if row.get("Id") and str(row.get("Id"))[:15] not in known]
    if len(ids) > 1:
        return None, f"the org holds {len(ids)} deploys since {since} ({', '.join(ids[:5])}), not one"
    return (ids[0] if ids else None), None


def _soql_quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def ask_org_after_interrupt(
    ctx: StepContext, sf: SfCli, alias: str, *, what: str
) -> tuple[str | None, StepOutcome | None]:
    """(the deploy to adopt, already recorded as `deploy_id`; or None: submit) or (None, the failed outcome when the org
    cannot tell). `what` names the deploy in messages ("the quick deploy")."""
    since = interrupted_attempt_start(ctx)
    found, problem = find_interrupted_deploy(sf, alias, since, exclude=run_deploy_ids(ctx))
    if problem is not None:
        ctx.event("deploy.recover_unknown", since=since, problem=problem)
        return None, StepOutcome.failed(
            f"interrupted while submitting {what}, and {problem}: it may or may not exist in the org. Check `sf "
            f"project deploy report --target-org {alias}` / Setup > Deployment Status, then `cutover waive "
            f"{ctx.step.id} --reason TEXT --approver WHO` or `cutover retry {ctx.step.id}`"
        )
    if found is None:
        ctx.event("deploy.recover_none", since=since)
        ctx.progress.note(f"the org holds no deploy since {since}: submitting {what}")
        return None, None
    ctx.event("deploy.recover_adopted", since=since, job_id=found)
    ctx.set_external_id("deploy_id", found)
    return found, None
