"""Small, deliberate data-flow questions the rules ask about one unit (method) at a time.

- `query_mode`: which WITH mode a static query declares.
- `dynamic_query_argument` / `access_level`: dynamic SOQL calls and their AccessLevel argument.
- `StringTracer`: what a query string is made of (its literal text, and the values concatenated into it that are
  neither literals, escaped, nor of a safe type). It follows simple assignments and `+=` to local variables that
  happen earlier in the same method (all branches count: a variable is unsafe if any earlier assignment is), loop
  variables (as unsafe as what they iterate), `List<String>.add(...)` feeding `String.join`, final fields with
  initialisers, and helper methods in the same file.
- `RecordTracer`: where records returned by a method come from (a query, a helper, another class's method), and
  whether they went through a strip call or an enforced query on the way.

All of this is intra-file and flow-insensitive apart from source order: cheap, predictable, and documented in the
rule descriptions; it is not a full interprocedural analysis.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from tree_sitter import Node

from cutover.checks.apex.config import ScanConfig
from cutover.checks.apex.syntax import (
    ApexFile,
    TypeDecl,
    Unit,
    arguments,
    invocation_parts,
    is_safe_type,
    is_with_mode_gap,
    low,
    named_children,
    string_value,
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
DESCRIBE_NAMES = {"getname", "getlocalname"}
# Collection methods that hand back (some of) the records they hold.
RECORD_PASSTHROUGH = {"values", "get", "clone", "deepclone", "getsobjects", "getsobject", "getrecords"}
# Methods whose result is a number or a boolean, whatever they are called on.
SAFE_RESULT_METHODS = {"size", "length", "intvalue", "longvalue", "hashcode", "isempty", "contains", "equals"}
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
_CONSTANT = re.compile(r"^[A-Z][A-Z0-9_]*$")
_WITH_MODE = re.compile(r"\bwith\s+(security_enforced|user_mode|system_mode)\b")


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


@dataclass(frozen=True)
class Taint:
    node: Node  # where the unsafe value enters the query string
    what: str  # "parameter 'name'", "the result of foo()", ...


@dataclass
class StringParts:
    """Literal text and taints, each keyed by its node's byte offset so merging never duplicates."""

    literals: dict[int, str] = field(default_factory=dict)
    taints: dict[int, Taint] = field(default_factory=dict)

    def literal(self, node: Node) -> None:
        self.literals.setdefault(node.start_byte, string_value(node))

    def taint(self, node: Node, what: str) -> None:
        self.taints.setdefault(node.start_byte, Taint(node, what))

    def merge(self, other: StringParts) -> None:
        for key, value in other.literals.items():
            self.literals.setdefault(key, value)
        for key, taint in other.taints.items():
            self.taints.setdefault(key, taint)

    def declares(self, modes: frozenset[str]) -> bool:
        joined = " ".join(self.literals[key] for key in sorted(self.literals)).lower()
        return any(match.group(1) in modes for match in _WITH_MODE.finditer(joined))


class StringTracer:
    """Decompose a string expression into literal text and tainted values (see the module docstring)."""

    def __init__(self, model: ApexFile) -> None:
        self.model = model
        # Variables being traced: a use of `q` inside the trace of `q` (as in `q = q + x`) only sees assignments
        # the outer trace already covers, so it adds nothing. Without this, n such lines cost 2^n.
        self._in_progress: set[tuple[int, str]] = set()
        self._helpers: dict[int, StringParts] = {}

    def parts(self, expr: Node, unit: Unit) -> StringParts:
        result = StringParts()
        self._trace(expr, unit, unit.owner, expr.start_byte, result, 0)
        return result

    def _trace(self, node: Node, unit: Unit | None, owner: TypeDecl, before: int, out: StringParts, depth: int) -> None:
        if depth > 60:  # pathological chains of self-assignments: stop, stay quiet
            return
        kind = node.type
        if kind == "string_literal":
            out.literal(node)
        elif kind in (
            "int",
            "decimal",
            "boolean",
            "null_literal",
            "decimal_floating_point_literal",
            "currency_literal",
        ):
            return
        elif kind in ("parenthesized_expression",):
            for child in named_children(node):
                self._trace(child, unit, owner, before, out, depth + 1)
        elif kind == "binary_expression":
            # `a + b + c` nests to the left; walk the spine in a loop so long concatenations do not deepen.
            operands: list[Node] = []
            current: Node | None = node
            while current is not None and current.type == "binary_expression":
                if low(current.child_by_field_name("operator")) != "+":
                    break  # arithmetic or comparison: a number or a boolean
                right = current.child_by_field_name("right")
                if right is not None:
                    operands.append(right)
                current = current.child_by_field_name("left")
            else:
                if current is not None:
                    operands.append(current)
            for operand in reversed(operands):
                if operand.type == "identifier" and unit is not None and low(operand) in unit.locals:
                    self._operand_variable(operand, unit, owner, before, out, depth + 1)
                else:
                    self._trace(operand, unit, owner, before, out, depth + 1)
        elif kind == "ternary_expression":
            for side in ("consequence", "alternative"):
                child = node.child_by_field_name(side)
                if child is not None:
                    self._trace(child, unit, owner, before, out, depth + 1)
        elif kind == "cast_expression":
            if not is_safe_type("".join(low(node.child_by_field_name("type")).split())):
                value = node.child_by_field_name("value")
                if value is not None:
                    self._trace(value, unit, owner, before, out, depth + 1)
        elif kind == "identifier":
            self._identifier(node, unit, owner, before, out, depth)
        elif kind == "field_access":
            self._field_access(node, unit, owner, before, out, depth)
        elif kind == "method_invocation":
            self._invocation(node, unit, owner, before, out, depth)
        elif kind == "array_access":
            base = node.child_by_field_name("array")
            base_type = unit.locals.get(low(base)) or unit.params.get(low(base)) if unit and base is not None else None
            if not (base_type and is_safe_type(base_type)):
                out.taint(node, f"'{_short(node)}'")
        elif kind == "object_creation_expression":
            for child in node.named_children:
                if child.type in ("array_initializer", "argument_list"):
                    for element in named_children(child):
                        self._trace(element, unit, owner, before, out, depth + 1)
        else:
            out.taint(node, f"'{_short(node)}'")

    def _operand_variable(
        self, node: Node, unit: Unit, owner: TypeDecl, before: int, out: StringParts, depth: int
    ) -> None:
        """A local concatenated into the query: report it where it is concatenated, naming where it came from."""
        inner = StringParts()
        self._identifier(node, unit, owner, before, inner, depth)
        out.literals.update(inner.literals)
        if not inner.taints:
            return
        first = inner.taints[min(inner.taints)]
        if first.node.start_byte == node.start_byte:
            out.taint(node, first.what)
            return
        line, _ = self.model.position(first.node)
        out.taint(node, f"variable '{text(node)}' (from {first.what}, line {line})")

    def _identifier(
        self, node: Node, unit: Unit | None, owner: TypeDecl, before: int, out: StringParts, depth: int
    ) -> None:
        name = low(node)
        if unit is not None and name in unit.locals:
            if is_safe_type(unit.locals[name]):
                return
            earlier = [a for a in unit.assignments.get(name, []) if a.start < before]
            adds = [
                call
                for call in unit.invocations
                if call.start_byte < before
                and invocation_parts(call) in ((name, "add"), (name, "addall"))
                and arguments(call)
            ]
            key = (id(unit), name)
            if key in self._in_progress:
                return
            if not earlier and not adds:
                out.taint(node, f"variable '{text(node)}'")
                return
            self._in_progress.add(key)
            try:
                for assignment in earlier:
                    self._trace(assignment.value, unit, owner, assignment.start, out, depth + 1)
                for call in adds:
                    self._trace(arguments(call)[-1], unit, owner, call.start_byte, out, depth + 1)
            finally:
                self._in_progress.discard(key)
            return
        if unit is not None and name in unit.params:
            if not is_safe_type(unit.params[name]):
                out.taint(node, f"parameter '{text(node)}'")
            return
        self._field(node, name, owner, out, depth, f"variable '{text(node)}'")

    def _field(self, node: Node, name: str, owner: TypeDecl, out: StringParts, depth: int, what: str) -> None:
        decl: TypeDecl | None = owner
        while decl is not None:
            info = decl.fields.get(name)
            if info is not None:
                if is_safe_type(info.type):
                    return
                if info.is_final and info.value is not None:
                    self._trace(info.value, None, decl, info.value.start_byte, out, depth + 1)
                    return
                out.taint(node, f"field '{text(node)}'")
                return
            decl = decl.parent
        out.taint(node, what)

    def _field_access(
        self, node: Node, unit: Unit | None, owner: TypeDecl, before: int, out: StringParts, depth: int
    ) -> None:
        obj = node.child_by_field_name("object")
        field_node = node.child_by_field_name("field")
        if obj is None or field_node is None:
            out.taint(node, f"'{_short(node)}'")
            return
        if low(obj) == "this":
            self._field(node, low(field_node), owner, out, depth, f"field '{text(node)}'")
            return
        target = self.model.find_type(low(obj)) if obj.type == "identifier" else None
        if target is not None and low(field_node) in target.fields:
            self._field(node, low(field_node), target, out, depth, f"field '{text(node)}'")
            return
        if low(field_node) == "id":
            return  # record.Id is always an Id
        if _CONSTANT.match(text(field_node)):
            return  # Constants.ACCOUNT_FIELDS: a constant of another class, set in code, not by a caller
        out.taint(node, f"field '{_short(node)}'")

    def _invocation(
        self, node: Node, unit: Unit | None, owner: TypeDecl, before: int, out: StringParts, depth: int
    ) -> None:
        obj, name = invocation_parts(node)
        args = arguments(node)
        if name == "escapesinglequotes" or name in DESCRIBE_NAMES or name in SAFE_RESULT_METHODS:
            return
        if (strip_system(obj), name) in SAFE_STATIC_CALLS:
            return
        target_type = declared_type(node.child_by_field_name("object"), unit, owner)
        if target_type and is_safe_type(target_type):
            return  # d.format(), n.intValue(), createdDate.addDays(1): a scalar rendered by Apex
        if obj == "string" and name in ("valueof", "join", "format"):
            for arg in args[:1] if name == "join" else args:
                self._trace(arg, unit, owner, before, out, depth + 1)
            return
        if name in STRING_PASSTHROUGH and obj:
            target = node.child_by_field_name("object")
            if target is not None:
                self._trace(target, unit, owner, before, out, depth + 1)
            return
        helpers = local_methods(node, owner, self.model) if depth < MAX_DEPTH * 4 else []
        if helpers:
            if all(is_safe_type(h.return_type) for h in helpers):
                return
            inner = StringParts()
            for helper in helpers:
                known = self._helpers.get(id(helper))
                if known is None:
                    known = self._helpers[id(helper)] = StringParts()  # a recursive helper sees this empty entry
                    for ret in helper.returns:
                        value = next(iter(named_children(ret)), None)
                        if value is not None:
                            self._trace(value, helper, helper.owner, ret.start_byte, known, depth + 4)
                inner.merge(known)
            out.literals.update(inner.literals)
            if inner.taints:
                first = inner.taints[min(inner.taints)]
                out.taint(node, f"the result of {_short(node)}, which includes {first.what}")
            return
        out.taint(node, f"the result of {_short(node)}")


@dataclass(frozen=True)
class RecordSource:
    node: Node
    kind: str  # "query": an unenforced query; "call": records from code this scanner cannot see
    what: str


class RecordTracer:
    """Where returned records come from; a strip call or an enforced query on the way clears them."""

    def __init__(self, model: ApexFile, config: ScanConfig) -> None:
        self.model = model
        self.config = config
        self.strings = StringTracer(model)
        self._in_progress: set[tuple[int, str]] = set()  # see StringTracer
        self._helpers: dict[int, list[RecordSource]] = {}

    def sources(self, node: Node, unit: Unit, before: int, depth: int = 0) -> list[RecordSource]:
        if depth > 40:
            return []
        kind = node.type
        if kind == "query_expression":
            if query_mode(node) in ("user_mode", "security_enforced"):
                return []
            line, _ = self.model.position(node)
            return [RecordSource(node, "query", f"the query at line {line}")]
        if kind in ("parenthesized_expression",):
            return [s for child in named_children(node) for s in self.sources(child, unit, before, depth + 1)]
        if kind == "cast_expression":
            value = node.child_by_field_name("value")
            return self.sources(value, unit, before, depth + 1) if value is not None else []
        if kind == "ternary_expression":
            found: list[RecordSource] = []
            for side in ("consequence", "alternative"):
                child = node.child_by_field_name(side)
                if child is not None:
                    found.extend(self.sources(child, unit, before, depth + 1))
            return found
        if kind in ("array_access", "field_access"):
            base = node.child_by_field_name("array" if kind == "array_access" else "object")
            if base is None or low(base) == "this":
                return []
            return self.sources(base, unit, before, depth + 1)
        if kind == "object_creation_expression":
            return [
                s
                for child in node.named_children
                if child.type in ("argument_list", "array_initializer")
                for element in named_children(child)
                for s in self.sources(element, unit, before, depth + 1)
            ]
        if kind == "identifier":
            return self._identifier(node, unit, before, depth)
        if kind == "method_invocation":
            return self._invocation(node, unit, before, depth)
        return []

    def _identifier(self, node: Node, unit: Unit, before: int, depth: int) -> list[RecordSource]:
        name = low(node)
        if name not in unit.locals:
            return []  # a parameter (the client's own data) or a field: not traced
        for call in unit.invocations:
            if call.start_byte >= before:
                break
            if is_strip_call(call, unit.owner, self.config) and any(
                a.type == "identifier" and low(a) == name for a in arguments(call)
            ):
                return []
        key = (id(unit), name)
        if key in self._in_progress:
            return []
        self._in_progress.add(key)
        try:
            feeds = [(a.value, a.start) for a in unit.assignments.get(name, []) if a.start < before]
            # Records put into a collection: rows.add(r), rows.addAll(list), byId.put(id, r).
            feeds += [
                (arguments(call)[-1], call.start_byte)
                for call in unit.invocations
                if call.start_byte < before
                and invocation_parts(call) in ((name, "add"), (name, "addall"), (name, "put"))
                and arguments(call)
            ]
            found = {
                source.node.start_byte: source
                for value, start in feeds
                for source in self.sources(value, unit, start, depth + 1)
            }
        finally:
            self._in_progress.discard(key)
        return [found[k] for k in sorted(found)]

    def _invocation(self, node: Node, unit: Unit, before: int, depth: int) -> list[RecordSource]:
        obj, name = invocation_parts(node)
        if is_strip_call(node, unit.owner, self.config):
            return []
        query_arg = dynamic_query_argument(node)
        if query_arg is not None:
            if access_level(node, unit) == "user_mode":
                return []
            if self.strings.parts(query_arg, unit).declares(frozenset({"user_mode", "security_enforced"})):
                return []
            line, _ = self.model.position(node)
            return [RecordSource(node, "query", f"the dynamic query at line {line}")]
        if name in RECORD_PASSTHROUGH and obj:
            target = node.child_by_field_name("object")
            return self.sources(target, unit, before, depth + 1) if target is not None else []
        helpers = local_methods(node, unit.owner, self.model)
        if helpers and depth < MAX_DEPTH * 4:
            found: list[RecordSource] = []
            for helper in helpers:
                if id(helper) not in self._helpers:
                    self._helpers[id(helper)] = []
                    self._helpers[id(helper)] = [
                        source
                        for ret in helper.returns
                        for value in named_children(ret)[:1]
                        for source in self.sources(value, helper, ret.start_byte, depth + 4)
                    ]
                found.extend(self._helpers[id(helper)])
            if not found:
                return []
            return [RecordSource(node, found[0].kind, f"{_short(node)} (which returns {found[0].what})")]
        return [RecordSource(node, "call", f"the result of {_short(node)}")]


def _short(node: Node, limit: int = 60) -> str:
    value = " ".join(text(node).split())
    if node.type == "method_invocation":
        obj = node.child_by_field_name("object")
        value = (" ".join(text(obj).split()) + "." if obj is not None else "") + text(node.child_by_field_name("name"))
        value += "()"
    return value if len(value) <= limit else value[: limit - 3] + "..."
