"""Replaying a run's hash-chained event log: what the chain says the run is, and where `state.db` disagrees.

The tables of `state.db` (runs, steps, sign-offs, waivers, evidence) are a cache of the event log: every state change
appends its event in the same transaction. `replay(events)` rebuilds from the events alone the run state, each step's
status and external job ids, and the sign-offs, waivers and evidence rows that should exist (following re-plans,
which drop the sign-offs and waivers of a changed step, and rollback requests). `table_differences` names every
place the tables differ from that replay: a deleted or added sign-off / waiver / evidence row, an edited step status,
a deleted or added step row, an edited run state. `cutover audit verify`, `cutover report` and the separation-of-duties
checks all use it (through `cutover.engine.integrity.check_run`), so they give the same verdict.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cutover.engine.model import EventRecord, RunInfo, SignoffRecord, StepRecord, WaiverRecord

SignoffKey = tuple[str | None, str | None, str | None, str | None, str | None, str | None]
WaiverKey = tuple[str | None, str | None, str | None, str | None]
EvidenceKey = tuple[str | None, str | None, str | None]


@dataclass
class Replayed:
    """The run as its event log tells it."""

    run_state: str | None = None
    steps: dict[str, str] = field(default_factory=dict)  # step id -> status
    contingency: set[str] = field(default_factory=set)
    external_ids: dict[str, dict[str, Any]] = field(default_factory=dict)
    signoffs: list[SignoffKey] = field(default_factory=list)
    signoff_records: list[SignoffRecord] = field(default_factory=list)  # the same, as records (time: the event's)
    waivers: list[WaiverKey] = field(default_factory=list)
    waiver_records: list[WaiverRecord] = field(default_factory=list)
    evidence: list[EvidenceKey] = field(default_factory=list)


def _s(value: Any) -> str | None:
    return None if value is None else str(value)


def signoff_key(record: SignoffRecord) -> SignoffKey:
    return (record.step_id, record.by, record.role, record.note, record.evidence, record.definition)


def waiver_key(record: WaiverRecord) -> WaiverKey:
    return (record.step_id, record.reason, record.approver, record.definition)


def evidence_key(row: Mapping[str, Any]) -> EvidenceKey:
    return (_s(row.get("step_id")), _s(row.get("relpath")), _s(row.get("sha256")))


def replay(events: Sequence[EventRecord]) -> Replayed:
    """Follow the engine's transitions over the event log (see runner.py, decisions.py, replan.py)."""
    out = Replayed()
    for event in events:
        _apply(out, event)
    return out


def _apply(out: Replayed, event: EventRecord) -> None:
    kind, step_id, payload = event.type, event.step_id, event.payload
    steps = out.steps
    if kind == "run.created":
        out.run_state = "planned"
        for item in payload.get("steps") or ():
            if isinstance(item, Mapping) and item.get("id"):
                steps[str(item["id"])] = "pending"
                if item.get("contingency"):
                    out.contingency.add(str(item["id"]))
    elif kind in ("run.started", "run.resumed", "rollback.started", "rollback.resumed"):
        out.run_state = "running"
    elif kind in ("run.paused", "run.stopped", "run.interrupted", "rollback.requested"):
        out.run_state = "paused"
        if kind == "rollback.requested":
            for sid in out.contingency:
                if steps.get(sid) == "skipped":
                    steps[sid] = "pending"
    elif kind == "run.finished":
        out.run_state = str(payload.get("state") or "succeeded")
        for sid in out.contingency:
            if steps.get(sid) == "pending":
                steps[sid] = "skipped"
    elif kind == "run.failed":
        out.run_state = "failed"
    elif kind == "run.rolled_back":
        out.run_state = "rolled_back"
        for sid, status in steps.items():
            if sid not in out.contingency and status == "pending":
                steps[sid] = "skipped"
    elif kind == "run.aborted":
        out.run_state = "aborted"
    elif kind == "run.replanned":
        _apply_replan(out, payload)
    elif kind == "evidence.recorded":
        out.evidence.append((step_id, _s(payload.get("path")), _s(payload.get("sha256"))))
    elif step_id is None:
        return
    elif kind in ("step.started", "step.reattaching", "step.submitted", "step.joined"):
        steps[step_id] = "running"
    elif kind in ("step.submit_failed", "step.cancelled"):  # back to pending (overlap.py); a cancelled job is gone
        steps[step_id] = "pending"
        if kind == "step.cancelled":
            out.external_ids.pop(step_id, None)
    elif kind in ("step.finished", "preflight.gate"):
        steps[step_id] = str(payload.get("status") or steps.get(step_id))
    elif kind == "step.external_id":
        out.external_ids.setdefault(step_id, {})[str(payload.get("key"))] = payload.get("value")
    elif kind == "signoff.recorded":
        key = (
            step_id,
            _s(payload.get("by")),
            _s(payload.get("role")),
            _s(payload.get("note")),
            _s(payload.get("evidence")),
            _s(payload.get("definition")),
        )
        out.signoffs.append(key)
        signed = payload.get("signed") if isinstance(payload.get("signed"), Mapping) else {}
        out.signoff_records.append(
            SignoffRecord(
                event.run_id,
                step_id,
                str(key[1]),
                str(key[2]),
                *key[3:5],
                event.at,
                key[5],
                *(_s(signed.get(k)) for k in ("signer", "fingerprint", "statement_sha256")),
            )
        )
    elif kind in ("step.waived", "step.retry"):
        if kind == "step.waived":
            steps[step_id] = "waived"
            key = (step_id, _s(payload.get("reason")), _s(payload.get("approver")), _s(payload.get("definition")))
            out.waivers.append(key)
            out.waiver_records.append(WaiverRecord(event.run_id, step_id, str(key[1]), str(key[2]), event.at, key[3]))
        else:
            steps[step_id] = "pending"
            out.external_ids.pop(step_id, None)
        if out.run_state == "failed":
            out.run_state = "paused"


def _apply_replan(out: Replayed, payload: Mapping[str, Any]) -> None:
    """`run.replanned` (cutover.engine.replan): deleted steps, new statuses, dropped sign-offs and waivers."""
    for sid in payload.get("deleted") or ():
        out.steps.pop(str(sid), None)
        out.external_ids.pop(str(sid), None)
    out.contingency.update(str(sid) for sid in payload.get("contingency") or ())
    statuses = payload.get("statuses") or {}
    if isinstance(statuses, Mapping):
        reset = {str(sid) for sid in payload.get("reset") or ()}
        for sid, status in statuses.items():
            out.steps[str(sid)] = str(status)
            if str(sid) in reset and status == "pending":
                out.external_ids.pop(str(sid), None)
    dropped = {
        str(item.get("step"))
        for key in ("dropped_signoffs", "dropped_waivers")
        for item in payload.get(key) or ()
        if isinstance(item, Mapping)
    }
    out.signoffs = [s for s in out.signoffs if s[0] not in dropped]
    out.signoff_records = [s for s in out.signoff_records if s.step_id not in dropped]
    out.waivers = [w for w in out.waivers if w[0] not in dropped]
    out.waiver_records = [w for w in out.waiver_records if w.step_id not in dropped]


def _multiset_diff(table: Sequence[Hashable], logged: Sequence[Hashable]) -> tuple[list[Any], list[Any]]:
    """(in the table but not in the log, in the log but not in the table), counting duplicates."""
    left, right = Counter(table), Counter(logged)
    return list((left - right).elements()), list((right - left).elements())


def table_differences(
    run: RunInfo,
    records: Sequence[StepRecord],
    events: Sequence[EventRecord],
    *,
    signoffs: Sequence[SignoffRecord] = (),
    waivers: Sequence[WaiverRecord] = (),
    evidence: Sequence[Mapping[str, Any]] = (),
) -> list[str]:
    """Every place where the state tables disagree with the (verified) event log, one line each."""
    if not events:
        return [f"the audit log of run {run.id} is empty (every run starts with a run.created event)"]
    logged = replay(events)
    problems: list[str] = []
    extra, missing = _multiset_diff([signoff_key(s) for s in signoffs], logged.signoffs)
    problems += [f"sign-off of {k[0]} by {k[1]} ({k[2]}) is in state.db but not in the audit log" for k in extra]
    problems += [
        f"sign-off of {k[0]} by {k[1]} ({k[2]}) is in the audit log but missing from state.db" for k in missing
    ]
    extra, missing = _multiset_diff([waiver_key(w) for w in waivers], logged.waivers)
    problems += [f"waiver of {k[0]} by {k[2]} is in state.db but not in the audit log" for k in extra]
    problems += [f"waiver of {k[0]} by {k[2]} is in the audit log but missing from state.db" for k in missing]
    extra, missing = _multiset_diff([evidence_key(row) for row in evidence], logged.evidence)
    problems += [f"evidence .cutover/{k[1]} ({k[0]}) is in state.db but not in the audit log" for k in extra]
    problems += [f"evidence .cutover/{k[1]} ({k[0]}) is in the audit log but missing from state.db" for k in missing]
    if logged.run_state is not None and logged.run_state != run.state.value:
        problems.append(f"the run is {run.state.value} in state.db but {logged.run_state} according to the audit log")
    for record in records:
        status = logged.steps.get(record.id)
        if status is None:
            problems.append(f"step {record.id} is in state.db but not in the audit log")
        elif status != record.status.value:
            problems.append(
                f"step {record.id} is {record.status.value} in state.db but {status} according to the audit log"
            )
        elif dict(record.external_ids) != logged.external_ids.get(record.id, {}):
            problems.append(f"the external job ids of step {record.id} in state.db differ from the audit log")
    listed = {r.id for r in records}
    problems += [f"step {sid} of the audit log is missing from state.db" for sid in logged.steps if sid not in listed]
    return problems
