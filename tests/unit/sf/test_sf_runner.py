"""SfCli end to end through a real subprocess (a replaying stand-in for `sf`): argv, environment, binary resolution,
timeouts, typed commands raising the right error with the parsed result attached, token redaction."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import pytest

from cutover.sf import (
    DeployFailed,
    OrgNotFound,
    RetrieveFailed,
    SfBadOutput,
    SfCli,
    SfNotFound,
    SfTimeout,
    StillRunning,
    TestsFailed,
    ValidationFailed,
    command_line,
)

TOKEN = "00D5g000004ElaRAAS!AQ4AQFakeTokenValue.ForTests_123"


# ------------------------------------------------------------------------------------------- process and environment
def test_environment_is_non_interactive_and_home_is_isolated(fake_sf, tmp_path):
    fake_sf.plan({"fixture": "org_display.json"})
    env = fake_sf.env(
        FORCE_COLOR="1", http_proxy="http://proxy:3128", HTTPS_PROXY="http://p:1", KEEP_ME="yes", SF_ACCESS_TOKEN=TOKEN
    )
    cli = fake_sf.cli(env=env, home=tmp_path / "sfhome")
    cli.org_display("production")
    (call,) = fake_sf.calls()
    assert call["argv"] == ["org", "display", "--target-org", "production", "--json"]
    seen = call["env"]
    assert seen["HOME"] == str(tmp_path / "sfhome")
    assert seen["FORCE_COLOR"] is None and seen["http_proxy"] is None and seen["HTTPS_PROXY"] is None
    assert seen["SF_DISABLE_TELEMETRY"] == "true"
    assert seen["SF_SKIP_NEW_VERSION_CHECK"] == "true"
    assert seen["SF_DISABLE_AUTOUPDATE"] == "true"
    assert seen["KEEP_ME"] == "yes"
    assert seen["SF_ACCESS_TOKEN"] is None  # only login passes a token, explicitly


def test_binary_resolution_order(fake_sf, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    on_path = bin_dir / "sf"
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(0o755)
    env = {"PATH": str(bin_dir)}
    assert SfCli(env=env).binary == str(on_path)
    assert SfCli(env={**env, "CUTOVER_SF": str(fake_sf.binary)}).binary == str(fake_sf.binary)
    explicit = SfCli(str(on_path), env={**env, "CUTOVER_SF": str(fake_sf.binary)})
    assert explicit.binary == str(on_path)


def test_missing_binary_is_sf_not_found_not_a_fallback(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sf").write_text("#!/bin/sh\n")
    (bin_dir / "sf").chmod(0o755)
    cli = SfCli(str(tmp_path / "nope" / "sf"), env={"PATH": str(bin_dir)})
    with pytest.raises(SfNotFound) as caught:
        cli.org_list()
    assert "does not exist" in caught.value.message
    assert "make setup" in caught.value.hint
    assert caught.value.exit_code == 6
    with pytest.raises(SfNotFound):
        SfCli(env={"PATH": str(tmp_path / "empty")}).version()


def test_junk_before_the_json_document_is_skipped(fake_sf):
    doc = json.loads((Path(__file__).parents[2] / "fixtures/sf/org_display.json").read_text())
    fake_sf.plan({"stdout": " › Warning: update available\n" + json.dumps(doc, indent=2), "exit": 0})
    assert fake_sf.cli().org_display("production").username == "release@elaro.example"


def test_non_json_output_is_bad_output(fake_sf):
    fake_sf.plan({"stdout": "Hello, not json", "exit": 0})
    with pytest.raises(SfBadOutput):
        fake_sf.cli().org_list()


def test_timeout_kills_and_raises(fake_sf):
    fake_sf.plan({"sleep": 30, "json": {"status": 0, "result": {}}})
    started = time.monotonic()
    with pytest.raises(SfTimeout) as caught:
        fake_sf.cli(default_timeout=0.5).org_list()
    assert time.monotonic() - started < 10
    assert caught.value.returncode is None


def test_on_result_hook_sees_every_call_even_failures(fake_sf):
    seen = []
    fake_sf.plan({"fixture": "org_not_found.json"})
    with pytest.raises(OrgNotFound):
        fake_sf.cli(on_result=seen.append).org_display("production")
    assert len(seen) == 1 and seen[0].exit_code == 2
    assert seen[0].envelope["name"] == "NamedOrgNotFoundError"


def test_command_line_is_human_and_redacted():
    line = command_line(["project", "deploy", "start", "--target-org", "production", "--manifest", "my dir/p.xml"])
    assert line == "sf project deploy start --target-org production --manifest 'my dir/p.xml'"
    assert command_line(["org", "display", "--json", "--note", TOKEN]) == "sf org display --note '[REDACTED]'"


# ----------------------------------------------------------------------------------------------------- typed calls
def test_deploy_start_argv(fake_sf, tmp_path):
    fake_sf.plan({"fixture": "deploy_quick_success.json"})
    fake_sf.cli().deploy_start(
        "production",
        manifest="manifest/package.xml",
        post_destructive="manifest/destructiveChangesPost.xml",
        test_level="RunSpecifiedTests",
        tests=["ElaroLoggerTest", "ComplianceDashboardControllerTest"],
        ignore_warnings=True,
        wait=20,
        cwd=tmp_path,
    )
    (call,) = fake_sf.calls()
    assert call["argv"] == [
        "project", "deploy", "start", "--target-org", "production", "--manifest", "manifest/package.xml",
        "--test-level", "RunSpecifiedTests",
        "--tests", "ElaroLoggerTest", "--tests", "ComplianceDashboardControllerTest",
        "--post-destructive-changes", "manifest/destructiveChangesPost.xml",
        "--ignore-warnings", "--wait", "20", "--json",
    ]  # fmt: skip
    assert call["cwd"] == str(tmp_path)


def test_failed_deploy_raises_with_parsed_result(fake_sf):
    fake_sf.plan({"fixture": "deploy_failed_components.json"})
    with pytest.raises(DeployFailed) as caught:
        fake_sf.cli().deploy_start("production", source_dirs=["force-app"])
    error = caught.value
    assert not isinstance(error, ValidationFailed)
    assert error.deploy_id == "0Af5g00000ElaDEP2"
    assert error.result.failures[0].name == "ComplianceDashboardController"
    assert "2 component error(s)" in error.message
    assert "classes/ComplianceDashboardController.cls:57:5" in error.message


def test_failed_dry_run_is_validation_failed_with_tests(fake_sf):
    fake_sf.plan({"fixture": "deploy_dryrun_failed_tests_legacy.json"})
    with pytest.raises(ValidationFailed) as caught:
        fake_sf.cli().deploy_start("production", source_dirs="force-app", dry_run=True, test_level="RunLocalTests")
    assert "--dry-run" in fake_sf.calls()[0]["argv"]
    assert caught.value.result.test_failures[0].method == "deniesRestrictedUser"
    assert "ElaroSecurityUtilsTest.deniesRestrictedUser" in caught.value.message


def test_validate_failure_fetches_details_with_report(fake_sf):
    report = json.loads((Path(__file__).parents[2] / "fixtures/sf/deploy_dryrun_failed_tests_legacy.json").read_text())
    report["status"] = 0
    report["result"]["id"] = "0Af5g00000ElaVAL4"
    fake_sf.plan({"fixture": "validate_failed_envelope.json"}, {"json": report, "exit": 0})
    with pytest.raises(ValidationFailed) as caught:
        fake_sf.cli().deploy_validate("production", manifest="manifest/package.xml")
    calls = fake_sf.calls()
    assert calls[0]["argv"][:3] == ["project", "deploy", "validate"]
    assert "--test-level" in calls[0]["argv"] and "RunLocalTests" in calls[0]["argv"]
    assert calls[1]["argv"][:5] == ["project", "deploy", "report", "--job-id", "0Af5g00000ElaVAL4"]
    assert caught.value.deploy_id == "0Af5g00000ElaVAL4"
    assert caught.value.result.tests.num_failures == 1


def test_validate_success_returns_result_for_quick_deploy(fake_sf):
    fake_sf.plan({"fixture": "validate_success_runlocaltests.json"}, {"fixture": "deploy_quick_success.json"})
    cli = fake_sf.cli()
    validation = cli.deploy_validate("production", source_dirs=["force-app"])
    deployed = cli.deploy_quick("production", validation.id, wait=10)
    assert validation.check_only and validation.coverage_pct == pytest.approx(90.0)
    assert deployed.id != validation.id and deployed.succeeded
    assert fake_sf.calls()[1]["argv"] == [
        "project", "deploy", "quick", "--job-id", "0Af5g00000ElaVAL1", "--target-org", "production",
        "--wait", "10", "--json",
    ]  # fmt: skip


def test_wait_timeout_client_error_is_still_running(fake_sf):
    fake_sf.plan({"fixture": "deploy_timeout_client.json"})
    with pytest.raises(StillRunning) as caught:
        fake_sf.cli().deploy_start("production", manifest="p.xml", wait=1)
    assert caught.value.job_id == "0Af5g00000ElaTMO5"


def test_exit_69_is_still_running(fake_sf):
    fake_sf.plan({"fixture": "deploy_inprogress_exit69.json"})
    with pytest.raises(StillRunning) as caught:
        fake_sf.cli().deploy_quick("production", "0Af5g00000ElaVAL1")
    assert caught.value.job_id == "0Af5g00000ElaRUN6"


def test_async_deploy_returns_queued_job(fake_sf):
    fake_sf.plan({"fixture": "deploy_async_queued.json"})
    queued = fake_sf.cli().deploy_start("production", manifest="p.xml", async_=True)
    assert queued.status == "Queued" and queued.id == "0Af5g00000ElaASY7"
    argv = fake_sf.calls()[0]["argv"]
    assert "--async" in argv and "--wait" not in argv


def test_report_never_raises_for_a_failed_deploy(fake_sf):
    doc = json.loads((Path(__file__).parents[2] / "fixtures/sf/deploy_failed_components.json").read_text())
    doc["status"] = 0  # report exits 0 whatever the deploy status
    fake_sf.plan({"json": doc, "exit": 0})
    assert fake_sf.cli().deploy_report("production", "0Af5g00000ElaDEP2").failed


def test_apex_tests_exit_100_raises_tests_failed(fake_sf):
    fake_sf.plan({"fixture": "apex_test_failed.json"})
    with pytest.raises(TestsFailed) as caught:
        fake_sf.cli().apex_run_test("production", wait=5)
    argv = fake_sf.calls()[0]["argv"]
    assert argv[:7] == ["apex", "run", "test", "--target-org", "production", "--test-level", "RunLocalTests"]
    assert "--code-coverage" in argv
    assert caught.value.run.org_wide_coverage_pct == 81.0
    assert "ElaroLoggerTest.logsErrors" in caught.value.message


def test_apex_tests_wait_expired_is_still_running(fake_sf):
    fake_sf.plan({"fixture": "apex_test_wait_expired.json"})
    with pytest.raises(StillRunning) as caught:
        fake_sf.cli().apex_run_test("production", class_names=["ElaroLoggerTest"])
    assert caught.value.job_id == "7075g00000RunAAA"
    assert "--test-level" not in fake_sf.calls()[0]["argv"]


def test_retrieve_failed_with_exit_zero_raises(fake_sf):
    fake_sf.plan({"fixture": "retrieve_failed.json"})
    with pytest.raises(RetrieveFailed) as caught:
        fake_sf.cli().retrieve_start("production", manifest="manifest/package.xml", output_dir="backups/b1")
    assert caught.value.result.failed_files[0].full_name == "ElaroRemoved"
    assert "ElaroRemoved" in caught.value.message


def test_query_and_limits(fake_sf):
    fake_sf.plan({"fixture": "data_query_cron.json"}, {"fixture": "org_list_limits.json"})
    cli = fake_sf.cli()
    query = cli.data_query("production", "SELECT Id FROM CronTrigger", tooling=True)
    limits = cli.org_list_limits("production")
    assert query.total_size == 2
    assert limits[0].name == "DailyApiRequests"
    assert fake_sf.calls()[0]["argv"][-2:] == ["--use-tooling-api", "--json"]


def test_login_access_token_keeps_the_token_out_of_argv_and_results(fake_sf):
    answer = {
        "status": 0,
        "result": {
            "accessToken": TOKEN,  # older CLIs echo it; the adapter must still not pass it on
            "instanceUrl": "http://127.0.0.1:8899/",
            "orgId": "00D5g000004ElaRAAS",
            "username": "release@elaro.example",
        },
        "warnings": [f"Using insecure protocol: http: on url: http://127.0.0.1:8899/ token {TOKEN}"],
    }
    fake_sf.plan({"json": answer, "exit": 0})
    seen = []
    info = fake_sf.cli(on_result=seen.append).login_access_token("http://127.0.0.1:8899", TOKEN, "production")
    (call,) = fake_sf.calls()
    assert TOKEN not in " ".join(call["argv"])
    assert call["env"]["SF_ACCESS_TOKEN"] == TOKEN
    assert info.alias == "production" and info.instance_url == "http://127.0.0.1:8899"
    recorded = json.dumps(seen[0].to_evidence()) + seen[0].stdout + repr(info)
    assert TOKEN not in recorded


def test_apex_get_test_reads_a_finished_run(fake_sf):
    fake_sf.plan({"fixture": "apex_test_passed_coverage.json"})
    run = fake_sf.cli().apex_get_test("production", "7075g00000RunAAA")
    assert run.org_wide_coverage_pct == 87.0
    assert fake_sf.calls()[0]["argv"][:5] == ["apex", "get", "test", "--test-run-id", "7075g00000RunAAA"]


def test_generate_manifest_returns_the_path(fake_sf, tmp_path):
    fake_sf.plan({"json": {"status": 0, "result": {"name": "package.xml", "path": "rollback/package.xml"}}})
    path = fake_sf.cli(cwd=tmp_path).generate_manifest(source_dirs="force-app", output_dir="rollback")
    assert path == tmp_path / "rollback" / "package.xml"
    assert fake_sf.calls()[0]["argv"] == [
        "project", "generate", "manifest", "--source-dir", "force-app", "--output-dir", "rollback", "--json",
    ]  # fmt: skip


def test_result_command_line_leaves_out_binary_and_json(fake_sf):
    seen = []
    fake_sf.plan({"fixture": "org_list_limits.json"})
    fake_sf.cli(on_result=seen.append).org_list_limits("production")
    assert seen[0].command_line == "sf org list limits --target-org production"
    assert seen[0].argv[0] == str(fake_sf.binary)


def test_relative_binary_is_taken_from_the_project_folder(fake_sf, tmp_path):
    project = fake_sf.root.parent
    relative = str(fake_sf.binary.relative_to(project))  # "fake-sf/sf"
    assert SfCli(relative, env=fake_sf.env(), cwd=project).binary == str(fake_sf.binary)


def test_a_descendant_that_leaves_the_process_group_cannot_hang_the_call(tmp_path, monkeypatch):
    """Killing sf's process group cannot reach a child that called setsid(); if it still holds sf's stdout, waiting
    for end-of-file would wait for that child. The call must end soon after sf does (or after the timeout)."""
    import sys

    from cutover.sf import process
    from cutover.sf.process import run_process

    monkeypatch.setattr(process, "PIPE_DRAIN_S", 1.0)
    script = tmp_path / "sf"
    script.write_text(
        f"#!{sys.executable}\n"
        "import os, sys, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        f"    open({str(tmp_path / 'child.pid')!r}, 'a').write(f'{{os.getpid()}}\\n')\n"
        "    time.sleep(60)\n"
        "    os._exit(0)\n"
        'print(\'{"status": 0, "result": {"ok": true}}\', flush=True)\n'
        "time.sleep(float(sys.argv[1]))\n"
    )
    script.chmod(0o755)
    try:
        for sleep, timed_out in (("0", False), ("30", True)):
            started = time.monotonic()
            result = run_process([str(script), sleep], env={"PATH": "/usr/bin:/bin"}, timeout=1.0)
            assert time.monotonic() - started < 15
            assert result.timed_out is timed_out
            assert result.envelope == {"status": 0, "result": {"ok": True}}
            assert result.exit_code == (None if timed_out else 0)
    finally:
        import os
        import signal

        for pid in (tmp_path / "child.pid").read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)


def test_timeout_kills_children_that_ignore_sigterm_even_when_sf_itself_obeys(tmp_path):
    import os
    import signal
    import sys

    from cutover.sf.process import run_process

    script = tmp_path / "sf"
    script.write_text(
        f"#!{sys.executable}\n"
        "import os, signal, time\n"
        "if os.fork() == 0:\n"
        "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"    open({str(tmp_path / 'child.pid')!r}, 'w').write(str(os.getpid()))\n"
        "    time.sleep(60)\n"
        "    os._exit(0)\n"
        "time.sleep(30)\n"
    )
    script.chmod(0o755)
    result = run_process([str(script)], env={"PATH": "/usr/bin:/bin"}, timeout=1.0)
    assert result.timed_out
    child = int((tmp_path / "child.pid").read_text())
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                break
            if Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z":
                break  # killed, waiting for init to reap it
            time.sleep(0.1)
        else:
            raise AssertionError("the child that ignored SIGTERM is still running")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
