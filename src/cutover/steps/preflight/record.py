"""Recording preflight in the org's run, reading its sign-offs back, the engine executors of the `gate.*` actions."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cutover.checks import git as git_checks
from cutover.steps.preflight.context import (
    GATE_ACTIONS,
    GateSpec,
    PreflightContext,
    SignoffView,
    preflight_gates,
    spec_from_plan_step,
)

if TYPE_CHECKING:
    from cutover.engine import Engine, SignoffRecord, StepContext, StepOutcome
    from cutover.runbook.models import Runbook
    from cutover.runbook.plan import PlanStep
    from cutover.steps.preflight import PreflightReport
    from cutover.steps.registry import StepServices


def signoff_view(
    project_dir: Path, runbook: Runbook, target_org: str | None = None, runbook_path: Path | None = None
) -> SignoffView:
    """Sign-offs and waivers from the run preflight would record into: the org's open run, or its failed run of the
    same commit and runbook (none when there is no run or no state yet)."""
    if not (Path(project_dir) / ".cutover" / "state.db").exists():
        return SignoffView()
    from cutover.engine import Engine

    engine = Engine(project_dir)
    try:
        from cutover.steps import file_sha256, git_head

        head = git_head(Path(project_dir))
        coverage = latest_validation_coverage(engine, head)
        run = engine.continuable_run(
            target_org or runbook.target.alias,
            git_head=head,
            runbook_sha256=file_sha256(runbook_path) if runbook_path else None,
        )
        if run is None:
            return SignoffView(validation_coverage=coverage)
        signoffs: dict[str, list[SignoffRecord]] = {}
        for record in engine.store.signoffs(run.id):
            signoffs.setdefault(record.step_id, []).append(record)
        waivers = {w.step_id: w for w in engine.store.waivers(run.id)}
        return SignoffView(
            signoffs={k: tuple(v) for k, v in signoffs.items()},
            waivers=waivers,
            validation_coverage=coverage,
        )
    finally:
        engine.close()


def latest_validation_coverage(engine: Engine, head: str | None) -> tuple[float, str] | None:
    """Org-wide coverage measured by the latest validation of this commit, in any run of the project.

    The validate step records `validation-criteria.json` (criteria with their measured values); a validation of
    another commit says nothing about this one, so only runs created at the same git HEAD count.
    """
    if head is None:
        return None
    for run in reversed(engine.runs()):
        if run.git_head != head:
            continue
        items = [e for e in engine.store.evidence(run.id) if str(e["name"]).startswith("validation-criteria")]
        for item in reversed([e for e in items if str(e["name"]).endswith(".json")]):
            try:
                data = json.loads((engine.cutover_dir / item["relpath"]).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            for criterion in data.get("criteria") or []:
                if criterion.get("name") != "Code coverage":
                    continue
                match = re.search(r"\d+(?:\.\d+)?", str(criterion.get("actual") or ""))
                if match:
                    job = data.get("job_id") or "?"
                    return float(match.group()), f"validation {job} in run {run.id}"
    return None


def record_preflight(
    project_dir: Path, runbook: Runbook, runbook_path: Path, report: PreflightReport, *, target_org: str | None = None
) -> PreflightReport:
    """Write every gate result (status, detail, evidence) into the org's run; create the run when there is none.

    Nothing is written into a run planned for another commit or runbook, or one already past preflight: its
    results would be mixed with stale ones. The report's notes say why when a result was not recorded.
    """
    from dataclasses import replace

    from cutover.engine import Engine, RunState, StepContext, StepStatus
    from cutover.engine.store import utc_now
    from cutover.steps import plan_to_specs

    _, plan = preflight_gates(runbook)
    engine = Engine(project_dir)
    try:
        alias = target_org or runbook.target.alias
        # A run that failed only on gates is continued: the sign-offs and waivers given to fix it stay with it.
        run = engine.continuable_run(alias, git_head=report.git_head, runbook_sha256=report.runbook_sha256)
        if run is None:
            try:
                shown_path = Path(runbook_path).resolve().relative_to(Path(project_dir).resolve()).as_posix()
            except ValueError:
                shown_path = str(runbook_path)
            run = engine.create_run(
                alias,
                plan_to_specs(plan, runbook),
                runbook_path=shown_path,
                runbook_sha256=report.runbook_sha256,
                git_head=report.git_head,
            )
        elif run.git_head != report.git_head:
            return replace(
                report,
                notes=(
                    *report.notes,
                    f"not recorded: open run {run.id} was planned for another commit "
                    f"(finish it, or `cutover abort {run.id}`)",
                ),
            )
        elif run.runbook_sha256 and run.runbook_sha256 != report.runbook_sha256:  # edited: re-plan what changed
            replanned = engine.replan(run.id, plan_to_specs(plan, runbook), runbook_sha256=report.runbook_sha256)
            report = replace(report, notes=(*report.notes, *replanned.lines()))
            run = engine.resolve_run(run.id)
        records = {r.id: r for r in engine.steps(run.id)}
        if run.state not in (RunState.PLANNED, RunState.PAUSED, RunState.FAILED) or any(
            r.spec.stage != "preflight" and r.status != StepStatus.PENDING for r in records.values()
        ):
            return replace(report, notes=(*report.notes, f"not recorded: run {run.id} is already past preflight"))
        recorded: dict[str, tuple[dict[str, Any], ...]] = {}
        for gate in report.gates:
            record = records.get(gate.id)
            if record is None or record.status in (StepStatus.WAIVED,):
                continue
            if record.status == StepStatus.PASSED and record.spec.kind == "signoff":
                continue
            ctx = StepContext(store=engine.store, record=record, project_dir=Path(project_dir))
            stored = [ctx.record_evidence(item.name, item.content) for item in gate.evidence]
            recorded[gate.id] = tuple(
                {"name": e.name, "sha256": e.sha256, "bytes": e.size, "path": f".cutover/{e.relpath}"} for e in stored
            )
            status = StepStatus(gate.status.value)
            now = utc_now()
            with engine.store.transaction() as tx:
                engine.store.update_step(
                    tx,
                    run.id,
                    gate.id,
                    status=status,
                    detail=gate.full_detail,
                    started=record.started or now,
                    finished=None if status == StepStatus.WAITING_SIGNOFF else now,
                )
                tx.append_event(
                    run.id,
                    "preflight.gate",
                    gate.id,
                    {"status": gate.status.value, "detail": gate.detail, "git_head": report.git_head}
                    | ({"output_tail": list(gate.output_tail)} if gate.output_tail else {}),
                )
        return replace(report, recorded_in=run.id, recorded_evidence=recorded)
    finally:
        engine.close()


class GateStep:
    """Engine executor for one preflight gate (`cutover run` reaching a preflight step that is not done yet)."""

    idempotent = True  # gates only read the project (and re-run its commands)

    def __init__(self, spec: GateSpec, runbook: Runbook, project_dir: Path) -> None:
        self.spec = spec
        self.runbook = runbook
        self.project_dir = project_dir

    def run(self, ctx: StepContext) -> StepOutcome:
        from cutover.engine import StepOutcome, StepStatus

        records = ctx.store.signoffs(ctx.run_id)
        signoffs: dict[str, list[SignoffRecord]] = {}
        for record in records:
            signoffs.setdefault(record.step_id, []).append(record)
        tag_pattern = self.runbook.release.tag.replace("{version}", "*").replace("{date}", "*")
        pctx = PreflightContext(
            project_dir=self.project_dir,
            runbook=self.runbook,
            at=datetime.now(UTC),
            view=SignoffView(signoffs={k: tuple(v) for k, v in signoffs.items()}),
            cache_dir=self.project_dir / ".cutover" / "cache",
            previous_tag=git_checks.previous_release_tag(
                self.project_dir, pattern=tag_pattern, exclude=self.runbook.release.tag_name()
            ),
        )
        from cutover.steps.preflight import evaluate_gate  # the package's, so a stand-in put there is used

        result = evaluate_gate(self.spec, pctx)
        for item in result.evidence:
            ctx.record_evidence(item.name, item.content)
        status = StepStatus(result.status.value)
        data: dict[str, object] = {"gate": result.id}
        if result.output_tail:
            data["output_tail"] = list(result.output_tail)
        return StepOutcome(status, result.full_detail, data)


def gate_executor(plan_step: PlanStep, runbook: Runbook, services: StepServices) -> GateStep:
    """Registry factory for the `gate.*` actions."""
    return GateStep(spec_from_plan_step(plan_step), runbook, Path(services.project_dir))


def register_executors() -> None:
    from cutover.steps.registry import executor_factory, register_action

    for action in GATE_ACTIONS:
        # Leave an executor a test (or another area) registered on purpose in place.
        if executor_factory(action) is None:
            register_action(action, gate_executor)
