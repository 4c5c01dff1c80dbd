"""Small, deliberate data-flow questions the rules ask about one unit (method) at a time.

- `query_mode`: which WITH mode a static query declares.
- `dynamic_query_argument` / `access_level`: dynamic SOQL calls and their AccessLevel argument.
- `matches_method`, `is_strip_call`, `is_check`, `local_methods`, `declared_type`: names and types in one file.

The tracers build on these: `strings.StringTracer` (what a query string is made of), `records.RecordTracer` (where
returned records come from), `crud.GuardFinder` (which CRUD checks run before a DML statement).

All of this is intra-file and flow-insensitive apart from source order: cheap, predictable, and documented in the
rule descriptions; it is not a full interprocedural analysis.
"""

from __future__ import annotations

import functools
import re

from tree_sitter import Node

from cutover.checks.apex.config import ScanConfig
from cutover.checks.apex.syntax import (
    ApexFile,
    TypeDecl,
    Unit,
    arguments,
    invocation_parts,
    is_with_mode_gap,
    low,
    text,
)

MAX_DEPTH = 4  # helper-method hops; deeper chains are treated as unknown

DYNAMIC_QUERY_METHODS = {
    ("database", "query"),
    ("database", "countquery"),
    ("database", "countquerywithbinds"),
    ("database", "querywithbinds"),
    ("database", "getquerylocator"),
    ("database", "getquerylocatorwithbinds"),
    ("database", "getcursor"),
    ("database", "getcursorwithbinds"),
    ("search", "query"),
}
DML_OPERATIONS = {"insert", "update", "upsert", "delete", "undelete", "merge"}
DESCRIBE_CHECKS = {"iscreateable", "isupdateable", "isdeletable", "isundeletable", "isaccessible", "ismergeable"}
# String methods whose result carries the taint of the string they are called on.
STRING_PASSTHROUGH = {
    "tolowercase",
    "touppercase",
    "trim",
    "normalizespace",
    "left",
    "right",
    "mid",
    "substring",
    "substringbefore",
    "substringafter",
    "substringbetween",
    "replace",
    "replaceall",
    "replacefirst",
    "removeend",
    "removestart",
    "abbreviate",
    "capitalize",
    "deletewhitespace",
    "tostring",
    "unescapehtml4",
    "remove",
}
# Describe results that are API names, which cannot carry a quote.
DESCRIBE_NAMES = {"getname", "getlocalname", "getfieldpath", "getrelationshipname", "getkeyprefix"}
# Collection methods that hand back (some of) the records they hold.
RECORD_PASSTHROUGH = {"values", "get", "clone", "deepclone", "getsobjects", "getsobject", "getrecords"}
# Methods whose result is a number or a boolean, whatever they are called on.
SAFE_RESULT_METHODS = {
    "size",
    "length",
    "intvalue",
    "longvalue",
    "hashcode",
    "isempty",
    "contains",
    "equals",
    "ordinal",
    "getsobjecttype",  # schema tokens, rendered as API names
    "getsobjectfield",
}
# Static calls that return an Id, a date or a number.
SAFE_STATIC_CALLS = {
    ("userinfo", "getuserid"),
    ("userinfo", "getorganizationid"),
    ("userinfo", "getprofileid"),
    ("date", "today"),
    ("datetime", "now"),
    ("system", "today"),
    ("system", "now"),
    ("", "today"),
    ("", "now"),
}
CONSTANT_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
WITH_MODE = re.compile(r"\bwith\s+(security_enforced|user_mode|system_mode)\b")


def strip_system(obj: str) -> str:
    return obj.removeprefix("system.")


def query_mode(query: Node) -> str | None:
    """'security_enforced' | 'user_mode' | 'system_mode' | None for a `[SELECT ...]` or `[FIND ...]` expression."""
    for body in query.named_children:
        if body.type == "soql_query_body":
            for clause in body.children:
                if clause.type == "with_clause":
                    mode = _with_type(clause)
                    if mode:
                        return mode
        elif body.type == "ERROR" and is_with_mode_gap(body):
            return low(body.children[1])
    return None


def _with_type(clause: Node) -> str | None:
    for child in clause.named_children:
        if child.type == "with_type":
            value = low(child).strip()
            if value in ("security_enforced", "user_mode", "system_mode"):
                return value
    return None


@functools.lru_cache(maxsize=4096)
def dynamic_query_argument(invocation: Node) -> Node | None:
    """The query-string argument of Database.query/countQuery/queryWithBinds/getQueryLocator or Search.query."""
    obj, name = invocation_parts(invocation)
    if (strip_system(obj), name) not in DYNAMIC_QUERY_METHODS:
        return None
    args = arguments(invocation)
    if not args or args[0].type == "query_expression":
        return None  # Database.getQueryLocator([SELECT ...]) is a static query, checked as such
    return args[0]


def access_level(invocation: Node, unit: Unit | None) -> str | None:
    """'user_mode' / 'system_mode' when an argument is AccessLevel.X (directly or through a local variable)."""
    for arg in arguments(invocation):
        found = _access_level_value(arg, unit)
        if found:
            return found
    return None


def _access_level_value(node: Node, unit: Unit | None) -> str | None:
    value = "".join(low(node).split())
    for mode in ("user_mode", "system_mode"):
        if value.endswith(f"accesslevel.{mode}"):
            return mode
    if node.type == "identifier" and unit is not None and unit.locals.get(value) == "accesslevel":
        modes = {_access_level_value(a.value, None) for a in unit.assignments.get(value, [])}
        if modes == {"user_mode"}:
            return "user_mode"
    return None


def dml_operation(node: Node, unit: Unit | None = None) -> tuple[str, str | None] | None:
    """(operation, security mode) for `insert as user x;` or `Database.insert(x, AccessLevel.USER_MODE)`."""
    if node.type == "dml_expression":
        operation = low(next((c for c in node.children if c.type == "dml_type"), None))
        mode = next((low(c) for c in node.children if c.type == "dml_security_mode"), None)
        return operation, ({"user": "user_mode", "system": "system_mode"}.get(mode or "") if mode else None)
    obj, name = invocation_parts(node)
    if strip_system(obj) == "database" and name in DML_OPERATIONS:
        return name, access_level(node, unit)
    return None


@functools.lru_cache(maxsize=32)
def _method_index(qualified_names: tuple[str, ...]) -> dict[str, frozenset[str]]:
    """method name -> the classes it is configured on ('' = any class), all lower-case."""
    index: dict[str, set[str]] = {}
    for qualified in qualified_names:
        cls, _, method = qualified.lower().rpartition(".")
        index.setdefault(method, set()).add(cls)
    return {method: frozenset(classes) for method, classes in index.items()}


def matches_method(invocation: Node, owner: TypeDecl | None, qualified_names: tuple[str, ...]) -> bool:
    """Does this call name one of `Class.method` (Apex is case-insensitive; `method()` inside Class counts)?"""
    obj, name = invocation_parts(invocation)
    classes = _method_index(qualified_names).get(name)
    if not classes:
        return False
    for cls in classes:
        if not cls or obj == cls or obj.endswith("." + cls):
            return True
        if obj in ("", "this") and owner is not None and owner.lname == cls.rpartition(".")[2]:
            return True
    return False


def is_strip_call(invocation: Node, owner: TypeDecl | None, config: ScanConfig) -> bool:
    obj, name = invocation_parts(invocation)
    if name == "stripinaccessible" and strip_system(obj) == "security":
        return True
    return matches_method(invocation, owner, config.strip_methods)


def local_methods(invocation: Node, owner: TypeDecl, model: ApexFile) -> list[Unit]:
    """Same-file methods a call can resolve to: `foo()`, `this.foo()`, `SomeClassInThisFile.foo()`."""
    obj, name = invocation_parts(invocation)
    if obj in ("", "this"):
        return owner.methods.get(name, [])
    target = model.find_type(obj.rpartition(".")[2])
    return target.methods.get(name, []) if target is not None else []


def is_check(call: Node, owner: TypeDecl | None, config: ScanConfig) -> bool:
    """A describe check (isCreateable()...) or a configured guard method: a CRUD check proper, not a strip."""
    return invocation_parts(call)[1] in DESCRIBE_CHECKS or matches_method(call, owner, config.guard_methods)


def declared_type(node: Node | None, unit: Unit | None, owner: TypeDecl) -> str:
    """The declared type of a local, parameter or field named by `node` (an identifier), else ''."""
    if node is None or node.type != "identifier":
        return ""
    name = low(node)
    if unit is not None:
        found = unit.locals.get(name) or unit.params.get(name)
        if found:
            return found
    decl: TypeDecl | None = owner
    while decl is not None:
        if name in decl.fields:
            return decl.fields[name].type
        decl = decl.parent
    return ""


def short(node: Node, limit: int = 60) -> str:
    value = " ".join(text(node).split())
    if node.type == "method_invocation":
        obj = node.child_by_field_name("object")
        value = (" ".join(text(obj).split()) + "." if obj is not None else "") + text(node.child_by_field_name("name"))
        value += "()"
    return value if len(value) <= limit else value[: limit - 3] + "..."
