"""What preflight runs and with what: the plan's preflight steps as `GateSpec`s, and the context gates read."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cutover.checks.result import GateResult, GateStatus, failed, passed, skipped
from cutover.steps._params import first

if TYPE_CHECKING:
    from cutover.engine import SignoffRecord, WaiverRecord
    from cutover.runbook.models import Runbook
    from cutover.runbook.plan import PlanStep

GATE_ACTIONS = (
    "gate.command",
    "gate.git",
    "gate.reviews",
    "gate.secrets",
    "gate.apex_scan",
    "gate.permission_sets",
    "gate.coverage",
    "gate.docs",
    "gate.window",
    "gate.contacts",
)
SIGNOFF_ACTION = "signoff"

#: The runbook's `project.commands` keys (the LWC coverage gate runs `test_unit` itself, for the summary it writes).
COMMAND_KEYS = ("test_all", "lint", "fmt_check", "test_unit")


@dataclass(frozen=True)
class GateSpec:
    """A preflight step of the plan, as preflight needs it."""

    id: str
    title: str
    action: str
    kind: str = "automated"
    blocking: bool = True
    params: Mapping[str, object] = field(default_factory=dict)


def spec_from_plan_step(step: PlanStep) -> GateSpec:
    return GateSpec(
        id=step.id,
        title=step.title,
        action=step.action,
        kind=getattr(step, "kind", "automated"),
        blocking=bool(getattr(step, "blocking", True)),
        params=dict(getattr(step, "params", None) or {}),
    )


def preflight_gates(runbook: Runbook) -> tuple[list[GateSpec], list[PlanStep]]:
    """The preflight steps in plan order, and the whole plan."""
    from cutover.runbook.plan import build_plan

    plan = list(build_plan(runbook))
    gates = [
        spec_from_plan_step(step)
        for step in plan
        if step.stage == "preflight" and (step.action in GATE_ACTIONS or step.action == SIGNOFF_ACTION)
    ]
    return gates, plan


def command_text(command: str | Sequence[str]) -> str:
    from cutover.runbook.models import command_text

    return command_text(command)  # type: ignore[arg-type]


def package_dirs(project_dir: Path) -> list[str]:
    """The `packageDirectories` paths of sfdx-project.json (empty when there is none or it cannot be read)."""
    try:
        data = json.loads((project_dir / "sfdx-project.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    entries = data.get("packageDirectories") if isinstance(data, dict) else None
    paths: list[str] = []
    for entry in entries if isinstance(entries, list) else []:
        path = entry.get("path") if isinstance(entry, dict) else None
        if isinstance(path, str) and path.strip():
            cleaned = path.strip().strip("/").removeprefix("./") or "."
            if cleaned not in paths:
                paths.append(cleaned)
    return paths


@dataclass(frozen=True)
class SignoffView:
    """What preflight reads from the engine: sign-offs and waivers of the org's run, the latest validation."""

    signoffs: Mapping[str, tuple[SignoffRecord, ...]] = field(default_factory=dict)  # step id -> its sign-offs
    waivers: Mapping[str, WaiverRecord] = field(default_factory=dict)  # step id -> its waiver
    validation_coverage: tuple[float, str] | None = None  # (percent, source) of the latest validation of HEAD


@dataclass
class PreflightContext:
    project_dir: Path
    runbook: Runbook
    at: datetime
    view: SignoffView = field(default_factory=SignoffView)
    cache_dir: Path | None = None
    previous_tag: str | None = None

    @property
    def source_dir(self) -> str:
        return self.runbook.project.source_dir

    @property
    def source_dirs(self) -> list[str]:
        """Where the project's metadata is: `project.source_dir` and every package directory of sfdx-project.json
        that exists (a project with two package directories deploys both through its manifest)."""
        dirs = [self.source_dir, *package_dirs(self.project_dir)]
        found = [d for i, d in enumerate(dirs) if d not in dirs[:i] and (self.project_dir / d).is_dir()]
        return found or [self.source_dir]

    def explicit(self, section: object, key: str) -> bool:
        """True when the runbook writes `key` in `section` itself (not only the default)."""
        return key in getattr(section, "model_fields_set", set())

    def setting(self, spec: GateSpec, names: tuple[str, ...], section: object, key: str) -> tuple[object, bool]:
        """A gate setting: the step's param (named `names`), else the runbook's `section.key`. Second: whether it
        was chosen on purpose (a param that differs from the runbook, or a key the runbook writes itself)."""
        default = getattr(section, key)
        value = param(spec, *names, default=default)
        return value, value != default or self.explicit(section, key)


def param(spec: GateSpec, *names: str, default: object = None) -> object:
    """The first of the step's params `names` that is set, else `default` (`cutover.steps._params` types it)."""
    return first(spec.params, *names, default=default)


def suffix(spec: GateSpec) -> str:
    return spec.id.rsplit(".", 1)[-1]


def combine(spec: GateSpec, parts: Sequence[GateResult]) -> GateResult:
    """One gate made of several checks: failed if any failed (naming those), else passed; evidence of all."""
    evidence = tuple(item for part in parts for item in part.evidence)
    bad = [part for part in parts if part.status == GateStatus.FAILED]
    if bad:
        return failed(spec.id, spec.title, "; ".join(part.detail for part in bad), *evidence)
    done = [part for part in parts if part.status == GateStatus.PASSED]
    left_out = [part for part in parts if part.status == GateStatus.SKIPPED]
    if not done and left_out:
        return skipped(spec.id, spec.title, "; ".join(part.detail for part in left_out), *evidence)
    detail = "; ".join([*(part.detail for part in done), *(f"skipped: {part.detail}" for part in left_out)])
    return passed(spec.id, spec.title, detail or "nothing to check", *evidence)
