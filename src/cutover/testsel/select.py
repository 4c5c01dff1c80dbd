"""Which Apex test classes a release affects, and why.

A change is a component of the release (`cutover.delta.Delta`): an Apex class or trigger, an sObject, one of its
fields, validation rules or record types, a custom metadata record. Each change hits some nodes of the Apex graph
directly (the changed class itself; the triggers on a changed object, the code doing DML on it, the code that
queries it and names the changed field). A test class is selected when it reaches a hit node along the graph's
edges; its reasons are the shortest chains, one per change it reaches:
`OrderServiceTest → OrderService → PricingEngine (changed)`.
"""

from __future__ import annotations

import subprocess
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cutover.checks.apex.syntax import low, parse
from cutover.runbook.models import Runbook
from cutover.testsel.graph import ApexGraph, ApexUnit, build_graph

ARROW = " → "
APEX_TYPES = ("ApexClass", "ApexTrigger")
# Children of an sObject whose change alters what DML on it does (a new required field, a validation rule...).
OBJECT_CHILDREN = {
    "CustomField": "field",
    "ValidationRule": "validation rule",
    "RecordType": "record type",
    "BusinessProcess": "business process",
}


class ComponentLike(Protocol):
    @property
    def type(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def paths(self) -> tuple[str, ...]: ...


class DeltaLike(Protocol):
    """`cutover.delta.Delta` as far as the selection reads it."""

    @property
    def since(self) -> str: ...
    @property
    def upserts(self) -> Sequence[ComponentLike]: ...
    @property
    def deletions(self) -> Sequence[ComponentLike]: ...


@dataclass(frozen=True)
class RelevantTest:
    name: str
    reasons: tuple[str, ...]
    path: str = ""

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "path": self.path, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class TestSelection:
    """The test classes a release affects. `uncovered`: Apex classes and triggers of the release that need coverage
    (tests and interfaces need none) but that no selected test reaches."""

    __test__ = False  # not a pytest class

    tests: tuple[RelevantTest, ...]
    uncovered: tuple[str, ...]
    release_apex: tuple[str, ...]  # Apex classes and triggers of the deploy that need coverage
    changes: tuple[str, ...]  # every change considered, as its label
    unaffecting: tuple[str, ...]  # changes that reach no Apex (LWC, layouts, ...), as `Type:Name`
    since: str = ""
    deploys_apex: bool = True  # the deploy carries Apex classes or triggers (tests and interfaces included)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tests)

    def refusal(self) -> str | None:
        """One line when a RunSpecifiedTests deploy of this release cannot reach 75 % coverage, else None."""
        if not self.uncovered:
            return None
        return (
            f"{len(self.uncovered)} Apex class(es)/trigger(s) of the release reached by no relevant test "
            f"(RunSpecifiedTests needs 75 % coverage of each): {', '.join(self.uncovered)}"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "since": self.since,
            "tests": [t.to_json() for t in self.tests],
            "uncovered": list(self.uncovered),
            "release_apex": list(self.release_apex),
            "changes": list(self.changes),
            "unaffecting": list(self.unaffecting),
            "deploys_apex": self.deploys_apex,
        }


@dataclass
class _Change:
    label: str  # "PricingEngine (changed)"
    hits: set[str]  # graph keys the change affects directly
    node: str = ""  # the graph key of the changed class/trigger itself (its display is replaced by the label)


def select_tests(project_dir: Path, delta: DeltaLike, runbook: Runbook) -> TestSelection:
    """The test classes the delta affects, each with the chains that make it relevant (the project's Apex is read
    from the runbook's package directories, as they are now). Without `project.delta.enabled` the deploy sends
    every package directory, so every Apex class and trigger of the project needs coverage from these tests."""
    graph = build_graph(project_dir, runbook.project.source_dirs)
    return select_in_graph(project_dir, delta, graph, whole_project=not runbook.project.delta.enabled)


def select_in_graph(
    project_dir: Path, delta: DeltaLike, graph: ApexGraph, *, whole_project: bool = False
) -> TestSelection:
    """The test classes the delta affects, each with the chains that make it relevant. `whole_project`: the deploy
    sends every package directory (no delta manifest), so every Apex class and trigger of the project is in it and
    needs coverage, not only the changed ones."""
    changes, unaffecting, release_apex = _changes(project_dir, delta, graph)
    if whole_project:
        everything = [(key, unit.name) for key, unit in graph.units.items() if unit.needs_coverage]
        release_apex = sorted(everything, key=lambda item: item[1].lower())
    reverse = graph.reverse()
    reasons: dict[str, list[str]] = {}
    for change in changes:
        for test_key, chain in _chains(graph, reverse, change).items():
            reasons.setdefault(test_key, []).append(chain)
    tests = tuple(
        RelevantTest(graph.units[key].name, tuple(dict.fromkeys(found)), graph.units[key].path)
        for key, found in sorted(reasons.items(), key=lambda item: graph.units[item[0]].name.lower())
    )
    reached = graph.reachable(reasons)
    uncovered = tuple(name for key, name in release_apex if key not in reached)
    return TestSelection(
        tests=tests,
        uncovered=uncovered,
        release_apex=tuple(name for _, name in release_apex),
        changes=tuple(c.label for c in changes),
        unaffecting=tuple(unaffecting),
        since=delta.since,
        deploys_apex=bool(graph.units) if whole_project else any(c.type in APEX_TYPES for c in delta.upserts),
    )


def _chains(graph: ApexGraph, reverse: dict[str, dict[str, str]], change: _Change) -> dict[str, str]:
    """Test key -> the shortest chain from that test to the change (breadth-first over the reversed edges)."""
    toward: dict[str, str | None] = {}
    queue: deque[str] = deque()
    for hit in sorted(change.hits):
        if hit in graph.units:
            toward[hit] = None
            queue.append(hit)
    while queue:
        key = queue.popleft()
        for caller in sorted(reverse.get(key, {})):
            if caller not in toward and caller in graph.units:
                toward[caller] = key
                queue.append(caller)
    found: dict[str, str] = {}
    for key, _ in toward.items():
        if not graph.units[key].is_test:
            continue
        steps: list[str] = []
        current: str | None = key
        while current is not None:
            steps.append(change.label if current == change.node else graph.units[current].display)
            current = toward[current]
        if not change.node:
            steps.append(change.label)
        found[key] = ARROW.join(steps)
    return found


def _changes(
    project_dir: Path, delta: DeltaLike, graph: ApexGraph
) -> tuple[list[_Change], list[str], list[tuple[str, str]]]:
    """The release's changes as graph hits; the changes that reach no Apex; the release's Apex needing coverage."""
    changes: list[_Change] = []
    unaffecting: list[str] = []
    release_apex: list[tuple[str, str]] = []
    for component in delta.upserts:
        change = _upsert(component, graph)
        if change is None:
            unaffecting.append(f"{component.type}:{component.name}")
            continue
        changes.append(change)
        if component.type in APEX_TYPES:
            kind = "class" if component.type == "ApexClass" else "trigger"
            unit = graph.find(kind, component.name)
            if unit is None or unit.needs_coverage:
                release_apex.append((change.node, component.name))
    for component in delta.deletions:
        change = _deletion(project_dir, component, delta.since, graph)
        if change is None:
            unaffecting.append(f"{component.type}:{component.name} (deleted)")
        else:
            changes.append(change)
    return changes, unaffecting, release_apex


def _upsert(component: ComponentLike, graph: ApexGraph) -> _Change | None:
    kind, name = component.type, component.name
    if kind in APEX_TYPES:
        unit = graph.find("class" if kind == "ApexClass" else "trigger", name)
        if unit is None:
            key = f"{'class' if kind == 'ApexClass' else 'trigger'}:{name.lower()}"
            return _Change(f"{name} (changed)", set(), key)
        label = f"{name} (changed test class)" if unit.is_test_class else f"{_plain(unit)} (changed)"
        return _Change(label, {unit.key}, unit.key)
    return _schema_change(kind, name, "changed", graph)


def _deletion(project_dir: Path, component: ComponentLike, since: str, graph: ApexGraph) -> _Change | None:
    kind, name = component.type, component.name
    lname = name.lower()
    if kind == "ApexClass":
        users = {key for key, unit in graph.units.items() if lname in unit.names}
        return _Change(f"{name} (deleted)", users) if users else None
    if kind == "ApexTrigger":
        sobject = _deleted_trigger_object(project_dir, component, since)
        if not sobject:
            return None
        spelled = graph.object_display(sobject)
        hits = {key for key, unit in graph.units.items() if sobject in unit.dml_objects}
        return _Change(f"trigger {name} on {spelled} (deleted)", hits)
    return _schema_change(kind, name, "deleted", graph)


def _schema_change(kind: str, name: str, verb: str, graph: ApexGraph) -> _Change | None:
    sobject, _, child = name.partition(".")
    lobject, lchild = sobject.lower(), child.lower()
    # DML on the object reaches its triggers anyway: with triggers, the chain goes through them (more telling)
    dml_hits = not graph.triggers_on(lobject)
    if kind == "CustomObject":
        hits = {
            key
            for key, unit in graph.units.items()
            if unit.sobject == lobject or lobject in unit.query_objects or (dml_hits and lobject in unit.dml_objects)
        }
        return _Change(f"{sobject} ({verb} object)", hits) if hits else None
    if kind == "CustomMetadata":  # a record `Type.Record` of the custom metadata type Type__mdt
        mdt = f"{lobject}__mdt"
        hits = {key for key, unit in graph.units.items() if mdt in unit.touched_objects or mdt in unit.words}
        return _Change(f"{name} ({verb} custom metadata record)", hits) if hits else None
    what = OBJECT_CHILDREN.get(kind)
    if what is None or not child:
        return None
    hits = {
        key
        for key, unit in graph.units.items()
        if unit.sobject == lobject
        or (dml_hits and lobject in unit.dml_objects)
        or (lchild in unit.words and (lobject in unit.query_objects or lchild.endswith("__c")))
    }
    return _Change(f"{sobject}.{child} ({verb} {what})", hits) if hits else None


def _plain(unit: ApexUnit) -> str:
    return unit.display if unit.kind != "trigger" else f"trigger {unit.name}"


def _deleted_trigger_object(project_dir: Path, component: ComponentLike, since: str) -> str:
    """The sObject a trigger the release deletes was on, read from its source at `since`."""
    for path in component.paths:
        if not path.endswith(".trigger"):
            continue
        try:
            shown = subprocess.run(
                ["git", "show", f"{since}:{path}"], cwd=project_dir, capture_output=True, timeout=30, check=False
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if shown.returncode == 0:
            tree = parse(shown.stdout, path)
            for decl in tree.types:
                if decl.kind == "trigger":
                    return low(decl.node.child_by_field_name("object"))
    return ""
