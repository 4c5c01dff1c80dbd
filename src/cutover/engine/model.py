"""The engine's vocabulary: plain, immutable data. Nothing here knows about Salesforce or the runbook file.

A run is an ordered list of `StepSpec`s (precomputed once, when the run is created, and stored with it), each
executed by a `Step` (the Protocol below) that returns an immutable `StepOutcome`. Sign-off rules travel as data
(`SignoffRule` per step, `RoleRules` per run) so the engine can enforce separation of duties without reading the
runbook itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from cutover.engine.context import StepContext


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    WAIVED = "waived"
    WAITING_SIGNOFF = "waiting_signoff"
    SKIPPED = "skipped"


#: A step in one of these states is finished for good: resume never runs it again.
DONE_STATUSES = frozenset({StepStatus.PASSED, StepStatus.WAIVED, StepStatus.SKIPPED})


class RunState(StrEnum):
    PLANNED = "planned"  # created (e.g. by an early sign-off) but never executed
    RUNNING = "running"  # a process is executing it (or crashed while doing so: see the org lock)
    PAUSED = "paused"  # stopped on purpose: waiting for a sign-off, interrupted, or --only/--until reached
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    ABORTED = "aborted"


#: Runs in these states can be continued by `cutover run` / `cutover resume`.
OPEN_RUN_STATES = frozenset({RunState.PLANNED, RunState.RUNNING, RunState.PAUSED})


@dataclass(frozen=True)
class SignoffRule:
    """What a sign-off step needs: one of `roles`, `min_signers` distinct people, and optional constraints."""

    roles: tuple[str, ...]
    min_signers: int = 1
    not_author: bool = False  # a person who authored the change may not sign (code/security review)
    evidence_required: bool = False  # the sign-off must carry --evidence (a link to the proof)
    signatures_required: bool = False  # only SSH-signed sign-offs count (separation_of_duties.signatures: required)

    def to_json(self) -> dict[str, Any]:
        return {
            "roles": list(self.roles),
            "min_signers": self.min_signers,
            "not_author": self.not_author,
            "evidence_required": self.evidence_required,
        } | ({"signatures_required": True} if self.signatures_required else {})  # older definition hashes unchanged

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> SignoffRule | None:
        if not data:
            return None
        return cls(
            roles=tuple(data.get("roles") or ()),
            min_signers=int(data.get("min_signers") or 1),
            not_author=bool(data.get("not_author")),
            evidence_required=bool(data.get("evidence_required")),
            signatures_required=bool(data.get("signatures_required")),
        )


@dataclass(frozen=True)
class StepSpec:
    """One step of a run, as planned. `params` must be JSON-serialisable; it is stored (redacted) with the run."""

    id: str
    stage: str
    title: str
    action: str
    kind: str = "automated"  # "automated" | "signoff"
    blocking: bool = True
    params: Mapping[str, Any] = field(default_factory=dict)
    signoff: SignoffRule | None = None
    #: A contingency step (rollback) runs only when a rollback is triggered; otherwise it ends `skipped`.
    contingency: bool = False
    #: What a blocking failure of this step does: "stop" the run (failed), or "rollback" (run the contingency steps,
    #: then end the run `rolled_back`), e.g. post-deployment verification when rollback is automatic.
    on_failure: str = "stop"

    def __post_init__(self) -> None:
        if self.on_failure not in ("stop", "rollback"):
            raise ValueError(f"step {self.id}: on_failure must be 'stop' or 'rollback', not {self.on_failure!r}")


@dataclass(frozen=True)
class RoleRules:
    """Separation of duties for a run, as plain data.

    `exclusive`: pairs of roles one person may not both sign for within a run (deployment lead vs security
    reviewer). `change_authors`: names/emails of the people who authored the change being released, refused on
    steps whose rule says `not_author`. `waiver_roles`: if not empty, a waiver approver must hold one of these roles
    (named for it in `role_holders`, or having signed for it in this run). `role_holders`: role → people named for
    it by the runbook.
    """

    exclusive: tuple[tuple[str, str], ...] = ()
    change_authors: tuple[str, ...] = ()
    waiver_roles: tuple[str, ...] = ()
    role_holders: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class StepOutcome:
    """What a step's run()/reattach() returns. `data` (JSON-like) is redacted and stored in the event log."""

    status: StepStatus
    detail: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def passed(cls, detail: str = "", **data: Any) -> StepOutcome:
        return cls(StepStatus.PASSED, detail, data)

    @classmethod
    def failed(cls, detail: str, **data: Any) -> StepOutcome:
        return cls(StepStatus.FAILED, detail, data)

    @classmethod
    def skipped(cls, detail: str = "", **data: Any) -> StepOutcome:
        return cls(StepStatus.SKIPPED, detail, data)

    @classmethod
    def waiting_signoff(cls, detail: str = "", **data: Any) -> StepOutcome:
        return cls(StepStatus.WAITING_SIGNOFF, detail, data)


@runtime_checkable
class Step(Protocol):
    """A step executor. `idempotent` steps are simply run again when a crash interrupted them.

    A step that starts an external job (a deploy) records the job id with `ctx.set_external_id()` *before* waiting
    on it, and implements `reattach(ctx, external_ids) -> StepOutcome` (optional; not part of this Protocol so plain
    steps need not define it): after a crash, resume calls `reattach` instead of `run`, so the job is never
    submitted twice.
    """

    idempotent: bool

    def run(self, ctx: StepContext) -> StepOutcome: ...


@dataclass(frozen=True)
class Evidence:
    step_id: str
    name: str
    path: Path  # absolute
    relpath: str  # relative to the project's .cutover/ folder
    sha256: str
    size: int


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...] | str
    returncode: int
    stdout: str  # redacted
    stderr: str  # redacted
    duration: float
    timed_out: bool = False
    evidence: tuple[Evidence, ...] = ()

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


@dataclass(frozen=True)
class RunInfo:
    id: str
    target_org: str
    state: RunState
    runbook_path: str | None
    runbook_sha256: str | None
    git_head: str | None
    created: str
    updated: str
    pid: int | None
    host: str | None
    note: str | None = None


@dataclass(frozen=True)
class StepRecord:
    run_id: str
    position: int
    spec: StepSpec
    status: StepStatus
    started: str | None
    finished: str | None
    attempt: int
    detail: str
    external_ids: Mapping[str, Any]

    @property
    def id(self) -> str:
        return self.spec.id


@dataclass(frozen=True)
class SignoffRecord:
    run_id: str
    step_id: str
    by: str
    role: str
    note: str | None
    evidence: str | None
    at: str
    definition: str | None = None  # SHA-256 of the step definition it was given for (None: not recorded)
    # An SSH-signed sign-off (cutover.signing): the verified person, the key's SHA256:... fingerprint and the SHA-256
    # of the signed statement; all None when it was not signed.
    signer: str | None = None
    fingerprint: str | None = None
    statement_sha256: str | None = None


@dataclass(frozen=True)
class WaiverRecord:
    run_id: str
    step_id: str
    reason: str
    approver: str
    at: str
    definition: str | None = None  # SHA-256 of the step definition it was given for


@dataclass(frozen=True)
class EventRecord:
    run_id: str
    seq: int
    at: str
    type: str
    step_id: str | None
    payload: Mapping[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class RunResult:
    run_id: str
    state: RunState
    message: str  # one line for the operator
    failed_nonblocking: tuple[str, ...] = ()
