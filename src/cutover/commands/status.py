"""`cutover status` and `cutover runs`."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cutover.commands._context import app_context, out_console
from cutover.commands.run import (
    OutputFormat,
    _fetch_signoffs,
    _try_load_project,
)
from cutover.engine import OPEN_RUN_STATES, Engine, RunState, StepStatus
from cutover.errors import CutoverError

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
    if run.state in (*OPEN_RUN_STATES, RunState.FAILED):  # signed sign-offs pushed to the git remote
        try:
            project = _try_load_project(app_context(ctx).project_dir, run.target_org)
        except CutoverError:
            project = None  # status still shows the run; resume names the runbook's problem
        if project is not None and project.runbook_sha256 == run.runbook_sha256:  # (a changed one: resume re-plans)
            _fetch_signoffs(engine, project, run)
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
                (detail + " ").lstrip()
                + "["
                + ", ".join(f"{s['by']} ({s['role']}{', signed' if s.get('signer') else ''})" for s in step["signoffs"])
                + "]"
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
    audit = doc.get("audit") or {}
    if audit and not audit.get("ok"):
        console.print(
            f"[red]audit: NOT VERIFIED: {escape(str(audit.get('problem')))}[/red] (details: cutover audit verify)"
        )


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
