"""`cutover scan apex` formats and exit codes, the library API on folders, parse errors, and configuration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cutover.checks.apex import Finding, ScanConfig, scan_paths, scan_source
from cutover.checks.apex.formats import sarif_log
from cutover.cli import main

BAD_CLASS = """public class Bad {
    public void save(List<Account> rows) {
        update rows;
    }
}
"""
GOOD_CLASS = """public with sharing class Good {
    @AuraEnabled
    public static List<Account> load() {
        return [SELECT Id FROM Account WITH USER_MODE];
    }
}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    classes = tmp_path / "force-app" / "main" / "default" / "classes"
    classes.mkdir(parents=True)
    (classes / "Bad.cls").write_text(BAD_CLASS, encoding="utf-8")
    (classes / "Good.cls").write_text(GOOD_CLASS, encoding="utf-8")
    ignored = tmp_path / "force-app" / "node_modules" / "pkg"
    ignored.mkdir(parents=True)
    (ignored / "Vendored.cls").write_text(BAD_CLASS, encoding="utf-8")
    (tmp_path / "force-app" / ".sfdx").mkdir()
    (tmp_path / "force-app" / ".sfdx" / "Cached.cls").write_text(BAD_CLASS, encoding="utf-8")
    (classes / "Good.cls-meta.xml").write_text("<ApexClass/>", encoding="utf-8")
    return tmp_path


def test_text_output_and_exit_code_1_on_findings(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["-C", str(project), "scan", "apex", "force-app"])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    bad = "force-app/main/default/classes/Bad.cls"
    assert out[:2] == [
        f"{bad}:1:14: sharing-not-declared (error): class Bad declares no sharing mode: add 'with sharing', "
        "'inherited sharing' or 'without sharing'",
        f"{bad}:3:9: dml-without-crud-check (error): update of Account in method Bad.save has no CRUD check before "
        "it: check Schema.sObjectType.Account.isUpdateable() or strip the records with "
        "Security.stripInaccessible(AccessType.UPDATABLE, rows) first, or run it in user mode: 'update as user "
        "rows;' / Database.update(rows, AccessLevel.USER_MODE)",
    ]
    assert out[-1] == "2 finding(s) (2 error(s)) in 1 of 2 files scanned"


def test_json_output(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["-C", str(project), "scan", "apex", "force-app", "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert data["files"] == 2
    assert [(f["rule"], f["file"], f["line"], f["column"]) for f in data["findings"]] == [
        ("sharing-not-declared", "force-app/main/default/classes/Bad.cls", 1, 14),
        ("dml-without-crud-check", "force-app/main/default/classes/Bad.cls", 3, 9),
    ]
    assert all(f["message"] for f in data["findings"])


def test_exit_0_without_findings(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = "force-app/main/default/classes/Good.cls"
    assert main(["-C", str(project), "scan", "apex", good]) == 0
    assert capsys.readouterr().out.strip() == "no findings in 1 file scanned"


def test_missing_path_is_a_usage_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(project), "scan", "apex", "force-app", "no-such-dir"]) == 2
    assert "no such file or folder: no-such-dir" in capsys.readouterr().err


def test_unknown_rule_and_format_are_usage_errors(project: Path) -> None:
    assert main(["-C", str(project), "scan", "apex", "force-app", "--disable", "nope"]) == 2
    assert main(["-C", str(project), "scan", "apex", "force-app", "--format", "xml"]) == 2


def test_disable_and_only_rules(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["-C", str(project), "scan", "apex", "force-app", "-f", "json"]
    assert main([*args, "--disable", "sharing-not-declared"]) == 1
    rules = [f["rule"] for f in json.loads(capsys.readouterr().out)["findings"]]
    assert rules == ["dml-without-crud-check"]
    assert main([*args, "--rule", "soql-injection"]) == 0


def _check_sarif(log: dict) -> None:
    """Hand-written check of what GitHub code scanning requires of a SARIF 2.1.0 upload."""
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    assert isinstance(log["runs"], list) and len(log["runs"]) == 1
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "cutover" and driver["informationUri"].startswith("https://")
    rule_ids = [r["id"] for r in driver["rules"]]
    assert len(rule_ids) == len(set(rule_ids))
    for rule in driver["rules"]:
        for key in ("shortDescription", "fullDescription", "help"):
            assert isinstance(rule[key]["text"], str) and rule[key]["text"], (rule["id"], key)
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
        assert 0 < float(rule["properties"]["security-severity"]) <= 10
    for result in run["results"]:
        assert result["ruleId"] in rule_ids
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
        assert result["message"]["text"]
        for location in result["locations"]:
            physical = location["physicalLocation"]
            uri = physical["artifactLocation"]["uri"]
            assert not uri.startswith("/") and "\\" not in uri and ":" not in uri
            assert physical["region"]["startLine"] >= 1 and physical["region"]["startColumn"] >= 1


def test_sarif_output(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["-C", str(project), "scan", "apex", "force-app", "--format", "sarif"])
    log = json.loads(capsys.readouterr().out)
    assert code == 1
    _check_sarif(log)
    results = log["runs"][0]["results"]
    assert [(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in results] == [
        ("sharing-not-declared", 1),
        ("dml-without-crud-check", 3),
    ]
    uri = results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "force-app/main/default/classes/Bad.cls"


def test_sarif_carries_parse_errors_as_notifications() -> None:
    report = scan_source("public with sharing class X { void a() { insert x } }", "X.cls")
    log = sarif_log(report)
    _check_sarif(log)
    notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert len(notes) == 1 and notes[0]["message"]["text"].startswith("parse-error")


def test_output_file(project: Path) -> None:
    assert main(["-C", str(project), "scan", "apex", "force-app", "-f", "sarif", "--output-file", "out.sarif"]) == 1
    _check_sarif(json.loads((project / "out.sarif").read_text(encoding="utf-8")))


def test_scan_paths_skips_tool_folders_and_sorts(project: Path) -> None:
    report = scan_paths([project / "force-app"], root=project)
    assert report.files == 2
    assert {f.file for f in report.findings} == {"force-app/main/default/classes/Bad.cls"}
    assert list(report.findings) == sorted(report.findings)
    assert all(isinstance(f, Finding) for f in report.findings)


def test_scan_paths_missing_path_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        scan_paths([tmp_path / "absent"])


def test_broken_file_still_gets_findings_and_a_parse_error() -> None:
    source = """public with sharing class Broken {
    void a() { insert x }
    void b() { List<Account> r = [SELECT Id FROM Account]; }
    void c( { }
}
"""
    report = scan_source(source, "Broken.cls")
    assert ("soql-not-enforced", 3) in [(f.rule, f.line) for f in report.findings]
    assert len(report.errors) == 1 and report.errors[0].kind == "parse-error"


@pytest.mark.parametrize("garbage", ["", "}}}}", "class", "trigger on (", "\x00\xff binary", "public class X {" * 50])
def test_garbage_never_crashes(garbage: str) -> None:
    report = scan_source(garbage, "G.cls")
    assert report.files == 1


def test_config_from_runbook_section() -> None:
    config = ScanConfig.from_mapping(
        {
            "crud_guards": ["Guard.check()"],
            "strip_methods": ["Guard.strip"],
            "soql_enforcement": ["SECURITY_ENFORCED"],
            "skip_test_classes": False,
        }
    )
    assert config.guard_methods == ("Guard.check",)
    assert config.accepted_modes == frozenset({"security_enforced"})
    source = """public with sharing class A {
    void a() { List<Account> x = [SELECT Id FROM Account WITH USER_MODE]; }
    void b(List<Account> r) { Guard.check(r); insert r; }
}
"""
    assert [(f.rule, f.line) for f in scan_source(source, "A.cls", config).findings] == [("soql-not-enforced", 2)]
    with pytest.raises(ValueError):
        ScanConfig(soql_enforcement="sometimes")
    with pytest.raises(ValueError):
        ScanConfig(rules=frozenset({"no-such-rule"}))


def test_test_classes_scanned_when_configured() -> None:
    source = "@IsTest private class T { @IsTest static void t() { insert new Account(); } }"
    assert scan_source(source, "T.cls").findings == ()
    findings = scan_source(source, "T.cls", ScanConfig(skip_test_classes=False)).findings
    assert [f.rule for f in findings] == ["sharing-not-declared", "dml-without-crud-check"]


def test_byte_order_mark_and_crlf_do_not_shift_positions() -> None:
    source = "\ufeffpublic class A {\r\n    void a() { delete [SELECT Id FROM Account]; }\r\n}\r\n"
    findings = [(f.rule, f.line, f.column) for f in scan_source(source, "A.cls").findings]
    assert findings == [
        ("sharing-not-declared", 1, 14),
        ("dml-without-crud-check", 2, 16),
        ("soql-not-enforced", 2, 23),
    ]


def test_columns_count_characters_not_bytes() -> None:
    source = "public with sharing class A { void a() { String s = 'é'; delete [SELECT Id FROM Account]; } }"
    finding = next(f for f in scan_source(source, "A.cls").findings if f.rule == "soql-not-enforced")
    assert finding.column == source.index("[SELECT") + 1


def test_settings_and_default_paths_come_from_the_runbook(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "cutover.yaml").write_text(
        "target:\n  alias: production\nsecurity:\n  soql_enforcement: [USER_MODE]\n  scan_paths: [src]\n",
        encoding="utf-8",
    )
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "A.cls").write_text(
        "public with sharing class A {\n"
        "    void a() { List<Account> x = [SELECT Id FROM Account WITH SECURITY_ENFORCED]; }\n"
        "    void b() { List<Account> y = [SELECT Id FROM Account WITH USER_MODE]; }\n"
        "}\n",
        encoding="utf-8",
    )
    assert main(["-C", str(tmp_path), "scan", "apex", "-f", "json"]) == 1
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert [(f["file"], f["line"], f["rule"]) for f in findings] == [("src/A.cls", 2, "soql-not-enforced")]


def test_no_path_and_no_runbook_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["-C", str(tmp_path), "scan", "apex"]) == 2


def test_pathological_shapes_stay_fast_and_correct() -> None:
    terms = " + ".join(["'x'"] * 3000 + ["name"])
    rebuilt = "\n".join(
        "        q = q + ' AND Name != \\'' + String.escapeSingleQuotes(v) + '\\'';" for _ in range(200)
    )
    nested = "if (true) { " * 300 + "update r;" + " }" * 300
    source = f"""public with sharing class P {{
    void concat(String name) {{ List<Account> a = Database.query({terms}, AccessLevel.USER_MODE); }}
    void chain(String v, String tail) {{
        String q = 'SELECT Id FROM Account WHERE Id != null';
{rebuilt}
        q = q + tail;
        List<Account> b = Database.query(q, AccessLevel.USER_MODE);
    }}
    void deep(List<Account> r) {{ {nested} }}
    String ping(String s) {{ return pong(s); }}
    String pong(String s) {{ return ping(s) + s; }}
    void cycle(String s) {{ List<Account> c = Database.query(ping(s), AccessLevel.USER_MODE); }}
}}
"""
    findings = [(f.rule, f.line) for f in scan_source(source, "P.cls").findings]
    assert ("soql-injection", 2) in findings
    assert ("soql-injection", 205) in findings  # `tail`, after 200 escaped rebuilds
    assert ("dml-without-crud-check", 208) in findings
    assert ("soql-injection", 211) in findings  # through the ping/pong cycle


def test_sharing_is_inherited_from_a_parent_in_another_file(tmp_path: Path) -> None:
    (tmp_path / "Base.cls").write_text("public inherited sharing abstract class Base { }\n", encoding="utf-8")
    (tmp_path / "Middle.cls").write_text("public virtual class Middle extends Base { }\n", encoding="utf-8")
    (tmp_path / "Leaf.cls").write_text("public class Leaf extends Middle { }\n", encoding="utf-8")
    (tmp_path / "Loose.cls").write_text("public class Loose extends fflib_SObjectDomain { }\n", encoding="utf-8")
    report = scan_paths([tmp_path], root=tmp_path)
    assert [(f.file, f.rule) for f in report.findings] == [("Loose.cls", "sharing-not-declared")]
    assert "fflib_sobjectdomain is not among the scanned files" in report.findings[0].message
    alone = scan_paths([tmp_path / "Leaf.cls"], root=tmp_path)
    assert [f.file for f in alone.findings] == ["Leaf.cls"]


def test_injection_message_names_the_variable_and_its_origin() -> None:
    source = """public with sharing class Api {
    public static List<Account> find() {
        String fw = RestContext.request.params.get('framework');
        String soql = 'SELECT Id FROM Account WHERE Type = \\'' + fw + '\\' WITH USER_MODE';
        return Database.query(soql);
    }
}
"""
    (finding,) = scan_source(source, "Api.cls").findings
    column = source.splitlines()[3].index("fw") + 1
    assert (finding.rule, finding.line, finding.column) == ("soql-injection", 4, column)
    assert "variable 'fw' (from the result of RestContext.request.params.get(), line 3)" in finding.message
    assert "Database.query (line 5)" in finding.message


def test_non_apex_files_are_skipped_with_a_warning(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "README.md").write_text("SELECT Id FROM Account; insert x;\n", encoding="utf-8")
    assert main(["-C", str(project), "scan", "apex", "README.md", "-f", "json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["files"] == 0
    assert "warning: no .cls or .trigger files in README.md" in captured.err


def test_sarif_uris_are_encoded_and_absolute_paths_become_file_uris() -> None:
    from cutover.checks.apex import ScanReport

    report = ScanReport(
        findings=(
            Finding("force-app/my classes/A.cls", 3, 5, "soql-not-enforced", "m"),
            Finding("/elsewhere/B.cls", 1, 1, "soql-injection", "m"),
        ),
        files=2,
    )
    uris = [
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in sarif_log(report)["runs"][0]["results"]
    ]
    assert uris == ["force-app/my%20classes/A.cls", "file:///elsewhere/B.cls"]


def test_the_projects_own_security_helpers_are_recognised_across_files(tmp_path: Path) -> None:
    (tmp_path / "Access.cls").write_text(
        """public with sharing class Access {
    public static void canWrite(Schema.SObjectType t) {
        if (!t.getDescribe().isUpdateable()) { throw new NoAccessException(); }
    }
    public static List<SObject> readable(List<SObject> rows) {
        return Security.stripInaccessible(AccessType.READABLE, rows).getRecords();
    }
    public static void noop() { }
}
""",
        encoding="utf-8",
    )
    service = """public with sharing class Service {
    public void save(List<Account> rows) { Access.canWrite(Account.SObjectType); update rows; }
    public void sloppy(List<Account> rows) { Access.noop(); update rows; }
    @AuraEnabled
    public static List<Account> load() {
        List<Account> rows = [SELECT Id FROM Account WITH SECURITY_ENFORCED LIMIT 10];
        return (List<Account>) Access.readable(rows);
    }
    @AuraEnabled
    public static List<Account> loadRaw() { return Selector.accounts(); }
}
"""
    (tmp_path / "Service.cls").write_text(service, encoding="utf-8")
    together = scan_paths([tmp_path], root=tmp_path)
    assert [(f.file, f.rule, f.line) for f in together.findings] == [
        ("Service.cls", "dml-without-crud-check", 3),
        ("Service.cls", "aura-without-strip", 10),
    ]
    alone = scan_source(service, "Service.cls")
    assert [(f.rule, f.line) for f in alone.findings] == [
        ("dml-without-crud-check", 2),
        ("dml-without-crud-check", 3),
        ("aura-without-strip", 7),  # alone, Access.readable() is just some other class's method
        ("aura-without-strip", 10),
    ]
