"""`cutover fleet plan|run|status|signoff|report FLEET.yaml`: one release to many orgs in waves, on Temporal.

`run` starts the fleet's workflow (or follows the open one) and prints each org's outcome as it comes; it returns 0
when every wave completed, 1 when a wave halted the fleet, 4 while a sign-off before the next wave is needed
(`cutover fleet signoff FLEET.yaml --by WHO --role ROLE`, then `cutover fleet run FLEET.yaml` follows it again).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from cutover.commands._context import app_context, err_console, out_console
from cutover.commands.worker import namespace_option, temporal_option
from cutover.errors import AwaitingSignoff, Failure, StepFailed, UsageError

FLEET_ARG = typer.Argument(..., metavar="FLEET", help="The fleet file (FLEET.yaml).")
FINAL = ("completed", "halted")


def _load(path: Path) -> Any:
    from cutover.fleet.model import load_fleet

    return load_fleet(path)


def _target(ctx: typer.Context, temporal: str | None, namespace: str | None, fleet: Any) -> Any:
    from cutover.temporal.connect import resolve

    app = app_context(ctx)
    project = fleet.project_dir if (fleet.project_dir / ".cutover" / "temporal").is_dir() else app.project_dir
    return resolve(project, temporal, namespace)


def plan_cmd(
    path: Path = FLEET_ARG,
    fmt: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """Print the fleet's waves: their orgs, parallelism, failure threshold and sign-off pauses. Runs nothing."""
    fleet = _load(path)
    inp = fleet.to_input()
    if fmt == "json":
        typer.echo(
            json.dumps(
                {
                    "name": inp.name,
                    "project": inp.project_dir,
                    "release": inp.release,
                    "waves": [_wave_json(w) for w in inp.waves],
                },
                indent=2,
            )
        )
        return
    out = out_console()
    out.print(
        f"fleet {inp.name}: release {inp.release or '-'} of {inp.project_dir} to {len(fleet.spec.orgs)} org(s)",
        markup=False,
    )
    for index, wave in enumerate(inp.waves, start=1):
        pause = "sign-off, then " if wave.pause_before else ""
        out.print(
            f"{index}. {pause}wave {wave.name}: {len(wave.orgs)} org(s), at most {wave.max_parallel} at once; "
            f"halts the fleet when more than {wave.threshold:.0%} fail or roll back",
            markup=False,
        )
        for org in wave.orgs:
            out.print(f"     {org.alias} ({org.org_id})", markup=False)


def _wave_json(wave: Any) -> dict[str, Any]:
    return {
        "name": wave.name,
        "orgs": [o.alias for o in wave.orgs],
        "max_parallel": wave.max_parallel,
        "threshold": wave.threshold,
        "pause_before": wave.pause_before,
    }


def run_cmd(
    ctx: typer.Context,
    path: Path = FLEET_ARG,
    temporal: str | None = temporal_option(),
    namespace: str | None = namespace_option(),
    monitor_for: str | None = typer.Option(
        None, "--monitor-for", metavar="DURATION", help="Rehearsal: monitor each org this long instead (e.g. 30s)."
    ),
    monitor_every: str | None = typer.Option(
        None, "--monitor-every", metavar="DURATION", help="Rehearsal: sample this often instead (e.g. 5s)."
    ),
    detach: bool = typer.Option(False, "--detach", help="Start the fleet and return; follow it with `fleet status`."),
    again: bool = typer.Option(False, "--again", help="Start a fleet that already completed or halted once more."),
) -> None:
    """Start the fleet (or follow its open run) until it completes, halts or needs a sign-off between waves."""
    from cutover.commands.run import _monitor_overrides
    from cutover.temporal import client

    fleet = _load(path)
    target = _target(ctx, temporal, namespace, fleet)
    status = client.fleet_status(target, fleet.name)
    if status is not None and status["state"] in FINAL and not again:
        raise UsageError(
            f"fleet {fleet.name} already ran: {status['state']}"
            + (f" ({status['reason']})" if status["reason"] else ""),
            hint=f"see `cutover fleet report {path}`; `cutover fleet run {path} --again` starts it once more "
            "(every org is released again)",
        )
    if status is None or status["state"] in FINAL:
        client.start_fleet(target, fleet.to_input(_monitor_overrides(monitor_for, monitor_every)))
        err_console().print(f"fleet {fleet.name} started on Temporal {target.describe()}", markup=False)
    else:
        err_console().print(f"fleet {fleet.name} is running: following it", markup=False)
    if detach:
        return
    _follow(target, fleet.name)


def _follow(target: Any, name: str) -> None:
    from cutover.temporal import client

    seen: dict[str, str] = {}
    while True:
        status = client.fleet_status(target, name) or {}
        paused = []
        for org_id, entry in status.get("orgs", {}).items():
            outcome = _outcome(entry)
            if outcome == "paused":
                paused.append(f"{entry.get('alias')}: {(entry.get('run') or {}).get('message', '')}")
            if seen.get(org_id) != outcome and outcome not in ("waiting",):
                seen[org_id] = outcome
                err_console().print(
                    f"  {entry.get('wave')}: {entry.get('alias')} ({org_id}) {outcome}", markup=False, highlight=False
                )
        state = status.get("state")
        if state == "completed":
            out_console().print(f"fleet {name}: completed", markup=False)
            return
        if state == "halted":
            raise StepFailed(
                f"fleet {name} halted: {status.get('reason')}",
                hint="see: cutover fleet status FLEET.yaml; cutover fleet report FLEET.yaml",
            )
        if state == "awaiting_signoff":
            raise AwaitingSignoff(
                f"fleet {name}: {status.get('reason')}",
                hint="cutover fleet signoff FLEET.yaml --by WHO --role ROLE, then cutover fleet run FLEET.yaml",
            )
        if paused:
            raise AwaitingSignoff(
                f"fleet {name}: org run(s) wait for a sign-off: {'; '.join(paused)}",
                hint="cutover fleet signoff FLEET.yaml --org ALIAS --step STEP --by WHO --role ROLE, then cutover "
                "fleet run FLEET.yaml",
            )
        time.sleep(2)


def _outcome(entry: dict[str, Any]) -> str:
    """An org's outcome in the fleet; a running org shows its run's own state (e.g. paused for a sign-off)."""
    outcome = str(entry.get("outcome"))
    run = entry.get("run") or {}
    return str(run.get("state") or outcome) if outcome == "running" else outcome


def _progress(run: dict[str, Any] | None) -> tuple[str, str]:
    """(finished/total steps, the step running now) of an org's run (the org workflow's `brief` query)."""
    if not run:
        return "-", ""
    return str(run.get("progress") or "-"), str(run.get("running") or "")


def status_cmd(
    ctx: typer.Context,
    path: Path = FLEET_ARG,
    temporal: str | None = temporal_option(),
    namespace: str | None = namespace_option(),
    fmt: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """A table of the fleet: each org's wave, outcome, progress and step; the fleet's state and why it halted."""
    from cutover.temporal import client

    fleet = _load(path)
    target = _target(ctx, temporal, namespace, fleet)
    status = client.fleet_status(target, fleet.name)
    if status is None:
        raise UsageError(
            f"fleet {fleet.name} has not run on Temporal {target.address}",
            hint=f"start it with: cutover fleet run {path}",
        )
    rows = []
    for org_id, entry in status["orgs"].items():
        progress, step = _progress(entry.get("run"))
        run = entry.get("run") or {}
        rows.append(
            {
                "org_id": org_id,
                "alias": entry.get("alias"),
                "wave": entry.get("wave"),
                "outcome": _outcome(entry),
                "progress": progress,
                "step": step or run.get("step") or "",
                "run_id": entry.get("run_id") or run.get("run_id"),
                "message": entry.get("message") or run.get("message") or "",
            }
        )
    if fmt == "json":
        typer.echo(
            json.dumps({k: status[k] for k in ("state", "reason", "wave", "approvals")} | {"orgs": rows}, indent=2)
        )
        return
    out = out_console()
    line = f"fleet {fleet.name}: {status['state']}"
    if status.get("reason"):
        line += f": {status['reason']}"
    out.print(line, markup=False)
    table = Table(show_edge=False, pad_edge=False)
    for column in ("wave", "org", "outcome", "steps", "step", "note"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            *(
                escape(str(v))
                for v in (row["wave"], row["alias"], row["outcome"], row["progress"], row["step"], row["message"][:100])
            )
        )
    out.print(table)


def signoff_cmd(
    ctx: typer.Context,
    path: Path = FLEET_ARG,
    by: str = typer.Option(..., "--by", help="The person signing."),
    role: str = typer.Option(..., "--role", help="The role they sign as."),
    note: str | None = typer.Option(None, "--note", help="A remark kept with the sign-off."),
    org: str | None = typer.Option(None, "--org", metavar="ALIAS", help="Sign a step of this org's run instead."),
    step: str | None = typer.Option(None, "--step", metavar="STEP", help="With --org: the sign-off step."),
    evidence: str | None = typer.Option(None, "--evidence", metavar="URL", help="With --org: link to the proof."),
    key: Path | None = typer.Option(
        None, "--key", metavar="KEY", help="With --org: sign the sign-off with this SSH key (verified by the worker)."
    ),
    temporal: str | None = temporal_option(),
    namespace: str | None = namespace_option(),
) -> None:
    """Sign off the next wave of a fleet waiting between waves, or (--org, --step) a sign-off step of one org's run."""
    from cutover.temporal import client
    from cutover.temporal.types import SignoffRequest, WaveApproval

    fleet = _load(path)
    target = _target(ctx, temporal, namespace, fleet)
    if (org or step) and not (org and step):
        raise UsageError("--org and --step go together (the org's alias and its sign-off step)")
    if key is not None and not org:
        raise UsageError("--key signs an org's sign-off step: add --org ALIAS --step STEP")
    if org and step:
        match = next((o for o in fleet.spec.orgs if org in (o.alias, o.org_id)), None)
        if match is None:
            raise UsageError(f"{path}: no org {org!r} in the fleet")
        request = SignoffRequest(step, by, role, note, evidence)
        if key is not None:
            from cutover.fleet.signed import signed_request

            run = client.org_status(target, match.org_id)
            request = signed_request(
                run, step, by=by, role=role, note=note, evidence=evidence, key=key, project_dir=fleet.project_dir
            )
        result = client.send_signoff(target, match.org_id, request)
        if not result.get("ok"):
            raise Failure(f"{match.alias}: {result.get('message')}")
        out_console().print(f"{match.alias}: {result.get('message')}", markup=False)
        return
    status = client.fleet_status(target, fleet.name)
    if status is None or status["state"] != "awaiting_signoff":
        state = status["state"] if status else "not started"
        raise UsageError(f"fleet {fleet.name} is {state}: no wave waits for a sign-off")
    client.approve_wave(target, fleet.name, WaveApproval(status["wave"], by, role, note))
    out_console().print(f"wave {status['wave']} of fleet {fleet.name} signed off by {by} ({role})", markup=False)


def report_cmd(
    ctx: typer.Context,
    path: Path = FLEET_ARG,
    temporal: str | None = temporal_option(),
    namespace: str | None = namespace_option(),
    fmt: str = typer.Option("md", "--format", help="md or json."),
) -> None:
    """Each org's outcome, timings and its release record (written next to its run's state)."""
    from cutover.fleet.report import fleet_report, render_markdown
    from cutover.temporal import client

    fleet = _load(path)
    target = _target(ctx, temporal, namespace, fleet)
    status = client.fleet_status(target, fleet.name, events=True)
    if status is None:
        raise UsageError(f"fleet {fleet.name} has not run on Temporal {target.address}")
    report = fleet_report(fleet, status)
    typer.echo(json.dumps(report, indent=2) if fmt == "json" else render_markdown(report), nl=fmt == "json")


def register(app: typer.Typer) -> None:
    fleet = typer.Typer(help="One release to many orgs in waves, on Temporal.", no_args_is_help=True)
    fleet.command("plan")(plan_cmd)
    fleet.command("run")(run_cmd)
    fleet.command("status")(status_cmd)
    fleet.command("signoff")(signoff_cmd)
    fleet.command("report")(report_cmd)
    app.add_typer(fleet, name="fleet")
