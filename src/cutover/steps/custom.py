"""The `custom.command` action: a project command from the runbook's `custom_steps` (data migrations, hooks).

The command runs as argv (a string is split like a POSIX shell, never run through one); stdout/stderr become
evidence (redacted). Whether a crashed attempt may simply be run again is the runbook's `idempotent` flag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cutover.engine import StepContext, StepOutcome
from cutover.errors import UsageError
from cutover.steps._params import as_command, as_float, as_mapping, as_text, params_of
from cutover.steps.registry import StepServices, register_action

if TYPE_CHECKING:
    from cutover.runbook.models import CustomStep, Runbook
    from cutover.runbook.plan import PlanStep


@dataclass(frozen=True)
class CustomCommandStep:
    argv: Sequence[str]
    timeout: float | None = None
    idempotent: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None

    def run(self, ctx: StepContext) -> StepOutcome:
        result = ctx.run_command(list(self.argv), cwd=self.cwd, timeout=self.timeout, env=dict(self.env), name="run")
        if result.timed_out:
            return StepOutcome.failed(f"timed out after {self.timeout:g}s", returncode=result.returncode)
        if result.returncode != 0:
            last = next((line for line in reversed(result.stderr.splitlines()) if line.strip()), "")
            detail = f"exit code {result.returncode}" + (f": {last.strip()[:200]}" if last else "")
            return StepOutcome.failed(detail, returncode=result.returncode)
        return StepOutcome.passed(f"exit code 0 in {result.duration:.1f}s", returncode=0)


def _find_custom_step(plan_step: PlanStep, runbook: Runbook) -> CustomStep | None:
    for step in getattr(runbook, "custom_steps", None) or ():
        if plan_step.id == step.id or plan_step.id.endswith("." + step.id):
            return step
    return None


@register_action("custom.command")
def _custom_command(plan_step: PlanStep, runbook: Runbook, services: StepServices) -> CustomCommandStep:
    from cutover.runbook import command_argv

    declared = _find_custom_step(plan_step, runbook)
    params = params_of(plan_step)
    run = declared.run if declared is not None else as_command(params.get("run") or getattr(plan_step, "command", None))
    if not run:
        raise UsageError(f"custom step {plan_step.id} has no `run` command")
    timeout = declared.timeout_seconds if declared is not None else params.get("timeout_seconds")
    cwd = declared.cwd if declared is not None else as_text(params.get("cwd"))
    env = declared.env if declared is not None else as_mapping(params.get("env"))
    return CustomCommandStep(
        argv=command_argv(run),
        timeout=as_float(timeout) if timeout else None,
        idempotent=bool(declared.idempotent if declared is not None else params.get("idempotent", False)),
        env={str(key): str(value) for key, value in env.items()},
        cwd=(services.project_dir / cwd) if cwd else services.project_dir,
    )
