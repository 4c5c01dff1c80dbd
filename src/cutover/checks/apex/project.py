"""What `scan_paths` learns about the project from all its files: the project's own guard and strip helpers, its
enums, and which of its methods return only enforced or stripped records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from cutover.checks.apex.config import ScanConfig
from cutover.checks.apex.flow import dml_operation, dynamic_query_argument, is_check, is_strip_call
from cutover.checks.apex.records import RecordTracer
from cutover.checks.apex.rules import returns_records
from cutover.checks.apex.syntax import ApexFile, named_children


@dataclass
class Learned:
    """What scan_paths learns about the project from every file: its own guard and strip helpers, its enums, and
    the methods whose returned records are already enforced or stripped (all `Class.method` / type names)."""

    guards: set[str] = field(default_factory=set)
    strips: set[str] = field(default_factory=set)
    enums: set[str] = field(default_factory=set)
    record_methods: set[str] = field(default_factory=set)

    classes: dict[str, Path] = field(default_factory=dict)  # lower-case class name -> its file

    def learn(self, model: ApexFile, config: ScanConfig, path: Path | None = None) -> None:
        guards, strips = project_helpers(model, config)
        self.guards |= guards
        self.strips |= strips
        self.enums.update(d.lname for d in model.types if d.kind == "enum")
        if path is not None:
            for decl in model.types:
                if decl.kind == "class":
                    self.classes.setdefault(decl.lname, path)

    def find_record_methods(self, wanted: set[str], config: ScanConfig, parse_file: Callable[[Path], ApexFile]) -> None:
        """Of the `cls.method`s @AuraEnabled findings got records from, those in scanned files that return only
        enforced or stripped records (each such file is parsed again; most projects have few)."""
        files: dict[Path, set[str]] = {}
        for name in wanted:
            path = self.classes.get(name.rpartition(".")[0])
            if path is not None:
                files.setdefault(path, set()).add(name)
        helpers = self.extend(config)
        for path, names in files.items():
            try:
                model = parse_file(path)
            except OSError:
                continue
            self.record_methods |= {m.lower() for m in safe_record_methods(model, helpers)} & names

    def extend(self, config: ScanConfig) -> ScanConfig:
        """`config` with what was learned added, or `config` itself when nothing is new."""
        known = {name.lower() for name in (*config.guard_methods, *config.strip_methods)}
        new_guards = tuple(sorted(g for g in self.guards if g.lower() not in known))
        new_strips = tuple(sorted(s for s in self.strips if s.lower() not in known))
        records = {m.lower() for m in self.record_methods}
        nothing_new = self.enums <= config.safe_types and records <= config.safe_record_methods
        if nothing_new and not new_guards and not new_strips:
            return config
        return replace(
            config,
            guard_methods=config.guard_methods + new_guards,
            strip_methods=config.strip_methods + new_strips,
            safe_types=config.safe_types | self.enums,
            safe_record_methods=config.safe_record_methods | records,
        )


def project_helpers(model: ApexFile, config: ScanConfig) -> tuple[set[str], set[str]]:
    """The file's own security helpers, as `Class.method` names: non-private methods that change no records and
    either make a CRUD/FLS check (describe check or configured guard) without reading records, making them guard
    methods, or take records and return what Security.stripInaccessible gives, making them strip methods. A
    service or selector method that checks or strips, then queries or saves, is neither."""
    guards: set[str] = set()
    strips: set[str] = set()
    for decl in model.types:
        for unit in decl.units:
            if unit.kind != "method" or unit.is_private or unit.is_test or not decl.name:
                continue
            if unit.dml or any(dml_operation(call) for call in unit.invocations):
                continue
            if unit.queries or any(dynamic_query_argument(call) for call in unit.invocations):
                continue
            qualified = f"{decl.name}.{unit.name}"
            if any(is_check(call, decl, config) for call in unit.invocations):
                guards.add(qualified)
            takes_records = bool(unit.params) and unit.return_type != "void"
            if takes_records and any(is_strip_call(call, decl, config) for call in unit.invocations):
                strips.add(qualified)
    return guards, strips


def safe_record_methods(model: ApexFile, config: ScanConfig) -> set[str]:
    """Non-private methods returning records that query or strip, run no unenforced query at all, and whose every
    returned value traces to no unenforced source (a selector's `WITH USER_MODE` methods): other classes'
    @AuraEnabled methods may return what these give."""
    found: set[str] = set()
    tracer: RecordTracer | None = None
    for decl in model.types:
        for unit in decl.units:
            if unit.kind != "method" or unit.is_private or unit.is_test or not decl.name or not unit.returns:
                continue
            if not returns_records(unit, model):
                continue
            reads = bool(unit.queries) or any(
                dynamic_query_argument(call) is not None or is_strip_call(call, decl, config)
                for call in unit.invocations
            )
            if not reads:
                continue
            tracer = tracer or RecordTracer(model, config)
            if any(tracer.sources(query, unit, query.start_byte) for query in unit.queries):
                continue  # an unenforced query: its rows may reach the result in ways the tracer does not follow
            dynamic = [call for call in unit.invocations if dynamic_query_argument(call) is not None]
            if any(tracer.sources(call, unit, call.start_byte) for call in dynamic):
                continue
            values = [value for ret in unit.returns for value in named_children(ret)[:1]]
            if values and not any(tracer.sources(value, unit, value.start_byte) for value in values):
                found.add(f"{decl.name}.{unit.name}")
    return found
