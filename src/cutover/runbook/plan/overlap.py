"""Which steps overlap: the plan marks detachable steps with when they may be submitted and must be joined.

The engine runs a step marked `params["overlap"] = {"after": [ID], "join_before": ID | None}` in the background
(`cutover.engine.overlap`): submitted once `after` is done, joined before `join_before` (None: at its own place).
Two steps are marked, both because the job they start changes nothing in the org:

- `validate.dry-run` (a check-only deploy) is submitted right after the org guard: it runs in the org while the
  backup retrieves and the release branch and tag are created. Only steps known not to touch what the validation
  reads may run alongside it; a custom step between the guard and the validation (it may change the sources) moves
  the submission after it. It is joined at its place, before the deploy.
- `verify.apex-tests` is submitted after the deploy (and while the smoke-test sign-offs are given); the read-only
  verification queries (ApexLog, permission sets, scheduled jobs when they are not re-created) run while the tests
  run, and the tests are joined before the first step that is not read-only (the announcement), so a failing test
  still stops (or rolls back) the run before anything is announced.

`sf.overlap: false` in the runbook turns it off: every step runs at its place, one after the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from cutover.runbook.models import Runbook
from cutover.runbook.plan._common import PlanStep

#: Steps that may run while a validation is in the org (they read the org, write the backup folder or git refs).
ALONGSIDE_VALIDATION = frozenset({"sf.backup", "git.release", "signoff"})
#: Steps that may come between the deploy and the submission of the verification tests.
BEFORE_TESTS = frozenset({"signoff", "git.push_release"})
#: Read-only verification queries that may run while the verification tests run.
ALONGSIDE_TESTS = frozenset({"sf.verify_logs", "sf.verify_permission_sets"})


def _recreates_jobs(runbook: Runbook) -> bool:
    configured = runbook.verify.recreate_missing_jobs
    return bool(configured) if configured is not None else not runbook.target.production


def annotate_overlap(steps: Sequence[PlanStep], runbook: Runbook) -> list[PlanStep]:
    """The plan with its detachable steps marked (unchanged when `sf.overlap` is false)."""
    out = list(steps)
    if not getattr(runbook.sf, "overlap", True):
        return out
    alongside_tests = ALONGSIDE_TESTS | ({"sf.verify_jobs"} if not _recreates_jobs(runbook) else set())
    for index, step in enumerate(out):
        if step.action == "sf.validate":
            out[index] = _mark(out, index, before=ALONGSIDE_VALIDATION, alongside=frozenset())
        elif step.action == "sf.verify_tests" and step.stage == "verify":
            out[index] = _mark(out, index, before=BEFORE_TESTS, alongside=frozenset(alongside_tests))
    return out


def _mark(steps: list[PlanStep], index: int, *, before: frozenset[str], alongside: frozenset[str]) -> PlanStep:
    step = steps[index]
    start = index
    while start > 0 and steps[start - 1].action in before and steps[start - 1].stage != "preflight":
        start -= 1
    end = index + 1
    while end < len(steps) and steps[end].action in alongside and steps[end].stage == step.stage:
        end += 1
    if end == len(steps):
        end = index + 1  # always joined before a later step, never only at the end of the run
    if start == 0 or (start == index and end == index + 1):
        return step  # nothing to overlap with
    after = steps[start - 1].id
    join_before = steps[end].id if end > index + 1 else None
    before_ids = [s.id for s in steps[start:index]]
    with_ids = [s.id for s in steps[index + 1 : end]]
    words = f"Overlap: submitted after {after}"
    if before_ids or with_ids:
        words += f"; runs alongside {', '.join(before_ids + with_ids)}"
    words += f"; joined before {join_before}" if join_before else ("" if with_ids else "; joined at its place")
    params = {**step.params, "overlap": {"after": [after], "join_before": join_before}}
    return replace(step, params=params, checks=[*step.checks, words])
