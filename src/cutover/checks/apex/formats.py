"""Render a ScanReport as text (`path:line:col: rule: message`), JSON, or SARIF 2.1.0 for GitHub code scanning."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from cutover import __version__
from cutover.checks.apex.config import ScanConfig
from cutover.checks.apex.findings import PARSE_ERROR_HELP, RULES, ScanReport

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SEVERITY = {
    "soql-injection": "8.8",
    "dml-without-crud-check": "6.5",
    "aura-without-strip": "6.5",
    "soql-not-enforced": "5.3",
    "sharing-not-declared": "4.3",
}
INFORMATION_URI = "https://github.com/cutover-dev/cutover#apex-security-scanner"


def render_text(report: ScanReport) -> str:
    lines = [f"{f.file}:{f.line}:{f.column}: {f.rule} ({f.severity}): {f.message}" for f in report.findings]
    lines += [f"{e.file}:{e.line}:{e.column}: {e.kind} (warning): {e.message}" for e in report.errors]
    files_with = len({f.file for f in report.findings})
    noun = "file" if report.files == 1 else "files"
    if report.findings:
        errors, warnings = len(report.failing), len(report.warnings)
        counted = f"{errors} error(s), {warnings} warning(s)" if warnings else f"{errors} error(s)"
        summary = f"{len(report.findings)} finding(s) ({counted}) in {files_with} of {report.files} {noun} scanned"
    else:
        summary = f"no findings in {report.files} {noun} scanned"
    extras = []
    if report.suppressed:
        extras.append(f"{report.suppressed} suppressed")
    if report.errors:
        extras.append(f"{len(report.errors)} file(s) not fully parsed")
    lines.append(summary + (f" ({', '.join(extras)})" if extras else ""))
    return "\n".join(lines)


def render_rules(config: ScanConfig) -> str:
    """`cutover scan apex --list-rules`: each rule id, its severity under `config`, and what it reports."""
    width = max(len(rule_id) for rule_id in RULES)
    lines = [f"{rule.id:<{width}}  {config.severity(rule.id):<7}  {rule.short}" for rule in RULES.values()]
    lines.append("severity: error fails the gate and the command, warning is only reported, off does not run")
    lines.append("(change it in cutover.yaml: security.rules: {RULE: error|warning|off})")
    return "\n".join(lines)


def render_json(report: ScanReport) -> str:
    return json.dumps(report.to_json(), indent=2)


def sarif_log(report: ScanReport, config: ScanConfig | None = None) -> dict[str, object]:
    """A SARIF 2.1.0 log with one run. URIs are the report's relative, forward-slash paths (GitHub resolves them
    against the repository root, so scan from there or pass -C)."""
    config = config or ScanConfig()
    rule_ids = [
        rule_id for rule_id in RULES if rule_id in config.rules or any(f.rule == rule_id for f in report.findings)
    ]
    rules = [
        {
            "id": rule.id,
            "name": "".join(part.capitalize() for part in rule.id.split("-")),
            "shortDescription": {"text": rule.short},
            "fullDescription": {"text": rule.full},
            "help": {"text": rule.help, "markdown": rule.help},
            "defaultConfiguration": {"level": _level(config.severity(rule.id), rule.level)},
            # GitHub ranks security alerts by this CVSS-like score (critical >= 9, high >= 7, medium >= 4).
            "properties": {"tags": ["security", "apex", "salesforce"], "security-severity": SEVERITY[rule.id]},
        }
        for rule in (RULES[r] for r in rule_ids)
    ]
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    results = [
        {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": f.severity,
            "message": {"text": f.message},
            "locations": [_location(f.file, f.line, f.column)],
        }
        for f in report.findings
        if f.rule in index
    ]
    notifications = [
        {
            "level": "warning",
            "message": {"text": f"{e.kind}: {e.message}" + (f" {PARSE_ERROR_HELP}" if e.kind == "parse-error" else "")},
            "locations": [_location(e.file, e.line, e.column)],
        }
        for e in report.errors
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "cutover",
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notifications}],
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def _level(severity: str, default: str) -> str:
    return severity if severity in ("error", "warning") else default


def _uri(path: str) -> str:
    """A SARIF artifact URI: relative paths stay relative (percent-encoded), absolute ones become file:// URIs."""
    if path.startswith("/"):
        return Path(path).as_uri()
    return quote(path, safe="/")


def _location(path: str, line: int, column: int) -> dict[str, object]:
    uri = _uri(path)
    region = {"startLine": line, "startColumn": column}
    return {"physicalLocation": {"artifactLocation": {"uri": uri}, "region": region}}


def render_sarif(report: ScanReport, config: ScanConfig | None = None) -> str:
    return json.dumps(sarif_log(report, config), indent=2)
