"""`cutover audit verify/log/evidence` and `cutover lock status/break`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cutover.commands._context import app_context, out_console
from cutover.commands.run import (
    OutputFormat,
    _confirm,
    _resolve_step,
)
from cutover.engine import Engine
from cutover.engine.store import StateDamaged
from cutover.errors import AuditBroken, EnvironmentProblem, RunLocked, UsageError

if TYPE_CHECKING:
    from cutover.engine.anchors import RemoteCheck


def audit_verify_cmd(
    ctx: typer.Context,
    run_id: str | None = typer.Argument(None, metavar="[RUN]", help="Run id (default: latest)."),
    all_runs: bool = typer.Option(False, "--all", help="Verify every run."),
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", help="Output format."),
    remote: bool = typer.Option(
        False,
        "--remote",
        help="Also fetch the anchored audit heads from the git remote (refs/notes/cutover) and check that the local "
        "chain still contains every one of them: catches a consistent rewrite of state.db and HEAD.",
    ),
) -> None:
    """Verify a run's hash-chained event log, HEAD anchor, evidence files, and that every table (steps, run state,
    sign-offs, waivers, evidence) matches the replayed log. Exit 1 naming the difference; exit 6 when the state is
    damaged (after listing what survives). Read-only: works on a damaged `.cutover/`."""
    from cutover.engine.salvage import survey

    project_dir = app_context(ctx).project_dir
    found = survey(project_dir, run_id, all_runs=all_runs)
    reports = found.reports
    checks = _remote_checks(project_dir, [r.run_id for r in reports]) if remote and not found.damaged else {}
    signatures = [] if found.damaged else _signature_problems(project_dir, [r.run_id for r in reports if r.ok])
    if fmt == OutputFormat.json:
        doc = [
            {
                "run_id": r.run_id,
                "ok": r.ok,
                "events": r.count,
                "head_hash": r.head_hash,
                "problem": r.problem,
                "problems": r.problems,
                **({"remote": checks[r.run_id].to_json()} if r.run_id in checks else {}),
                "signatures": [p for run, p in signatures if run == r.run_id],
            }
            for r in reports
        ]
        typer.echo(
            json.dumps({"runs": doc, "damage": found.damage, "lost": found.lost} if found.damaged else doc, indent=2)
        )
    else:
        console = out_console()
        for line in [*found.damage, *found.lost]:
            console.print(line, markup=False)
        for report in reports:
            if report.ok:
                console.print(
                    f"run {report.run_id}: {report.count} events verified (head {report.head_hash})", markup=False
                )
                continue
            console.print(
                f"run {report.run_id}: NOT VERIFIED ({report.count} of {report.events} events chain)", markup=False
            )
            for problem in report.problems[:50]:
                console.print(f"  - {problem}", markup=False)
        for check in checks.values():
            if check.ok:
                console.print(
                    f"run {check.run_id}: {check.anchors} anchor(s) on {check.remote} match the local chain",
                    markup=False,
                )
            for line in [*check.notes, *check.problems]:
                console.print(line, markup=False)
        for _run, problem in signatures:
            console.print(problem, markup=False)
    if found.damaged:
        first = next(iter([*found.damage, *(p for r in reports for p in r.damaged)]), None) or found.lost[0]
        raise StateDamaged(
            f"the run state is damaged: {first}",
            hint="restore `.cutover/` from backup (what survives is listed above)",
        )
    bad = next((r for r in reports if not r.ok), None)
    if bad is not None:
        raise AuditBroken(
            f"run {bad.run_id}: {bad.problem}",
            hint=f"{bad.count} event(s) chain before it; inspect with: cutover audit log {bad.run_id}",
        )
    problems = [p for check in checks.values() for p in check.problems] + [p for _run, p in signatures]
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise AuditBroken(
            problems[0] + more,
            hint="the local state no longer matches the heads published off this machine: restore .cutover/ from "
            "a backup and compare with: cutover audit log",
        )


def _signature_problems(project_dir: Path, run_ids: list[str]) -> list[tuple[str, str]]:
    """Every signed sign-off of these runs verified again from its event alone (statement, signature, the runbook's
    keys): unlike the hash chain, this survives a consistent rewrite of the log. Runs without signed sign-offs cost
    nothing; without a loadable runbook there are no keys to check against, so nothing is checked."""
    from cutover.errors import CutoverError
    from cutover.runbook.loader import find_runbook, load_runbook
    from cutover.signing.recheck import recheck

    if not run_ids:
        return []
    engine = Engine(project_dir)
    try:
        runs = {run_id: engine.events(run_id) for run_id in run_ids}
    finally:
        engine.close()
    if not any(e.type == "signoff.recorded" and e.payload.get("signed") for events in runs.values() for e in events):
        return []
    try:
        runbook = load_runbook(find_runbook(project_dir))
    except CutoverError:
        return []
    return [
        (run_id, f"run {run_id}: signed sign-off of {c.step_id} by {c.by} (event #{c.seq}) fails: {c.problem}")
        for run_id, events in runs.items()
        for c in recheck(events, runbook, project_dir)
        if not c.ok
    ]


def _remote_checks(project_dir: Path, run_ids: list[str]) -> dict[str, RemoteCheck]:
    """`--remote`: each run's chain against the anchors fetched from its release remote (see engine.anchors)."""
    from cutover.engine.anchors import RemoteUnavailable, verify_remote
    from cutover.report.state import open_readonly

    store = open_readonly(project_dir)
    try:
        runs = {run_id: store.events(run_id) for run_id in run_ids}
        checks = verify_remote(project_dir, runs)
    except RemoteUnavailable as exc:
        raise EnvironmentProblem(
            f"audit verify --remote: {exc}", hint="run it in a clone of the project that has the release remote"
        ) from None
    finally:
        store.close()
    return {check.run_id: check for check in checks}


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
    from cutover.engine.integrity import evidence_state

    engine = Engine(app_context(ctx).project_dir)
    run = engine.resolve_run(run_id)
    step_id = _resolve_step(engine, run, step) if step else None
    rows = []
    for item in engine.store.evidence(run.id, step_id, raw=True):
        state = evidence_state(engine.cutover_dir, item)
        state = {"modified": "MODIFIED", "outside": "OUTSIDE"}.get(state, state)  # OUTSIDE: escapes .cutover/
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
