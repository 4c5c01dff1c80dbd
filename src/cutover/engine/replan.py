"""Re-planning an open run after its runbook changed: keep what still holds, reset only what changed.

Every step definition (id, stage, title, action, kind, blocking, params, sign-off rule, contingency, on_failure, in
the redacted form the run stores) has a canonical JSON SHA-256, `definition_hash`. Sign-offs, waivers and finished
steps are bound to it (recorded with them and in the audit trail). When the runbook of a run changes:

- a step whose definition hash is unchanged keeps its status, sign-offs, waivers and evidence;
- a changed step goes back to `pending` and loses its sign-offs and waivers (they attest the old definition);
- except past the **point of no return**: a changed step that already finished (or is running) at or before the
  last step with a side effect that has started (a step whose executor is not idempotent: the deploy, a custom step
  not declared idempotent) is kept as it ran, recorded as `changed_after_execution`, with a warning: re-running a
  pre-deploy step after the deploy (a backup, a gate) would record something the release never went through;
- a new step goes in `pending` at its place, or `skipped` when it lands before the point of no return (it cannot
  run before a deploy that already happened);
- a removed step that never ran is dropped; one that ran stays as a record; one that failed or waited is `skipped`.

One `run.replanned` audit event records the old and new runbook hashes and every list.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cutover.engine.model import DONE_STATUSES, RunInfo, StepRecord, StepSpec, StepStatus
from cutover.engine.store import Store
from cutover.errors import UsageError
from cutover.redact import redact, redact_obj


def definition_hash(spec: StepSpec) -> str:
    """SHA-256 of the step definition in canonical JSON, computed on the redacted form the run stores (so a spec
    freshly planned and the same spec read back from the store hash alike)."""
    params = json.loads(json.dumps(redact_obj(dict(spec.params)), sort_keys=True, default=str))
    doc = {
        "id": spec.id,
        "stage": spec.stage,
        "title": redact(spec.title),
        "action": spec.action,
        "kind": spec.kind,
        "blocking": bool(spec.blocking),
        "params": params,
        "signoff": spec.signoff.to_json() if spec.signoff else None,
        "contingency": bool(spec.contingency),
        "on_failure": spec.on_failure,
    }
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Replan:
    """What a re-plan did (also the payload of the `run.replanned` event)."""

    run_id: str
    old_runbook_sha256: str | None
    new_runbook_sha256: str | None
    kept: list[str] = field(default_factory=list)
    reset: list[str] = field(default_factory=list)  # changed: back to pending with the new definition
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed_after_execution: list[str] = field(default_factory=list)  # changed, kept as it ran (not re-run)
    added_skipped: list[str] = field(default_factory=list)  # new, but before the point of no return
    dropped_signoffs: list[dict[str, str]] = field(default_factory=list)
    dropped_waivers: list[dict[str, str]] = field(default_factory=list)
    point_of_no_return: str | None = None
    definitions: dict[str, str] = field(default_factory=dict)  # step id -> new definition hash (changed and added)
    # For replaying the log (the release record checks state.db against it): new statuses, deleted rows, and the
    # added steps that are rollback contingency.
    statuses: dict[str, str] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    contingency: list[str] = field(default_factory=list)

    def payload(self) -> dict[str, Any]:
        return {
            "old_runbook_sha256": self.old_runbook_sha256,
            "new_runbook_sha256": self.new_runbook_sha256,
            "kept": self.kept,
            "reset": self.reset,
            "added": self.added,
            "removed": self.removed,
            "changed_after_execution": self.changed_after_execution,
            "added_skipped": self.added_skipped,
            "dropped_signoffs": self.dropped_signoffs,
            "dropped_waivers": self.dropped_waivers,
            "point_of_no_return": self.point_of_no_return,
            "definitions": self.definitions,
            "statuses": self.statuses,
            "deleted": self.deleted,
            "contingency": self.contingency,
        }

    def lines(self) -> list[str]:
        """What the operator reads, one line each (warnings start with `warning:`)."""
        old, new = (self.old_runbook_sha256 or "?")[:12], (self.new_runbook_sha256 or "?")[:12]
        out = [
            f"runbook changed since run {self.run_id} was planned ({old} → {new}): re-planned; "
            f"kept {len(self.kept)} step(s), reset {len(self.reset)}, added {len(self.added)}, "
            f"removed {len(self.removed)}"
        ]
        for label, ids in (("reset to pending", self.reset), ("added", self.added), ("removed", self.removed)):
            if ids:
                out.append(f"  {label}: {', '.join(ids)}")
        if self.dropped_signoffs or self.dropped_waivers:
            given = [f"{d['step']} ({d['by']})" for d in self.dropped_signoffs]
            given += [f"{d['step']} (waiver by {d['approver']})" for d in self.dropped_waivers]
            out.append(f"  sign-offs/waivers to give again (their step changed): {', '.join(given)}")
        for step_id in self.changed_after_execution:
            out.append(
                f"warning: {step_id} changed after it ran (the run is past {self.point_of_no_return}); "
                "kept as it ran, not re-run"
            )
        for step_id in self.added_skipped:
            out.append(
                f"warning: new step {step_id} comes before {self.point_of_no_return}, which already ran; "
                "recorded as skipped"
            )
        return out


def point_of_no_return(store: Store, run_id: str) -> str | None:
    """The last step (in run order) with a side effect that has started: its executor was not idempotent."""
    positions = {r.id: r.position for r in store.steps(run_id)}
    started = {
        e.step_id
        for e in store.events(run_id)
        if e.type == "step.started" and e.payload.get("idempotent") is False and e.step_id in positions
    }
    return max(started, key=lambda s: positions[s]) if started else None


def replan(
    store: Store, run: RunInfo, specs: Sequence[StepSpec], *, runbook_sha256: str | None, runbook_path: str | None
) -> Replan:
    """Re-plan `run` for `specs` (the changed runbook's plan), in one transaction with its audit event."""
    ids = [s.id for s in specs]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise UsageError(f"duplicate step ids in the plan: {', '.join(duplicates)}")
    with store.transaction() as tx:
        records = store.steps(run.id)
        old_by_id = {r.id: r for r in records}
        signoffs = store.signoffs(run.id)
        waivers = store.waivers(run.id)
        result = Replan(run.id, run.runbook_sha256, runbook_sha256)
        horizon = point_of_no_return(store, run.id)
        result.point_of_no_return = horizon
        new_index = {spec.id: i for i, spec in enumerate(specs)}
        # Where the point of no return lands in the new order (a removed horizon step: just before its old successor).
        horizon_at = _horizon_index(horizon, records, new_index)
        for index, spec in enumerate(specs):
            old = old_by_id.get(spec.id)
            past = horizon_at is not None and index <= horizon_at
            new_hash = definition_hash(spec)
            if old is None:
                status = StepStatus.SKIPPED if past and not spec.contingency else StepStatus.PENDING
                store.insert_step(tx, run.id, index, spec, status)
                result.statuses[spec.id] = status.value
                if spec.contingency:
                    result.contingency.append(spec.id)
                if status == StepStatus.SKIPPED:
                    store.update_step(tx, run.id, spec.id, detail="added to the runbook after this point had passed")
                    result.added_skipped.append(spec.id)
                result.added.append(spec.id)
                result.definitions[spec.id] = new_hash
                continue
            if definition_hash(old.spec) == new_hash:
                result.kept.append(spec.id)
                continue
            result.definitions[spec.id] = new_hash
            store.replace_step_spec(tx, run.id, spec)
            if past and old.status in (*DONE_STATUSES, StepStatus.RUNNING):
                result.changed_after_execution.append(spec.id)
                note = "definition changed after it ran; kept as it ran"
                store.update_step(tx, run.id, spec.id, detail=f"{old.detail}; {note}" if old.detail else note)
                continue
            if old.status == StepStatus.SKIPPED and spec.contingency:  # a standby rollback step: stays standby
                result.reset.append(spec.id)
                continue
            _drop_given(store, tx, result, run.id, spec.id, signoffs, waivers)
            store.update_step(tx, run.id, spec.id, status=StepStatus.PENDING, detail="", external_ids={}, finished=None)
            result.statuses[spec.id] = StepStatus.PENDING.value
            result.reset.append(spec.id)
        for old in records:
            if old.id in new_index:
                continue
            result.removed.append(old.id)
            if old.status == StepStatus.RUNNING:
                raise UsageError(
                    f"step {old.id} is running (or was interrupted) in run {run.id}, and the runbook no longer has it",
                    hint=f"restore it in the runbook, resume run {run.id} past it, then change the runbook",
                )
            if old.status == StepStatus.PENDING:
                _drop_given(store, tx, result, run.id, old.id, signoffs, waivers)
                store.delete_step(tx, run.id, old.id)
                result.deleted.append(old.id)
            elif old.status not in DONE_STATUSES:
                store.update_step(tx, run.id, old.id, status=StepStatus.SKIPPED, detail="removed from the runbook")
                result.statuses[old.id] = StepStatus.SKIPPED.value
        store.set_positions(tx, run.id, _merged_order(records, [s.id for s in specs], store, run.id))
        store.set_runbook(tx, run.id, runbook_sha256=runbook_sha256, runbook_path=runbook_path)
        tx.append_event(run.id, "run.replanned", None, result.payload())
    return result


def _horizon_index(horizon: str | None, records: Sequence[StepRecord], new_index: dict[str, int]) -> int | None:
    if horizon is None:
        return None
    if horizon in new_index:
        return new_index[horizon]
    # The horizon step was removed from the runbook: everything placed before its old successor is past it.
    after = False
    for record in records:
        if record.id == horizon:
            after = True
        elif after and record.id in new_index:
            return new_index[record.id] - 1
    return max(new_index.values(), default=-1)


def _drop_given(
    store: Store,
    tx: Any,
    result: Replan,
    run_id: str,
    step_id: str,
    signoffs: Sequence[Any],
    waivers: Sequence[Any],
) -> None:
    result.dropped_signoffs += [{"step": step_id, "by": s.by, "role": s.role} for s in signoffs if s.step_id == step_id]
    result.dropped_waivers += [{"step": step_id, "approver": w.approver} for w in waivers if w.step_id == step_id]
    store.drop_signoffs_and_waivers(tx, run_id, step_id)


def _merged_order(records: Sequence[StepRecord], new_ids: Sequence[str], store: Store, run_id: str) -> list[str]:
    """The new plan's order, with the removed steps kept as records placed after their old predecessor."""
    existing = {r.id for r in store.steps(run_id)}
    order = [i for i in new_ids if i in existing]
    previous: str | None = None
    for record in records:
        if record.id in existing and record.id not in new_ids:
            at = order.index(previous) + 1 if previous in order else 0
            order.insert(at, record.id)
        previous = record.id if record.id in existing else previous
    return order
