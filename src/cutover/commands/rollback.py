"""`cutover rollback [RUN]`: roll a deployed release back on request (seed "Rollback Procedure").

Runs the run's contingency steps (redeploy the backup, delete what the release added, re-create and check the
scheduled jobs, notify, the post-rollback checklists) and ends the run `rolled_back`. The same steps run by
themselves when verification fails and the runbook says `rollback.automatic_on_verification_failure`.

A rollback is the Deployment Lead's decision (the runbook's `rollback.approvers`): `--by WHO` records that sign-off on
`rollback.decide` (separation of duties enforced); without it the rollback waits for `cutover signoff rollback.decide`
and continues with `cutover resume`. Refused for a run that deployed nothing: with rollbackOnError a failed deploy
leaves the org as it was.
"""

from __future__ import annotations

import json

import typer
from rich.markup import escape

from cutover.commands._context import app_context, err_console, out_console
from cutover.commands.run import OutputFormat, _check_runbook_unchanged, _confirm, _progress, _rules, load_project
from cutover.engine import DONE_STATUSES, Engine, RunInfo, RunState, StepStatus
from cutover.engine.signoffs import signature_required
from cutover.errors import CutoverError, Failure, UsageError

DECIDE_STEP = "rollback.decide"


def deployed(engine: Engine, run: RunInfo) -> bool:
    """Did this run change the org? Only a deploy step that passed did (a failed one rolled itself back)."""
    return any(r.spec.stage == "deploy" and r.status == StepStatus.PASSED for r in engine.steps(run.id))


def rollback_cmd(
    ctx: typer.Context,
    run_id: str | None = typer.Argument(None, metavar="[RUN]", help="Run id or unique prefix (default: latest)."),
    reason: str = typer.Option(
        "manual rollback", "--reason", metavar="TEXT", help="Why (a trigger criterion); kept in the audit trail."
    ),
    by: str | None = typer.Option(
        None, "--by", metavar="WHO", help="The approver: records the rollback decision sign-off."
    ),
    role: str | None = typer.Option(
        None, "--role", metavar="ROLE", help="The approver's role (default: the runbook's first rollback approver)."
    ),
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", help="Output format."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Roll back a deployed run: redeploy its backup and delete what the release added."""
    output = fmt
    app = app_context(ctx)
    engine = Engine(app.project_dir)
    run = engine.resolve_run(run_id)
    if run.state in (RunState.ROLLED_BACK, RunState.ABORTED):
        raise UsageError(f"run {run.id} is {run.state.value}; nothing to roll back")
    if not deployed(engine, run):
        raise UsageError(
            f"run {run.id} deployed nothing to {run.target_org}; there is nothing to roll back",
            hint="a deploy that failed left the org unchanged (rollbackOnError)",
        )
    from cutover.steps.rollback import waived_backup, waived_backup_message

    project = load_project(app.project_dir, run.target_org)
    waiver = waived_backup(engine.store, run.id)
    if waiver is not None:  # say it now, before asking for a decision that cannot be carried out
        source = project.runbook.project.source_dir
        raise Failure(waived_backup_message(waiver, alias=run.target_org, source_dir=source))
    _check_runbook_unchanged(run, project)
    _confirm(
        f"Roll back run {run.id} on {run.target_org}: redeploy the backup and delete what the release added?",
        yes or app.yes,
    )
    engine.request_rollback(run.id, reason=reason, by=by)
    decide = next((r for r in engine.steps(run.id) if r.id == DECIDE_STEP), None)
    # With signatures required, the decision is signed with the approver's key (the run pauses at rollback.decide).
    if by and decide is not None and decide.status not in DONE_STATUSES and not signature_required(decide.spec):
        approvers = list(getattr(project.runbook.rollback, "approvers", None) or [])
        signer_role = role or (approvers[0] if approvers else "deployment_lead")
        engine.signoff(run.id, DECIDE_STEP, by=by, role=signer_role, note=reason, rules=_rules(project))

    from cutover.steps import build_executors
    from cutover.steps.registry import StepServices

    todo = [r.id for r in engine.steps(run.id) if r.spec.contingency and r.status not in DONE_STATUSES]
    services = StepServices(project_dir=project.dir, target_org=run.target_org, runbook_path=project.runbook_path)
    executors = build_executors(project.plan, project.runbook, services, todo)
    if output == OutputFormat.text:
        err_console().print(f"rolling back run {run.id} on {run.target_org}: {', '.join(todo)}", markup=False)
    try:
        result = engine.execute(run.id, executors, progress=_progress(output))
    except CutoverError:
        if output == OutputFormat.json:
            typer.echo(json.dumps(engine.status(run.id), indent=2))
        raise
    if output == OutputFormat.json:
        typer.echo(json.dumps(engine.status(run.id), indent=2))
        return
    out_console().print(f"run {result.run_id}: {result.state.value} — {escape(result.message)}")


def register(app: typer.Typer) -> None:
    app.command("rollback")(rollback_cmd)
