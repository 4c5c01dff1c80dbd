"""The release record: content of every format, escaping, redaction, read-only rendering, tamper detection."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from report_helpers import TOKEN, Scripted, db, full_run, write_runbook

from cutover.cli import main
from cutover.engine import Engine, StepOutcome, StepSpec
from cutover.errors import StepFailed
from cutover.report import FORMATS, SCHEMA, build_record, render
from cutover.report.record import replay_state


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return tmp_path


def _all_formats(project: Path) -> dict[str, str]:
    record = build_record(project)
    return {fmt: render(record, fmt) for fmt in FORMATS}


# ---------------------------------------------------------------------------------------------------------------------
# content
# ---------------------------------------------------------------------------------------------------------------------


def test_record_of_a_full_run_has_every_section(project: Path) -> None:
    run_id = full_run(project)
    record = build_record(project)
    assert record["schema"] == SCHEMA
    run = record["run"]
    assert (run["id"], run["state"], run["target_org"]) == (run_id, "succeeded", "prod")
    assert (run["name"], run["release_version"], run["git_head"], run["git_tag"]) == (
        "Elaro report test",
        "3.0.7",
        "c0ffee",
        "v3.0.7",
    )
    assert run["runbook"]["sha256"] == hashlib.sha256((project / "cutover.yaml").read_bytes()).hexdigest()
    assert run["runbook"]["unchanged"] is True
    assert run["started"] and run["ended"] and run["duration_s"] is not None
    assert run["hosts"] and run["operators"][0]["event"] == "run.started"

    audit = record["audit"]
    assert audit["ok"] and audit["verified_events"] == audit["events"] > 10
    head_seq, head_hash = (project / ".cutover" / "runs" / run_id / "HEAD").read_text().split()
    assert audit["head_hash"] == head_hash and audit["anchored_head"]["seq"] == int(head_seq)

    statuses = {s["id"]: s["status"] for s in record["steps"]}
    assert statuses == {
        "preflight.lint": "passed",
        "preflight.docs": "waived",
        "signoff.security-review": "passed",
        "guard.org-identity": "passed",
        "backup.retrieve": "passed",
        "release.branch-tag": "passed",
        "validate.dry-run": "passed",
        "deploy.quick": "passed",
        "verify.apex-tests": "passed",
        "monitor.limits": "failed",
        "rollback.redeploy-backup": "skipped",
    }
    assert [s["position"] for s in record["steps"]] == list(range(1, 12))
    assert record["summary"]["counts"]["passed"] == 8 and record["summary"]["verdict"] == "released (with waivers)"

    [signoff] = record["signoffs"]
    assert (signoff["by"], signoff["role"], signoff["role_title"]) == (
        "Sam Secure",
        "security_reviewer",
        "Security Reviewer",
    )
    assert signoff["evidence"] == "https://tickets.example/SEC-1"
    [checklist] = record["checklists"]
    assert (checklist["step_id"], checklist["status"], checklist["evidence_required"]) == (
        "signoff.security-review",
        "passed",
        True,
    )
    assert [s["by"] for s in checklist["signed"]] == ["Sam Secure"]
    assert record["separation_of_duties"]["ok"] and record["separation_of_duties"]["checked"]
    assert ["deployment_lead", "security_reviewer"] in record["separation_of_duties"]["exclusive_roles"]
    [waiver] = record["waivers"]
    assert (waiver["step_id"], waiver["approver"]) == ("preflight.docs", "Dana Lead")
    assert record["gates"]["total"] == 3 and record["gates"]["counts"]["waived"] == 1

    org = record["org"]
    assert org["expected"]["org_id"] == org["actual"]["org_id"] == "00D000000000001AAA"
    assert org["guard_status"] == "passed"

    backup = record["backup"]
    archive = project / "backups" / "production-backup-1.tar.gz"
    assert backup["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert backup["archive_state"] == "ok"
    assert backup["added_by_release"] == ["ApexClass:ComplianceDashboardController"]

    validation, quick = record["deploy"]["validation"], record["deploy"]["quick_deploy"]
    assert validation["job_id"] == quick["validation_id"] == "0Af000000000VAL"
    assert quick["job_id"] == "0Af000000000DEP"
    assert quick["components"] == {
        "total": 3,
        "deployed": 3,
        "errors": 0,
        "failures": quick["components"]["failures"],
    }
    coverage = quick["coverage"]
    assert coverage["org_wide_pct"] == pytest.approx(83.33) and coverage["threshold"] == 85
    assert coverage["meets_threshold"] is False
    assert {c["name"]: (c["pct"], c["below_threshold"]) for c in coverage["classes"]} == {
        "ElaroLogger": (95.0, False),
        "ComplianceDashboardController": (60.0, True),
    }
    assert validation["criteria"][0]["name"] == "Status"

    assert [v["id"] for v in record["verification"]] == ["verify.apex-tests"]
    limits = {row["limit"]: (row["max_pct"], row["breached"]) for row in record["monitoring"]["limits"]}
    assert limits == {
        "soql": (12.5, False),
        "dml": (3.0, False),
        "cpu": (80.0, True),
        "heap": (20.0, False),
        "org:DailyApiRequests": (55.0, None),  # no org-limit threshold recorded: not judged
    }
    [alert] = record["monitoring"]["alerts"]
    assert (alert["id"], alert["severity"], alert["paged"]) == ("al-c0ffee", "HIGH", ["Deployment Lead"])
    assert alert["acknowledged_by"] == "Dana Lead" and alert["state"] == "acknowledged"
    window = record["monitoring"]["window"]
    assert (window["samples"], window["worst_severity"], window["interval_seconds"]) == (96, "HIGH", 900)
    assert record["rollback"]["triggered"] is False and len(record["rollback"]["steps"]) == 1

    evidence = record["evidence"]
    assert evidence and all(e["state"] == "ok" for e in evidence)
    for item in evidence:
        assert hashlib.sha256((project / item["path"]).read_bytes()).hexdigest() == item["sha256"]
    assert record["known_issues"][0]["title"] == "PDF Generation Timeout"
    lead = next(c for c in record["contacts"] if c["role"] == "deployment_lead")
    assert (lead["name"], lead["phone"]) == ("Dana Lead", "555-0100")
    escalation = record["escalation"]
    assert {"severity": "CRITICAL", "response_time": "15m", "path": ["Deployment Lead", "CTO"]} in escalation["path"]
    assert any(c["type"] == "slack" for c in escalation["channels"])
    assert all("url" not in c for c in escalation["channels"])


def test_markdown_html_and_junit_show_the_run(project: Path) -> None:
    run_id = full_run(project)
    out = _all_formats(project)
    markdown, html, junit = out["md"], out["html"], out["junit"]
    assert markdown.startswith("# Release record: Elaro report test 3.0.7 → prod")
    assert "Audit trail verified: " in markdown and "| 10 | monitor | monitor.limits |" in markdown
    assert "| 8 | deploy | deploy.quick | Quick deploy the validated package | automated | passed |" in markdown
    assert "| signoff.security-review | Sam Secure | Security Reviewer |" in markdown
    assert (
        "- [x] **Security review completed** (signoff.security-review, passed) — signed off by Sam Secure "
        "(security_reviewer) at " in markdown
    )
    assert "| preflight.docs | CHANGELOG follows in 3.0.8 | Dana Lead |" in markdown
    assert "83.3% (threshold 85%: NOT MET)" in markdown
    assert "| ComplianceDashboardController | Class | 10 | 6 | 60.0% (below) |" in markdown
    assert "| cpu | 80% | &lt; 75% | YES |" in markdown
    assert "| al-c0ffee | HIGH | CPU time 80% on prod | acknowledged |" in markdown
    assert "96 sample(s) every 15m00s, 1 breach(es), worst HIGH" in markdown
    assert "PDF Generation Timeout" in markdown and "Dana Lead" in markdown

    assert html.startswith("<!DOCTYPE html>") and "</html>" in html
    assert run_id in html and "Sam Secure" in html and "0Af000000000DEP" in html
    assert '<a href="https://tickets.example/SEC-1" rel="noopener noreferrer">' in html
    assert "http://" not in html.replace("http://www.w3.org", "") and "<link" not in html  # self-contained

    suites = ET.fromstring(junit.encode())
    cases = {case.get("name").split(":")[0]: case for case in suites.iter("testcase")}
    assert len(cases) == 12  # every step plus the audit check
    assert cases["monitor.limits"].find("failure") is not None
    assert "cpu 80%" in cases["monitor.limits"].find("failure").get("message")
    assert "Dana Lead" in cases["preflight.docs"].find("skipped").get("message")
    assert cases["rollback.redeploy-backup"].find("skipped") is not None
    assert cases["deploy.quick"].find("failure") is None and cases["deploy.quick"].find("skipped") is None
    assert cases["audit.verify"].find("failure") is None
    suite = suites.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("12", "1", "2")

    document = json.loads(out["json"])
    assert document == json.loads(json.dumps(build_record(project) | {"generated": document["generated"]}))


def test_json_schema_keys_are_stable(project: Path) -> None:
    full_run(project)
    document = json.loads(render(build_record(project), "json"))
    assert list(document) == [
        "schema", "generated", "run", "org", "audit", "anchors", "summary", "steps", "signoffs", "checklists",
        "separation_of_duties",
        "waivers", "gates", "release", "backup", "deploy", "verification", "monitoring", "rollback", "evidence",
        "known_issues", "contacts", "escalation", "notes",
    ]  # fmt: skip
    assert set(document["steps"][0]) == {
        "position", "id", "stage", "title", "kind", "action", "blocking", "contingency", "status", "started",
        "finished", "duration_s", "attempts", "detail", "external_ids", "evidence_count",
    }  # fmt: skip
    assert set(document["audit"]) >= {"ok", "events", "head_hash", "first_bad_event", "problems"}
    assert set(document["evidence"][0]) == {"step_id", "name", "path", "sha256", "size", "created", "state"}


# ---------------------------------------------------------------------------------------------------------------------
# escaping and redaction
# ---------------------------------------------------------------------------------------------------------------------


def test_evidence_text_is_escaped_in_html_and_markdown(project: Path) -> None:
    full_run(project)
    out = _all_formats(project)
    # The template itself has no script element: any "<script" would come from evidence text.
    assert "<script" not in out["html"].lower()
    assert "&lt;script&gt;alert(" in out["html"]
    assert "reviewed &lt;b&gt;all&lt;/b&gt; classes" in out["html"]  # a sign-off note is text, not markup
    assert "<script" not in out["md"].lower() and "&lt;script&gt;" in out["md"]
    ET.fromstring(out["junit"].encode())  # still well-formed XML


def test_a_token_in_evidence_never_reaches_any_format(project: Path) -> None:
    run_id = full_run(project)
    raw = (project / ".cutover" / "runs" / run_id / "evidence" / "deploy.quick" / "deploy-result.json").read_text()
    assert TOKEN in raw  # the evidence really holds the token (recorded unredacted on purpose)
    for fmt, text in _all_formats(project).items():
        assert TOKEN not in text, fmt
        assert "AQ8.fake.reporttoken" not in text, fmt
        if fmt != "junit":  # JUnit carries step details only, not the org name or deploy failures
            assert "[REDACTED]" in text, fmt


# ---------------------------------------------------------------------------------------------------------------------
# read-only
# ---------------------------------------------------------------------------------------------------------------------


def _snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under .cutover/ (except SQLite's transient -wal/-shm) with its content hash and mtime."""
    return {
        str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


def test_rendering_does_not_modify_the_store(project: Path) -> None:
    full_run(project)
    before = _snapshot(project / ".cutover")
    with db(project) as conn:
        rows_before = [conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("events", "steps", "runs")]
    assert main(["-C", str(project), "report", "--format", "html", "--output-file", str(project / "record.html")]) == 0
    for fmt in FORMATS:
        render(build_record(project), fmt)
    assert _snapshot(project / ".cutover") == before
    with db(project) as conn:
        rows_after = [conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("events", "steps", "runs")]
    assert rows_after == rows_before
    assert Engine(project).verify(build_record(project)["run"]["id"]).ok


def test_no_state_folder_is_a_usage_error_and_creates_nothing(project: Path) -> None:
    assert main(["-C", str(project), "report"]) == 2
    assert not (project / ".cutover").exists()


# ---------------------------------------------------------------------------------------------------------------------
# tampering
# ---------------------------------------------------------------------------------------------------------------------


def test_an_edited_event_renders_as_broken_in_every_format_and_exits_1(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    full_run(project)
    with db(project) as conn:
        seq = conn.execute(
            "SELECT seq FROM events WHERE type = 'step.finished' AND step_id = 'deploy.quick'"
        ).fetchone()[0]
        conn.execute(
            "UPDATE events SET payload = replace(payload, 'Succeeded', 'Succeded!') WHERE seq = ? AND step_id = ?",
            (seq, "deploy.quick"),
        )
    record = build_record(project)
    assert record["audit"]["ok"] is False and record["audit"]["first_bad_event"] == seq
    assert record["summary"]["verdict"].startswith("AUDIT TRAIL BROKEN")
    problem = record["audit"]["problems"][0]
    assert f"event #{seq} (step.finished deploy.quick)" in problem
    for fmt in FORMATS:
        output = project / f"record.{fmt}"
        assert main(["-C", str(project), "report", "--format", fmt, "--output-file", str(output)]) == 1, fmt
        text = output.read_text()
        assert "AUDIT TRAIL BROKEN" in text or "AuditBroken" in text, fmt
        assert f"event #{seq}" in text, fmt
        assert "Audit trail verified" not in text, fmt
    assert "audit trail does not verify" in capsys.readouterr().err
    junit = ET.fromstring((project / "record.junit").read_text().encode())
    audit_case = next(c for c in junit.iter("testcase") if c.get("name") == "audit.verify")
    assert audit_case.find("failure") is not None


def test_a_state_edit_the_chain_cannot_see_is_caught_by_replaying_the_log(project: Path) -> None:
    full_run(project)
    with db(project) as conn:
        conn.execute("UPDATE steps SET status = 'passed', detail = 'all good' WHERE step_id = 'monitor.limits'")
    record = build_record(project)
    assert record["audit"]["chain_ok"] is True  # the event rows themselves are intact
    assert record["audit"]["ok"] is False
    assert record["audit"]["state_problems"] == [
        "step monitor.limits is passed in state.db but failed according to the audit log"
    ]
    assert "AUDIT TRAIL BROKEN" in render(record, "md")


def test_a_modified_evidence_file_is_flagged_and_not_used(project: Path) -> None:
    run_id = full_run(project)
    path = project / ".cutover" / "runs" / run_id / "evidence" / "backup.retrieve" / "backup.json"
    path.write_text(path.read_text().replace("ComplianceDashboardController", "SomethingElse"))
    record = build_record(project)
    row = next(e for e in record["evidence"] if e["name"] == "backup.json")
    assert row["state"] == "modified" and record["audit"]["ok"] is False
    assert record["backup"]["recorded"] is False  # the tampered document is not shown as the backup
    assert any("backup.json (modified): not used" in note for note in record["notes"])
    assert "MODIFIED" in render(record, "md")


# ---------------------------------------------------------------------------------------------------------------------
# engine flows replay without false alarms
# ---------------------------------------------------------------------------------------------------------------------


def _specs() -> list[StepSpec]:
    return [
        StepSpec("a", "verify", "A", "t", on_failure="rollback"),
        StepSpec("b", "verify", "B", "t"),
        StepSpec("rb", "rollback", "Roll back", "t", contingency=True),
    ]


def test_retry_waive_and_rollback_flows_replay_cleanly(project: Path) -> None:
    write_runbook(project)
    engine = Engine(project)
    try:
        outcomes = {"a": StepOutcome.failed("boom")}
        executors = {
            "a": Scripted(lambda ctx: outcomes["a"]),
            "b": Scripted(lambda ctx: StepOutcome.failed("b broke")),
            "rb": Scripted(lambda ctx: StepOutcome.passed("restored 2 components")),
        }
        rolled = engine.create_run("prod", _specs(), runbook_path="cutover.yaml")
        with pytest.raises(StepFailed):
            engine.execute(rolled.id, executors)
        failed = engine.create_run("other", _specs(), runbook_path="cutover.yaml")
        outcomes["a"] = StepOutcome.passed("fine")
        with pytest.raises(StepFailed):
            engine.execute(failed.id, executors)
        engine.retry(failed.id, "b")
        engine.waive(failed.id, "b", reason="known flake", approver="Dana")
        engine.execute(failed.id, executors)
    finally:
        engine.close()
    rolled_back = build_record(project, rolled.id)
    assert rolled_back["run"]["state"] == "rolled_back" and rolled_back["audit"]["ok"], rolled_back["audit"]
    assert rolled_back["rollback"]["triggered"] is True
    assert [s["status"] for s in rolled_back["steps"]] == ["failed", "skipped", "passed"]
    assert "restored 2 components" in render(rolled_back, "md")
    recovered = build_record(project, failed.id)
    assert recovered["run"]["state"] == "succeeded" and recovered["audit"]["ok"], recovered["audit"]
    assert [s["status"] for s in recovered["steps"]] == ["passed", "waived", "skipped"]
    assert replay_state(Engine(project).events(failed.id))[0] == "succeeded"


def test_cli_report_of_a_run_started_from_a_runbook(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_runbook(
        project,
        "target: {alias: rehearsal, production: false}\nstages: [post_deploy]\nsignoffs: []\n"
        "custom_steps:\n  - {id: hello, after: post_deploy, run: [sh, -c, 'echo hi']}\n",
    )
    assert main(["-C", str(project), "run", "--yes"]) == 0
    capsys.readouterr()
    assert main(["-C", str(project), "report", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["audit"]["ok"] and document["run"]["state"] == "succeeded"
    assert [s["id"] for s in document["steps"]] == ["post_deploy.checklist-1w", "custom.hello"]
    assert main(["-C", str(project), "report", "nope"]) == 2


def test_who_ran_it_and_a_runbook_changed_since_the_run(project: Path) -> None:
    import getpass

    full_run(project)
    (project / "cutover.yaml").write_text(
        (project / "cutover.yaml").read_text().replace('version: "3.0.7"', 'version: "3.0.8"')
    )
    record = build_record(project)
    assert record["run"]["users"] == [getpass.getuser()]
    assert f"{getpass.getuser()}@" in render(record, "md")
    assert record["run"]["runbook"]["unchanged"] is False
    assert record["run"]["release_version"] == "3.0.8"
    assert any("changed since the run was created" in note for note in record["notes"])
    assert "CHANGED since the run" in render(record, "md") and "CHANGED since the run" in render(record, "html")


def test_a_forged_signoff_row_or_a_missing_head_anchor_is_not_clean(project: Path) -> None:
    run_id = full_run(project)
    with db(project) as conn:
        conn.execute(
            "INSERT INTO signoffs (run_id, step_id, by, role, note, evidence, at) VALUES (?,?,?,?,?,?,?)",
            (run_id, "signoff.security-review", "Mallory", "security_reviewer", None, "https://x", "2026-11-27T18:00Z"),
        )
    record = build_record(project)
    assert record["audit"]["ok"] is False
    assert record["audit"]["state_problems"] == [
        "sign-off of signoff.security-review by Mallory (security_reviewer) is in state.db but not in the audit log"
    ]
    with db(project) as conn:
        conn.execute("DELETE FROM signoffs WHERE by = 'Mallory'")
    assert build_record(project)["audit"]["ok"] is True
    (project / ".cutover" / "runs" / run_id / "HEAD").unlink()
    problems = build_record(project)["audit"]["problems"]
    assert len(problems) == 1 and problems[0].startswith(f"the HEAD anchor .cutover/runs/{run_id}/HEAD is missing")


def test_a_run_stopped_at_validation_claims_no_deploy(project: Path) -> None:
    from report_helpers import RULES, full_executors, full_specs

    write_runbook(project)
    engine = Engine(project)
    try:
        run = engine.create_run("prod", full_specs(), runbook_path="cutover.yaml")
        engine.signoff(
            run.id, "signoff.security-review", by="Sam", role="security_reviewer", evidence="https://e", rules=RULES
        )
        engine.waive(run.id, "preflight.docs", reason="later", approver="Dana Lead", rules=RULES)
        executors = full_executors(project)
        executors["validate.dry-run"] = Scripted(lambda ctx: StepOutcome.failed("1 of 4 tests failed"))
        with pytest.raises(StepFailed):
            engine.execute(run.id, executors)
    finally:
        engine.close()
    record = build_record(project)
    assert record["summary"]["verdict"] == "not released (failed)" and record["audit"]["ok"]
    quick = record["deploy"]["quick_deploy"]
    assert (quick["status"], quick["job_id"], quick["validation_id"]) == ("pending", None, None)
    markdown = render(record, "md")
    assert "promoted" not in markdown and "| 7 | validate | validate.dry-run |" in markdown
    junit = ET.fromstring(render(record, "junit").encode())
    failed = [c.get("name") for c in junit.iter("testcase") if c.find("failure") is not None]
    assert failed == ["validate.dry-run: Validate deployment (dry run)"]


def test_a_run_executing_right_now_is_rendered_as_a_snapshot(project: Path) -> None:
    write_runbook(project)
    engine = Engine(project)
    notes: list[list[str]] = []
    try:
        run = engine.create_run("prod", [StepSpec("look", "verify", "Look", "t")], runbook_path="cutover.yaml")

        def look(ctx: object) -> StepOutcome:
            notes.append(build_record(project)["notes"])  # rendered while the step runs, under the org lock
            return StepOutcome.passed("looked")

        engine.execute(run.id, {"look": Scripted(look)})
    finally:
        engine.close()
    assert any("is executing right now" in note for note in notes[0])
    assert not any("executing" in note for note in build_record(project)["notes"])


def test_the_written_record_gets_the_usual_file_mode_not_0600(project: Path) -> None:
    import os
    import stat

    full_run(project)
    out = project / "record.md"
    old = os.umask(0o022)
    try:
        assert main(["-C", str(project), "report", "--format", "md", "--output-file", str(out)]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
