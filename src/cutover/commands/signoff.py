"""`cutover signoff`, `cutover waive` and `cutover retry`: what people record on a run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from cutover.commands._context import app_context, err_console, out_console
from cutover.commands.run import (
    Project,
    _resolve_step,
    _rules,
    _try_load_project,
    create_run,
    sync_runbook,
)
from cutover.engine import Engine, RoleRules, RunInfo, RunState, StepStatus
from cutover.errors import UsageError

if TYPE_CHECKING:
    from cutover.signing.flows import Request


def _check_signoff_against_plan(
    specs: Any, given: str, *, by: str, role: str, evidence: str | None, rules: RoleRules, signed: bool = False
) -> None:
    """The checks `_resolve_step` and the engine make on a run, made on the plan before a run is created for it
    (a signed sign-off's signature is checked when it is recorded)."""
    from dataclasses import replace

    from cutover.engine.signoffs import check_signoff
    from cutover.signing.intake import resolve_spec

    spec = resolve_spec(specs, given, "the runbook's plan")
    if signed and spec.signoff is not None:
        spec = replace(spec, signoff=replace(spec.signoff, signatures_required=False))
    check_signoff(spec, by=by, role=role, evidence=evidence, existing=(), rules=rules)


def _run_for_change(engine: Engine, run_id: str | None, project: Project | None) -> RunInfo:
    """The run a sign-off/waiver/retry applies to: --run, else the org's open run, else its latest run."""
    if run_id:
        return engine.resolve_run(run_id)
    if project is not None:
        run = engine.open_run(project.target_org)
        if run is not None:
            return run
        return engine.resolve_run(None, target_org=project.target_org)
    return engine.resolve_run(None)


def _failed_run(engine: Engine, org: str) -> RunInfo | None:
    """The org's latest run if it failed: sign-offs given to fix it belong to it (then retry and resume)."""
    runs = engine.runs(org)
    return runs[-1] if runs and runs[-1].state == RunState.FAILED else None


def _follow_up_run(engine: Engine, org: str, step: str) -> RunInfo | None:
    """The org's latest run if it succeeded with this step's (non-blocking) sign-off still open."""
    runs = engine.runs(org)
    if not runs or runs[-1].state != RunState.SUCCEEDED:
        return None
    latest = runs[-1]
    try:
        step_id = _resolve_step(engine, latest, step)
    except UsageError:
        return None
    record = next(r for r in engine.steps(latest.id) if r.id == step_id)
    return latest if record.status == StepStatus.WAITING_SIGNOFF else None


def signoff_cmd(
    ctx: typer.Context,
    step: str = typer.Argument(..., metavar="STEP", help="Sign-off step id (e.g. signoff.security-review)."),
    file: Path | None = typer.Argument(None, metavar="[FILE]", help="With STEP `import`: the statement file."),
    by: str | None = typer.Option(None, "--by", metavar="WHO", help="The person signing."),
    role: str | None = typer.Option(None, "--role", metavar="ROLE", help="The runbook role they sign as."),
    note: str | None = typer.Option(None, "--note", metavar="TEXT", help="A remark kept in the audit trail."),
    evidence: str | None = typer.Option(None, "--evidence", metavar="URL", help="Link to the proof (or a file)."),
    run_id: str | None = typer.Option(None, "--run", metavar="RUN", help="Run id (default: the open run)."),
    target_org: str | None = typer.Option(None, "--target-org", "-o", help="Org alias (default: the runbook's)."),
    key: Path | None = typer.Option(None, "--key", metavar="PATH", help="Sign with this SSH key (.pub: ssh-agent)."),
    output: Path | None = typer.Option(None, "--output", metavar="FILE", help="Write the signed statement here."),
    push: bool = typer.Option(False, "--push", help="Push the signed statement to refs/cutover/signoffs/RUN."),
    remote: str | None = typer.Option(None, "--remote", metavar="NAME", help="Git remote (default: release.remote)."),
) -> None:
    """Record a sign-off (separation of duties is enforced). May be given before the run reaches the step.

    Code reviews count too: cutover signoff preflight.reviews --by WHO --role reviewer. With --key the sign-off is
    SSH-signed; with --output/--push (and --run) it is signed from a checkout alone and delivered later:
    cutover signoff import FILE, or through the git remote (fetched by resume and status).
    """
    app = app_context(ctx)
    if step == "import":
        if file is None:
            raise UsageError("cutover signoff import needs the statement FILE")
        _import(app.project_dir, file, run_id, target_org)
        return
    if file is not None:
        raise UsageError(f"unexpected argument {file} (only `cutover signoff import FILE` takes a file)")
    if not by or not role:
        raise UsageError("cutover signoff STEP needs --by WHO and --role ROLE")
    request = None
    if key is not None or output is not None or push:
        from cutover.signing.flows import Request, require_key

        why = "--output" if output is not None else "--push" if push else "--key"
        request = Request(step, by, role, note, evidence, require_key(key, why=why))
    if request is not None and (output is not None or push):
        _sign_detached(app.project_dir, request, run_id, target_org, output, push, remote)
        return
    engine = Engine(app.project_dir)
    project = _try_load_project(app.project_dir, target_org)
    run: RunInfo | None
    if run_id:
        run = engine.resolve_run(run_id)
    else:
        if project is None:
            from cutover.runbook import find_runbook

            find_runbook(app.project_dir)  # raises the loader's clear "no cutover.yaml" error
            raise UsageError("no runbook")  # pragma: no cover - find_runbook raised
        run = (
            engine.open_run(project.target_org)
            or _failed_run(engine, project.target_org)
            or _follow_up_run(engine, project.target_org, step)
        )
        if run is None:  # sign-offs may come before the run starts: they attach to a planned run
            from cutover.steps import plan_to_specs

            specs = plan_to_specs(project.plan, project.runbook)
            # A typo or a refused sign-off must not leave a planned run behind: check it against the plan first.
            _check_signoff_against_plan(
                specs, step, by=by, role=role, evidence=evidence, rules=_rules(project), signed=request is not None
            )
            if request is not None:
                from cutover.signing.flows import precheck_key

                precheck_key(project, request.key)
            run = create_run(engine, project, specs)
            err_console().print(f"created run {run.id} (planned) for {project.target_org}", markup=False)
    if project is not None:
        run = sync_runbook(run, project, engine)
    step_id = _resolve_step(engine, run, step)
    if request is not None:
        from cutover.signing.flows import describe, sign_local

        if project is None:
            raise UsageError("a signed sign-off needs the runbook (cutover.yaml) for the keys")
        signed = sign_local(engine, project, run, step_id, request, _rules(project))
        err_console().print(describe(signed), markup=False, highlight=False)
    else:
        signed = engine.signoff(run.id, step_id, by=by, role=role, note=note, evidence=evidence, rules=_rules(project))
    from cutover.engine.signoffs import evaluate

    record = next(r for r in engine.steps(run.id) if r.id == step_id)
    progress = ""
    if record.spec.signoff is not None:
        state = evaluate(record.spec.signoff, engine.store.logged_signoffs(run.id, step_id))
        progress = f" ({len(state.signers)} of {state.needed} sign-off(s))"
    out_console().print(
        f"{escape(signed.by)} signed {step_id} as {signed.role} in run {run.id}{progress}", highlight=False
    )
    if run.state == RunState.PAUSED:
        out_console().print(f"continue with: cutover resume {run.id}", markup=False)
    elif run.state == RunState.FAILED and record.status == StepStatus.FAILED:
        out_console().print(f"then: cutover retry {step_id} && cutover resume {run.id}", markup=False)


def _sign_detached(
    project_dir: Path,
    request: Request,
    run_id: str | None,
    target_org: str | None,
    output: Path | None,
    push: bool,
    remote: str | None,
) -> None:
    """Sign from a checkout alone: --run names the run; the statement goes to --output and/or the git remote."""
    from cutover.commands.run import load_project
    from cutover.signing import transport
    from cutover.signing.flows import key_fingerprint, sign_detached

    if not run_id:
        raise UsageError("--output/--push sign for a run given by id: add --run RUN (see `cutover status` there)")
    project = load_project(project_dir, target_org)
    remote = remote or project.runbook.release.remote
    envelope = sign_detached(project, run_id, request, _rules(project), remote)
    what = f"{envelope.statement.step} in run {run_id} (key {key_fingerprint(envelope)})"
    if output is not None:
        try:
            output.write_text(envelope.dumps(), encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--output {output}: cannot write it ({exc.strerror or exc})") from None
        out_console().print(f"signed statement for {what} written to {output}", markup=False)
        out_console().print(f"deliver it: cutover signoff import {output.name} (where the run is)", markup=False)
    if push:
        path = transport.push(project_dir, remote, run_id, envelope)
        out_console().print(
            f"signed statement for {what} pushed to {remote} {transport.ref_name(run_id)} ({path}); "
            "`cutover resume` or `cutover status` there fetches it",
            markup=False,
        )


def _import(project_dir: Path, file: Path, run_id: str | None, target_org: str | None) -> None:
    from cutover.commands.run import load_project
    from cutover.signing.flows import describe
    from cutover.signing.intake import accept
    from cutover.signing.statement import Envelope

    envelope = Envelope.read(file)
    project = load_project(project_dir, target_org)
    engine = Engine(project_dir)
    run = sync_runbook(engine.resolve_run(run_id or envelope.statement.run), project, engine)
    rules = _rules(project)
    signed = accept(engine, run, envelope, runbook=project.runbook, project_dir=project.dir, rules=rules)
    out_console().print(f"imported: {describe(signed)} in run {signed.run_id}", markup=False, highlight=False)
    run = engine.resolve_run(signed.run_id)
    if run.state == RunState.PAUSED:
        out_console().print(f"continue with: cutover resume {run.id}", markup=False)


def waive_cmd(
    ctx: typer.Context,
    step: str = typer.Argument(..., metavar="STEP"),
    reason: str = typer.Option(..., "--reason", metavar="TEXT", help="Why it is acceptable to skip this step."),
    approver: str = typer.Option(..., "--approver", metavar="WHO", help="Who takes responsibility."),
    run_id: str | None = typer.Option(None, "--run", metavar="RUN", help="Run id (default: the open/latest run)."),
    target_org: str | None = typer.Option(None, "--target-org", "-o", help="Org alias (default: the runbook's)."),
    accept_no_rollback: bool = typer.Option(
        False,
        "--accept-no-rollback",
        help="Waiving a backup step: accept that the run can then not be rolled back by cutover.",
    ),
) -> None:
    """Waive a step (it counts as finished): needs a reason and an approver holding an allowed role. Waiving a
    backup step also needs --accept-no-rollback (without the backup there is nothing to roll back to)."""
    app = app_context(ctx)
    engine = Engine(app.project_dir)
    project = _try_load_project(app.project_dir, target_org)
    run = _run_for_change(engine, run_id, project)
    if project is not None:
        run = sync_runbook(run, project, engine)
    step_id = _resolve_step(engine, run, step)
    waiver = engine.waive(
        run.id,
        step_id,
        reason=reason,
        approver=approver,
        rules=_rules(project),
        accept_no_rollback=accept_no_rollback,
    )
    out_console().print(f"{step_id} waived by {escape(waiver.approver)}: {escape(waiver.reason)}")
    disabled = [e for e in engine.events(run.id) if e.step_id == step_id and e.payload.get("rollback_disabled")]
    if disabled:
        err_console().print(
            f"warning: run {run.id} can no longer be rolled back by cutover ({step_id} waived)", markup=False
        )
    out_console().print(f"continue with: cutover resume {run.id}", markup=False)


def retry_cmd(
    ctx: typer.Context,
    step: str = typer.Argument(..., metavar="STEP"),
    run_id: str | None = typer.Option(None, "--run", metavar="RUN", help="Run id (default: the open/latest run)."),
) -> None:
    """Reset a failed (or interrupted) step to pending, so `cutover resume` runs it again."""
    app = app_context(ctx)
    engine = Engine(app.project_dir)
    project = _try_load_project(app.project_dir)
    run = _run_for_change(engine, run_id, project)
    step_id = _resolve_step(engine, run, step)
    engine.retry(run.id, step_id)
    out_console().print(f"{step_id} reset to pending; continue with: cutover resume {run.id}", markup=False)
