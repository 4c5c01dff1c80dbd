"""Parse Apex with tree-sitter and index what the rules need, in one walk over the tree.

The index is a list of type declarations (classes, interfaces, enums, triggers; inner ones nested) and, inside
them, *units*: the bodies code runs in (methods, constructors, property accessors, initializer blocks, field
initializers, a trigger's body). Each unit records its parameters, local variable types, assignments in source
order, queries, DML, method calls and return statements. The walk is driven by node types, not by positions in
the tree, so a file with syntax errors still yields the parts that parsed.

Apex identifiers are case-insensitive: every name in the index is lower-cased.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass, field

from tree_sitter import Node, Parser
from tree_sitter_language_pack import get_parser

# Node types that cannot contain anything the rules look at: the walk does not descend into them.
_LEAVES = {
    "identifier",
    "type_identifier",
    "generic_type",
    "scoped_type_identifier",
    "array_type",
    "string_literal",
    "int",
    "boolean",
    "null_literal",
    "modifiers",
    "line_comment",
    "block_comment",
    "dml_type",
    "dml_security_mode",
    "field_identifier",
    "formal_parameters",
    "void_type",
}
TYPE_DECLARATIONS = {"class_declaration", "interface_declaration", "enum_declaration", "trigger_declaration"}
SHARING_MODIFIERS = {"with_sharing", "without_sharing", "inherited_sharing"}
SAFE_SCALAR_TYPES = {"integer", "long", "decimal", "double", "boolean", "id", "date", "datetime", "time"}
# Schema tokens: rendered as API names (Account, Name), which cannot carry a quote into SOQL.
SCHEMA_TOKEN_TYPES = {"sobjecttype", "sobjectfield", "displaytype", "soaptype"}

STANDARD_RECORD_TYPES = {
    "sobject",
    "account",
    "contact",
    "lead",
    "opportunity",
    "opportunitylineitem",
    "case",
    "user",
    "task",
    "event",
    "campaign",
    "campaignmember",
    "contract",
    "order",
    "orderitem",
    "product2",
    "pricebook2",
    "pricebookentry",
    "asset",
    "quote",
    "quotelineitem",
    "contentversion",
    "contentdocument",
    "contentdocumentlink",
    "attachment",
    "note",
    "feeditem",
    "group",
    "groupmember",
    "permissionset",
    "permissionsetassignment",
    "profile",
    "userrole",
    "recordtype",
    "emailmessage",
}


def is_sobject_name(lname: str, model: ApexFile) -> bool:
    """Does this lower-case name look like an sObject type (standard, custom, queried in this file)?"""
    if lname in STANDARD_RECORD_TYPES or lname in model.queried_objects:
        return True
    return lname.endswith(("__c", "__mdt", "__e", "__x", "__b", "__kav", "__share", "__history"))


_local = threading.local()


def parser() -> Parser:
    """A tree-sitter Apex parser (one per thread: parsers are not thread-safe)."""
    found = getattr(_local, "parser", None)
    if found is None:
        found = _local.parser = get_parser("apex")
    return found


def text(node: Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", "replace")


def low(node: Node | None) -> str:
    return text(node).lower()


def type_name(node: Node | None) -> str:
    """A type as lower-case text without spaces: `List<Account>` -> 'list<account>'."""
    return "".join(low(node).split())


def is_safe_type(name: str, extra: frozenset[str] | set[str] = frozenset()) -> bool:
    """Scalars and schema tokens that cannot carry a quote into SOQL, and lists/sets of them (List<Id>,
    Set<Schema.SObjectField>...). `extra`: more lower-case type names, such as the project's enums."""
    for prefix in ("list<", "set<"):
        if name.startswith(prefix) and name.endswith(">"):
            name = name[len(prefix) : -1]
            break
    else:
        name = name.removesuffix("[]")
    if name in SAFE_SCALAR_TYPES or name in extra:
        return True
    plain = name.removeprefix("system.").removeprefix("schema.")
    return plain in SAFE_SCALAR_TYPES or plain in SCHEMA_TOKEN_TYPES or plain.rpartition(".")[2] in extra


def string_value(node: Node) -> str:
    """The content of an Apex string literal, with \\' and \\\\ unescaped (good enough to look for keywords)."""
    raw = text(node)
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        raw = raw[1:-1]
    return raw.replace("\\'", "'").replace("\\\\", "\\")


def named_children(node: Node) -> list[Node]:
    return [c for c in node.named_children if c.type not in ("line_comment", "block_comment")]


@functools.lru_cache(maxsize=4096)
def invocation_parts(node: Node) -> tuple[str, str]:
    """('database', 'query') for `Database.query(...)`; ('', 'foo') for `foo()`; object text is lower-case."""
    obj = node.child_by_field_name("object")
    return ("".join(low(obj).split()) if obj is not None else ""), low(node.child_by_field_name("name"))


def arguments(node: Node) -> list[Node]:
    args = node.child_by_field_name("arguments")
    return named_children(args) if args is not None else []


@dataclass
class Assignment:
    start: int  # byte offset, to order assignments against their use
    operator: str  # "=" or "+=" (others are kept but rarely matter)
    value: Node


@dataclass
class FieldInfo:
    type: str
    is_final: bool
    value: Node | None


@dataclass
class Unit:
    """A body code runs in. `kind`: method, constructor, accessor, initializer, field, trigger, class."""

    kind: str
    name: str
    node: Node
    owner: TypeDecl
    annotations: dict[str, Node] = field(default_factory=dict)
    suppressions: frozenset[str] = frozenset()
    is_test: bool = False
    is_private: bool = False  # a method only this class can call (Apex's default access is private)
    return_type: str = ""
    params: dict[str, str] = field(default_factory=dict)
    locals: dict[str, str] = field(default_factory=dict)
    assignments: dict[str, list[Assignment]] = field(default_factory=dict)
    queries: list[Node] = field(default_factory=list)
    dml: list[Node] = field(default_factory=list)
    invocations: list[Node] = field(default_factory=list)
    returns: list[Node] = field(default_factory=list)

    @property
    def label(self) -> str:
        owner = self.owner.name or "<file>"
        if self.kind in ("method", "constructor", "accessor"):
            return f"{self.kind} {owner}.{self.name}"
        if self.kind == "trigger":
            return f"trigger {owner}"
        return f"{self.kind} of {owner}"


@dataclass
class TypeDecl:
    kind: str  # class, interface, enum, trigger, file (code outside any type, when the tree is broken)
    name: str  # as written
    name_node: Node | None
    node: Node
    parent: TypeDecl | None
    modifiers: set[str] = field(default_factory=set)
    annotations: dict[str, Node] = field(default_factory=dict)
    suppressions: frozenset[str] = frozenset()
    is_test: bool = False
    superclass: str = ""
    fields: dict[str, FieldInfo] = field(default_factory=dict)
    units: list[Unit] = field(default_factory=list)
    methods: dict[str, list[Unit]] = field(default_factory=dict)
    inner: list[TypeDecl] = field(default_factory=list)
    _class_unit: Unit | None = None

    @property
    def lname(self) -> str:
        return self.name.lower()

    def class_unit(self) -> Unit:
        """Where code found outside any member goes (only in broken trees)."""
        if self._class_unit is None:
            self._class_unit = Unit("class", self.name, self.node, self, suppressions=self.suppressions)
            self._class_unit.is_test = self.is_test
            self.units.append(self._class_unit)
        return self._class_unit

    def has_data_access(self) -> bool:
        return any(u.queries or u.dml or _any_dynamic(u) for u in self.units)


def _any_dynamic(unit: Unit) -> bool:
    return any(invocation_parts(n)[0] in ("database", "system.database", "search") for n in unit.invocations)


@dataclass
class ApexFile:
    path: str
    source: bytes
    root: Node
    types: list[TypeDecl]  # every declaration, outer before inner
    syntax_errors: list[Node]
    queried_objects: set[str]  # lower-case FROM object names: what this file treats as SObject types
    _ignores: dict[int, frozenset[str]] | None = None

    def position(self, node: Node) -> tuple[int, int]:
        """1-based (line, column), the column in code points rather than tree-sitter's bytes."""
        row, byte_col = node.start_point
        if byte_col == 0:
            return row + 1, 1
        line_start = node.start_byte - byte_col
        prefix = self.source[line_start : node.start_byte]
        return row + 1, len(prefix.decode("utf-8", "replace")) + 1

    def ignored_rules(self, line: int) -> frozenset[str]:
        """Rules silenced by a `// cutover:ignore [rule, ...]` comment ending `line`, or alone on the line above, or
        by `// cutover:ignore-next-line [rule, ...]` on the line above ('*' = all).

        For code that cannot carry @SuppressWarnings, such as triggers, or for one statement."""
        if self._ignores is None:
            self._ignores = _ignore_comments(self.root) if b"cutover:ignore" in self.source else {}
        return self._ignores.get(line, frozenset())

    def sharing_table(self) -> dict[str, tuple[bool, str]]:
        """class name -> (declares a sharing mode, superclass name) for every class in the file."""
        return {
            decl.lname: (bool(decl.modifiers & SHARING_MODIFIERS), decl.superclass)
            for decl in self.types
            if decl.kind == "class"
        }

    def find_type(self, lname: str) -> TypeDecl | None:
        for decl in self.types:
            if decl.lname == lname:
                return decl
        return None


def parse(source: bytes, path: str) -> ApexFile:
    tree = parser().parse(source)
    model = ApexFile(path=path, source=source, root=tree.root_node, types=[], syntax_errors=[], queried_objects=set())
    _Indexer(model).walk_root()
    return model


def annotations_of(node: Node) -> dict[str, Node]:
    mods = next((c for c in node.children if c.type == "modifiers"), None)
    if mods is None:
        return {}
    return {low(a.child_by_field_name("name")): a for a in mods.children if a.type == "annotation"}


def modifiers_of(node: Node) -> set[str]:
    mods = next((c for c in node.children if c.type == "modifiers"), None)
    if mods is None:
        return set()
    found: set[str] = set()
    for mod in mods.children:
        if mod.type == "modifier":
            found.update(c.type.lower() for c in mod.named_children)
    return found


def suppressions_of(annotations: dict[str, Node]) -> frozenset[str]:
    """Rule ids in @SuppressWarnings('cutover:rule-a, cutover:rule-b'); 'cutover' or 'cutover:all' -> '*'."""
    node = annotations.get("suppresswarnings")
    if node is None:
        return frozenset()
    found: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type == "string_literal":
            for item in string_value(current).split(","):
                item = item.strip().lower()
                if item in ("cutover", "cutover:all", "cutover:*"):
                    found.add("*")
                elif item.startswith("cutover:"):
                    found.add(item.removeprefix("cutover:").strip())
        stack.extend(current.children)
    return frozenset(found)


def is_test_member(annotations: dict[str, Node], modifiers: set[str]) -> bool:
    return "istest" in annotations or "testmethod" in modifiers


class _Indexer:
    """One recursive walk filling an ApexFile. Recursion depth follows the tree's nesting, which Apex keeps modest."""

    def __init__(self, model: ApexFile) -> None:
        self.model = model
        self._file_type: TypeDecl | None = None
        self._stack: list[tuple[Node, TypeDecl | None, Unit | None]] = []

    def walk_root(self) -> None:
        # An explicit stack instead of recursion: a 2,000-term string concatenation nests 2,000 levels deep.
        # Children are pushed reversed, so nodes are visited in source order (the rules rely on it).
        self.visit_children(self.model.root, None, None)
        while self._stack:
            node, owner, unit = self._stack.pop()
            self.visit(node, owner, unit)
        if self.model.root.has_error:
            self.model.syntax_errors = syntax_errors(self.model.root)

    def _orphan_type(self) -> TypeDecl:
        if self._file_type is None:
            self._file_type = TypeDecl("file", "", None, self.model.root, None)
            self.model.types.append(self._file_type)
        return self._file_type

    def visit(self, node: Node, owner: TypeDecl | None, unit: Unit | None) -> None:
        kind = node.type
        if kind in TYPE_DECLARATIONS:
            self.type_declaration(node, owner)
            return
        if kind in ("method_declaration", "constructor_declaration"):
            self.method(node, owner or self._orphan_type())
            return
        if kind == "field_declaration" and unit is None:
            self.field_declaration(node, owner or self._orphan_type())
            return
        if kind in ("static_initializer", "block") and unit is None and owner is not None:
            init = self.new_unit("initializer", "initializer", node, owner, {}, set())
            self.visit_children(node, owner, init)
            return
        if kind in _LEAVES:
            return
        if unit is None and kind in (
            "query_expression",
            "dml_expression",
            "method_invocation",
            "return_statement",
            "local_variable_declaration",
            "assignment_expression",
        ):
            unit = (owner or self._orphan_type()).class_unit()
        if unit is not None:
            if kind == "query_expression":
                unit.queries.append(node)
                self.note_queried_objects(node)
                return  # binds inside a query are not where DML, guards or returns live
            if kind == "dml_expression":
                unit.dml.append(node)
            elif kind == "method_invocation":
                unit.invocations.append(node)
            elif kind == "return_statement":
                unit.returns.append(node)
            elif kind == "local_variable_declaration":
                self.declare_locals(node, unit)
            elif kind in ("enhanced_for_statement", "formal_parameter"):
                name = low(node.child_by_field_name("name"))
                if name:
                    unit.locals[name] = type_name(node.child_by_field_name("type"))
                    iterated = node.child_by_field_name("value") if kind == "enhanced_for_statement" else None
                    if iterated is not None:  # `for (Account a : rows)`: a holds what rows holds
                        unit.assignments.setdefault(name, []).append(Assignment(node.start_byte, "=", iterated))
            elif kind == "assignment_expression":
                self.assignment(node, unit)
        self.visit_children(node, owner, unit)

    def visit_children(self, node: Node, owner: TypeDecl | None, unit: Unit | None) -> None:
        # Named children only: punctuation and keywords never hold code (syntax errors are found separately).
        self._stack.extend((child, owner, unit) for child in reversed(node.named_children))

    def note_queried_objects(self, query: Node) -> None:
        """Top-level FROM / RETURNING objects (sub-query FROMs are relationship names, not types)."""
        for body in query.named_children:
            if body.type == "soql_query_body":
                clause = body.child_by_field_name("from_clause")
                entries = clause.named_children if clause is not None else []
                # `FROM Account a` wraps the object in a storage_alias
                entries = [
                    e.named_children[0] if e.type == "storage_alias" and e.named_children else e for e in entries
                ]
            elif body.type == "sosl_query_body":
                entries = [e for r in body.named_children if r.type == "returning_clause" for e in r.named_children]
            else:
                continue
            for entry in entries:
                if entry.type in ("storage_identifier", "sobject_return") and entry.named_children:
                    self.model.queried_objects.add(low(entry.named_children[0]))

    def new_unit(
        self, kind: str, name: str, node: Node, owner: TypeDecl, annotations: dict[str, Node], modifiers: set[str]
    ) -> Unit:
        unit = Unit(kind, name, node, owner, annotations=annotations)
        unit.suppressions = owner.suppressions | suppressions_of(annotations)
        unit.is_test = owner.is_test or is_test_member(annotations, modifiers)
        unit.is_private = kind == "method" and not modifiers & {"public", "global", "protected"}
        owner.units.append(unit)
        if kind in ("method", "constructor"):
            owner.methods.setdefault(name.lower(), []).append(unit)
        return unit

    def type_declaration(self, node: Node, parent: TypeDecl | None) -> None:
        kind = node.type.removesuffix("_declaration")
        name_node = node.child_by_field_name("name")
        annotations = annotations_of(node)
        modifiers = modifiers_of(node)
        decl = TypeDecl(kind, text(name_node), name_node, node, parent, modifiers=modifiers, annotations=annotations)
        inherited = parent.suppressions if parent is not None else frozenset()
        decl.suppressions = inherited | suppressions_of(annotations)
        decl.is_test = (parent is not None and parent.is_test) or "istest" in annotations
        superclass = next((c for c in node.children if c.type == "superclass"), None)
        # `extends Base<T>` / `extends ns.Base`: the plain class name is what sharing inheritance is looked up by.
        decl.superclass = type_name(superclass).removeprefix("extends").split("<")[0].rpartition(".")[2]
        self.model.types.append(decl)
        if parent is not None:
            parent.inner.append(decl)
        body = node.child_by_field_name("body")
        if kind == "trigger":
            trigger_unit = self.new_unit("trigger", decl.name, node, decl, {}, set())
            if body is not None:
                self.visit_children(body, decl, trigger_unit)
            return
        if body is not None:
            self.visit_children(body, decl, None)

    def method(self, node: Node, owner: TypeDecl) -> None:
        kind = "constructor" if node.type == "constructor_declaration" else "method"
        annotations = annotations_of(node)
        unit = self.new_unit(kind, text(node.child_by_field_name("name")), node, owner, annotations, modifiers_of(node))
        unit.return_type = type_name(node.child_by_field_name("type"))
        params = node.child_by_field_name("parameters")
        if params is not None:
            for param in params.named_children:
                if param.type == "formal_parameter":
                    unit.params[low(param.child_by_field_name("name"))] = type_name(param.child_by_field_name("type"))
        body = node.child_by_field_name("body")
        if body is not None:
            self.visit_children(body, owner, unit)

    def field_declaration(self, node: Node, owner: TypeDecl) -> None:
        annotations = annotations_of(node)
        modifiers = modifiers_of(node)
        declared_type = type_name(node.child_by_field_name("type"))
        field_unit: Unit | None = None
        scheduled: list[tuple[Node, TypeDecl | None, Unit | None]] = []
        for child in node.children:
            if child.type == "variable_declarator":
                name = low(child.child_by_field_name("name"))
                value = child.child_by_field_name("value")
                owner.fields[name] = FieldInfo(declared_type, "final" in modifiers, value)
                if value is not None:
                    if field_unit is None:
                        field_unit = self.new_unit("field", name, node, owner, annotations, modifiers)
                    scheduled.append((value, owner, field_unit))
            elif child.type == "accessor_list":
                for accessor in child.named_children:
                    body = accessor.child_by_field_name("body")
                    if accessor.type != "accessor_declaration" or body is None:
                        continue
                    prop = low(node.child_by_field_name("declarator").child_by_field_name("name"))  # type: ignore[union-attr]
                    which = low(accessor.child_by_field_name("accessor"))
                    unit = self.new_unit("accessor", f"{prop}.{which}", accessor, owner, annotations, modifiers)
                    unit.return_type = declared_type if which == "get" else "void"
                    if which == "set":
                        unit.params["value"] = declared_type
                    scheduled.extend((c, owner, unit) for c in body.named_children)
        self._stack.extend(reversed(scheduled))

    def declare_locals(self, node: Node, unit: Unit) -> None:
        declared_type = type_name(node.child_by_field_name("type"))
        for child in node.children:
            if child.type == "variable_declarator":
                name = low(child.child_by_field_name("name"))
                unit.locals[name] = declared_type
                value = child.child_by_field_name("value")
                if value is not None:
                    unit.assignments.setdefault(name, []).append(Assignment(child.start_byte, "=", value))

    def assignment(self, node: Node, unit: Unit) -> None:
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        if left is None or right is None:
            return
        if left.type == "field_access" and low(left.child_by_field_name("object")) == "this":
            left = left.child_by_field_name("field")
        if left is not None and left.type == "identifier":
            operator = low(node.child_by_field_name("operator"))
            unit.assignments.setdefault(low(left), []).append(Assignment(node.start_byte, operator, right))


_RULE_WORD = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)+$")


def ignore_directive(comment: str) -> tuple[bool, frozenset[str]] | None:
    """(next line only?, rules) for a `cutover:ignore[-next-line] [RULE ...] [-- reason]` comment, else None.
    No rule named means every rule ('*'); words after `--` are a free-text reason."""
    body = comment.lower()
    marker = body.find("cutover:ignore")
    if marker < 0:
        return None
    rest = body[marker + len("cutover:ignore") :]
    next_line = rest.startswith("-next-line")
    rest = rest.removeprefix("-next-line")
    if rest[:1] not in ("", " ", "\t", ":", "(", "*", "\n"):
        return None  # cutover:ignored, cutover:ignorex...: not a directive
    rest = rest.split("--", 1)[0].replace("*/", " ").replace(",", " ").replace("(", " ").replace(")", " ")
    words = rest.replace(":", " ").split()
    rules = frozenset(w for w in words if _RULE_WORD.match(w))
    if any(w in ("all", "*") for w in words):
        rules = rules | {"*"}
    return next_line, rules or frozenset({"*"})


def _ignore_comments(root: Node) -> dict[int, frozenset[str]]:
    """Line -> rules silenced there. `// cutover:ignore RULE` covers its own line when it ends a line of code and
    the next line when it stands alone; `// cutover:ignore-next-line RULE` always covers the next line."""
    found: dict[int, frozenset[str]] = {}
    source = root.text or b""
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type in ("line_comment", "block_comment"):
            directive = ignore_directive(text(node))
            if directive is not None:
                next_line, rules = directive
                line_start = node.start_byte - node.start_point[1]
                alone = not source[line_start : node.start_byte].strip()
                line = node.end_point[0] + 2 if next_line or alone else node.start_point[0] + 1
                found[line] = found.get(line, frozenset()) | rules
            continue
        stack.extend(node.children)
    return found


def syntax_errors(root: Node) -> list[Node]:
    """ERROR and MISSING nodes, descending only into subtrees that contain one; the SOSL WITH gap is not one."""
    found: list[Node] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_missing or node.type == "ERROR":
            parent = node.parent
            if not (parent is not None and parent.type == "query_expression" and is_with_mode_gap(node)):
                found.append(node)
            continue
        stack.extend(c for c in node.children if c.has_error or c.is_missing)
    return found


def is_with_mode_gap(node: Node) -> bool:
    """The grammar does not know `WITH USER_MODE` / `WITH SECURITY_ENFORCED` in SOSL; it yields ERROR(WITH, mode)."""
    tokens = [low(c) for c in node.children]
    return len(tokens) == 2 and tokens[0] == "with" and tokens[1] in ("user_mode", "security_enforced", "system_mode")
