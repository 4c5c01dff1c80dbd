"""`cutover status --format json`: a run's state, every step's status, and the command most likely needed next."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cutover.engine import signoffs as rules_mod
from cutover.engine.decisions import waive_command
from cutover.engine.integrity import check_run
from cutover.engine.model import OPEN_RUN_STATES, RunInfo, RunState, StepRecord, StepStatus

if TYPE_CHECKING:
    from cutover.engine.runner import Engine


def run_status(engine: Engine, run_id: str) -> dict[str, Any]:
    """The `cutover status --format json` document."""
    run = engine._run(run_id)
    evidence_counts: dict[str, int] = {}
    for item in engine.store.evidence(run_id, raw=True):
        evidence_counts[item["step_id"]] = evidence_counts.get(item["step_id"], 0) + 1
    signoffs = engine.store.logged_signoffs(run_id)  # from the chained log
    waivers = {w.step_id: w for w in engine.store.logged_waivers(run_id)}
    lock = engine.locks.read(run.target_org)
    steps = []
    for record in engine.store.steps(run_id):
        item: dict[str, Any] = {
            "id": record.id,
            "status": record.status.value,
            "title": record.spec.title,
            "stage": record.spec.stage,
            "kind": record.spec.kind,
            "action": record.spec.action,
            "blocking": record.spec.blocking,
            "detail": record.detail,
            "attempt": record.attempt,
            "started": record.started,
            "finished": record.finished,
            "evidence": evidence_counts.get(record.id, 0),
        }
        if record.spec.signoff is not None:  # who can unblock it (scripts answering a paused run need this)
            item["signoff"] = record.spec.signoff.to_json()
        if record.spec.contingency:
            item["contingency"] = True  # runs only if a rollback is triggered
        if record.spec.on_failure != "stop":
            item["on_failure"] = record.spec.on_failure
        if record.external_ids:
            item["external_ids"] = dict(record.external_ids)
        if record.status == StepStatus.RUNNING and record.detail.startswith("running in the background"):
            item["background"] = True  # a detachable step submitted early (engine/overlap.py), not joined yet
        step_signoffs = [s for s in signoffs if s.step_id == record.id]
        if step_signoffs:
            item["signoffs"] = [
                {"by": s.by, "role": s.role, "at": s.at, "signer": s.signer, "fingerprint": s.fingerprint}
                for s in step_signoffs
            ]
        if record.id in waivers:
            w = waivers[record.id]
            item["waiver"] = {"reason": w.reason, "approver": w.approver, "at": w.at}
        steps.append(item)
    head = engine.store.read_head(run_id)
    audit = check_run(engine.store, run_id, run, files=False)  # the tables shown above, replayed from the chain
    doc_lock = (
        None
        if lock is None or lock.run_id != run.id
        else {"pid": lock.pid, "host": lock.host, "since": lock.started, "stale": lock.stale}
    )
    return {
        "run_id": run.id,
        "state": run.state.value,
        "target_org": run.target_org,
        "created": run.created,
        "updated": run.updated,
        "note": run.note,
        "runbook": run.runbook_path,
        "runbook_sha256": run.runbook_sha256,
        "git_head": run.git_head,
        "lock": doc_lock,
        "next": next_action(run, engine.store.steps(run_id), doc_lock),
        "head_hash": head[1] if head else None,
        "audit": {"ok": audit.ok, "problem": audit.problem, "evidence_files_checked": False},
        "steps": steps,
    }


def next_action(run: RunInfo, records: Sequence[StepRecord], lock: Mapping[str, Any] | None) -> str | None:
    """The command an operator most likely needs next (None while the run is executing or when nothing is left)."""
    waiting = next((r for r in records if r.status == StepStatus.WAITING_SIGNOFF), None)
    failed = next((r for r in records if r.status == StepStatus.FAILED and r.spec.blocking), None)
    if run.state == RunState.RUNNING:
        if lock is not None and lock["stale"]:
            return f"cutover lock break {run.target_org} --yes && cutover resume {run.id}"
        if lock is None:  # crashed and its lock already broken
            return f"cutover resume {run.id}"
        return None
    if run.state == RunState.FAILED and failed is not None:
        return f"cutover retry {failed.id} && cutover resume {run.id}  (or: {waive_command(failed, records)})"
    if waiting is not None and (run.state in OPEN_RUN_STATES or run.state == RunState.SUCCEEDED):
        return rules_mod.unblock_command(waiting.spec)
    if run.state in (RunState.PLANNED, RunState.PAUSED):
        return f"cutover resume {run.id}"
    return None
