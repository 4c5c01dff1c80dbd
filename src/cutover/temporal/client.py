"""What the commands ask of Temporal, as plain synchronous calls: start an org's run or a fleet, read their status,
send sign-offs. Errors are cutover errors: an org whose workflow is open is `RunLocked` (exit 5)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowQueryFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from cutover.errors import RunLocked, UsageError
from cutover.temporal.connect import TASK_QUEUE, Target, connect
from cutover.temporal.types import FleetInput, OrgRunInput, SignoffRequest, WaveApproval, org_workflow_id

T = TypeVar("T")


def fleet_workflow_id(name: str) -> str:
    return f"fleet-{name}"


def _run(target: Target, call: Callable[[Client], Awaitable[T]]) -> T:
    async def go() -> T:
        return await call(await connect(target))

    return asyncio.run(go())


async def _open(handle: WorkflowHandle[Any, Any]) -> bool:
    try:
        desc = await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return desc.status == WorkflowExecutionStatus.RUNNING


def start_org_run(target: Target, inp: OrgRunInput) -> str:
    """Start the org's workflow (id = org id). Refused (exit 5) while another one for that org is open, from any
    machine: Temporal keeps workflow ids unique among open workflows."""

    async def call(client: Client) -> str:
        try:
            handle = await client.start_workflow(
                "cutover.org",
                inp,
                id=org_workflow_id(inp.org.org_id),
                task_queue=TASK_QUEUE,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            )
        except WorkflowAlreadyStartedError:
            raise RunLocked(
                f"org {inp.org.org_id} ({inp.org.alias}) is locked: its run is open on Temporal {target.address}",
                hint=f"see it with: cutover fleet status / cutover team status {inp.org.org_id}",
            ) from None
        return handle.result_run_id or ""

    return _run(target, call)


def org_status(target: Target, org_id: str) -> dict[str, Any] | None:
    """The org workflow's `status` query (None when there is no such workflow)."""

    async def call(client: Client) -> dict[str, Any] | None:
        handle = client.get_workflow_handle(org_workflow_id(org_id))
        try:
            return await handle.query("status", result_type=dict)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return None
            raise

    return _run(target, call)


def org_is_open(target: Target, org_id: str) -> bool:
    return _run(target, lambda client: _open(client.get_workflow_handle(org_workflow_id(org_id))))


def send_signoff(target: Target, org_id: str, request: SignoffRequest, timeout: float = 120) -> dict[str, Any]:
    """Signal a sign-off to the org's workflow and wait until it was recorded (or refused)."""
    request.request_id = request.request_id or secrets.token_hex(8)

    async def call(client: Client) -> dict[str, Any]:
        handle = client.get_workflow_handle(org_workflow_id(org_id))
        if not await _open(handle):
            raise UsageError(f"no open run for org {org_id} on Temporal {target.address}")
        await handle.signal("signoff", request)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = await handle.query("signoff_result", request.request_id, result_type=dict)
            if result is not None:
                return dict(result)
            await asyncio.sleep(0.5)
        raise UsageError(f"the sign-off was sent but not recorded within {timeout:.0f} s (is a worker running?)")

    return _run(target, call)


def start_fleet(target: Target, inp: FleetInput) -> None:
    async def call(client: Client) -> None:
        try:
            await client.start_workflow(
                "cutover.fleet",
                inp,
                id=fleet_workflow_id(inp.name),
                task_queue=TASK_QUEUE,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            )
        except WorkflowAlreadyStartedError:
            raise RunLocked(
                f"fleet {inp.name} is already running on Temporal {target.address}",
                hint=f"see it with: cutover fleet status (workflow {fleet_workflow_id(inp.name)})",
            ) from None

    _run(target, call)


def fleet_status(target: Target, name: str, *, events: bool = False) -> dict[str, Any] | None:
    """The fleet workflow's status, each org's own status merged in (state, progress, step running, run id; with
    `events`, the run's events and specs too)."""

    async def call(client: Client) -> dict[str, Any] | None:
        handle = client.get_workflow_handle(fleet_workflow_id(name))
        try:
            status: dict[str, Any] = await handle.query("status", result_type=dict)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return None
            raise
        for org_id, entry in status.get("orgs", {}).items():
            if entry.get("outcome") in ("waiting", "not_started", "locked"):
                continue
            try:
                handle = client.get_workflow_handle(org_workflow_id(org_id))
                entry["run"] = await handle.query("status" if events else "brief", result_type=dict)
            except (RPCError, WorkflowQueryFailedError):
                entry["run"] = None
        return status

    return _run(target, call)


def approve_wave(target: Target, name: str, approval: WaveApproval) -> None:
    async def call(client: Client) -> None:
        handle = client.get_workflow_handle(fleet_workflow_id(name))
        if not await _open(handle):
            raise UsageError(f"fleet {name} is not running on Temporal {target.address}")
        await handle.signal("approve", approval)

    _run(target, call)
