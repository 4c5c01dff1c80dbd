"""Apex security scanner: parses classes and triggers with tree-sitter's Apex grammar and reports SOQL without
enforcement, DML without CRUD/FLS checks, @AuraEnabled methods returning unstripped records, SOQL injection and
classes without a sharing declaration.

Library API (used by `cutover scan apex` and the preflight gate):

    from cutover.checks.apex import ScanConfig, scan_paths, scan_source
    report = scan_paths(["force-app"], ScanConfig.from_mapping(runbook_security_section))
    report.findings  # tuple[Finding(file, line, column, rule, message)], sorted
    report.errors    # tuple[ScanError]: unreadable files, parse errors (rules still ran on what parsed)
    report.ok        # no finding of a rule whose severity (runbook `security.rules`) is error
"""

from cutover.checks.apex.config import RULE_IDS, ScanConfig, ScanConfigError
from cutover.checks.apex.findings import RULES, Finding, RuleInfo, ScanError, ScanReport
from cutover.checks.apex.scanner import discover, scan_paths, scan_source

__all__ = [
    "RULES",
    "RULE_IDS",
    "Finding",
    "RuleInfo",
    "ScanConfig",
    "ScanConfigError",
    "ScanError",
    "ScanReport",
    "discover",
    "scan_paths",
    "scan_source",
]
