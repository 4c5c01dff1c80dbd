"""Detachable steps: an external job submitted early, left running while later steps run, joined in plan order.

A step whose spec carries `params["overlap"] = {"after": [...], "join_before": ID | None}` and whose executor has
`submit(ctx)` and `reattach(ctx, external_ids)` is *detachable*:

- it is **submitted** as soon as every step in `after` is done (passed, waived or skipped) and the execution reaches
  a later step: `submit(ctx)` starts the external job and records its id with `ctx.set_external_id()` (committed
  before anything waits, so a crash leaves something to re-attach to) and returns without waiting. Event
  `step.submitted`; the step is `running` ("in the background") from then on.
- it is **joined** with `reattach(ctx, external_ids)` (event `step.joined`) before the step `join_before` (None: at
  its own place in the plan, i.e. before the steps that follow it), and in any case before the run finishes. The
  outcome is judged exactly as if the step had run at its place: a blocking failure fails the run (or rolls back).
- a submission that fails (or records no job id) puts the step back to `pending` (event `step.submit_failed`): it
  then runs at its place, sequentially, as if there were no overlap.
- when another blocking step fails while a job is in the background, the job is **cancelled** if the executor has
  `cancel(ctx, external_ids) -> str | None` (None: cancelled; else what happened instead, e.g. "it had already
  finished"; event `step.cancelled`, the step goes back to `pending` with no job id, so a retry submits afresh),
  else joined (its verdict and evidence are recorded) before the run fails.
- a crash or an interruption leaves the step `running` with its job id: resume re-attaches (never submits twice).

The engine knows nothing of what the jobs are; the plan decides which steps may overlap (see
`cutover.runbook.plan.overlap`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cutover.engine.model import DONE_STATUSES, Step, StepRecord, StepSpec, StepStatus

#: The spec param that makes a step detachable (plain JSON, stored with the run like every param).
OVERLAP_PARAM = "overlap"


@dataclass(frozen=True)
class Overlap:
    """When a detachable step may be submitted (`after`) and must be joined (`join_before`; None: at its place)."""

    after: tuple[str, ...]
    join_before: str | None = None

    @classmethod
    def of(cls, spec: StepSpec) -> Overlap | None:
        raw = spec.params.get(OVERLAP_PARAM) if isinstance(spec.params, Mapping) else None
        if not isinstance(raw, Mapping):
            return None
        after = raw.get("after") or ()
        if isinstance(after, str):
            after = (after,)
        join = raw.get("join_before")
        return cls(tuple(str(a) for a in after), str(join) if join else None)

    def to_json(self) -> dict[str, Any]:
        return {"after": list(self.after), "join_before": self.join_before}


def detachable(step: Step | None) -> bool:
    return callable(getattr(step, "submit", None)) and callable(getattr(step, "reattach", None))


def ready_to_submit(record: StepRecord, overlap: Overlap, statuses: Mapping[str, StepStatus]) -> bool:
    """A pending step whose prerequisites are all done (a prerequisite missing from the run does not hold it)."""
    if record.status != StepStatus.PENDING or record.spec.contingency:
        return False
    return all(statuses.get(sid, StepStatus.PASSED) in DONE_STATUSES for sid in overlap.after)


def join_due(
    background: StepRecord, overlap: Overlap, current: StepRecord | None, positions: Mapping[str, int]
) -> bool:
    """Must `background` be joined before `current` runs (None: the run is about to finish)?"""
    if current is None:
        return True
    if current.id == background.id:
        return overlap.join_before is None
    limit = positions.get(overlap.join_before or background.id, positions.get(background.id, 0))
    return positions.get(current.id, 0) >= limit


def background_detail(external_ids: Mapping[str, Any]) -> str:
    ids = ", ".join(f"{k} {v}" for k, v in external_ids.items())
    return f"running in the background ({ids})" if ids else "running in the background"
