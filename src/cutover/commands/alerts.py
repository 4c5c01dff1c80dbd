"""Alert commands: `cutover alerts [RUN]`, `cutover ack ALERT --by WHO`, `cutover announce --by WHO`.

Alerts live in the run's audit log (`cutover.notify.alerts`), so these commands work while a monitoring window is
running in another terminal: an acknowledgement stops the escalation the monitor would otherwise page next.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from cutover.commands._context import app_context, err_console, out_console
from cutover.errors import UsageError


def _alert_rows(engine: Any, run_ids: list[str], now: datetime) -> list[dict[str, Any]]:
    from cutover.notify import load_alerts

    rows = []
    for run_id in run_ids:
        rows += [alert.to_json(now) for alert in load_alerts(engine.store, run_id)]
    return rows


def alerts_cmd(
    ctx: typer.Context,
    run_id: str | None = typer.Argument(None, metavar="[RUN]", help="Run id or unique prefix (default: latest run)."),
    all_runs: bool = typer.Option(False, "--all", help="Alerts of every run."),
    escalate: bool = typer.Option(
        False, "--escalate", help="Page the escalation levels that are due now (when no monitor is running)."
    ),
    fmt: str = typer.Option("text", "--format", help="Output format: text or json."),
) -> None:
    """List alerts with their state (open, acknowledged, overdue), deadline and who is responsible now."""
    from cutover.engine import Engine

    if fmt not in ("text", "json"):
        raise UsageError(f"--format must be text or json, not {fmt!r}")
    engine = Engine(app_context(ctx).project_dir)
    try:
        runs = engine.runs() if all_runs else [engine.resolve_run(run_id)]
        if escalate:
            for run in runs:
                _escalate(ctx, engine, run)
        now = datetime.now(UTC)
        rows = _alert_rows(engine, [r.id for r in runs], now)
    finally:
        engine.close()
    if fmt == "json":
        typer.echo(json.dumps({"alerts": rows}, indent=2))
        return
    console = out_console()
    if not console.is_terminal:  # piped: do not fold the table at 80 columns
        from rich.console import Console

        console = Console(width=200, highlight=False, soft_wrap=True)
    if not rows:
        console.print(f"no alerts in run {runs[0].id if len(runs) == 1 else '(all runs)'}", markup=False)
        return
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("alert", "severity", "state", "raised", "deadline", "responsible", "title"):
        table.add_column(column, overflow="fold")
    styles = {"open": "yellow", "overdue": "red", "acknowledged": "green"}
    for row in rows:
        who = row["responsible"]
        responsible = "-" if who is None else who["title"] + (" (contact TBD)" if who["tbd"] else f" ({who['name']})")
        state = row["state"]
        if state == "acknowledged":
            state = f"acknowledged by {row['acknowledged_by']}"
        style = styles.get(row["state"], "")
        table.add_row(
            escape(row["id"]),
            escape(row["severity"]),
            f"[{style}]{escape(state)}[/{style}]",
            escape(row["raised_at"]),
            escape(row["deadline"] or "-"),
            escape(responsible),
            escape(row["title"]),
        )
    console.print(table)
    open_ids = [r["id"] for r in rows if r["state"] != "acknowledged"]
    if open_ids:
        console.print(f"acknowledge with: cutover ack {open_ids[0]} --by NAME", markup=False)


def _escalate(ctx: typer.Context, engine: Any, run: Any) -> None:
    from cutover.notify import AlertDesk, load_alerts, notifier_for

    runbook = _runbook_or_none(ctx)
    if runbook is None:
        raise UsageError("--escalate needs the runbook (cutover.yaml) for the channels")
    notifier = notifier_for(runbook, engine.project_dir, run_id=run.id)
    steps = {a.step_id for a in load_alerts(engine.store, run.id) if a.acknowledged_at is None}
    for step_id in sorted(steps, key=str):
        desk = AlertDesk(
            store=engine.store,
            run_id=run.id,
            step_id=step_id,
            notifier=notifier,
            escalation_rows=[r.model_dump() for r in runbook.alerts.escalation],
            roles=runbook.roles,
        )
        for alert, report in desk.escalate_due():
            if alert.step_id == step_id:
                err_console().print(f"paged for {alert.id}: {report.summary()}", markup=False)


def _runbook_or_none(ctx: typer.Context) -> Any:
    from cutover.runbook import RUNBOOK_FILENAME, load_runbook

    path = app_context(ctx).project_dir / RUNBOOK_FILENAME
    return load_runbook(path) if path.is_file() else None


def ack_cmd(
    ctx: typer.Context,
    alert_id: str = typer.Argument(..., metavar="ALERT", help="Alert id (or a unique prefix), see `cutover alerts`."),
    by: str = typer.Option(..., "--by", metavar="WHO", help="The person taking ownership of the alert."),
    note: str | None = typer.Option(None, "--note", metavar="TEXT", help="What is being done about it."),
) -> None:
    """Acknowledge an alert: its escalation stops; who and when is kept in the audit trail."""
    from cutover.engine import Engine
    from cutover.notify import acknowledge, find_alert

    engine = Engine(app_context(ctx).project_dir)
    try:
        alert = find_alert(engine.store, alert_id)
        now = datetime.now(UTC)
        state = alert.state(now)
        done = acknowledge(engine.store, alert, by=by, note=note, now=now)
    finally:
        engine.close()
    late = ""
    if state.exhausted:
        late = " (after the whole escalation path had run out)"
    elif state.level > 0:
        late = f" (after escalation to level {state.level + 1})"
    out_console().print(
        f"{done.id} ({done.severity}: {done.title}) acknowledged by {done.acknowledged_by}{late}", markup=False
    )


def announce_cmd(
    ctx: typer.Context,
    by: str = typer.Option(..., "--by", metavar="WHO", help="Who sends the notification (signs the checklist item)."),
    role: str = typer.Option("deployment_lead", "--role", metavar="ROLE", help="The runbook role they sign as."),
    message: str | None = typer.Option(None, "--message", metavar="TEXT", help="Extra text for the stakeholders."),
    target_org: str | None = typer.Option(None, "--target-org", "-o", help="Org alias (default: the runbook's)."),
) -> None:
    """Send the pre-deployment notification to the alert channels and sign the preflight item
    "Deployment notification sent to all stakeholders" with it as evidence."""
    from cutover.commands.run import _check_runbook_unchanged, _resolve_step, _rules, load_project
    from cutover.engine import Engine, StepContext
    from cutover.engine.signoffs import signature_required
    from cutover.notify import notifier_for, step_recorder
    from cutover.steps.post_deploy import compose

    app = app_context(ctx)
    project = load_project(app.project_dir, target_org)
    engine = Engine(app.project_dir)
    try:
        run = engine.open_run(project.target_org)
        if run is None:
            from cutover.steps import git_head, plan_to_specs

            run = engine.create_run(
                project.target_org,
                plan_to_specs(project.plan, project.runbook),
                runbook_path=project.relpath,
                runbook_sha256=project.runbook_sha256,
                git_head=git_head(project.dir),
            )
            err_console().print(f"created run {run.id} (planned) for {project.target_org}", markup=False)
        _check_runbook_unchanged(run, project)
        try:
            step_id: str | None = _resolve_step(engine, run, "stakeholder-notification")
        except UsageError:
            step_id = None  # the runbook has no such sign-off: send only
        record = next((r for r in engine.steps(run.id) if r.id == step_id), None)
        recorder = None
        if record is not None:
            step_ctx = StepContext(store=engine.store, record=record, project_dir=app.project_dir)
            recorder = step_recorder(step_ctx)
        notifier = notifier_for(project.runbook, app.project_dir, run_id=run.id, recorder=recorder)
        sent = compose(
            "deployment_scheduled",
            project.runbook,
            alias=project.target_org,
            run_id=run.id,
            context={"message": message, "severity": "LOW"},
        )
        report = notifier.send(sent)
        console = out_console()
        console.print(f"deployment notification {sent.id}: {report.summary()}", markup=False)
        if not report.sent:
            err_console().print(
                "warning: no channel delivered it (channels without a url only record); forward the text from "
                f"{report.outbox} to the stakeholders",
                markup=False,
            )
        if step_id is None or (record is not None and record.status.value in ("passed", "waived", "skipped")):
            return
        evidence = f"outbox {report.outbox}#{sent.id}" if report.outbox else f"message {sent.id}"
        if record is not None and signature_required(record.spec):  # only the sender's own key can sign it
            console.print(
                f"sign it: cutover signoff {step_id} --by {by!r} --role {role} --key <your-ssh-key>", markup=False
            )
            return
        engine.signoff(
            run.id,
            step_id,
            by=by,
            role=role,
            note=f"deployment notification sent by cutover: {report.summary()}",
            evidence=evidence,
            rules=_rules(project),
        )
        console.print(f"{by} signed {step_id} as {role} in run {run.id}", markup=False)
    finally:
        engine.close()


def register(app: typer.Typer) -> None:
    app.command("alerts")(alerts_cmd)
    app.command("ack")(ack_cmd)
    app.command("announce")(announce_cmd)
