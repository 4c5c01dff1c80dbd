"""The library API: `scan_source` for one text, `scan_paths` for files and folders (the preflight gate uses both)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from cutover.checks.apex.config import ScanConfig
from cutover.checks.apex.findings import Finding, ScanError, ScanReport
from cutover.checks.apex.rules import Hit, run_rules
from cutover.checks.apex.syntax import ApexFile, parse

APEX_SUFFIXES = (".cls", ".trigger")
SKIPPED_FOLDERS = {"node_modules", ".sfdx", ".sf", ".git"}


def scan_source(text: str | bytes, filename: str, config: ScanConfig | None = None) -> ScanReport:
    """Scan one Apex class or trigger. `filename` is only used to label findings."""
    config = config or ScanConfig()
    source = text.encode("utf-8") if isinstance(text, str) else text
    findings, errors, suppressed = _scan_one(source, filename, config)
    return ScanReport(tuple(sorted(findings)), 1, tuple(sorted(errors)), suppressed)


def scan_paths(
    paths: Iterable[str | Path], config: ScanConfig | None = None, *, root: str | Path | None = None
) -> ScanReport:
    """Scan every .cls/.trigger file under `paths` (files or folders). Findings name files relative to `root`
    (default: the current folder) with forward slashes, or absolute when outside it.

    A path that does not exist raises FileNotFoundError: the caller decides whether that is a usage error."""
    config = config or ScanConfig()
    base = Path(root or Path.cwd()).resolve()
    findings: list[Finding] = []
    errors: list[ScanError] = []
    suppressed = 0
    count = 0
    for path in discover(paths):
        count += 1
        label = display_path(path, base)
        try:
            source = path.read_bytes()
        except OSError as exc:
            errors.append(ScanError(label, 1, 1, "read-error", f"cannot read: {exc.strerror or exc}"))
            continue
        found, problems, silenced = _scan_one(source, label, config)
        findings.extend(found)
        errors.extend(problems)
        suppressed += silenced
    return ScanReport(tuple(sorted(findings)), count, tuple(sorted(errors)), suppressed)


def discover(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Apex files under `paths`, sorted, each once. A file named explicitly is scanned whatever its suffix."""
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise FileNotFoundError(str(raw))
        if path.is_file():
            candidates: list[Path] = [path]
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


def _scan_one(source: bytes, label: str, config: ScanConfig) -> tuple[list[Finding], list[ScanError], int]:
    model = parse(source, label)
    findings: list[Finding] = []
    suppressed = 0
    seen: set[tuple[str, int, int]] = set()
    for hit in run_rules(model, config):
        line, column = model.position(hit.node)
        key = (hit.rule, line, column)
        if key in seen:
            continue
        seen.add(key)
        if _is_suppressed(hit):
            suppressed += 1
            continue
        findings.append(Finding(label, line, column, hit.rule, hit.message))
    return findings, _syntax_errors(model), suppressed


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
