"""What a scan produces: findings (frozen, sortable), files that could not be fully read, and rule metadata."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Finding:
    """One problem at `file:line:column` (1-based; the column counts Unicode code points)."""

    file: str
    line: int
    column: int
    rule: str
    message: str = field(compare=False)
    severity: str = field(default="error", compare=False)  # "error" fails the gate; "warning" is only reported

    def to_json(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "message": self.message,
        }


@dataclass(frozen=True, order=True)
class ScanError:
    """A file that could not be read, or whose syntax the parser did not fully understand (`parse-error`).

    Rules still ran on the parts of the file that parsed; the error says the result may be incomplete."""

    file: str
    line: int
    column: int
    kind: str  # "parse-error" | "read-error"
    message: str = field(compare=False)

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "file": self.file, "line": self.line, "column": self.column, "message": self.message}


@dataclass(frozen=True)
class ScanReport:
    findings: tuple[Finding, ...]
    files: int
    errors: tuple[ScanError, ...] = ()
    suppressed: int = 0  # findings silenced by @SuppressWarnings('cutover:...') or // cutover:ignore

    @property
    def failing(self) -> tuple[Finding, ...]:
        """Findings of rules whose severity is error: these fail the gate and the command."""
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity != "error")

    @property
    def ok(self) -> bool:
        """No error-severity findings (warnings do not count)."""
        return not self.failing

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "findings": [f.to_json() for f in self.findings],
            "files": self.files,
            "errors": [e.to_json() for e in self.errors],
            "suppressed": self.suppressed,
        }


@dataclass(frozen=True)
class RuleInfo:
    id: str
    level: str  # the default severity (the runbook's security.rules changes it): "error" | "warning"
    short: str
    full: str
    help: str


RULES: dict[str, RuleInfo] = {
    rule.id: rule
    for rule in (
        RuleInfo(
            "soql-not-enforced",
            "error",
            "SOQL query without WITH SECURITY_ENFORCED or WITH USER_MODE",
            "A static SOQL/SOSL query, or dynamic SOQL run with Database.query/countQuery/queryWithBinds/"
            "getQueryLocator or Search.query, neither declares WITH SECURITY_ENFORCED / WITH USER_MODE nor "
            "passes AccessLevel.USER_MODE, so it reads records and fields the running user may not be allowed to see.",
            "Add WITH USER_MODE (or WITH SECURITY_ENFORCED) to the query, or pass AccessLevel.USER_MODE to the "
            "Database method. Suppress a deliberate system-mode query with "
            "@SuppressWarnings('cutover:soql-not-enforced') on the method or class, or a "
            "'// cutover:ignore soql-not-enforced' comment at the end of the line.",
        ),
        RuleInfo(
            "dml-without-crud-check",
            "error",
            "DML without a CRUD/FLS check before it",
            "An insert/update/upsert/delete/undelete/merge statement or Database DML call runs in a method that has "
            "no CRUD/FLS guard earlier in its body: a configured guard method, a Schema describe check "
            "(isCreateable/isUpdateable/isDeletable/isAccessible...), Security.stripInaccessible, a same-class "
            "helper that performs one of these, 'as user' DML, or AccessLevel.USER_MODE.",
            "Check the object first (Schema.sObjectType.Account.isCreateable() before an insert, isUpdateable() "
            "before an update, both before an upsert, isDeletable() before a delete), call a guard method the "
            "runbook names in security.crud_guards, strip the records with Security.stripInaccessible("
            "AccessType.CREATABLE/UPDATABLE/UPSERTABLE, records), or run the DML in user mode: 'insert as user "
            "records;' / Database.insert(records, AccessLevel.USER_MODE).",
        ),
        RuleInfo(
            "aura-without-strip",
            "error",
            "@AuraEnabled method returns records without stripping inaccessible fields",
            "An @AuraEnabled method returns records that come from a query (or a method call) that was neither "
            "run WITH USER_MODE / WITH SECURITY_ENFORCED nor passed through Security.stripInaccessible or a "
            "configured strip method, so Lightning components may receive fields the user cannot read.",
            "Return Security.stripInaccessible(AccessType.READABLE, records).getRecords(), call a strip method the "
            "runbook names in security.strip_methods on the records, or query WITH USER_MODE.",
        ),
        RuleInfo(
            "soql-injection",
            "error",
            "Dynamic SOQL concatenates unescaped input",
            "A string passed to Database.query/countQuery/queryWithBinds/getQueryLocator or Search.query is built "
            "by concatenating a value that is neither escaped with String.escapeSingleQuotes nor of a safe type "
            "(Integer, Long, Decimal, Double, Boolean, Id, Date, Datetime, Time), so a caller can change the query.",
            "Use a bind variable (WHERE Name = :name, or Database.queryWithBinds) instead of concatenation, or "
            "escape the value with String.escapeSingleQuotes.",
        ),
        RuleInfo(
            "sharing-not-declared",
            "error",
            "Class does not declare its sharing mode",
            "A class declares none of 'with sharing', 'without sharing' or 'inherited sharing', so whether record "
            "sharing applies depends on the caller. A class inheriting a mode from a scanned parent class is fine; "
            "inner classes and Exception subclasses are reported only when they query or change records themselves.",
            "Declare 'public with sharing class ...' (or 'inherited sharing' for utilities, 'without sharing' with "
            "a comment saying why).",
        ),
    )
}

PARSE_ERROR_HELP = "The file has syntax the Apex grammar did not understand; findings in it may be incomplete."
