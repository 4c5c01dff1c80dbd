"""`cutover` with one extra step type, for the crash/re-attach test: `custom.submit` behaves like a deploy.

It "submits" a job (appends to submitted.txt), records the job id with `set_external_id`, then waits for the file
`job-done`; `reattach` appends to reattached.txt and waits the same way. Run as a script: argv are cutover's.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from cutover.engine import StepContext, StepOutcome
from cutover.steps.registry import executor_factory, load_builtin_executors, register_action


class ExternalJobStep:
    idempotent = False

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def run(self, ctx: StepContext) -> StepOutcome:
        with (self.folder / "submitted.txt").open("a") as handle:
            handle.write("submitted\n")
        ctx.set_external_id("job_id", "0Af000000000042AAA")
        (self.folder / "waiting").touch()
        return self._wait(ctx, "0Af000000000042AAA")

    def reattach(self, ctx: StepContext, external_ids: dict[str, Any]) -> StepOutcome:
        with (self.folder / "reattached.txt").open("a") as handle:
            handle.write(f"{external_ids['job_id']}\n")
        return self._wait(ctx, external_ids["job_id"])

    def _wait(self, ctx: StepContext, job_id: str) -> StepOutcome:
        while not (self.folder / "job-done").exists():
            ctx.progress.update(f"waiting for job {job_id}")
            time.sleep(0.05)
        return StepOutcome.passed(f"job {job_id} finished")


load_builtin_executors()
_default = executor_factory("custom.command")


def _factory(plan_step: Any, runbook: Any, services: Any) -> Any:
    if plan_step.id == "custom.submit":
        return ExternalJobStep(services.project_dir)
    return _default(plan_step, runbook, services)


register_action("custom.command", _factory, replace=True)

if __name__ == "__main__":
    from cutover.cli import main

    sys.exit(main(sys.argv[1:]))
