"""CRUD checks before DML: which checks run before a statement, what they cover, and the message naming the fix.

A check *covers* operations: `isCreateable()` covers create, `isUpdateable()` update, a strip call with
AccessType.CREATABLE / UPDATABLE / UPSERTABLE what its access type says; a configured guard method, an unknown
strip access type and any other describe check cover "something" (`*` for guards and strips of unknown type,
`other` for isDeletable/isAccessible...). Any coverage protects insert/update/delete/undelete/merge (the rule checks
that someone thought about CRUD here, not which object), but an upsert needs both create and update, or a
guard that covers everything.
"""

from __future__ import annotations

import re

from tree_sitter import Node

from cutover.checks.apex.config import ScanConfig
from cutover.checks.apex.flow import MAX_DEPTH, declared_type, is_strip_call, local_methods, matches_method
from cutover.checks.apex.syntax import (
    ApexFile,
    TypeDecl,
    Unit,
    arguments,
    invocation_parts,
    low,
    named_children,
    text,
    type_name,
)

DESCRIBE_COVERAGE = {
    "iscreateable": "create",
    "isupdateable": "update",
    "isdeletable": "other",
    "isundeletable": "other",
    "isaccessible": "other",
    "ismergeable": "other",
}
ACCESS_TYPE_COVERAGE = {
    "creatable": frozenset({"create"}),
    "updatable": frozenset({"update"}),
    "upsertable": frozenset({"create", "update"}),
    "readable": frozenset({"other"}),
}
EVERYTHING = frozenset({"*"})
NOTHING: frozenset[str] = frozenset()

# Operation -> the describe check(s) and the strip AccessType that fit it (None: stripping fields does not apply).
OPERATION_CHECKS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "insert": (("isCreateable",), "CREATABLE"),
    "update": (("isUpdateable",), "UPDATABLE"),
    "upsert": (("isCreateable", "isUpdateable"), "UPSERTABLE"),
    "delete": (("isDeletable",), None),
    "undelete": (("isUndeletable",), None),
    "merge": (("isUpdateable", "isDeletable"), None),
}


def covers(operation: str, coverage: frozenset[str]) -> bool:
    if "*" in coverage or (coverage and operation != "upsert"):
        return True
    return {"create", "update"} <= coverage


def call_coverage(call: Node, owner: TypeDecl | None, config: ScanConfig) -> frozenset[str]:
    """What one call checks: NOTHING when it is no check at all."""
    name = invocation_parts(call)[1]
    if name in DESCRIBE_COVERAGE:
        return frozenset({DESCRIBE_COVERAGE[name]})
    if matches_method(call, owner, config.guard_methods):
        return EVERYTHING
    if is_strip_call(call, owner, config):
        for arg in arguments(call)[:1]:
            access = "".join(low(arg).split()).rpartition(".")[2]
            if access in ACCESS_TYPE_COVERAGE:
                return ACCESS_TYPE_COVERAGE[access]
        return EVERYTHING
    return NOTHING


class GuardFinder:
    """Which CRUD checks run before a DML statement? Helpers' answers are memoised per file."""

    def __init__(self, model: ApexFile, config: ScanConfig) -> None:
        self.model = model
        self.config = config
        self._helper_coverage: dict[int, frozenset[str]] = {}
        self._callers_coverage: dict[int, frozenset[str]] = {}

    def coverage(self, unit: Unit, before: int) -> frozenset[str]:
        """Checks before byte `before` in `unit` or, for a private method, before every call of it in this file."""
        found = self.coverage_before(unit, before)
        if "*" in found:
            return found
        return found | self.callers_coverage(unit)

    def coverage_before(self, unit: Unit, before: int, depth: int = 0) -> frozenset[str]:
        """Checks earlier in `unit` (source order, up to byte `before`), including same-file helpers it calls."""
        found: set[str] = set()
        for call in unit.invocations:
            if call.start_byte >= before:
                break
            found |= call_coverage(call, unit.owner, self.config)
            if depth < MAX_DEPTH:
                for helper in local_methods(call, unit.owner, self.model):
                    if helper is not unit:
                        found |= self._helper(helper, depth + 1)
            if "*" in found:
                break
        return frozenset(found)

    def callers_coverage(self, unit: Unit, depth: int = 0) -> frozenset[str]:
        """A private method whose every call site in this file follows a check (in the caller, or the caller's
        callers) is protected by what all those sites have in common. A private method nobody here calls is not."""
        if not unit.is_private or depth > MAX_DEPTH:
            return NOTHING
        key = id(unit)
        if key in self._callers_coverage:
            return self._callers_coverage[key]
        self._callers_coverage[key] = NOTHING  # recursion through this method proves nothing
        sites = [
            (caller, call)
            for decl in self.model.types
            for caller in decl.units
            for call in caller.invocations
            if caller is not unit and any(m is unit for m in local_methods(call, caller.owner, self.model))
        ]
        common: frozenset[str] | None = None
        for caller, call in sites:
            here = self.coverage_before(caller, call.start_byte) | self.callers_coverage(caller, depth + 1)
            if "*" in here:
                here = frozenset({"*", "create", "update", "other"})
            common = here if common is None else common & here
        result = common or NOTHING
        self._callers_coverage[key] = result
        return result

    def _helper(self, helper: Unit, depth: int) -> frozenset[str]:
        key = id(helper)
        if key not in self._helper_coverage:
            self._helper_coverage[key] = NOTHING  # a recursive helper sees "no check" while it is being looked at
            self._helper_coverage[key] = self.coverage_before(helper, helper.node.end_byte, depth)
        return self._helper_coverage[key]


def dml_target(site: Node) -> Node | None:
    """The records a DML statement or Database DML call works on (the first operand / argument)."""
    if site.type == "dml_expression":
        operands = [c for c in named_children(site) if c.type not in ("dml_type", "dml_security_mode")]
        return operands[0] if operands else None
    args = arguments(site)
    return args[0] if args else None


_GENERIC = re.compile(r"^(?:list|set|map|iterable)<(.*)>$")


def element_type(declared: str) -> str:
    """The record type a declared type holds: list<account> -> account, map<id,contact> -> contact, a[] -> a."""
    declared = declared.removeprefix("schema.")
    while True:
        if declared.endswith("[]"):
            declared = declared[:-2]
            continue
        match = _GENERIC.match(declared)
        if not match:
            return declared
        inner = match.group(1)
        declared = inner.rpartition(",")[2] if declared.startswith("map<") else inner


def record_type(node: Node | None, unit: Unit, model: ApexFile, depth: int = 0) -> str:
    """The lower-case sObject type of DML records when the file says it ('' when it does not, or is generic)."""
    if node is None or depth > 6:
        return ""
    kind = node.type
    found = ""
    if kind == "identifier":
        found = declared_type(node, unit, unit.owner)
        if found and element_type(found) == "sobject":
            for assignment in unit.assignments.get(low(node), []):
                found = record_type(assignment.value, unit, model, depth + 1) or found
    elif kind in ("object_creation_expression", "array_creation_expression", "cast_expression"):
        found = type_name(node.child_by_field_name("type"))
        if kind == "cast_expression" and element_type(found) == "sobject":
            found = record_type(node.child_by_field_name("value"), unit, model, depth + 1) or found
    elif kind == "query_expression":
        found = _queried_object(node)
    elif kind == "field_access":
        obj, field = node.child_by_field_name("object"), low(node.child_by_field_name("field"))
        if low(obj) == "trigger" and field in ("new", "old") and unit.kind == "trigger":
            found = _trigger_object(unit)
    elif kind == "method_invocation":
        obj_node = node.child_by_field_name("object")
        obj, name = invocation_parts(node)
        if obj == "security" and name == "stripinaccessible" and len(arguments(node)) > 1:
            found = record_type(arguments(node)[1], unit, model, depth + 1)
        elif name in ("getrecords", "values", "clone", "deepclone", "get") and obj_node is not None:
            found = record_type(obj_node, unit, model, depth + 1)
    elif kind == "parenthesized_expression":
        inner = named_children(node)
        found = record_type(inner[0], unit, model, depth + 1) if inner else ""
    element = element_type(found)
    return "" if element in ("", "sobject", "object") else element


def _queried_object(query: Node) -> str:
    for body in query.named_children:
        clause = body.child_by_field_name("from_clause") if body.type == "soql_query_body" else None
        for entry in clause.named_children if clause is not None else []:
            if entry.type == "storage_alias" and entry.named_children:
                entry = entry.named_children[0]
            if entry.type == "storage_identifier" and entry.named_children:
                return low(entry.named_children[0])
    return ""


def _trigger_object(unit: Unit) -> str:
    return low(unit.owner.node.child_by_field_name("object"))


def spelled(model: ApexFile, lower_name: str) -> str:
    """A lower-case name as the file spells it (Account, not account)."""
    match = re.search(rb"\b" + re.escape(lower_name.encode()) + rb"\b", model.source, re.IGNORECASE)
    return match.group(0).decode("utf-8", "replace") if match else lower_name


def dml_message(
    site: Node, operation: str, unit: Unit, model: ApexFile, config: ScanConfig, coverage: frozenset[str]
) -> str:
    """Say what is missing and name the fixes this project uses: its guard and strip methods, else the platform's."""
    checks, access = OPERATION_CHECKS[operation]
    target = dml_target(site)
    sobject = record_type(target, unit, model)
    if sobject:
        name = spelled(model, sobject)
        describe = [f"Schema.sObjectType.{name}.{check}()" for check in checks]
        subject = f"{operation} of {name}"
    else:
        records = text(target) if target is not None and target.type == "identifier" else "records"
        describe = [f"{records}.getSObjectType().getDescribe().{check}()" for check in checks]
        subject = operation
    shown = subject if site.type == "dml_expression" else f"Database.{subject}"
    records = text(target) if target is not None and target.type == "identifier" else "records"
    if operation == "upsert" and coverage & {"create", "update"}:
        missing = "update" if "create" in coverage else "create"
        present = "create" if missing == "update" else "update"
        check = describe[1] if missing == "update" else describe[0]
        article = "an" if present == "update" else "a"
        return (
            f"{shown} in {unit.label} has {article} {present} check but no {missing} check before it: an upsert both "
            f"creates and updates records, so also check {check} (or strip with Security.stripInaccessible("
            f"AccessType.UPSERTABLE, {records})), or use 'upsert as user'"
        )
    fixes: list[str] = []
    guards = [g for g in config.guard_methods if g.lower() != "security.stripinaccessible"]
    if guards:
        fixes.append(f"call {' or '.join(f'{g}()' for g in guards[:2])}")
    fixes.append(("check " if not guards else "") + " and ".join(describe))
    if access is not None:
        strips = [s for s in config.strip_methods if s.lower() != "security.stripinaccessible"]
        named = "".join(f"{s}() or " for s in strips[:1])
        fixes.append(f"strip the records with {named}Security.stripInaccessible(AccessType.{access}, {records})")
    before = ", ".join(fixes[:-1]) + f" or {fixes[-1]}" if len(fixes) > 1 else fixes[0]
    if operation == "merge":
        user_mode = "'merge as user master duplicate;' / Database.merge(master, duplicate, AccessLevel.USER_MODE)"
    else:
        user_mode = f"'{operation} as user {records};' / Database.{operation}({records}, AccessLevel.USER_MODE)"
    lacks = "neither a create nor an update check" if operation == "upsert" and coverage else "no CRUD check"
    return f"{shown} in {unit.label} has {lacks} before it: {before} first, or run it in user mode: {user_mode}"
