"""The preflight stage: the runbook's Pre-Deployment Checklist as gates.

`run_preflight()` evaluates every preflight step of the plan (automated gates and sign-offs), independent ones in
parallel, and returns a `PreflightReport` in plan order. `record_preflight()` then writes each result, with its
evidence (SHA-256 in the audit chain), into the org's run, so `cutover run` continues from it: gates that passed are
done and are not run again, the others run again when the run reaches them. The same gates are registered with
`cutover.steps.registry` for the `gate.*` actions, so the engine can run any one of them on its own.

Modules: `context` (gate specs, the context they read), `code_gates`, `repo_gates`, `people_gates` (the gate
functions), `record` (recording into the run, sign-offs read back, engine executors). This module runs them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cutover.checks import git as git_checks
from cutover.checks.result import GateResult, GateStatus, failed
from cutover.steps.preflight.code_gates import (
    apex_coverage_source,
    coverage_kind,
    gate_apex_scan,
    gate_command,
    gate_coverage,
    gate_permission_sets,
    gate_secrets,
    scan_config_for,
)
from cutover.steps.preflight.context import (
    COMMAND_KEYS,
    GATE_ACTIONS,
    SIGNOFF_ACTION,
    GateSpec,
    PreflightContext,
    SignoffView,
    combine,
    preflight_gates,
    suffix,
)
from cutover.steps.preflight.people_gates import gate_contacts, gate_signoff, gate_window
from cutover.steps.preflight.record import (
    GateStep,
    gate_executor,
    latest_validation_coverage,
    record_preflight,
    register_executors,
    signoff_view,
)
from cutover.steps.preflight.repo_gates import gate_docs, gate_git, gate_reviews

if TYPE_CHECKING:
    from cutover.runbook.models import Runbook

__all__ = [
    "COMMAND_KEYS",
    "GATE_ACTIONS",
    "GATE_FUNCTIONS",
    "SIGNOFF_ACTION",
    "GateSpec",
    "GateStep",
    "PreflightContext",
    "PreflightReport",
    "SignoffView",
    "apex_coverage_source",
    "combine",
    "evaluate_gate",
    "gate_executor",
    "latest_validation_coverage",
    "preflight_gates",
    "record_preflight",
    "run_preflight",
    "scan_config_for",
    "signoff_view",
]

#: Kept under its old name for callers that evaluate a sign-off item directly.
_gate_signoff = gate_signoff

GATE_FUNCTIONS: dict[str, Callable[[GateSpec, PreflightContext], GateResult]] = {
    "gate.command": gate_command,
    "gate.git": gate_git,
    "gate.reviews": gate_reviews,
    "gate.secrets": gate_secrets,
    "gate.apex_scan": gate_apex_scan,
    "gate.permission_sets": gate_permission_sets,
    "gate.coverage": gate_coverage,
    "gate.docs": gate_docs,
    "gate.window": gate_window,
    "gate.contacts": gate_contacts,
    SIGNOFF_ACTION: gate_signoff,
}


def evaluate_gate(spec: GateSpec, ctx: PreflightContext) -> GateResult:
    """One gate, with the step's identity and blocking flag; a waiver recorded in the run makes it `waived`."""
    waiver = ctx.view.waivers.get(spec.id)
    if waiver is not None:
        return GateResult(
            spec.id, spec.title, GateStatus.WAIVED, spec.blocking, f"waived by {waiver.approver}: {waiver.reason}"
        )
    function = GATE_FUNCTIONS.get(spec.action)
    if function is None:
        return failed(spec.id, spec.title, f"no preflight gate for action {spec.action!r}", blocking=spec.blocking)
    try:
        result = function(spec, ctx)
    except Exception as exc:  # one broken gate must not hide the others' results
        return failed(spec.id, spec.title, f"internal error: {type(exc).__name__}: {exc}", blocking=spec.blocking)
    # A gate with nothing to check (skipped, with its reason) and a coverage gate that cannot be measured yet (Apex
    # before validation) only inform; everything else blocks as the plan says.
    if result.status == GateStatus.SKIPPED:
        blocking = False
    else:
        blocking = spec.blocking and result.blocking if spec.action == "gate.coverage" else spec.blocking
    return result.with_identity(spec.id, spec.title, blocking)


# ---------------------------------------------------------------------------------------------------------------------
# Running them all
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreflightReport:
    gates: tuple[GateResult, ...]
    git_head: str | None
    runbook_sha256: str | None
    at: datetime
    seconds: float
    recorded_in: str | None = None  # run id
    recorded_evidence: Mapping[str, tuple[dict[str, Any], ...]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    durations: Mapping[str, float] = field(default_factory=dict)  # gate id -> seconds

    @property
    def ok(self) -> bool:
        return all(gate.lets_deploy for gate in self.gates)

    @property
    def blocking_failures(self) -> list[GateResult]:
        return [g for g in self.gates if g.blocking and g.status == GateStatus.FAILED]

    @property
    def waiting(self) -> list[GateResult]:
        return [g for g in self.gates if g.blocking and g.status == GateStatus.WAITING_SIGNOFF]

    def to_json(self) -> dict[str, Any]:
        gates = []
        for gate in self.gates:
            item = gate.to_json()
            item["seconds"] = round(self.durations.get(gate.id, 0.0), 2)
            recorded = self.recorded_evidence.get(gate.id)
            if recorded:
                item["evidence"] = list(recorded)
            gates.append(item)
        return {
            "ok": self.ok,
            "gates": gates,
            "git_head": self.git_head,
            "runbook_sha256": self.runbook_sha256,
            "at": self.at.isoformat(),
            "seconds": round(self.seconds, 2),
            "run_id": self.recorded_in,
            "notes": list(self.notes),
        }


def _lanes(gates: Sequence[GateSpec]) -> list[list[GateSpec]]:
    """Groups that run one after another inside, in parallel with each other.

    The project's commands share one lane: they write the same files (coverage/, caches) and on a small machine
    two jest runs at once only slow each other down; LWC coverage runs the unit tests that produce its summary.
    Every other gate only reads the project and runs on its own.
    """
    commands = [g for g in gates if g.action == "gate.command"]
    lwc = [g for g in gates if g.action == "gate.coverage" and coverage_kind(g) == "lwc"]
    grouped = {g.id for g in [*commands, *lwc]}
    lanes = [lane for lane in ([*commands, *lwc],) if lane]
    lanes += [[g] for g in gates if g.id not in grouped]
    return lanes


def run_preflight(
    project_dir: Path,
    runbook: Runbook,
    *,
    runbook_path: Path | None = None,
    at: datetime | None = None,
    view: SignoffView | None = None,
    jobs: int | None = None,
    only: Sequence[str] | None = None,
) -> PreflightReport:
    """Evaluate every preflight gate of the runbook for the project in `project_dir`."""
    from cutover.steps import file_sha256, git_head

    started = time.monotonic()
    project_dir = Path(project_dir).resolve()
    gates, _ = preflight_gates(runbook)
    if only:
        gates = [g for g in gates if g.id in only or suffix(g) in only]
    moment = at or datetime.now(UTC)
    tag_pattern = runbook.release.tag.replace("{version}", "*").replace("{date}", "*")
    current_tag = runbook.release.tag_name()
    ctx = PreflightContext(
        project_dir=project_dir,
        runbook=runbook,
        at=moment,
        view=view or SignoffView(),
        cache_dir=project_dir / ".cutover" / "cache",
        previous_tag=git_checks.previous_release_tag(project_dir, pattern=tag_pattern, exclude=current_tag),
    )
    results: dict[str, GateResult] = {}
    durations: dict[str, float] = {}

    def run_lane(lane: list[GateSpec]) -> None:
        for spec in lane:
            gate_started = time.monotonic()
            results[spec.id] = evaluate_gate(spec, ctx)
            durations[spec.id] = time.monotonic() - gate_started

    lanes = _lanes(gates)
    workers = jobs or max(2, min(4, (os.cpu_count() or 2)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="preflight") as pool:
        for future in [pool.submit(run_lane, lane) for lane in lanes]:
            future.result()
    ordered = tuple(results[g.id] for g in gates)
    return PreflightReport(
        gates=ordered,
        git_head=git_head(project_dir),
        runbook_sha256=file_sha256(runbook_path) if runbook_path else None,
        at=moment,
        seconds=time.monotonic() - started,
        durations=durations,
    )


register_executors()
