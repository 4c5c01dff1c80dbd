"""The dependency graph of a project's Apex, built with the scanner's tree-sitter parser.

One node per top-level class or trigger (inner classes belong to their outer class) and one per sObject. Edges
point from the code that uses something to what it uses:

- class/trigger -> class: a type name in a declaration, `new X`, a static call `X.m()` or field `X.F`, `extends` /
  `implements`, a generic argument, a cast or `instanceof`, `X.class`, `Type.forName('X')`; `Outer.Inner` counts
  as Outer;
- class/trigger -> sObject: DML on its records or a query FROM it (static SOQL, or a string literal with `FROM X`);
- class/trigger -> trigger: DML on an sObject fires the triggers on it;
- trigger -> sObject: the sObject it is on.

Apex names are case-insensitive: keys are lower-case, `display` keeps the spelling of the declaration.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tree_sitter import Node, Query, QueryCursor
from tree_sitter_language_pack import get_language

from cutover.checks.apex.crud import dml_target, element_type, record_type
from cutover.checks.apex.flow import dml_operation
from cutover.checks.apex.scanner import discover
from cutover.checks.apex.syntax import ApexFile, TypeDecl, Unit, invocation_parts, low, parse, string_value, text

_FROM = re.compile(r"\bfrom\s+([a-z][a-z0-9_]*)", re.IGNORECASE)
_FOR_NAME = (("type", "forname"), ("system.type", "forname"))
_CODE_UNITS = ("method", "constructor", "initializer", "accessor", "field")


@dataclass
class ApexUnit:
    """A top-level class or trigger and what it uses (lower-case names)."""

    key: str  # "class:accountservice", "trigger:ordertrigger"
    kind: str  # class, interface, enum, trigger
    display: str  # AccountService, trigger OrderTrigger on Order__c
    name: str  # as declared
    path: str  # relative to the project
    is_test_class: bool = False  # @IsTest on the class
    has_test_methods: bool = False  # runs as a test: @IsTest class with test methods
    has_code: bool = False  # methods, constructors, initializers or a trigger body: needs coverage
    sobject: str = ""  # a trigger's sObject (lower-case)
    names: set[str] = field(default_factory=set)  # type-like names it mentions (resolved later)
    dml_objects: set[str] = field(default_factory=set)
    query_objects: set[str] = field(default_factory=set)
    words: set[str] = field(default_factory=set)  # every identifier (field names are matched against these)

    @property
    def is_test(self) -> bool:
        return self.has_test_methods

    @property
    def needs_coverage(self) -> bool:
        """Salesforce counts coverage of classes with code and of triggers; tests and interfaces need none."""
        return not self.is_test_class and self.kind in ("class", "trigger") and self.has_code

    @property
    def touched_objects(self) -> set[str]:
        return self.dml_objects | self.query_objects


@dataclass
class ApexGraph:
    units: dict[str, ApexUnit]  # key -> unit
    edges: dict[str, dict[str, str]]  # from key -> {to key: why}
    object_names: dict[str, str]  # lower-case sObject -> spelling
    errors: list[str]  # files that could not be read

    def reverse(self) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        for source, targets in self.edges.items():
            for target, why in targets.items():
                found.setdefault(target, {})[source] = why
        return found

    def triggers_on(self, sobject: str) -> list[ApexUnit]:
        return [u for u in self.units.values() if u.kind == "trigger" and u.sobject == sobject]

    def reachable(self, starts: Iterable[str]) -> set[str]:
        """Every key reachable from `starts` along the edges (the starts included)."""
        seen = set(starts)
        stack = list(seen)
        while stack:
            for target in self.edges.get(stack.pop(), {}):
                if target not in seen:
                    seen.add(target)
                    stack.append(target)
        return seen

    def find(self, kind: str, name: str) -> ApexUnit | None:
        return self.units.get(f"{kind}:{name.lower()}")

    def object_display(self, lname: str) -> str:
        return self.object_names.get(lname, lname)


# Parsed files, by (path, mtime, size): a run asks for its selection at several steps (backup, validation, quick
# deploy, the coverage check); only files that changed since are parsed again.
_PARSED: dict[tuple[str, str, int, int], tuple[ApexUnit | None, dict[str, str]]] = {}
_PARSED_MAX = 50_000


def build_graph(project_dir: Path, source_dirs: Iterable[str]) -> ApexGraph:
    """Parse every .cls and .trigger under the source folders and link them."""
    units: dict[str, ApexUnit] = {}
    object_names: dict[str, str] = {}
    errors: list[str] = []
    base = project_dir.resolve()
    folders = [base / d for d in source_dirs if (base / d).is_dir()]
    for path in discover(folders):
        resolved = path.resolve()
        rel = resolved.relative_to(base).as_posix() if resolved.is_relative_to(base) else resolved.as_posix()
        try:
            stat = resolved.stat()
            key = (rel, str(resolved), stat.st_mtime_ns, stat.st_size)
            if key not in _PARSED:
                if len(_PARSED) >= _PARSED_MAX:
                    _PARSED.clear()
                names: dict[str, str] = {}
                _PARSED[key] = (index_file(parse(resolved.read_bytes(), rel), names), names)
        except OSError as exc:
            errors.append(f"{rel}: {exc.strerror or exc}")
            continue
        unit, names = _PARSED[key]
        for lname, spelled in names.items():
            object_names.setdefault(lname, spelled)
        if unit is not None:
            units.setdefault(unit.key, unit)
    return link(units, object_names, errors)


def link(units: dict[str, ApexUnit], object_names: dict[str, str], errors: list[str]) -> ApexGraph:
    classes = {u.name.lower(): key for key, u in units.items() if u.kind != "trigger"}
    triggers: dict[str, list[ApexUnit]] = {}
    for unit in units.values():
        if unit.kind == "trigger":
            triggers.setdefault(unit.sobject, []).append(unit)
    edges: dict[str, dict[str, str]] = {}
    for key, unit in units.items():
        out = edges.setdefault(key, {})
        for name in sorted(unit.names):
            target = classes.get(name)
            if target is not None and target != key:
                out.setdefault(target, "uses")
        for sobject in sorted(unit.touched_objects):
            out.setdefault(f"object:{sobject}", "DML on" if sobject in unit.dml_objects else "queries")
        for sobject in sorted(unit.dml_objects):
            for trigger in triggers.get(sobject, []):
                if trigger.key != key:
                    out.setdefault(trigger.key, f"DML on {object_names.get(sobject, sobject)} fires")
        if unit.kind == "trigger" and unit.sobject:
            out.setdefault(f"object:{unit.sobject}", "on")
    return ApexGraph(units=units, edges=edges, object_names=object_names, errors=errors)


def index_file(model: ApexFile, object_names: dict[str, str]) -> ApexUnit | None:
    """The file's top-level class or trigger with everything its code (inner classes included) uses."""
    top = next((d for d in model.types if d.parent is None and d.kind != "file" and d.name), None)
    if top is None:
        return None
    if top.kind == "trigger":
        sobject_node = top.node.child_by_field_name("object")
        sobject = low(sobject_node)
        object_names.setdefault(sobject, text(sobject_node))
        unit = ApexUnit(
            f"trigger:{top.lname}",
            "trigger",
            f"trigger {top.name} on {text(sobject_node)}",
            top.name,
            model.path,
            sobject=sobject,
            has_code=True,
        )
    else:
        unit = ApexUnit(f"class:{top.lname}", top.kind, top.name, top.name, model.path, is_test_class=top.is_test)
        unit.has_code = any(u.kind in _CODE_UNITS for u in _units(top))
        unit.has_test_methods = top.is_test and any(
            u.kind == "method" and ("istest" in u.annotations or _is_testmethod(u.node))
            for d in model.types
            for u in d.units
        )
    own = {d.lname for d in model.types}
    mentions = _mentions(model.root)
    unit.names = {n for n in mentions.names if n not in own}
    unit.words = mentions.words
    dynamic = {m.group(1).lower() for value in mentions.strings for m in _FROM.finditer(value)}  # dynamic SOQL
    unit.query_objects = set(model.queried_objects) | dynamic
    for lname in unit.query_objects:
        object_names.setdefault(lname, _spelled(model, lname))
    for decl in model.types:
        for code in decl.units:
            sites = [*code.dml, *(c for c in code.invocations if dml_operation(c) is not None)]
            for site in sites:
                sobject = element_type(record_type(dml_target(site), code, model))
                if sobject:
                    unit.dml_objects.add(sobject)
                    object_names.setdefault(sobject, _spelled(model, sobject))
    return unit


def _units(decl: TypeDecl) -> Iterator[Unit]:
    stack = [decl]
    while stack:
        current = stack.pop()
        yield from current.units
        stack.extend(current.inner)


def _is_testmethod(node: Node) -> bool:
    mods = next((c for c in node.children if c.type == "modifiers"), None)
    return mods is not None and "testmethod" in low(mods)


@functools.cache
def _query() -> Query:
    return Query(
        get_language("apex"),
        "(type_identifier) @type (method_invocation object: (identifier) @object) "
        "(field_access object: (identifier) @object) (identifier) @word (string_literal) @string",
    )


@dataclass
class _Mentions:
    names: set[str]  # type-like names that may be project classes
    words: set[str]  # every identifier
    strings: list[str]  # string literal values


def _mentions(root: Node) -> _Mentions:
    """Type identifiers, the first identifier of a call or field chain (`X.m()`, `X.F`, `X.class`), the strings
    given to `Type.forName` (names, lower-case); every identifier; every string literal."""
    captures = QueryCursor(_query()).captures(root)
    names = {low(node) for node in (*captures.get("type", ()), *captures.get("object", ()))}
    words = {low(node) for node in captures.get("word", ())}
    if "forname" in words:
        for node in captures.get("word", ()):
            call = node.parent
            if low(node) != "forname" or call is None or call.type != "method_invocation":
                continue
            if invocation_parts(call) in _FOR_NAME:  # Type.forName(flag ? 'A' : 'B') names both
                args = call.child_by_field_name("arguments")
                names.update(value.strip().lower().rpartition(".")[2] for value in _strings(args))
    strings = [string_value(node) for node in captures.get("string", ())]
    return _Mentions(names, words, strings)


def _strings(root: Node | None) -> list[str]:
    found: list[str] = []
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if node.type == "string_literal":
            found.append(string_value(node))
        else:
            stack.extend(node.named_children)
    return found


def _spelled(model: ApexFile, lname: str) -> str:
    match = re.search(rb"\b" + re.escape(lname.encode()) + rb"\b", model.source, re.IGNORECASE)
    return match.group(0).decode("utf-8", "replace") if match else lname
