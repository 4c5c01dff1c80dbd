"""What a dynamic query string is made of: its literal text, and the values concatenated into it that are neither
literals, escaped, nor of a safe type.

`StringTracer` follows simple assignments and `+=` to local variables that happen earlier in the same method (all
branches count: a variable is unsafe if any earlier assignment is), loop variables (as unsafe as what they iterate),
`List<String>.add(...)` feeding `String.join`, final fields with initialisers, and helper methods in the same file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tree_sitter import Node

from cutover.checks.apex.flow import (
    CONSTANT_NAME,
    DESCRIBE_NAMES,
    MAX_DEPTH,
    SAFE_RESULT_METHODS,
    SAFE_STATIC_CALLS,
    STRING_PASSTHROUGH,
    WITH_MODE,
    declared_type,
    local_methods,
    short,
    strip_system,
)
from cutover.checks.apex.syntax import (
    ApexFile,
    TypeDecl,
    Unit,
    arguments,
    invocation_parts,
    is_safe_type,
    is_sobject_name,
    low,
    named_children,
    string_value,
    text,
)


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
        return any(match.group(1) in modes for match in WITH_MODE.finditer(joined))


class StringTracer:
    """Decompose a string expression into literal text and tainted values (see the module docstring)."""

    def __init__(self, model: ApexFile, safe_types: frozenset[str] = frozenset()) -> None:
        self.model = model
        # Enums (this file's and those scan_paths found in the project): their values render as plain names.
        self.safe_types = safe_types | {d.lname for d in model.types if d.kind == "enum"}
        # Variables being traced: a use of `q` inside the trace of `q` (as in `q = q + x`) only sees assignments
        # the outer trace already covers, so it adds nothing. Without this, n such lines cost 2^n.
        self._in_progress: set[tuple[int, str]] = set()
        self._helpers: dict[int, StringParts] = {}

    def safe(self, declared: str) -> bool:
        return is_safe_type(declared, self.safe_types)

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
        elif kind == "binary_expression" and low(node.child_by_field_name("operator")) == "??":
            for side in ("left", "right"):  # `name ?? 'default'`: either side may be the value
                child = node.child_by_field_name(side)
                if child is not None:
                    self._trace(child, unit, owner, before, out, depth + 1)
        elif kind == "binary_expression":
            # `a + b + c` nests to the left; walk the spine in a loop so long concatenations do not deepen.
            operands: list[Node] = []
            current: Node | None = node
            while current is not None and current.type == "binary_expression":
                if low(current.child_by_field_name("operator")) != "+":
                    if low(current.child_by_field_name("operator")) == "??":
                        operands.append(current)
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
            if not self.safe("".join(low(node.child_by_field_name("type")).split())):
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
            if not (base_type and self.safe(base_type)):
                out.taint(node, f"'{short(node)}'")
        elif kind == "object_creation_expression":
            for child in node.named_children:
                if child.type in ("array_initializer", "argument_list"):
                    for element in named_children(child):
                        self._trace(element, unit, owner, before, out, depth + 1)
        else:
            out.taint(node, f"'{short(node)}'")

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
            if self.safe(unit.locals[name]):
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
            if not self.safe(unit.params[name]):
                out.taint(node, f"parameter '{text(node)}'")
            return
        self._field(node, name, owner, out, depth, f"variable '{text(node)}'")

    def _field(self, node: Node, name: str, owner: TypeDecl, out: StringParts, depth: int, what: str) -> None:
        decl: TypeDecl | None = owner
        while decl is not None:
            info = decl.fields.get(name)
            if info is not None:
                if self.safe(info.type):
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
            out.taint(node, f"'{short(node)}'")
            return
        if low(obj) == "this":
            self._field(node, low(field_node), owner, out, depth, f"field '{text(node)}'")
            return
        target = self.model.find_type(low(obj)) if obj.type == "identifier" else None
        if target is not None and low(field_node) in target.fields:
            self._field(node, low(field_node), target, out, depth, f"field '{text(node)}'")
            return
        if target is not None and target.kind == "enum":
            return  # Status.Open: an enum value
        if low(field_node) in ("id", "sobjecttype"):
            return  # record.Id is always an Id; Account.SObjectType is a schema token
        if "".join(low(obj).split()) in ("schema.sobjecttype", "sobjecttype"):
            return  # Schema.SObjectType.Account: a describe result
        if obj.type == "identifier" and not declared_type(obj, unit, owner) and is_sobject_name(low(obj), self.model):
            return  # Account.Name, Invoice__c.Amount__c: an SObjectField token, rendered as the field's API name
        if CONSTANT_NAME.match(text(field_node)):
            return  # Constants.ACCOUNT_FIELDS: a constant of another class, set in code, not by a caller
        out.taint(node, f"field '{short(node)}'")

    def _describe_map(self, node: Node | None, unit: Unit | None, owner: TypeDecl) -> bool:
        """A map of API name -> SObjectField / SObjectType: from a describe call, or declared so."""
        if node is None:
            return False
        flat = "".join(low(node).split())
        if flat.endswith(("getmap()", "getglobaldescribe()")):
            return True
        declared = declared_type(node, unit, owner)
        if declared.startswith("map<") and "," in declared:
            return is_safe_type(declared[:-1].rpartition(",")[2])
        return False

    def _invocation(
        self, node: Node, unit: Unit | None, owner: TypeDecl, before: int, out: StringParts, depth: int
    ) -> None:
        obj, name = invocation_parts(node)
        args = arguments(node)
        if name == "escapesinglequotes" or name in DESCRIBE_NAMES or name in SAFE_RESULT_METHODS:
            return
        if name == "name" and not args and not local_methods(node, owner, self.model):
            return  # an enum value's name(), e.g. Trigger.operationType.name()
        if name in ("keyset", "values") and self._describe_map(node.child_by_field_name("object"), unit, owner):
            return  # field or object API names from Schema.getGlobalDescribe() / fields.getMap()
        if (strip_system(obj), name) in SAFE_STATIC_CALLS:
            return
        target_type = declared_type(node.child_by_field_name("object"), unit, owner)
        if target_type and self.safe(target_type):
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
            if all(self.safe(h.return_type) for h in helpers):
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
                out.taint(node, f"the result of {short(node)}, which includes {first.what}")
            return
        out.taint(node, f"the result of {short(node)}")
