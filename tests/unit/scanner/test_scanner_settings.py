"""Settings a project controls: generic defaults, messages naming the project's own helpers, rule severities
(`security.rules`, `--warn`, `--list-rules`) and per-line suppression."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cutover.checks.apex import RULE_IDS, ScanConfig, scan_source
from cutover.checks.apex.config import ScanConfigError
from cutover.checks.apex.formats import render_text, sarif_log
from cutover.cli import main
from cutover.runbook.models import SecurityConfig

SERVICE = """public with sharing class OrderService {
    public void place(List<Order__c> orders) {
        insert orders;
    }
    public void sync(List<Order__c> orders) {
        upsert orders Order__c.External_Id__c;
    }
    public void purge(List<SObject> rows) {
        Database.delete(rows);
    }
    public List<Order__c> open() {
        return [SELECT Id FROM Order__c];
    }
}
"""


def _messages(config: ScanConfig) -> dict[int, str]:
    return {f.line: f.message for f in scan_source(SERVICE, "OrderService.cls", config).findings}


def test_defaults_name_nothing_project_specific() -> None:
    config = ScanConfig()
    assert config.guard_methods == ()
    assert config.strip_methods == ("Security.stripInaccessible",)
    assert config.rules == frozenset(RULE_IDS) and config.warning_rules == frozenset()


def test_without_configured_helpers_messages_name_the_platforms_own_checks() -> None:
    messages = _messages(ScanConfig())
    assert messages[3] == (
        "insert of Order__c in method OrderService.place has no CRUD check before it: check "
        "Schema.sObjectType.Order__c.isCreateable() or strip the records with "
        "Security.stripInaccessible(AccessType.CREATABLE, orders) first, or run it in user mode: "
        "'insert as user orders;' / Database.insert(orders, AccessLevel.USER_MODE)"
    )
    assert "Schema.sObjectType.Order__c.isCreateable() and Schema.sObjectType.Order__c.isUpdateable()" in messages[6]
    assert "AccessType.UPSERTABLE" in messages[6]
    assert messages[9].startswith(
        "Database.delete in method OrderService.purge has no CRUD check before it: check "
        "rows.getSObjectType().getDescribe().isDeletable() first"
    )
    assert "stripInaccessible" not in messages[9]  # stripping fields does not make a delete safe
    assert "WITH SECURITY_ENFORCED or WITH USER_MODE" in messages[12]
    assert not any("Elaro" in message for message in messages.values())


def test_with_configured_helpers_messages_name_them() -> None:
    config = ScanConfig(guard_methods=("AcmeSecurity.checkCrud",), strip_methods=("AcmeSecurity.strip",))
    message = _messages(config)[3]
    assert message.startswith(
        "insert of Order__c in method OrderService.place has no CRUD check before it: call AcmeSecurity.checkCrud(), "
        "Schema.sObjectType.Order__c.isCreateable() or strip the records with AcmeSecurity.strip() or "
        "Security.stripInaccessible(AccessType.CREATABLE, orders) first"
    )


def test_an_upsert_with_one_check_says_which_is_missing() -> None:
    source = """public with sharing class A {
    void a(List<Account> rows) { if (Schema.sObjectType.Account.isCreateable()) { upsert rows; } }
    void b(List<Account> rows) { if (Schema.sObjectType.Account.isUpdateable()) { upsert rows; } }
    void c(List<Account> rows) { if (Schema.sObjectType.Account.isAccessible()) { upsert rows; } }
}
"""
    first, second, third = scan_source(source, "A.cls").findings
    assert third.message.startswith("upsert of Account in method A.c has neither a create nor an update check")
    assert "has a create check but no update check" in first.message
    assert "Schema.sObjectType.Account.isUpdateable()" in first.message
    assert "has an update check but no create check" in second.message
    assert "Schema.sObjectType.Account.isCreateable()" in second.message


def test_trigger_records_are_named_by_the_triggers_object() -> None:
    source = "trigger OrderTrigger on Order__c (after insert) { update Trigger.new; }\n"
    [finding] = scan_source(source, "OrderTrigger.trigger").findings
    assert finding.message.startswith("update of Order__c in trigger OrderTrigger has no CRUD check")


# --- severities ------------------------------------------------------------------------------------------------


def test_security_rules_turn_rules_off_and_into_warnings() -> None:
    config = ScanConfig.from_mapping(
        {"rules": {"soql-not-enforced": "warning", "dml-without-crud-check": "off", "sharing-not-declared": "error"}}
    )
    assert config.severity("soql-not-enforced") == "warning"
    assert config.severity("dml-without-crud-check") == "off"
    assert config.severity("soql-injection") == "error"
    report = scan_source(SERVICE, "OrderService.cls", config)
    assert [(f.rule, f.line, f.severity) for f in report.findings] == [("soql-not-enforced", 12, "warning")]
    assert report.ok and report.failing == () and len(report.warnings) == 1
    assert render_text(report).splitlines() == [
        "OrderService.cls:12:16: soql-not-enforced (warning): SOQL query in method OrderService.open has no "
        "WITH SECURITY_ENFORCED or WITH USER_MODE",
        "1 finding(s) (0 error(s), 1 warning(s)) in 1 of 1 file scanned",
    ]
    assert report.to_json()["findings"][0]["severity"] == "warning"  # type: ignore[index]
    sarif = sarif_log(report, config)
    run = sarif["runs"][0]  # type: ignore[index]
    assert run["results"][0]["level"] == "warning"
    levels = {r["id"]: r["defaultConfiguration"]["level"] for r in run["tool"]["driver"]["rules"]}
    assert levels["soql-not-enforced"] == "warning" and levels["soql-injection"] == "error"
    assert "dml-without-crud-check" not in levels


def test_settings_the_runbook_leaves_out_get_the_generic_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = ScanConfig.from_mapping(SecurityConfig())  # a runbook without a security section
    assert config == ScanConfig()
    (tmp_path / "cutover.yaml").write_text("target:\n  alias: production\n", encoding="utf-8")
    (tmp_path / "force-app").mkdir()
    (tmp_path / "force-app" / "OrderService.cls").write_text(SERVICE, encoding="utf-8")
    assert main(["-C", str(tmp_path), "scan", "apex"]) == 1
    out = capsys.readouterr().out
    assert "Schema.sObjectType.Order__c.isCreateable()" in out and "Elaro" not in out


def test_security_rules_from_the_runbook_model() -> None:
    security = SecurityConfig(crud_guards=["AcmeSecurity.checkCrud"], rules={"aura-without-strip": "warning"})
    config = ScanConfig.from_mapping(security)
    assert config.guard_methods == ("AcmeSecurity.checkCrud",)
    assert config.severity("aura-without-strip") == "warning"


@pytest.mark.parametrize(
    ("rules", "words"),
    [
        ({"soql-injecton": "off"}, ["soql-injecton", "known: soql-not-enforced"]),
        ({"soql-injection": "info"}, ["soql-injection", "'info'", "error, warning or off"]),
    ],
)
def test_unknown_rule_ids_and_severities_are_clear_errors(rules: dict[str, str], words: list[str]) -> None:
    with pytest.raises(ScanConfigError) as caught:
        ScanConfig.from_mapping({"rules": rules})
    assert all(word in str(caught.value) for word in words), str(caught.value)


def _project(tmp_path: Path, rules: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "cutover.yaml").write_text(
        f"target:\n  alias: production\nsecurity:\n  scan_paths: [src]\n{rules}", encoding="utf-8"
    )
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "OrderService.cls").write_text(SERVICE, encoding="utf-8")
    return tmp_path


def test_warnings_do_not_fail_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = _project(tmp_path, "  rules:\n    dml-without-crud-check: warning\n    soql-not-enforced: warning\n")
    assert main(["-C", str(project), "scan", "apex", "-f", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True
    assert {(f["rule"], f["severity"]) for f in data["findings"]} == {
        ("dml-without-crud-check", "warning"),
        ("soql-not-enforced", "warning"),
    }
    # The same project with one rule back at error fails; --warn on the command line makes it a warning again.
    assert main(["-C", str(project), "scan", "apex", "--rule", "soql-injection", "--rule", "soql-not-enforced"]) == 0
    assert main(["-C", str(project), "scan", "apex", "--disable", "soql-not-enforced"]) == 0
    capsys.readouterr()
    project_b = _project(tmp_path / "b", "")
    assert main(["-C", str(project_b), "scan", "apex"]) == 1
    assert main(["-C", str(project_b), "scan", "apex", "--warn", "dml-without-crud-check", "--warn",
                 "soql-not-enforced"]) == 0  # fmt: skip
    assert "dml-without-crud-check (warning)" in capsys.readouterr().out


def test_an_unknown_rule_in_the_runbook_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = _project(tmp_path, "  rules:\n    crud-check: warning\n")
    assert main(["-C", str(project), "scan", "apex"]) == 2
    assert "unknown Apex scanner rule(s) crud-check" in capsys.readouterr().err


def test_list_rules_shows_each_rule_with_its_severity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = _project(tmp_path, "  rules:\n    sharing-not-declared: off\n    soql-not-enforced: warning\n")
    assert main(["-C", str(project), "scan", "apex", "--list-rules"]) == 0
    lines = {line.split()[0]: line.split()[1] for line in capsys.readouterr().out.splitlines()[: len(RULE_IDS)]}
    assert lines == {
        "soql-not-enforced": "warning",
        "dml-without-crud-check": "error",
        "aura-without-strip": "error",
        "soql-injection": "error",
        "sharing-not-declared": "off",
    }


# --- suppression -----------------------------------------------------------------------------------------------

SUPPRESSED = """public with sharing class A {
    void a(List<Account> rows, String n) {
        insert rows; // cutover:ignore dml-without-crud-check -- rows come from a trusted integration user
        update rows; // cutover:ignore soql-injection
        // cutover:ignore-next-line soql-injection, soql-not-enforced -- n is validated against a picklist
        Database.query('SELECT Id FROM Account WHERE Name = \\'' + n + '\\'');
        Database.query('SELECT Id FROM Account WHERE Name = \\'' + n + '\\' WITH USER_MODE');
        delete rows; // cutover:ignore-next-line dml-without-crud-check
        undelete rows;
        // cutover:ignore
        merge rows[0] rows[1];
        upsert rows; // cutover:ignore dml-without-crud-chek
    }
    @SuppressWarnings('cutover:soql-injection, cutover:dml-without-crud-check')
    void b(String n) { delete rows(n); }
    List<Account> rows(String n) {
        return Database.query('SELECT Id FROM Account WHERE Name = ' + n + ' WITH USER_MODE');
    }
}
"""


def test_per_line_suppression() -> None:
    report = scan_source(SUPPRESSED, "A.cls")
    assert [(f.rule, f.line) for f in report.findings] == [
        ("dml-without-crud-check", 4),  # ignoring another rule silences nothing here
        ("soql-injection", 7),  # ignore-next-line covers one line only
        ("dml-without-crud-check", 8),  # a trailing ignore-next-line covers the next line, not its own
        ("dml-without-crud-check", 12),  # a misspelt rule id silences nothing
        ("soql-injection", 17),
    ]
    assert report.suppressed == 6
