"""The sf adapter against the real Salesforce CLI and orgsim: org display, data query, limits, a missing alias,
a missing binary, deploy/validate/test parsing and failure taxonomy, and no access token in anything returned.

Each `sf` call costs ~1-3 s, so a module shares one logged-in HOME per org and keeps the number of calls small.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from cutover.cli import main
from cutover.sf import (
    DeployFailed,
    OrgNotFound,
    SfCli,
    SfError,
    SfNotFound,
    SfResult,
    TestsFailed,
    ValidationFailed,
)
from cutover.sf.results import coverage_pct, parse_code_coverage

orgsim_testing = pytest.importorskip("orgsim.testing")
FailingTest = pytest.importorskip("orgsim.scenario").FailingTest

REPO = Path(__file__).resolve().parents[2]
SF_BIN = os.environ.get("CUTOVER_SF") or str(REPO / ".tools" / "bin" / "sf")
EXAMPLE = REPO / "examples" / "elaro"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.xdist_group("sf_adapter"),
    pytest.mark.skipif(not Path(SF_BIN).is_file(), reason=f"sf CLI not installed ({SF_BIN}); run 'make setup'"),
]

FAILING_TEST = "ElaroLoggerTest.writesAnAuditEntry"
FAST = {"validate_seconds": 0, "deploy_seconds": 0, "test_seconds": 0, "retrieve_seconds": 0}


class Recorder:
    """Collects every SfResult the adapter hands to its hook, and every error it raised, to search for tokens."""

    def __init__(self) -> None:
        self.results: list[SfResult] = []
        self.errors: list[SfError] = []

    def __call__(self, result: SfResult) -> None:
        self.results.append(result)

    def text(self) -> str:
        parts = [json.dumps(r.to_evidence()) + r.stdout + r.stderr + " ".join(r.argv) for r in self.results]
        parts += [f"{e} {e.hint} {e.data} {e.stdout} {e.stderr} {e.argv}" for e in self.errors]
        return "\n".join(parts)


def _project_copy(tmp: Path) -> Path:
    project = tmp / "elaro"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("node_modules", ".cutover", "coverage"))
    return project


@pytest.fixture(scope="module")
def healthy(tmp_path_factory):
    """A production-like orgsim with the adapter logged in as alias `production`."""
    tmp = tmp_path_factory.mktemp("sf-adapter")
    with orgsim_testing.OrgsimServer(tmp / "org", {"durations": FAST}) as server:
        recorder = Recorder()
        cli = SfCli(SF_BIN, home=tmp / "home", on_result=recorder, cwd=_project_copy(tmp))
        login = cli.login_access_token(server.url + "/", server.token, "production")
        yield server, cli, recorder, login


@pytest.fixture(scope="module")
def failing(tmp_path_factory):
    """An org where the class `ElaroBroken` (only in a separate folder of the project copy) does not compile and,
    once the project's own classes are deployed, one Apex test fails."""
    tmp = tmp_path_factory.mktemp("sf-adapter-failing")
    scenario = {
        "durations": FAST,
        "faults": {"component_failures": [{"type": "ApexClass", "name": "ElaroBroken", "line": 3, "column": 5}]},
    }
    project = _project_copy(tmp)
    broken = project / "force-app" / "broken" / "classes"
    broken.mkdir(parents=True)
    (broken / "ElaroBroken.cls").write_text("public with sharing class ElaroBroken {\n  public void x() {\n  }}\n}\n")
    (broken / "ElaroBroken.cls-meta.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<ApexClass xmlns="http://soap.sforce.com/2006/04/metadata">\n'
        "    <apiVersion>62.0</apiVersion>\n    <status>Active</status>\n</ApexClass>\n"
    )
    with orgsim_testing.OrgsimServer(tmp / "org", scenario) as server:
        recorder = Recorder()
        cli = SfCli(SF_BIN, home=tmp / "home", on_result=recorder, cwd=project)
        cli.login_access_token(server.url, server.token, "production")
        cli.deploy_start("production", source_dirs=["force-app/main/default"], test_level="RunLocalTests", wait=5)
        failing_test = FailingTest(test=FAILING_TEST, message="System.AssertException: boom")
        server.org.scenario.apex.failing_tests.append(failing_test)
        yield server, cli, recorder


def test_login_display_query_limits(healthy):
    server, cli, _, login = healthy
    assert login.org_id == server.org.org_id and login.alias == "production"
    info = cli.org_display("production")
    assert info.org_id == server.org.org_id
    assert info.username == server.org.username
    assert info.instance_url == server.url  # normalised: the CLI stored it with a trailing slash
    assert info.connected
    query = cli.data_query("production", "SELECT Id, Name FROM Organization")
    assert query.total_size == 1 and query.rows()[0]["Id"] == server.org.org_id
    limits = {limit.name: limit for limit in cli.org_list_limits("production")}
    assert limits["DailyApiRequests"].max > 0
    assert 0 <= limits["DailyApiRequests"].used_pct <= 100


def test_missing_alias_is_org_not_found(healthy):
    _, cli, recorder, _ = healthy
    with pytest.raises(OrgNotFound) as caught:
        cli.org_display("no-such-alias")
    recorder.errors.append(caught.value)
    assert caught.value.returncode == 2 and caught.value.exit_code == 2
    assert "no-such-alias" in caught.value.message


def test_missing_binary_is_sf_not_found(tmp_path):
    cli = SfCli(str(tmp_path / "missing" / "sf"), home=tmp_path / "home")
    with pytest.raises(SfNotFound) as caught:
        cli.org_display("production")
    assert caught.value.exit_code == 6
    assert "make setup" in caught.value.hint


def test_dry_run_deploy_is_parsed_with_coverage(healthy, tmp_path):
    _, cli, recorder, _ = healthy
    result = cli.deploy_start("production", source_dirs=["force-app"], dry_run=True, test_level="RunLocalTests", wait=5)
    assert result.check_only and result.succeeded
    assert result.id.startswith("0Af") and len(result.id) == 18
    assert result.components_total > 0 and not result.failures
    assert result.tests is not None and result.tests.num_run > 0
    # The adapter's figure must match the formula applied straight to the CLI's own JSON.
    raw = recorder.results[-1].envelope["result"]["details"]["runTestResult"]["codeCoverage"]
    covered = sum(int(c["numLocations"]) - int(c["numLocationsNotCovered"]) for c in raw)
    total = sum(int(c["numLocations"]) for c in raw)
    assert result.coverage_pct == pytest.approx(100 * covered / total)
    assert coverage_pct(parse_code_coverage(raw)) == pytest.approx(result.coverage_pct)
    # The same saved output explains with exit 0.
    saved = tmp_path / "dry-run.json"
    saved.write_text(recorder.results[-1].stdout)
    assert main(["explain", str(saved), "--format", "json"]) == 0


def test_failed_deploy_failed_tests_and_failed_validation(failing):
    _, cli, recorder = failing
    with pytest.raises(DeployFailed) as deploy:
        cli.deploy_start("production", source_dirs=["force-app/broken"], wait=5)
    recorder.errors.append(deploy.value)
    assert deploy.value.returncode == 1
    assert deploy.value.result is not None and deploy.value.result.failed
    assert [(f.name, f.line) for f in deploy.value.result.failures] == [("ElaroBroken", 3)]

    with pytest.raises(ValidationFailed) as validation:
        cli.deploy_validate("production", source_dirs=["force-app/main/default"], wait=5)
    recorder.errors.append(validation.value)
    assert validation.value.deploy_id and validation.value.deploy_id.startswith("0Af")
    assert validation.value.result is not None  # filled by one `deploy report` call
    assert validation.value.result.id == validation.value.deploy_id
    assert FAILING_TEST in [t.full_name for t in validation.value.result.test_failures]

    with pytest.raises(TestsFailed) as tests:
        cli.apex_run_test("production", wait=5)
    recorder.errors.append(tests.value)
    assert tests.value.returncode == 100
    assert [t.full_name for t in tests.value.run.failures] == [FAILING_TEST]
    assert "boom" in tests.value.message


def test_retrieve_backup_of_deployed_classes(failing, tmp_path):
    _, cli, _ = failing
    result = cli.retrieve_start(
        "production", manifest="manifest/package.xml", target_metadata_dir=tmp_path / "backup", unzip=True, wait=5
    )
    assert result.success and result.id.startswith("09S")
    assert "ElaroLogger" in {p.full_name for p in result.file_properties if p.type == "ApexClass"}
    assert list((tmp_path / "backup").rglob("ElaroLogger.cls"))


def test_access_token_never_leaves_the_adapter(healthy, failing):
    for server, recorder in ((healthy[0], healthy[2]), (failing[0], failing[2])):
        assert recorder.results, "the module's calls were recorded"
        text = recorder.text()
        assert server.token not in text
        assert server.token.split("!", 1)[1] not in text
