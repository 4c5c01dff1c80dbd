"""Run commands: run and resume, plus the helpers the other run-lifecycle modules share (`status`, `signoff`,
`abort`, `audit`: `register` here adds them all: run, resume, status, runs, signoff, waive, retry, abort, audit
verify/log/evidence, lock status/break).

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
from rich.markup import escape

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
from cutover.errors import CutoverError, UsageError


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


def sync_runbook(run: RunInfo, project: Project, engine: Engine | None = None) -> RunInfo:
    """Re-plan `run` when its runbook changed since it was planned: steps whose definition is unchanged keep their
    status, sign-offs and waivers; changed ones are reset (see `cutover.engine.replan`). Prints what changed."""
    if not run.runbook_sha256 or run.runbook_sha256 == project.runbook_sha256:
        return run
    from cutover.steps import plan_to_specs

    own = engine is None
    engine = engine or Engine(project.dir)
    try:
        result = engine.replan(
            run.id,
            plan_to_specs(project.plan, project.runbook),
            runbook_sha256=project.runbook_sha256,
            runbook_path=project.relpath,
        )
        for line in result.lines():
            err_console().print(line, markup=False, highlight=False)
        return engine.resolve_run(run.id)
    finally:
        if own:
            engine.close()


def create_run(engine: Engine, project: Project, specs: list[StepSpec]) -> RunInfo:
    """A new run of `specs` for the project's target org, at its commit and runbook."""
    from cutover.steps import git_head

    return engine.create_run(
        project.target_org,
        specs,
        runbook_path=project.relpath,
        runbook_sha256=project.runbook_sha256,
        git_head=git_head(project.dir),
    )


def _check_runbook_unchanged(run: RunInfo, project: Project) -> None:
    """Kept for the commands that call it (rollback, announce): re-plans the run when its runbook changed."""
    sync_runbook(run, project)


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


class _WarningsOnly(Progress):
    """--format json: stdout is the document, stderr stays quiet except for warnings (a disabled rollback)."""

    def note(self, text: str) -> None:
        if text.startswith("warning:"):
            err_console().print(text, markup=False, highlight=False)


def _progress(fmt: OutputFormat) -> Progress:
    return ConsoleProgress(err_console()) if fmt == OutputFormat.text else _WarningsOnly()


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
    if engine.rollback_requested(run.id):  # `cutover rollback` then `cutover resume`: only the rollback runs
        finished = (StepStatus.PASSED, StepStatus.WAIVED, StepStatus.SKIPPED)
        todo = [r for r in records if r.spec.contingency and r.status not in finished]
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
    from cutover.temporal.lock import refuse_if_held  # issue 10: an org whose run is open on Temporal is locked

    refuse_if_held(app.project_dir, project.runbook.target.expect.org_id)
    engine = Engine(app.project_dir)
    holder = engine.locks.read(project.target_org)
    if holder is not None:
        raise engine.locks.locked_error(project.target_org, holder)
    from cutover.steps import git_head

    run = engine.continuable_run(
        project.target_org, git_head=git_head(project.dir), runbook_sha256=project.runbook_sha256, any_runbook=True
    )
    if run is not None:
        _check_same_commit(run, project)
        run = sync_runbook(run, project, engine)
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
        run = create_run(engine, project, specs)
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
    _check_same_commit(run, project)
    run = sync_runbook(run, project, engine)
    _fetch_signoffs(engine, project, run)
    select = _selector(project, only, until) if only or until else None
    _execute(engine, project, run, select, fmt, monitor)


def _fetch_signoffs(engine: Engine, project: Project, run: RunInfo) -> None:
    """Import the signed sign-offs pushed to refs/cutover/signoffs/<run> on the release remote (cutover.signing)."""
    from cutover.signing.flows import fetch_delivered

    for line in fetch_delivered(engine, project, run, _rules(project)):
        err_console().print(line, markup=False, highlight=False)


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


# ---------------------------------------------------------------------------------------------------------------------


def register(app: typer.Typer) -> None:
    """Add this area's commands to `app` (the modules are imported here: they import this one)."""
    from cutover.commands.abort import abort_cmd
    from cutover.commands.audit import (
        audit_evidence_cmd,
        audit_log_cmd,
        audit_verify_cmd,
        lock_break_cmd,
        lock_status_cmd,
    )
    from cutover.commands.signoff import retry_cmd, signoff_cmd, waive_cmd
    from cutover.commands.status import runs_cmd, status_cmd

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
