"""Fixtures for engine tests: a fresh project folder, an Engine on it, and small scripted steps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cutover.engine import Engine, StepContext, StepOutcome, StepSpec


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    eng = Engine(tmp_path)
    yield eng
    eng.close()


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
