"""Where records an @AuraEnabled method returns come from (a query, a helper, another class's method), and whether
they went through a strip call or an enforced query on the way."""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node

from cutover.checks.apex.config import ScanConfig
from cutover.checks.apex.flow import (
    MAX_DEPTH,
    RECORD_PASSTHROUGH,
    access_level,
    declared_type,
    dynamic_query_argument,
    is_strip_call,
    local_methods,
    query_mode,
    short,
)
from cutover.checks.apex.strings import StringTracer
from cutover.checks.apex.syntax import ApexFile, Unit, arguments, invocation_parts, low, named_children, type_name


@dataclass(frozen=True)
class RecordSource:
    node: Node
    kind: str  # "query": an unenforced query; "call": records from code this scanner cannot see
    what: str
    callee: str = ""  # for a call to another class: `class.method`, lower-case


class RecordTracer:
    """Where returned records come from; a strip call or an enforced query on the way clears them."""

    def __init__(self, model: ApexFile, config: ScanConfig) -> None:
        self.model = model
        self.config = config
        self.strings = StringTracer(model, config.safe_types)
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
            return [RecordSource(node, found[0].kind, f"{short(node)} (which returns {found[0].what})")]
        receiver = self._receiver(node, unit)
        if f"{receiver}.{name}" in self.config.safe_record_methods:
            return []  # a method of another class that only returns enforced or stripped records
        callee = f"{receiver}.{name}" if receiver else ""
        return [RecordSource(node, "call", f"the result of {short(node)}", callee)]

    def _receiver(self, node: Node, unit: Unit) -> str:
        """The class a call goes to, lower-case: `new Sel().m()`, `sel.m()` with `Sel sel`, `Sel.m()`."""
        target = node.child_by_field_name("object")
        if target is None:
            return ""
        if target.type == "object_creation_expression":
            return type_name(target.child_by_field_name("type")).rpartition(".")[2]
        declared = declared_type(target, unit, unit.owner) if target.type == "identifier" else ""
        return (declared or "".join(low(target).split())).rpartition(".")[2]
