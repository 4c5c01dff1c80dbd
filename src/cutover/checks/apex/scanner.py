"""The library API: `scan_source` for one text, `scan_paths` for files and folders (the preflight gate uses both)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cutover.checks.apex.config import ScanConfig
from cutover.checks.apex.findings import Finding, ScanError, ScanReport
from cutover.checks.apex.flow import dynamic_query_argument
from cutover.checks.apex.project import Learned
from cutover.checks.apex.rules import Hit, inherits_sharing, run_rules
from cutover.checks.apex.syntax import ApexFile, invocation_parts, parse

APEX_SUFFIXES = (".cls", ".trigger")
SKIPPED_FOLDERS = {"node_modules", ".sfdx", ".sf", ".git"}


def scan_source(text: str | bytes, filename: str, config: ScanConfig | None = None) -> ScanReport:
    """Scan one Apex class or trigger. `filename` is only used to label findings."""
    config = config or ScanConfig()
    source = text.encode("utf-8") if isinstance(text, str) else text
    collected = _Collected()
    collected.add(_scan_one(source, filename, config))
    return collected.report(files=1)


def scan_paths(
    paths: Iterable[str | Path], config: ScanConfig | None = None, *, root: str | Path | None = None
) -> ScanReport:
    """Scan every .cls/.trigger file under `paths` (files or folders). Findings name files relative to `root`
    (default: the current folder) with forward slashes, or absolute when outside it.

    The project's own security helpers (see `project_helpers`) found in any file count as guard and strip methods
    everywhere: files whose DML or @AuraEnabled findings may depend on one are scanned again once all are known.

    A path that does not exist raises FileNotFoundError: the caller decides whether that is a usage error."""
    config = config or ScanConfig()
    base = Path(root or Path.cwd()).resolve()
    files = list(discover(paths))
    results: dict[Path, _FileResult] = {}
    errors: list[ScanError] = []
    learned = Learned()
    for path in files:
        label = display_path(path, base)
        try:
            source = path.read_bytes()
        except OSError as exc:
            errors.append(ScanError(label, 1, 1, "read-error", f"cannot read: {exc.strerror or exc}"))
            continue
        results[path] = _scan_one(source, label, config, learned, path)
    learned.find_record_methods(set().union(*(r.wants for r in results.values())), config, _parse_file)
    extended = learned.extend(config)
    if extended is not config:
        # A file may depend on a learned Class.method only when it names both (`Cls.m(`, `new Cls().m(`, `c.m(`).
        added = [
            (cls.encode(), b"." + method.encode())
            for cls, _, method in (
                name.lower().rpartition(".") for name in (*learned.guards, *learned.strips, *learned.record_methods)
            )
        ]
        new_enums = [name.encode() for name in extended.safe_types - config.safe_types]
        for path, result in results.items():
            rules = {f.rule for f in result.findings}
            if not rules & _HELPER_DEPENDENT and "soql-injection" not in rules:
                continue
            source = path.read_bytes().lower()
            if (rules & _HELPER_DEPENDENT and any(m in source and c in source for c, m in added)) or (
                "soql-injection" in rules and any(name in source for name in new_enums)
            ):
                results[path] = _scan_one(path.read_bytes(), result.label, extended)
    collected = _Collected(errors=errors)
    for result in results.values():
        collected.add(result)
    return collected.report(files=len(files))


_HELPER_DEPENDENT = {"dml-without-crud-check", "aura-without-strip"}


@dataclass
class _FileResult:
    label: str
    findings: list[Finding]
    errors: list[ScanError]
    suppressed: int
    sharing: dict[str, tuple[bool, str]]  # class -> (declares sharing, superclass)
    inheriting: list[tuple[Finding, str]]  # sharing-not-declared findings on subclasses, with the parent's name
    wants: set[str] = field(default_factory=set)  # `cls.method`s whose records its aura findings come from


@dataclass
class _Collected:
    """Results of several files; a subclass whose parent (in any scanned file) declares sharing is not reported."""

    findings: list[Finding] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)
    suppressed: int = 0
    sharing: dict[str, tuple[bool, str]] = field(default_factory=dict)
    inheriting: list[tuple[Finding, str]] = field(default_factory=list)

    def add(self, result: _FileResult) -> None:
        self.findings.extend(result.findings)
        self.errors.extend(result.errors)
        self.suppressed += result.suppressed
        for name, entry in result.sharing.items():
            self.sharing.setdefault(name, entry)
        self.inheriting.extend(result.inheriting)

    def report(self, files: int) -> ScanReport:
        inherited = {id(f) for f, parent in self.inheriting if inherits_sharing(parent, self.sharing)}
        findings = [f for f in self.findings if id(f) not in inherited]
        return ScanReport(tuple(sorted(findings)), files, tuple(sorted(self.errors)), self.suppressed)


def discover(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Apex files (.cls, .trigger) under `paths`, sorted, each once. Other files named explicitly are skipped, so
    `cutover scan apex $(git diff --name-only main)` works."""
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise FileNotFoundError(str(raw))
        if path.is_file():
            candidates: list[Path] = [path] if path.name.lower().endswith(APEX_SUFFIXES) else []
        else:
            candidates = []
            for folder, subfolders, files in os.walk(path):
                subfolders[:] = sorted(d for d in subfolders if d not in SKIPPED_FOLDERS)
                candidates.extend(Path(folder, f) for f in files if f.lower().endswith(APEX_SUFFIXES))
        for candidate in sorted(candidates):
            key = candidate.resolve()
            if key not in seen:
                seen.add(key)
                yield candidate


def display_path(path: Path, base: Path) -> str:
    resolved = path.resolve()
    try:
        return resolved.relative_to(base).as_posix()
    except ValueError:
        return resolved.as_posix()


def _scan_one(
    source: bytes, label: str, config: ScanConfig, learned: Learned | None = None, path: Path | None = None
) -> _FileResult:
    """Scan one file; with `learned`, also note what the file tells about the project (see Learned)."""
    source = source.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 BOM (Windows editors) would shift line 1's columns
    try:
        model = parse(source, label)
        if learned is not None:
            learned.learn(model, config, path)
        return _rules_on(model, label, config)
    finally:
        clear_caches()


def clear_caches() -> None:
    """The per-call caches hold nodes, and nodes hold their tree: let a file's tree go."""
    invocation_parts.cache_clear()
    dynamic_query_argument.cache_clear()


def _parse_file(path: Path) -> ApexFile:
    return parse(path.read_bytes().removeprefix(b"\xef\xbb\xbf"), str(path))


def _rules_on(model: ApexFile, label: str, config: ScanConfig) -> _FileResult:
    result = _FileResult(label, [], _syntax_errors(model), 0, model.sharing_table(), [])
    seen: set[tuple[str, int, int]] = set()
    for hit in run_rules(model, config):
        line, column = model.position(hit.node)
        key = (hit.rule, line, column)
        if key in seen:
            continue
        seen.add(key)
        if _is_suppressed(hit) or hit.rule in (ignored := model.ignored_rules(line)) or "*" in ignored:
            result.suppressed += 1
            continue
        finding = Finding(label, line, column, hit.rule, hit.message, config.severity(hit.rule))
        result.findings.append(finding)
        if hit.superclass:
            result.inheriting.append((finding, hit.superclass))
        result.wants.update(hit.wants)
    return result


def _is_suppressed(hit: Hit) -> bool:
    active = hit.unit.suppressions if hit.unit is not None else hit.owner.suppressions
    return hit.rule in active or "*" in active


def _syntax_errors(model: ApexFile) -> list[ScanError]:
    if not model.syntax_errors:
        return []
    first = min(model.syntax_errors, key=lambda n: n.start_byte)
    line, column = model.position(first)
    count = len(model.syntax_errors)
    what = "missing " + first.type if first.is_missing else "unexpected syntax"
    more = f" ({count} syntax errors in the file)" if count > 1 else ""
    message = f"{what}; rules ran on the parts that parsed, findings may be incomplete{more}"
    return [ScanError(model.path, line, column, "parse-error", message)]
