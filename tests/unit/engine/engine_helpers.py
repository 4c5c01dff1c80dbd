"""Helpers for engine tests: scripted steps, step specs, a tiny runbook file. (A uniquely named module, not
conftest.py: other test folders have their own conftest, and `from conftest import` would pick whichever came first.)"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cutover.engine import StepContext, StepOutcome, StepSpec


@dataclass
class ScriptedStep:
    """Appends its name to `calls` and returns what `behaviour` says (default: passed)."""

    name: str
    calls: list[str]
    idempotent: bool = False
    behaviour: Callable[[StepContext], StepOutcome] | None = None
    reattached: list[dict] = field(default_factory=list)

    def run(self, ctx: StepContext) -> StepOutcome:
        self.calls.append(self.name)
        if self.behaviour is not None:
            return self.behaviour(ctx)
        return StepOutcome.passed(f"{self.name} done")


def specs(*ids: str, blocking: bool = True) -> list[StepSpec]:
    return [StepSpec(id=i, stage="stage", title=f"Step {i}", action="test") for i in ids]


def write_runbook(
    project: Path, custom_steps: str, *, stages: str = "[post_deploy]", signoffs: str = "[]", extra: str = ""
) -> Path:
    """A tiny runbook: a rehearsal org, one stage, no sign-offs, the given custom steps (YAML list items)."""
    text = f"""\
target:
  alias: rehearsal
  production: false
roles:
  deployment_lead: {{title: Deployment Lead, name: Dana Lead, email: dana@example.com, phone: "1"}}
  security_reviewer: {{title: Security Reviewer}}
  developer: {{title: Developer}}
  qa_lead: {{title: QA Lead}}
  customer_support: {{title: Customer Support}}
  engineering_manager: {{title: Engineering Manager}}
  security_lead: {{title: Security Lead}}
  vp_engineering: {{title: VP of Engineering}}
  cto: {{title: CTO}}
stages: {stages}
signoffs: {signoffs}
{extra}
custom_steps:
{custom_steps}
"""
    path = project / "cutover.yaml"
    path.write_text(text, encoding="utf-8")
    return path
