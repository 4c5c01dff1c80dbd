"""The workflows: one per org (`cutover.org`, workflow id = the org id, so Temporal's id uniqueness is the org lock
across machines) and one per fleet (`cutover.fleet`, id `fleet-<name>`), which starts the org workflows as children
wave by wave.

An org workflow holds the run: its step specs and its hash-chained events. It plans the run (an activity), then
advances it (an activity running the local engine, heartbeating its events) until the run pauses for a sign-off (it
waits for a `signoff` signal, records it with an activity that applies the same separation-of-duties rules as
`cutover signoff`, and advances again) or ends (succeeded, failed, rolled back). Queries: `status` (state, message,
the events and specs), `signoff_result`.

Deterministic code only: everything that touches the world is in `cutover.temporal.activities`.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ChildWorkflowError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from cutover.fleet.rules import halt_reason
    from cutover.temporal.types import (
        AWAITING,
        AdvanceInput,
        AdvanceResult,
        FleetInput,
        OrgRunInput,
        RunSnapshot,
        SignoffInput,
        SignoffRequest,
        SignoffResult,
        WaveApproval,
        WaveSpec,
        org_workflow_id,
    )

HEARTBEAT_TIMEOUT = timedelta(seconds=10)
STEP_TIMEOUT = timedelta(hours=30)  # the longest step: monitoring (24 h by default)
QUICK = timedelta(minutes=10)


@workflow.defn(name="cutover.org")
class OrgRunWorkflow:
    def __init__(self) -> None:
        self._state = "planning"
        self._message = ""
        self._step: str | None = None
        self._snapshot: RunSnapshot | None = None
        self._pending: list[SignoffRequest] = []
        self._results: dict[str, dict[str, Any]] = {}
        self._started = ""
        self._finished = ""
        self._input: OrgRunInput | None = None

    @workflow.run
    async def run(self, inp: OrgRunInput) -> dict[str, Any]:
        self._input = inp
        self._started = workflow.now().isoformat()
        snapshot = await workflow.execute_activity(
            "cutover.plan_run",
            inp,
            result_type=RunSnapshot,
            start_to_close_timeout=QUICK,
            retry_policy=RetryPolicy(maximum_attempts=3),
        )
        self._snapshot = snapshot
        self._state = "running"
        while True:
            result = await workflow.execute_activity(
                "cutover.advance",
                AdvanceInput(inp, snapshot),
                result_type=AdvanceResult,
                start_to_close_timeout=STEP_TIMEOUT,
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
                retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=5),
            )
            snapshot.events = snapshot.events + result.events
            self._step = result.step_id
            self._message = result.message
            if result.outcome != AWAITING:
                self._state = result.outcome
                break
            self._state = "paused"
            signed_ok = False
            while not signed_ok:  # a refused sign-off (wrong role, separation of duties) changes nothing: wait on
                await workflow.wait_condition(lambda: bool(self._pending))
                request = self._pending.pop(0)
                signed = await workflow.execute_activity(
                    "cutover.record_signoff",
                    SignoffInput(inp, snapshot, request),
                    result_type=SignoffResult,
                    start_to_close_timeout=QUICK,
                    retry_policy=RetryPolicy(maximum_attempts=3),
                )
                snapshot.events = snapshot.events + signed.events
                self._results[request.request_id] = {"ok": signed.ok, "message": signed.message}
                signed_ok = signed.ok
            self._state = "running"
        self._finished = workflow.now().isoformat()
        return self.status()

    @workflow.signal
    def signoff(self, request: SignoffRequest) -> None:
        self._pending.append(request)

    @workflow.query
    def signoff_result(self, request_id: str) -> dict[str, Any] | None:
        return self._results.get(request_id)

    @workflow.query
    def status(self) -> dict[str, Any]:
        snap = self._snapshot
        inp = self._input
        return {
            "org_id": inp.org.org_id if inp else None,
            "alias": inp.org.alias if inp else None,
            "run_id": snap.run_id if snap else None,
            "state": self._state,
            "message": self._message,
            "step": self._step,
            "started": self._started,
            "finished": self._finished,
            "specs": snap.specs if snap else [],
            "events": snap.events if snap else [],
        }

    @workflow.query
    def brief(self) -> dict[str, Any]:
        """`status` without the events and specs (what `fleet status` shows for each org): steps done of the plan's
        main steps, the step running now."""
        full = self.status()
        main = {s["id"] for s in full.pop("specs") if not s.get("contingency")}
        latest: dict[str, str] = {}
        for event in full.pop("events"):
            if event.get("step_id") in main and event["type"] in ("step.started", "step.reattaching"):
                latest[event["step_id"]] = "running"
            elif event.get("step_id") in main and event["type"] == "step.finished":
                latest[event["step_id"]] = str(event["payload"].get("status"))
            elif event.get("step_id") in main and event["type"] == "step.waived":
                latest[event["step_id"]] = "waived"
        done = sum(1 for status in latest.values() if status in ("passed", "waived", "skipped"))
        running = [step for step, status in latest.items() if status == "running"]
        return full | {"progress": f"{done}/{len(main)}", "running": running[0] if running else ""}


@workflow.defn(name="cutover.fleet")
class FleetWorkflow:
    def __init__(self) -> None:
        self._state = "running"
        self._reason = ""
        self._wave = ""
        self._approvals: list[WaveApproval] = []
        self._orgs: dict[str, dict[str, Any]] = {}  # org id -> {wave, alias, outcome, message, started, finished}
        self._waves: list[dict[str, Any]] = []

    @workflow.run
    async def run(self, inp: FleetInput) -> dict[str, Any]:
        for wave in inp.waves:
            self._waves.append({"name": wave.name, "orgs": [o.org_id for o in wave.orgs], "threshold": wave.threshold})
            for org in wave.orgs:
                self._orgs[org.org_id] = {"wave": wave.name, "alias": org.alias, "outcome": "waiting"}
        for index, wave in enumerate(inp.waves):
            self._wave = wave.name
            if index > 0 and wave.pause_before:
                self._state = "awaiting_signoff"
                self._reason = f"waiting for a sign-off before wave {wave.name}"
                await workflow.wait_condition(lambda w=wave: any(a.wave == w.name for a in self._approvals))
                self._state, self._reason = "running", ""
            outcomes = await self._run_wave(inp, wave)
            reason = halt_reason(wave.name, outcomes, wave.threshold)
            if reason:
                self._state, self._reason = "halted", reason
                for later in inp.waves[index + 1 :]:
                    for org in later.orgs:
                        self._orgs[org.org_id]["outcome"] = "not_started"
                return self.status()
        self._state, self._reason = "completed", ""
        return self.status()

    async def _run_wave(self, inp: FleetInput, wave: WaveSpec) -> dict[str, str]:
        gate = asyncio.Semaphore(max(1, wave.max_parallel))

        async def one(org: Any) -> None:
            async with gate:
                entry = self._orgs[org.org_id]
                entry.update(outcome="running", started=workflow.now().isoformat())
                child_input = OrgRunInput(
                    org=org, project_dir=inp.project_dir, release=inp.release, monitor=inp.monitor, fleet=inp.name
                )
                try:
                    result = await workflow.execute_child_workflow(
                        "cutover.org",
                        child_input,
                        id=org_workflow_id(org.org_id),
                        result_type=dict,
                        parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                    )
                    entry.update(outcome=str(result.get("state")), message=str(result.get("message") or ""))
                    entry["run_id"] = result.get("run_id")
                except WorkflowAlreadyStartedError:
                    entry.update(outcome="locked", message=f"another run holds org {org.org_id} (workflow open)")
                except ChildWorkflowError as exc:
                    cause = exc.cause.message if exc.cause is not None and hasattr(exc.cause, "message") else str(exc)
                    entry.update(outcome="error", message=str(cause)[:300])
                entry["finished"] = workflow.now().isoformat()

        await asyncio.gather(*(one(org) for org in wave.orgs))
        return {org.alias: str(self._orgs[org.org_id]["outcome"]) for org in wave.orgs}

    @workflow.signal
    def approve(self, approval: WaveApproval) -> None:
        self._approvals.append(approval)

    @workflow.query
    def status(self) -> dict[str, Any]:
        return {
            "state": self._state,
            "reason": self._reason,
            "wave": self._wave,
            "waves": self._waves,
            "orgs": self._orgs,
            "approvals": [{"wave": a.wave, "by": a.by, "role": a.role, "note": a.note} for a in self._approvals],
        }


WORKFLOWS = [OrgRunWorkflow, FleetWorkflow]
