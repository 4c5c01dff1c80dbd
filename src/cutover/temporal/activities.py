"""The activities `cutover worker` runs: plan a run, advance it, record a sign-off.

Every activity rebuilds the run's store from the events the workflow passes in (`state.materialize`) and then runs
the local engine on it, with the step registry's executors: no step logic exists twice. `advance` executes the run as
`cutover run` would (in the engine's order, independent steps overlapping, the rollback when verification triggers
it) until it pauses for a sign-off or ends, and returns the events it added.

Stateless workers: while `advance` runs, the events it appends (the deploy's job id among them, recorded before the
wait) are heartbeated every second. When a worker dies, Temporal retries the activity on another worker after the
heartbeat timeout; that attempt rebuilds the store from the workflow's events plus the heartbeated ones, so the step
is found `running` with its job id, and the engine re-attaches to the job instead of deploying again (or, if the
job id never made it out, asks the org, exactly as `cutover resume` does after a crash).
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio import activity

from cutover.engine import Engine, StepStatus
from cutover.engine.runner import steps_to_execute
from cutover.errors import AwaitingSignoff, CutoverError, StepFailed
from cutover.redact import redact
from cutover.temporal.state import export_events, materialize, run_folder, spec_to_dict
from cutover.temporal.types import (
    AWAITING,
    AdvanceInput,
    AdvanceResult,
    EventDict,
    OrgRunInput,
    RunSnapshot,
    SignoffInput,
    SignoffResult,
    org_workflow_id,
)

HEARTBEAT_EVERY = 1.0


@dataclass
class OrgProject:
    """The project's runbook, re-targeted at one org (alias and expected identity from the fleet or team run)."""

    dir: Path
    runbook: Any
    runbook_path: Path
    runbook_sha256: str
    plan: list[Any]


def org_project(run: OrgRunInput) -> OrgProject:
    from cutover.runbook import find_runbook, load_runbook
    from cutover.runbook.plan import build_plan
    from cutover.steps import file_sha256

    project_dir = Path(run.project_dir)
    path = find_runbook(project_dir)
    runbook = load_runbook(path)
    expect = runbook.target.expect
    changes = {
        key: value
        for key, value in (
            ("org_id", run.org.org_id),
            ("username", run.org.username),
            ("instance_url", run.org.instance_url),
            ("sandbox", run.org.sandbox),
        )
        if value is not None
    }
    target = runbook.target.model_copy(update={"alias": run.org.alias, "expect": expect.model_copy(update=changes)})
    # Orgs of a fleet run at once in the same project folder: each keeps its backups in its own folder.
    backups = f"{runbook.project.backup_dir.rstrip('/')}/{org_workflow_id(run.org.org_id)}"
    runbook = runbook.model_copy(
        update={"target": target, "project": runbook.project.model_copy(update={"backup_dir": backups})}
    )
    return OrgProject(project_dir, runbook, path, file_sha256(path), list(build_plan(runbook)))


def _relpath(project: OrgProject) -> str:
    try:
        return project.runbook_path.relative_to(project.dir).as_posix()
    except ValueError:
        return str(project.runbook_path)


def _engine(folder: Path, project_dir: Path) -> Engine:
    """The local engine on the rebuilt store; its steps run in (and commands against) the real project."""
    engine = Engine(folder)
    engine.project_dir = project_dir.resolve()
    return engine


# -- plan ------------------------------------------------------------------------------------------------------------
def plan_run_sync(run: OrgRunInput) -> RunSnapshot:
    from cutover.steps import git_head, plan_to_specs

    project = org_project(run)
    specs = plan_to_specs(project.plan, project.runbook)
    with tempfile.TemporaryDirectory(prefix="cutover-plan-") as tmp:
        engine = Engine(Path(tmp))
        try:
            info = engine.create_run(
                run.org.alias,
                specs,
                runbook_path=_relpath(project),
                runbook_sha256=project.runbook_sha256,
                git_head=git_head(project.dir),
            )
            events = export_events(engine.store, info.id)
        finally:
            engine.close()
    return RunSnapshot(info.id, run.org.alias, [spec_to_dict(s) for s in specs], events)


@activity.defn(name="cutover.plan_run")
async def plan_run(run: OrgRunInput) -> RunSnapshot:
    return await asyncio.to_thread(plan_run_sync, run)


# -- advance ---------------------------------------------------------------------------------------------------------
def advance_sync(inp: AdvanceInput, extra: list[EventDict], ready: threading.Event | None = None) -> AdvanceResult:
    """Rebuild the store, then execute the run with the registry's executors (exactly what `cutover run` does) until
    it pauses for a sign-off or ends; return the events it added."""
    from cutover.steps import build_executors, change_authors, role_rules
    from cutover.steps.registry import StepServices

    snapshot = inp.snapshot
    folder = run_folder(Path(inp.run.project_dir), inp.run.org.org_id, snapshot.run_id)
    materialize(folder, snapshot, extra).close()
    if ready is not None:
        ready.set()
    project = org_project(inp.run)
    engine = _engine(folder, project.dir)
    try:
        todo = steps_to_execute(engine.steps(snapshot.run_id))
        # As `cutover run`: past an earlier blocking failure executors are optional (see commands/run.py).
        first_failure = next((i for i, r in enumerate(todo) if r.status == StepStatus.FAILED), len(todo))
        authors = change_authors(project.dir) if project.runbook.separation_of_duties.reviewer_not_author else ()
        services = StepServices(
            project_dir=project.dir,
            target_org=inp.run.org.alias,
            runbook_path=project.runbook_path,
            change_authors=role_rules(project.runbook, authors).change_authors,
        )
        if inp.run.monitor:
            services.extras["monitor_overrides"] = dict(inp.run.monitor)
        try:
            executors = build_executors(
                project.plan,
                project.runbook,
                services,
                [r.id for r in todo[: first_failure + 1] if not r.spec.contingency],
                optional=[r.id for r in todo[first_failure + 1 :] if not r.spec.contingency]
                + [r.id for r in todo if r.spec.contingency],
            )
            result = engine.execute(snapshot.run_id, executors)
        except AwaitingSignoff as exc:
            return _result(AWAITING, exc.message, engine, snapshot)
        except StepFailed as exc:
            return _result(engine.resolve_run(snapshot.run_id).state.value, exc.message, engine, snapshot)
        except CutoverError as exc:  # a usage problem (no executor, damaged state): the run cannot go on
            return _result("failed", exc.message, engine, snapshot)
        return _result(result.state.value, result.message, engine, snapshot)
    finally:
        engine.close()


def _result(outcome: str, message: str, engine: Engine, snapshot: RunSnapshot) -> AdvanceResult:
    events = new_events(engine, snapshot)
    finished = [e["step_id"] for e in events if e["type"] == "step.finished" and e.get("step_id")]
    return AdvanceResult(outcome, redact(message), events, finished[-1] if finished else None)


def new_events(engine: Engine, snapshot: RunSnapshot) -> list[EventDict]:
    """The events this activity (and a crashed attempt before it) added: the workflow holds the earlier ones."""
    base = int(snapshot.events[-1]["seq"]) if snapshot.events else 0
    return [e for e in export_events(engine.store, snapshot.run_id) if e["seq"] > base]


def _new_events(folder: Path, run_id: str, after_seq: int) -> list[EventDict]:
    """Events appended by the running step, read through a second connection (WAL: never blocks the writer)."""
    path = folder / ".cutover" / "state.db"
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        rows = db.execute(
            "SELECT run_id, seq, at, type, step_id, payload, prev_hash, hash FROM events "
            "WHERE run_id = ? AND seq > ? ORDER BY seq",
            (run_id, after_seq),
        ).fetchall()
    finally:
        db.close()
    import json

    keys = ("run_id", "seq", "at", "type", "step_id", "payload", "prev_hash", "hash")
    out = []
    for row in rows:
        item = dict(zip(keys, row, strict=True))
        item["payload"] = json.loads(item["payload"])
        out.append(item)
    return out


@activity.defn(name="cutover.advance")
async def advance(inp: AdvanceInput) -> AdvanceResult:
    info = activity.info()
    extra: list[EventDict] = []
    if info.heartbeat_details:
        last = info.heartbeat_details[-1]
        if isinstance(last, list):
            extra = [e for e in last if isinstance(e, dict)]
    base_seq = int(inp.snapshot.events[-1]["seq"]) if inp.snapshot.events else 0
    folder = run_folder(Path(inp.run.project_dir), inp.run.org.org_id, inp.snapshot.run_id)
    ready = threading.Event()
    task = asyncio.create_task(asyncio.to_thread(advance_sync, inp, extra, ready))
    while True:
        done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_EVERY)
        if done:
            return task.result()
        if ready.is_set():
            try:
                activity.heartbeat(await asyncio.to_thread(_new_events, folder, inp.snapshot.run_id, base_seq))
            except sqlite3.Error:
                activity.heartbeat(extra)


# -- sign-offs -------------------------------------------------------------------------------------------------------
def record_signoff_sync(inp: SignoffInput) -> SignoffResult:
    from cutover.steps import change_authors, role_rules

    snapshot, req = inp.snapshot, inp.request
    folder = run_folder(Path(inp.run.project_dir), inp.run.org.org_id, snapshot.run_id)
    materialize(folder, snapshot).close()
    project = org_project(inp.run)
    engine = _engine(folder, project.dir)
    try:
        authors = change_authors(project.dir) if project.runbook.separation_of_duties.reviewer_not_author else ()
        rules = role_rules(project.runbook, authors)
        try:
            if req.statement and req.signature:  # verified as `cutover signoff import` does (key, person, step, run)
                from cutover.signing.intake import accept
                from cutover.signing.statement import Envelope

                run = engine.resolve_run(snapshot.run_id)
                envelope = Envelope(req.statement, req.signature)
                record = accept(
                    engine,
                    run,
                    envelope,
                    runbook=project.runbook,
                    project_dir=project.dir,
                    rules=rules,
                    step=req.step_id,
                )
                message = f"{record.step_id} signed by {redact(record.by)} ({record.role}), signature verified"
            else:
                engine.signoff(
                    snapshot.run_id,
                    req.step_id,
                    by=req.by,
                    role=req.role,
                    note=req.note,
                    evidence=req.evidence,
                    rules=rules,
                )
                message = f"{req.step_id} signed by {redact(req.by)} ({req.role})"
        except CutoverError as exc:
            return SignoffResult(False, redact(exc.message), new_events(engine, snapshot))
        return SignoffResult(True, message, new_events(engine, snapshot))
    finally:
        engine.close()


@activity.defn(name="cutover.record_signoff")
async def record_signoff(inp: SignoffInput) -> SignoffResult:
    return await asyncio.to_thread(record_signoff_sync, inp)


ACTIVITIES = [plan_run, advance, record_signoff]
