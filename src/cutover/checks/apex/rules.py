"""The five rules. Each takes an indexed file and the config and yields `Hit`s; the scanner applies suppressions
and test-class skipping, and turns hits into findings.

Exact semantics (also in RULES' full descriptions, which SARIF consumers show):

- soql-not-enforced: every static `[SELECT ...]`/`[FIND ...]` whose top-level query has no accepted WITH mode, and
  every Database.query/countQuery/queryWithBinds/getQueryLocator or Search.query call that neither passes
  AccessLevel.USER_MODE nor has an accepted `WITH ...` in the literal text its query string is built from.
  Sub-queries are covered by their outer query. `WITH SYSTEM_MODE` is reported with its own message.
- dml-without-crud-check: a DML statement or Database DML call, unless it is `as user` / AccessLevel.USER_MODE, or
  a guard call appears earlier in the same body (or inside the statement, e.g. `insert strip(records);`). A call
  to a method of the same file counts when that method (up to 4 hops) contains a guard. A private method whose
  every call site in the file follows a guard (in the caller or further up) counts as guarded. scan_paths adds the
  project's own guard and strip helpers found in other files to the configured ones (scanner.project_helpers).
  A guard protects every later DML in the body, whatever object it names: the rule checks that someone thought
  about CRUD/FLS here, not that the checked object matches.
- aura-without-strip: in @AuraEnabled methods, each `return` expression is traced back through locals (their
  assignments, loop variables, and records added with add/addAll/put), casts, collection accessors and same-file
  helpers. A source is an unenforced query (always reported) or a call into code this scanner cannot see
  (reported when the declared return type holds records: SObject, `__c`/`__x` types, standard objects, or objects
  this file queries). A strip call taking the variable before the return, a strip call in the expression, or an
  enforced query clears it. Parameters and fields are not traced.
- soql-injection: the query string of a dynamic query call is decomposed (see flow.StringTracer); each value that is
  neither a literal, a safe type, String.escapeSingleQuotes(...), a describe name, a record's Id, nor a constant is
  reported where it is concatenated (a local is reported at its use, naming where its value came from).
- sharing-not-declared: classes without a sharing keyword that do not inherit one from a parent class in the same
  file or (through scan_paths) any scanned file. Inner classes and Exception subclasses only when they contain a
  query, DML or a dynamic query call themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tree_sitter import Node

from cutover.checks.apex.config import ScanConfig
from cutover.checks.apex.crud import GuardFinder, covers, dml_message
from cutover.checks.apex.flow import (
    access_level,
    dml_operation,
    dynamic_query_argument,
    query_mode,
)
from cutover.checks.apex.records import RecordTracer
from cutover.checks.apex.strings import StringTracer
from cutover.checks.apex.syntax import (
    SHARING_MODIFIERS,
    STANDARD_RECORD_TYPES,
    ApexFile,
    TypeDecl,
    Unit,
    named_children,
    text,
)


@dataclass(frozen=True)
class Hit:
    rule: str
    node: Node
    message: str
    unit: Unit | None  # whose suppressions apply (None: the type's)
    owner: TypeDecl
    superclass: str = ""  # sharing-not-declared: a parent (in another file) that may declare the mode
    wants: tuple[str, ...] = ()  # aura-without-strip: other classes' methods (`cls.method`) the records come from


def inherits_sharing(name: str, table: dict[str, tuple[bool, str]]) -> bool:
    """Does class `name` or one of its ancestors in `table` declare a sharing mode? (Apex: a subclass inherits it.)"""
    seen: set[str] = set()
    while name and name in table and name not in seen:
        seen.add(name)
        declares, parent = table[name]
        if declares:
            return True
        name = parent
    return False


def run_rules(model: ApexFile, config: ScanConfig) -> Iterator[Hit]:
    units = [u for decl in model.types for u in decl.units if not (config.skip_test_classes and u.is_test)]
    if "soql-not-enforced" in config.rules:
        yield from soql_not_enforced(model, units, config)
    if "dml-without-crud-check" in config.rules:
        yield from dml_without_crud_check(model, units, config)
    if "aura-without-strip" in config.rules:
        yield from aura_without_strip(model, units, config)
    if "soql-injection" in config.rules:
        yield from soql_injection(model, units, config)
    if "sharing-not-declared" in config.rules:
        yield from sharing_not_declared(model, config)


def _accepted(config: ScanConfig) -> str:
    names = {"security_enforced": "WITH SECURITY_ENFORCED", "user_mode": "WITH USER_MODE"}
    return " or ".join(names[m] for m in sorted(config.accepted_modes, key=lambda m: m != "security_enforced"))


def soql_not_enforced(model: ApexFile, units: list[Unit], config: ScanConfig) -> Iterator[Hit]:
    rule = "soql-not-enforced"
    accepted = _accepted(config)
    strings = StringTracer(model, config.safe_types)
    for unit in units:
        for query in unit.queries:
            mode = query_mode(query)
            if mode in config.accepted_modes:
                continue
            kind = "SOSL search" if any(c.type == "sosl_query_body" for c in query.named_children) else "SOQL query"
            if mode == "system_mode":
                message = f"{kind} runs WITH SYSTEM_MODE in {unit.label}; use {accepted}"
            else:
                message = f"{kind} in {unit.label} has no {accepted}"
            yield Hit(rule, query, message, unit, unit.owner)
        for call in unit.invocations:
            argument = dynamic_query_argument(call)
            if argument is None:
                continue
            level = access_level(call, unit)
            if level == "user_mode" and "user_mode" in config.accepted_modes:
                continue
            if strings.parts(argument, unit).declares(config.accepted_modes):
                continue
            called = text(call.child_by_field_name("object")) + "." + text(call.child_by_field_name("name"))
            if level == "system_mode":
                message = f"{called} runs dynamic SOQL with AccessLevel.SYSTEM_MODE in {unit.label}"
            else:
                how = "pass AccessLevel.USER_MODE or " if "user_mode" in config.accepted_modes else ""
                message = f"{called} runs dynamic SOQL in {unit.label} without enforcement: {how}add {accepted}"
            yield Hit(rule, call, message, unit, unit.owner)


def dml_without_crud_check(model: ApexFile, units: list[Unit], config: ScanConfig) -> Iterator[Hit]:
    finder = GuardFinder(model, config)
    for unit in units:
        sites = list(unit.dml) + [c for c in unit.invocations if dml_operation(c) is not None]
        for site in sorted(sites, key=lambda n: n.start_byte):
            found = dml_operation(site, unit)
            if found is None:
                continue
            operation, mode = found
            if mode == "user_mode":
                continue
            coverage = finder.coverage(unit, site.end_byte)
            if covers(operation, coverage):
                continue
            message = dml_message(site, operation, unit, model, config, coverage)
            yield Hit("dml-without-crud-check", site, message, unit, unit.owner)


def returns_records(unit: Unit, model: ApexFile) -> bool:
    declared = unit.return_type
    if not declared or declared == "void":
        return False
    for token in declared.replace("<", ",").replace(">", ",").replace("[]", ",").split(","):
        token = token.strip().rpartition(".")[2]
        if not token:
            continue
        if token in STANDARD_RECORD_TYPES or token in model.queried_objects:
            return True
        if token.endswith(("__c", "__x", "__kav", "__share", "__history")):
            return True
    return False


def aura_without_strip(model: ApexFile, units: list[Unit], config: ScanConfig) -> Iterator[Hit]:
    tracer = RecordTracer(model, config)
    named = [s for s in config.strip_methods if s.lower() != "security.stripinaccessible"][:1]
    strip = f"Security.stripInaccessible() or {named[0]}()" if named else "Security.stripInaccessible()"
    for unit in units:
        if unit.kind != "method" or "auraenabled" not in unit.annotations or unit.return_type in ("", "void"):
            continue
        holds_records = returns_records(unit, model)
        for ret in unit.returns:
            value = next(iter(named_children(ret)), None)
            if value is None:
                continue
            sources = [s for s in tracer.sources(value, unit, ret.start_byte) if s.kind == "query" or holds_records]
            if not sources:
                continue
            message = (
                f"@AuraEnabled {unit.label} returns records from {sources[0].what} without {strip} "
                f"or a WITH USER_MODE/SECURITY_ENFORCED query"
            )
            wants = tuple(s.callee for s in sources if s.callee)
            yield Hit("aura-without-strip", ret, message, unit, unit.owner, wants=wants)


def soql_injection(model: ApexFile, units: list[Unit], config: ScanConfig) -> Iterator[Hit]:
    tracer = StringTracer(model, config.safe_types)
    for unit in units:
        for call in unit.invocations:
            argument = dynamic_query_argument(call)
            if argument is None:
                continue
            called = text(call.child_by_field_name("object")) + "." + text(call.child_by_field_name("name"))
            line, _ = model.position(call)
            seen: set[int] = set()
            for taint in tracer.parts(argument, unit).taints.values():
                if taint.node.start_byte in seen:
                    continue
                seen.add(taint.node.start_byte)
                message = (
                    f"{taint.what} is concatenated into the dynamic SOQL run by {called} (line {line}) without "
                    f"String.escapeSingleQuotes(); use a bind variable instead"
                )
                yield Hit("soql-injection", taint.node, message, unit, unit.owner)


def sharing_not_declared(model: ApexFile, config: ScanConfig) -> Iterator[Hit]:
    table = model.sharing_table()
    for decl in model.types:
        if decl.kind != "class" or decl.name_node is None:
            continue
        if config.skip_test_classes and decl.is_test:
            continue
        if decl.modifiers & SHARING_MODIFIERS:
            continue
        exception = decl.superclass.rpartition(".")[2] == "exception" or decl.lname.endswith("exception")
        if (decl.parent is not None or exception) and not decl.has_data_access():
            continue
        if decl.superclass and inherits_sharing(decl.superclass, table):
            continue
        where = "inner class" if decl.parent is not None else "class"
        message = (
            f"{where} {decl.name} declares no sharing mode: add 'with sharing', 'inherited sharing' or "
            f"'without sharing'"
        )
        if decl.superclass and decl.superclass not in table:
            message += f" (its parent {decl.superclass} is not among the scanned files)"
        yield Hit("sharing-not-declared", decl.name_node, message, None, decl, superclass=decl.superclass)
