"""Run commands: run, resume, status, signoff, waive, retry, abort, runs, audit verify/log, lock status/break.

Thin: parse, call `cutover.engine.Engine` (through the `cutover.steps` adapter for anything runbook-specific),
render. Errors are raised as `CutoverError`s and turned into exit codes by cli.py:
0 ok, 1 failed, 2 usage, 4 paused for sign-off, 5 locked, 130 interrupted.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cutover.commands._context import app_context, err_console, out_console
from cutover.engine import (
    OPEN_RUN_STATES,
    ConsoleProgress,
    Engine,
    Progress,
    RoleRules,
    RunInfo,
    RunState,
    StepSpec,
    StepStatus,
)
from cutover.engine.runner import steps_to_execute
from cutover.errors import AuditBroken, CutoverError, RunLocked, UsageError


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


# ---------------------------------------------------------------------------------------------------------------------
# Loading the project: runbook, plan, engine
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class Project:
    dir: Path
    runbook: Any
    runbook_path: Path
    runbook_sha256: str
    plan: list[Any]
    target_org: str

    @property
    def relpath(self) -> str:
        try:
            return self.runbook_path.relative_to(self.dir).as_posix()
        except ValueError:
            return str(self.runbook_path)


def load_project(project_dir: Path, target_org: str | None = None) -> Project:
    from cutover.runbook import find_runbook, load_runbook
    from cutover.runbook.plan import build_plan
    from cutover.steps import file_sha256

    path = find_runbook(project_dir)
    runbook = load_runbook(path)
    return Project(
        dir=project_dir,
        runbook=runbook,
        runbook_path=path,
        runbook_sha256=file_sha256(path),
        plan=list(build_plan(runbook)),
        target_org=target_org or runbook.target.alias,
    )


def _try_load_project(project_dir: Path, target_org: str | None = None) -> Project | None:
    from cutover.runbook import RUNBOOK_FILENAME

    if not (project_dir / RUNBOOK_FILENAME).is_file():
        return None
    return load_project(project_dir, target_org)


def _check_runbook_unchanged(run: RunInfo, project: Project) -> None:
    if run.runbook_sha256 and run.runbook_sha256 != project.runbook_sha256:
        raise UsageError(
            f"{project.relpath} changed since run {run.id} was created "
            f"(SHA-256 {run.runbook_sha256[:12]} → {project.runbook_sha256[:12]})",
            hint=f"restore the file, or end that run with `cutover abort {run.id} --reason TEXT` and start a new one",
        )


def _check_same_commit(run: RunInfo, project: Project) -> None:
    """A run releases one commit: its gates and sign-offs say nothing about another one."""
    from cutover.steps import git_head

    head = git_head(project.dir)
    if run.git_head and head and head != run.git_head:
        raise UsageError(
            f"the project is at commit {head[:12]}, but run {run.id} was created for {run.git_head[:12]}",
            hint=f"check out {run.git_head[:12]} to continue that run, or `cutover abort {run.id} --reason TEXT` "
            "and start a new run for this commit",
        )


def _rules(project: Project | None) -> RoleRules:
    if project is None:
        return RoleRules()
    from cutover.steps import change_authors, role_rules

    authors = change_authors(project.dir) if project.runbook.separation_of_duties.reviewer_not_author else ()
    return role_rules(project.runbook, authors)


def _selector(project: Project, only: str | None, until: str | None) -> Any:
    from cutover.runbook import STAGES

    known = list(dict.fromkeys([*STAGES, *(p.stage for p in project.plan)]))
    only_set: set[str] | None = None
    if only:
        only_set = {s.strip() for s in only.split(",") if s.strip()}
        unknown = sorted(only_set - set(known))
        if unknown:
            raise UsageError(f"--only: unknown stage(s) {', '.join(unknown)} (stages: {', '.join(known)})")
    allowed_until: set[str] | None = None
    if until:
        if until not in known:
            raise UsageError(f"--until: unknown stage {until} (stages: {', '.join(known)})")
        allowed_until = set(known[: known.index(until) + 1])

    def select(spec: StepSpec) -> bool:
        if only_set is not None and spec.stage not in only_set:
            return False
        return not (allowed_until is not None and spec.stage not in allowed_until)

    return select


def _confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(f"{question} needs confirmation", hint="pass --yes for non-interactive use")
    if not typer.confirm(question, default=False, err=True):
        raise UsageError("cancelled")


def _progress(fmt: OutputFormat) -> Progress:
    return ConsoleProgress(err_console()) if fmt == OutputFormat.text else Progress()


# ---------------------------------------------------------------------------------------------------------------------
# run / resume
# ---------------------------------------------------------------------------------------------------------------------


def _execute(
    engine: Engine,
    project: Project,
    run: RunInfo,
    select: Any,
    fmt: OutputFormat,
    monitor: dict[str, str] | None = None,
) -> None:
    from cutover.steps import build_executors, missing_executors
    from cutover.steps.registry import StepServices

    records = engine.steps(run.id)
    todo = steps_to_execute(records, select)
    services = StepServices(
        project_dir=project.dir,
        target_org=run.target_org,
        runbook_path=project.runbook_path,
        change_authors=_rules(project).change_authors,
    )
    if monitor:  # rehearsal: a shorter monitoring window (read by cutover.steps.monitor)
        services.extras["monitor_overrides"] = monitor
    # Past an earlier blocking failure, executors are optional: the run goes on only if that step is a read-only
    # check that passes when re-checked.
    first_failure = next((i for i, r in enumerate(todo) if r.status == StepStatus.FAILED), len(todo))
    required = [r.id for r in todo[: first_failure + 1] if not r.spec.contingency]
    later = [r.id for r in todo[first_failure + 1 :] if not r.spec.contingency]
    contingency = [r.id for r in todo if r.spec.contingency]
    executors = build_executors(project.plan, project.runbook, services, required, optional=later + contingency)
    cannot_roll_back = missing_executors(project.plan, project.runbook, contingency)
    progress = _progress(fmt)
    if fmt == OutputFormat.text:
        done = sum(1 for r in records if r.status in (StepStatus.PASSED, StepStatus.WAIVED, StepStatus.SKIPPED))
        progress.note(
            f"run {run.id} on {run.target_org}: {len(records)} steps, {done} already finished, {len(todo)} to run now"
        )
    if cannot_roll_back:
        err_console().print(
            "warning: automatic rollback is not available in this version of cutover (no executor for "
            f"{', '.join(cannot_roll_back)}); if verification fails the run stops and you roll back by hand",
            markup=False,
            highlight=False,
        )
    try:
        result = engine.execute(run.id, executors, select=select, progress=progress)
    except CutoverError:
        if fmt == OutputFormat.json:
            typer.echo(json.dumps(engine.status(run.id), indent=2))
        raise
    if fmt == OutputFormat.json:
        typer.echo(json.dumps(engine.status(run.id), indent=2))
        return
    out_console().print(f"run {result.run_id}: {result.state.value} — {escape(result.message)}")


def run_cmd(
    ctx: typer.Context,
    target_org: str | None = typer.Option(
        None, "--target-org", "-o", help="Org alias (default: the runbook's target.alias)."
    ),
    only: str | None = typer.Option(
        None,
        "--only",
        metavar="STAGE,...",
        help="Run only these stages (never skips ahead: earlier unfinished steps stop the run).",
    ),
    until: str | None = typer.Option(None, "--until", metavar="STAGE", help="Stop after this stage."),
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", help="Output format."),
    monitor_for: str | None = typer.Option(
        None, "--monitor-for", metavar="DURATION", help="Rehearsal: monitor for this long instead (e.g. 30s)."
    ),
    monitor_every: str | None = typer.Option(
        None, "--monitor-every", metavar="DURATION", help="Rehearsal: sample this often instead (e.g. 5s)."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Start a run from the runbook's plan, or continue the open run for the target org."""
    monitor = _monitor_overrides(monitor_for, monitor_every)
    app = app_context(ctx)
    project = load_project(app.project_dir, target_org)
    select = _selector(project, only, until)
    engine = Engine(app.project_dir)
    holder = engine.locks.read(project.target_org)
    if holder is not None:
        raise engine.locks.locked_error(project.target_org, holder)
    from cutover.steps import git_head

    run = engine.continuable_run(
        project.target_org, git_head=git_head(project.dir), runbook_sha256=project.runbook_sha256
    )
    if run is not None:
        _check_runbook_unchanged(run, project)
        _check_same_commit(run, project)
        question = f"Continue run {run.id} against {project.target_org}?"
    else:
        from cutover.steps import build_executors, plan_to_specs
        from cutover.steps.registry import StepServices

        specs = plan_to_specs(project.plan, project.runbook)
        # Refuse before creating anything when a step that would run has no executor yet.
        pending = [_PendingRecord(spec) for spec in specs]
        services = StepServices(project_dir=project.dir, target_org=project.target_org)
        todo = steps_to_execute(pending, select)
        build_executors(
            project.plan,
            project.runbook,
            services,
            [r.id for r in todo if not r.spec.contingency],
            optional=[r.id for r in todo if r.spec.contingency],
        )
        question = f"Start a run of {len(specs)} steps against {project.target_org}?"
    production = bool(getattr(project.runbook.target, "production", False))
    _confirm(question + (" (a production org)" if production else ""), yes or app.yes or not production)
    if run is None:
        run = engine.create_run(
            project.target_org,
            specs,
            runbook_path=project.relpath,
            runbook_sha256=project.runbook_sha256,
            git_head=git_head(project.dir),
        )
    _execute(engine, project, run, select, fmt, monitor)


@dataclass(frozen=True)
class _PendingRecord:
    """A not-yet-stored step, shaped like a StepRecord for `steps_to_execute`."""

    spec: StepSpec
    status: StepStatus = StepStatus.PENDING

    @property
    def id(self) -> str:
        return self.spec.id


def resume_cmd(
    ctx: typer.Context,
    run_id: str | None = typer.Argument(None, metavar="[RUN]", help="Run id or unique prefix (default: latest)."),
    only: str | None = typer.Option(None, "--only", metavar="STAGE,...", help="Run only these stages."),
    until: str | None = typer.Option(None, "--until", metavar="STAGE", help="Stop after this stage."),
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", help="Output format."),
    monitor_for: str | None = typer.Option(
        None, "--monitor-for", metavar="DURATION", help="Rehearsal: monitor for this long instead (e.g. 30s)."
    ),
    monitor_every: str | None = typer.Option(
        None, "--monitor-every", metavar="DURATION", help="Rehearsal: sample this often instead (e.g. 5s)."
    ),
) -> None:
    """Continue a run from its first unfinished step (finished steps are never executed again)."""
    monitor = _monitor_overrides(monitor_for, monitor_every)
    app = app_context(ctx)
    engine = Engine(app.project_dir)
    run = engine.resolve_run(run_id)
    if run.state not in OPEN_RUN_STATES:
        hint = "start a new run with: cutover run"
        if run.state == RunState.FAILED:
            hint = f"see `cutover status {run.id}`; then `cutover retry STEP` or `cutover waive STEP ...` and resume"
        raise UsageError(f"run {run.id} is {run.state.value}; nothing to resume", hint=hint)
    project = load_project(app.project_dir, run.target_org)
    _check_runbook_unchanged(run, project)
    _check_same_commit(run, project)
    select = _selector(project, only, until) if only or until else None
    _execute(engine, project, run, select, fmt, monitor)


def _monitor_overrides(duration: str | None, interval: str | None) -> dict[str, str] | None:
    """--monitor-for / --monitor-every, checked here so a typo fails before anything runs."""
    from cutover.runbook.models import parse_duration

    given = {key: value for key, value in (("duration", duration), ("interval", interval)) if value}
    for key, value in given.items():
        try:
            parse_duration(value)
        except ValueError as exc:
            raise UsageError(f"--monitor-{'for' if key == 'duration' else 'every'}: {exc}") from None
    return given or None


# ---------------------------------------------------------------------------------------------------------------------
# status, runs
# ---------------------------------------------------------------------------------------------------------------------

_STATUS_STYLE = {
    "passed": "green",
    "failed": "red",
    "waived": "yellow",
    "waiting_signoff": "yellow",
    "running": "cyan",
    "skipped": "dim",
    "pending": "",
}


def status_cmd(
    ctx: typer.Context,
    run_id: str | None = typer.Argument(None, metavar="[RUN]", help="Run id or unique prefix (default: latest)."),
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", help="Output format."),
) -> None:
    """Show a run's state and every step's status."""
    engine = Engine(app_context(ctx).project_dir)
    run = engine.resolve_run(run_id)
    doc = engine.status(run.id)
    if fmt == OutputFormat.json:
        typer.echo(json.dumps(doc, indent=2))
        return
    console = out_console()
    console.print(f"run {doc['run_id']} on {escape(doc['target_org'])}: [bold]{doc['state']}[/bold]")
    if doc.get("note"):
        console.print(f"  {escape(doc['note'])}")
    if doc.get("next"):
        console.print(f"  next: {escape(doc['next'])}")
    if doc.get("lock"):
        lock = doc["lock"]
        state = "STALE (process gone)" if lock["stale"] else "active"
        console.print(f"  lock: pid {lock['pid']} on {escape(lock['host'])} since {lock['since']} ({state})")
    # Piped output is not wrapped at 80 columns; on a narrow terminal the title gives way to the detail.
    if not console.is_terminal:
        console = Console(width=200, highlight=False)
    with_title = console.width >= 120
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("step", no_wrap=True)
    table.add_column("status", no_wrap=True)
    if with_title:
        table.add_column("title", overflow="fold", max_width=50)
    table.add_column("detail", overflow="fold")
    for step in doc["steps"]:
        style = _STATUS_STYLE.get(step["status"], "")
        detail = step["detail"] or ""
        if step.get("signoffs"):
            detail = (
                (detail + " ").lstrip() + "[" + ", ".join(f"{s['by']} ({s['role']})" for s in step["signoffs"]) + "]"
            )
        shown = step["status"]
        if step.get("contingency") and shown == "pending":
            shown, style = "standby", "dim"  # a rollback step: runs only if a rollback is triggered
        cells = [escape(step["id"]), f"[{style}]{shown}[/{style}]" if style else shown]
        if with_title:
            cells.append(escape(step["title"]))
        cells.append(escape(detail))
        table.add_row(*cells)
    console.print(table)
    if doc.get("head_hash"):
        console.print(f"[dim]audit head: {doc['head_hash']}[/dim]")


def runs_cmd(
    ctx: typer.Context,
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", help="Output format."),
) -> None:
    """List the runs of this project, oldest first."""
    engine = Engine(app_context(ctx).project_dir)
    rows = []
    for run in engine.runs():
        steps = engine.steps(run.id)
        finished = sum(1 for s in steps if s.status in (StepStatus.PASSED, StepStatus.WAIVED, StepStatus.SKIPPED))
        rows.append(
            {
                "run_id": run.id,
                "target_org": run.target_org,
                "state": run.state.value,
                "created": run.created,
                "updated": run.updated,
                "steps": len(steps),
                "finished": finished,
            }
        )
    if fmt == OutputFormat.json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        out_console().print("no runs yet (start one with: cutover run)")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("run", "org", "state", "steps", "created"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["run_id"],
            escape(row["target_org"]),
            row["state"],
            f"{row['finished']}/{row['steps']}",
            row["created"],
        )
    out_console().print(table)


# ---------------------------------------------------------------------------------------------------------------------
# signoff, waive, retry, abort
# ---------------------------------------------------------------------------------------------------------------------


def _resolve_step(engine: Engine, run: RunInfo, given: str) -> str:
    ids = [r.id for r in engine.steps(run.id)]
    if given in ids:
        return given
    matches = [i for i in ids if i.endswith("." + given)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UsageError(f"run {run.id} has no step {given!r}", hint=f"see the steps with: cutover status {run.id}")
    raise UsageError(f"{given!r} matches several steps: {', '.join(matches)}")


def _check_signoff_against_plan(
    specs: Any, given: str, *, by: str, role: str, evidence: str | None, rules: RoleRules
) -> None:
    """The checks `_resolve_step` and the engine make on a run, made on the plan before a run is created for it."""
    from cutover.engine.signoffs import check_signoff

    ids = [spec.id for spec in specs]
    matches = [given] if given in ids else [i for i in ids if i.endswith("." + given)]
    if len(matches) != 1:
        what = f"no step {given!r}" if not matches else f"{given!r} matches several steps: {', '.join(matches)}"
        raise UsageError(f"the runbook's plan has {what}", hint="see the steps with: cutover plan")
    spec = next(s for s in specs if s.id == matches[0])
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
    by: str = typer.Option(..., "--by", metavar="WHO", help="The person signing."),
    role: str = typer.Option(..., "--role", metavar="ROLE", help="The runbook role they sign as."),
    note: str | None = typer.Option(None, "--note", metavar="TEXT", help="A remark kept in the audit trail."),
    evidence: str | None = typer.Option(None, "--evidence", metavar="URL", help="Link to the proof."),
    run_id: str | None = typer.Option(None, "--run", metavar="RUN", help="Run id (default: the open run)."),
    target_org: str | None = typer.Option(None, "--target-org", "-o", help="Org alias (default: the runbook's)."),
) -> None:
    """Record a sign-off (separation of duties is enforced). May be given before the run reaches the step.

    Code reviews count too: cutover signoff preflight.reviews --by WHO --role reviewer
    """
    app = app_context(ctx)
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
            from cutover.steps import git_head, plan_to_specs

            specs = plan_to_specs(project.plan, project.runbook)
            # A typo or a refused sign-off must not leave a planned run behind: check it against the plan first.
            _check_signoff_against_plan(specs, step, by=by, role=role, evidence=evidence, rules=_rules(project))
            run = engine.create_run(
                project.target_org,
                specs,
                runbook_path=project.relpath,
                runbook_sha256=project.runbook_sha256,
                git_head=git_head(project.dir),
            )
            err_console().print(f"created run {run.id} (planned) for {project.target_org}", markup=False)
    if project is not None:
        _check_runbook_unchanged(run, project)
    step_id = _resolve_step(engine, run, step)
    signed = engine.signoff(run.id, step_id, by=by, role=role, note=note, evidence=evidence, rules=_rules(project))
    from cutover.engine.signoffs import evaluate

    record = next(r for r in engine.steps(run.id) if r.id == step_id)
    progress = ""
    if record.spec.signoff is not None:
        state = evaluate(record.spec.signoff, engine.store.signoffs(run.id, step_id))
        progress = f" ({len(state.signers)} of {state.needed} sign-off(s))"
    out_console().print(
        f"{escape(signed.by)} signed {step_id} as {signed.role} in run {run.id}{progress}", highlight=False
    )
    if run.state == RunState.PAUSED:
        out_console().print(f"continue with: cutover resume {run.id}", markup=False)
    elif run.state == RunState.FAILED and record.status == StepStatus.FAILED:
        out_console().print(f"then: cutover retry {step_id} && cutover resume {run.id}", markup=False)


def waive_cmd(
    ctx: typer.Context,
    step: str = typer.Argument(..., metavar="STEP"),
    reason: str = typer.Option(..., "--reason", metavar="TEXT", help="Why it is acceptable to skip this step."),
    approver: str = typer.Option(..., "--approver", metavar="WHO", help="Who takes responsibility."),
    run_id: str | None = typer.Option(None, "--run", metavar="RUN", help="Run id (default: the open/latest run)."),
    target_org: str | None = typer.Option(None, "--target-org", "-o", help="Org alias (default: the runbook's)."),
) -> None:
    """Waive a step (it counts as finished): needs a reason and an approver holding an allowed role."""
    app = app_context(ctx)
    engine = Engine(app.project_dir)
    project = _try_load_project(app.project_dir, target_org)
    run = _run_for_change(engine, run_id, project)
    if project is not None:
        _check_runbook_unchanged(run, project)
    step_id = _resolve_step(engine, run, step)
    waiver = engine.waive(run.id, step_id, reason=reason, approver=approver, rules=_rules(project))
    out_console().print(f"{step_id} waived by {escape(waiver.approver)}: {escape(waiver.reason)}")
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


def abort_cmd(
    ctx: typer.Context,
    run_id: str | None = typer.Argument(None, metavar="[RUN]", help="Run id (default: latest)."),
    reason: str = typer.Option(..., "--reason", metavar="TEXT", help="Why the run is abandoned."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Abandon an open (or failed) run; the next `cutover run` starts a new one."""
    app = app_context(ctx)
    engine = Engine(app.project_dir)
    run = engine.resolve_run(run_id)
    _confirm(f"Abort run {run.id} ({run.state.value})?", yes or app.yes)
    engine.abort(run.id, reason)
    out_console().print(f"run {run.id} aborted", markup=False)


# ---------------------------------------------------------------------------------------------------------------------
# audit
# ---------------------------------------------------------------------------------------------------------------------


def audit_verify_cmd(
    ctx: typer.Context,
    run_id: str | None = typer.Argument(None, metavar="[RUN]", help="Run id (default: latest)."),
    all_runs: bool = typer.Option(False, "--all", help="Verify every run."),
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", help="Output format."),
) -> None:
    """Verify a run's hash-chained event log and evidence files (exit 1 naming the first bad event)."""
    engine = Engine(app_context(ctx).project_dir)
    runs = engine.runs() if all_runs else [engine.resolve_run(run_id)]
    if all_runs and not runs:
        raise UsageError("no runs yet in this project")
    reports = [engine.verify(run.id) for run in runs]
    if fmt == OutputFormat.json:
        typer.echo(
            json.dumps(
                [
                    {"run_id": r.run_id, "ok": r.ok, "events": r.count, "head_hash": r.head_hash, "problem": r.problem}
                    for r in reports
                ],
                indent=2,
            )
        )
    else:
        for report in reports:
            if report.ok:
                out_console().print(
                    f"run {report.run_id}: {report.count} events verified (head {report.head_hash})", markup=False
                )
    bad = next((r for r in reports if not r.ok), None)
    if bad is not None:
        raise AuditBroken(
            f"run {bad.run_id}: {bad.problem}",
            hint=f"{bad.count} event(s) before it verified; inspect with: cutover audit log {bad.run_id}",
        )


def audit_log_cmd(
    ctx: typer.Context,
    run_id: str | None = typer.Argument(None, metavar="[RUN]", help="Run id (default: latest)."),
    step: str | None = typer.Option(None, "--step", metavar="STEP", help="Only the events of this step."),
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", help="Output format."),
) -> None:
    """Print a run's event log."""
    engine = Engine(app_context(ctx).project_dir)
    run = engine.resolve_run(run_id)
    events = engine.events(run.id)
    if step:
        step_id = _resolve_step(engine, run, step)
        events = [e for e in events if e.step_id == step_id]
    if fmt == OutputFormat.json:
        typer.echo(
            json.dumps(
                [
                    {
                        "seq": e.seq,
                        "at": e.at,
                        "type": e.type,
                        "step_id": e.step_id,
                        "payload": e.payload,
                        "prev_hash": e.prev_hash,
                        "hash": e.hash,
                    }
                    for e in events
                ],
                indent=2,
            )
        )
        return
    console = out_console()
    for event in events:
        payload = json.dumps(event.payload, sort_keys=True, ensure_ascii=False)
        if len(payload) > 160:
            payload = payload[:157] + "..."
        step = f" {event.step_id}" if event.step_id else ""
        console.print(f"#{event.seq:<4} {event.at} {event.type}{step} {payload}", markup=False, highlight=False)


def audit_evidence_cmd(
    ctx: typer.Context,
    run_id: str | None = typer.Argument(None, metavar="[RUN]", help="Run id (default: latest)."),
    step: str | None = typer.Option(None, "--step", metavar="STEP", help="Only the evidence of this step."),
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", help="Output format."),
) -> None:
    """List a run's evidence files with their SHA-256, and whether each still matches."""
    from cutover.engine.chain import sha256_file

    engine = Engine(app_context(ctx).project_dir)
    run = engine.resolve_run(run_id)
    step_id = _resolve_step(engine, run, step) if step else None
    rows = []
    for item in engine.store.evidence(run.id, step_id):
        path = engine.cutover_dir / item["relpath"]
        state = "missing" if not path.is_file() else ("ok" if sha256_file(path) == item["sha256"] else "MODIFIED")
        rows.append(
            {
                "step_id": item["step_id"],
                "name": item["name"],
                "path": f".cutover/{item['relpath']}",
                "sha256": item["sha256"],
                "size": item["size"],
                "created": item["created"],
                "state": state,
            }
        )
    if fmt == OutputFormat.json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        for row in rows:
            out_console().print(
                f"{row['state']:<8} {row['sha256'][:16]}  {row['size']:>9}  {row['path']}", markup=False
            )
        if not rows:
            out_console().print("no evidence recorded", markup=False)
    bad = [row for row in rows if row["state"] != "ok"]
    if bad:
        raise AuditBroken(
            f"{len(bad)} evidence file(s) no longer match their recorded SHA-256: {bad[0]['path']} ({bad[0]['state']})",
            hint=f"cutover audit verify {run.id}",
        )


# ---------------------------------------------------------------------------------------------------------------------
# lock
# ---------------------------------------------------------------------------------------------------------------------


def lock_status_cmd(
    ctx: typer.Context,
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", help="Output format."),
) -> None:
    """Show which target orgs are locked by a run, and whether each lock is stale (its process is gone)."""
    engine = Engine(app_context(ctx).project_dir)
    locks = engine.locks.all()
    if fmt == OutputFormat.json:
        typer.echo(
            json.dumps(
                [
                    {
                        "org": lock.org,
                        "run_id": lock.run_id,
                        "pid": lock.pid,
                        "host": lock.host,
                        "since": lock.started,
                        "stale": lock.stale,
                    }
                    for lock in locks
                ],
                indent=2,
            )
        )
        return
    if not locks:
        out_console().print("no locks held", markup=False)
        return
    for lock in locks:
        line = f"{lock.org}: {lock.describe()}"
        if lock.stale:
            line += f"\n  break it with: cutover lock break {lock.org} --yes"
        out_console().print(line, markup=False)


def lock_break_cmd(
    ctx: typer.Context,
    org: str = typer.Argument(..., metavar="ORG", help="Target org alias whose lock to break."),
    force: bool = typer.Option(False, "--force", help="Break even a lock whose process looks alive."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Break a stale lock (the process that held it is gone). A live lock needs --force."""
    app = app_context(ctx)
    engine = Engine(app.project_dir)
    info = engine.locks.read(org)
    if info is None:
        raise UsageError(f"target org {org} is not locked")
    if not info.stale and not force:
        raise RunLocked(
            f"refusing to break the lock on {org}: it is held by {info.describe()}",
            hint=f"stop that run first; only if you are sure it is gone: cutover lock break {org} --force --yes",
        )
    _confirm(f"Break the lock on {org} held by {info.describe()}?", yes or app.yes)
    broken = engine.locks.break_lock(org, force=force)
    if engine.store.get_run(broken.run_id) is not None:
        with engine.store.transaction() as tx:
            tx.append_event(
                broken.run_id,
                "lock.broken",
                None,
                {"org": org, "pid": broken.pid, "host": broken.host, "since": broken.started, "forced": force},
            )
    out_console().print(
        f"lock on {org} broken (was {broken.describe()}); continue with: cutover resume {broken.run_id}",
        markup=False,
    )


# ---------------------------------------------------------------------------------------------------------------------


def register(app: typer.Typer) -> None:
    """Add this area's commands to `app`."""
    app.command("run")(run_cmd)
    app.command("resume")(resume_cmd)
    app.command("status")(status_cmd)
    app.command("runs")(runs_cmd)
    app.command("signoff")(signoff_cmd)
    app.command("waive")(waive_cmd)
    app.command("retry")(retry_cmd)
    app.command("abort")(abort_cmd)

    audit = typer.Typer(help="Verify and print the tamper-evident event log.", no_args_is_help=True)
    audit.command("verify")(audit_verify_cmd)
    audit.command("log")(audit_log_cmd)
    audit.command("evidence")(audit_evidence_cmd)
    app.add_typer(audit, name="audit")

    lock = typer.Typer(help="One run per target org: see and break locks.", no_args_is_help=True)
    lock.command("status")(lock_status_cmd)
    lock.command("break")(lock_break_cmd)
    app.add_typer(lock, name="lock")
