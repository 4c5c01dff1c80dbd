"""Which executor runs which plan action: a plain dict, filled by the step modules when they are imported.

An area registers its executors at import time::

    from cutover.steps.registry import register_action

    @register_action("gate.command")
    def _gate_command(plan_step, runbook, services):   # -> an object implementing cutover.engine.Step
        return CommandGate(plan_step.params["argv"])

`load_builtin_executors()` imports the step modules listed in `BUILTIN_MODULES` (a module that does not exist yet is
skipped: the stage steps arrive in later issues). Tests may register their own actions, or `replace=True` an
existing one; `unregister_action` undoes it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, overload

from cutover.engine import Step

if TYPE_CHECKING:  # the runbook package is imported lazily by the step modules (cheap imports, no cycles)
    from cutover.runbook.models import Runbook
    from cutover.runbook.plan import PlanStep

#: (plan_step, runbook, services) -> Step.
ExecutorFactory = Callable[["PlanStep", "Runbook", "StepServices"], Step]

BUILTIN_MODULES: tuple[str, ...] = (
    "cutover.steps.signoff",
    "cutover.steps.custom",
    "cutover.steps.preflight",
    "cutover.steps.guard",
    "cutover.steps.backup",
    "cutover.steps.release",
    "cutover.steps.validate",
    "cutover.steps.deploy",
    "cutover.steps.verify",
    "cutover.steps.monitor",
    "cutover.steps.post_deploy",
    "cutover.steps.rollback",
)

_REGISTRY: dict[str, ExecutorFactory] = {}


@dataclass
class StepServices:
    """What executors may need besides their plan step and the runbook. `extras` caches shared adapters (an SfCli)
    that a factory creates on first use: `services.extras.setdefault("sf", ...)`."""

    project_dir: Path
    target_org: str
    runbook_path: Path | None = None
    change_authors: tuple[str, ...] = ()
    extras: dict[str, object] = field(default_factory=dict)


@overload
def register_action(action: str) -> Callable[[ExecutorFactory], ExecutorFactory]: ...
@overload
def register_action(action: str, factory: ExecutorFactory, *, replace: bool = False) -> ExecutorFactory: ...
def register_action(
    action: str, factory: ExecutorFactory | None = None, *, replace: bool = False
) -> ExecutorFactory | Callable[[ExecutorFactory], ExecutorFactory]:
    """Register `factory` for plan steps whose `action` is `action` (usable as a decorator)."""

    def add(func: ExecutorFactory) -> ExecutorFactory:
        existing = _REGISTRY.get(action)
        if existing is not None and existing is not func and not replace:
            raise ValueError(f"an executor for action {action!r} is already registered ({existing!r})")
        _REGISTRY[action] = func
        return func

    return add(factory) if factory is not None else add


def unregister_action(action: str) -> None:
    _REGISTRY.pop(action, None)


def executor_factory(action: str) -> ExecutorFactory | None:
    return _REGISTRY.get(action)


def registered_actions() -> list[str]:
    return sorted(_REGISTRY)


def load_builtin_executors() -> None:
    """Import every step module that exists, so its `register_action` calls run."""
    for name in BUILTIN_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the module exists but something it imports is missing: that is a real error
                raise
