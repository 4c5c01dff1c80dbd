"""Plain data passed between the workflows, the activities and the CLI (JSON through Temporal's converter).

Kept free of imports from the rest of cutover: the workflow sandbox re-imports this module for every workflow run.
Events travel as `EventDict`s (the columns of the events table), step specs as `SpecDict`s (`cutover.temporal.state`
converts them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EventDict = dict[str, Any]
SpecDict = dict[str, Any]

#: Outcomes of one `advance` activity.
AWAITING = "awaiting_signoff"
TERMINAL_STATES = ("succeeded", "failed", "rolled_back", "aborted")


def org_workflow_id(org_id: str) -> str:
    """The workflow id of an org's run: its 15-character org id (the 18-character form names the same org)."""
    return org_id.strip()[:15]


@dataclass
class OrgTarget:
    """One org of a team or fleet run: its id (the workflow id), its sf alias and what the guard must prove."""

    org_id: str
    alias: str
    username: str | None = None
    instance_url: str | None = None
    sandbox: bool | None = None


@dataclass
class OrgRunInput:
    org: OrgTarget
    project_dir: str  # the project (cutover.yaml + SFDX source) as the workers see it
    release: str = ""  # what the fleet releases (label); the project's commit is recorded by the run itself
    monitor: dict[str, str] = field(default_factory=dict)  # rehearsal overrides (duration/interval)
    fleet: str | None = None  # the fleet workflow id that started it, if any


@dataclass
class RunSnapshot:
    """The run as the workflow holds it: the hash-chained events are the truth, the specs the plan."""

    run_id: str
    target_org: str
    specs: list[SpecDict]
    events: list[EventDict]


@dataclass
class AdvanceInput:
    run: OrgRunInput
    snapshot: RunSnapshot


@dataclass
class AdvanceResult:
    outcome: str  # AWAITING or a terminal run state
    message: str
    events: list[EventDict]  # the whole log after this activity
    step_id: str | None = None


@dataclass
class SignoffRequest:
    step_id: str
    by: str
    role: str
    note: str | None = None
    evidence: str | None = None
    request_id: str = ""
    statement: str | None = None  # a signed statement (cutover.signing): its exact text ...
    signature: str | None = None  # ... and its armored SSH signature, verified by the activity


@dataclass
class SignoffInput:
    run: OrgRunInput
    snapshot: RunSnapshot
    request: SignoffRequest


@dataclass
class SignoffResult:
    ok: bool
    message: str
    events: list[EventDict]


@dataclass
class WaveSpec:
    name: str
    orgs: list[OrgTarget]
    max_parallel: int
    threshold: float  # the wave halts the fleet when failed + rolled back orgs exceed this fraction of it
    pause_before: bool  # wait for a sign-off before this wave starts


@dataclass
class FleetInput:
    name: str
    project_dir: str
    release: str
    waves: list[WaveSpec]
    monitor: dict[str, str] = field(default_factory=dict)


@dataclass
class WaveApproval:
    wave: str  # the name of the wave the sign-off releases
    by: str
    role: str
    note: str | None = None
