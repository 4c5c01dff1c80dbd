"""A run's local store, rebuilt from the events its workflow holds, so that a worker is stateless.

The hash-chained event log is the truth (`cutover.engine.replay` rebuilds every table from it); a workflow keeps
the events and the step specs, and each activity calls `materialize()`: the run's tables in a scratch `.cutover/`
(under the project: `.cutover/fleet/<org id, 15 characters>/<run id>/.cutover/`) are replaced by what the events
say, the events are copied verbatim (same hashes: the chain continues), and the HEAD anchor is set to the last one.
The step executors then run against it exactly as in a local run. Evidence files stay in that folder (workers that
share the project folder share them; workers on several machines need it on a shared volume).

After the activity, `export_events()` returns the whole log for the workflow to keep.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cutover.engine.model import EventRecord, RunState, SignoffRule, StepSpec, StepStatus
from cutover.engine.replay import replay
from cutover.engine.store import Store
from cutover.temporal.types import EventDict, RunSnapshot, SpecDict, org_workflow_id

_TABLES = ("events", "steps", "signoffs", "waivers", "evidence", "runs")


def run_folder(project_dir: Path, org_id: str, run_id: str) -> Path:
    """The scratch project folder of one org's run (its `.cutover/` holds the store and the evidence)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", org_workflow_id(org_id))
    return Path(project_dir) / ".cutover" / "fleet" / safe / re.sub(r"[^A-Za-z0-9._-]", "_", run_id)


# -- specs and events as JSON --------------------------------------------------------------------------------------
def spec_to_dict(spec: StepSpec) -> SpecDict:
    return {
        "id": spec.id,
        "stage": spec.stage,
        "title": spec.title,
        "action": spec.action,
        "kind": spec.kind,
        "blocking": spec.blocking,
        "params": json.loads(json.dumps(dict(spec.params), default=str)),
        "signoff": spec.signoff.to_json() if spec.signoff else None,
        "contingency": spec.contingency,
        "on_failure": spec.on_failure,
    }


def spec_from_dict(data: Mapping[str, Any]) -> StepSpec:
    return StepSpec(
        id=str(data["id"]),
        stage=str(data["stage"]),
        title=str(data["title"]),
        action=str(data["action"]),
        kind=str(data.get("kind") or "automated"),
        blocking=bool(data.get("blocking", True)),
        params=dict(data.get("params") or {}),
        signoff=SignoffRule.from_json(data.get("signoff")),
        contingency=bool(data.get("contingency")),
        on_failure=str(data.get("on_failure") or "stop"),
    )


def event_to_dict(event: EventRecord) -> EventDict:
    return {
        "run_id": event.run_id,
        "seq": event.seq,
        "at": event.at,
        "type": event.type,
        "step_id": event.step_id,
        "payload": dict(event.payload),
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def event_from_dict(data: Mapping[str, Any]) -> EventRecord:
    return EventRecord(
        str(data["run_id"]),
        int(data["seq"]),
        str(data["at"]),
        str(data["type"]),
        data.get("step_id"),
        dict(data.get("payload") or {}),
        str(data["prev_hash"]),
        str(data["hash"]),
    )


# -- rebuilding the store --------------------------------------------------------------------------------------------
def materialize(folder: Path, snapshot: RunSnapshot, extra_events: Sequence[EventDict] = ()) -> Store:
    """Open the scratch store in `folder` with exactly the run `snapshot` (plus `extra_events`: the ones a crashed
    attempt heartbeated) in it. Returns the open Store (the caller closes it)."""
    events = [event_from_dict(e) for e in [*snapshot.events, *extra_events]]
    store = Store.open(folder)
    shutil.rmtree(store.cutover_dir / "locks", ignore_errors=True)  # the org lock is the workflow id, not a file
    head = store.run_dir(snapshot.run_id) / "HEAD"
    head.unlink(missing_ok=True)
    logged = replay(events)
    created = next((e for e in events if e.type == "run.created"), None)
    info = dict(created.payload) if created else {}
    first_at = events[0].at if events else ""
    last_at = events[-1].at if events else ""
    with store.transaction() as tx:
        for table in _TABLES:
            tx.execute(f"DELETE FROM {table} WHERE {'id' if table == 'runs' else 'run_id'} = ?", (snapshot.run_id,))
        tx.execute(
            "INSERT INTO runs (id, target_org, state, runbook_path, runbook_sha256, git_head, created, updated) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (
                snapshot.run_id,
                snapshot.target_org,
                RunState(logged.run_state or "planned").value,
                info.get("runbook"),
                info.get("runbook_sha256"),
                info.get("git_head"),
                first_at,
                last_at,
            ),
        )
        attempts: dict[str, int] = {}
        started: dict[str, str] = {}
        for event in events:
            if event.type == "step.started" and event.step_id:
                attempts[event.step_id] = int(event.payload.get("attempt") or attempts.get(event.step_id, 0) + 1)
                started[event.step_id] = event.at
        for position, data in enumerate(snapshot.specs):
            spec = spec_from_dict(data)
            status = StepStatus(logged.steps.get(spec.id, "pending"))
            store.insert_step(tx, snapshot.run_id, position, spec, status)
            store.update_step(
                tx,
                snapshot.run_id,
                spec.id,
                attempt=attempts.get(spec.id, 0),
                started=started.get(spec.id),
                external_ids=logged.external_ids.get(spec.id, {}),
                detail=_last_detail(events, spec.id),
            )
        for record in logged.signoff_records:
            store.add_signoff(tx, record)
        for waiver in logged.waiver_records:
            store.add_waiver(tx, waiver)
        for event in events:
            if event.type == "evidence.recorded" and event.step_id:
                p = event.payload
                tx.execute(
                    "INSERT INTO evidence (run_id, step_id, name, relpath, sha256, size, created) "
                    "VALUES (?,?,?,?,?,?,?)",
                    (
                        snapshot.run_id,
                        event.step_id,
                        p.get("name"),
                        p.get("path"),
                        p.get("sha256"),
                        p.get("size"),
                        event.at,
                    ),
                )
            tx.execute(
                "INSERT INTO events (run_id, seq, at, type, step_id, payload, prev_hash, hash) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (
                    event.run_id,
                    event.seq,
                    event.at,
                    event.type,
                    event.step_id,
                    json.dumps(dict(event.payload), sort_keys=True),
                    event.prev_hash,
                    event.hash,
                ),
            )
        tx.heads.pop(snapshot.run_id, None)
    if events:
        store.write_head(snapshot.run_id, (events[-1].seq, events[-1].hash))
    return store


def _last_detail(events: Sequence[EventRecord], step_id: str) -> str:
    for event in reversed(events):
        if event.step_id == step_id and event.type == "step.finished":
            return str(event.payload.get("detail") or "")
    return ""


def export_events(store: Store, run_id: str) -> list[EventDict]:
    return [event_to_dict(e) for e in store.events(run_id)]


__all__ = [
    "event_from_dict",
    "event_to_dict",
    "export_events",
    "materialize",
    "run_folder",
    "spec_from_dict",
    "spec_to_dict",
]
