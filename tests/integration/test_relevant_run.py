"""`cutover run` with relevant tests (`sf.relevant_tests`, `project.delta.enabled`): the real cutover and sf CLIs
against orgsim holding tests/fixtures/testsel as the release in production (v1.0.0).

- a release changing PricingEngine validates with RunSpecifiedTests and exactly the two tests that reach it;
- a release changing UnusedUtil, which no test reaches, is refused before anything is sent to the org: exit 1 and
  one line naming the class (Salesforce would refuse the deploy for its 0 % coverage);
- a release changing StringUtils, which the org's tests cover at 60 % (scenario `apex.coverage`): the validation
  fails in the org (the real CLI's FailedValidationError) and the step's one line names StringUtils at 60 %.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from orgsim.scenario import builtin_scenario_path
from orgsim.testing import OrgsimServer, login, sf_env

pytestmark = pytest.mark.integration

CUTOVER = Path(sys.executable).parent / "cutover"
ALIAS = "production"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "testsel"
CLASSES = "force-app/main/default/classes"


def _scenario(root: Path) -> Path:
    data: dict[str, Any] = yaml.safe_load(builtin_scenario_path("empty").read_text()) or {}
    data["durations"] = {"validate_seconds": 0.2, "deploy_seconds": 0.2, "test_seconds": 0.2, "retrieve_seconds": 0}
    data["metadata"] = {"seed_dir": str(FIXTURE)}
    data["apex"] = {"coverage": {"StringUtils": 60}}
    path = root / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _runbook(server: OrgsimServer) -> str:
    """Guard and validation only, no sign-offs: what the relevant tests change is the validation."""
    return f"""
release: {{version: 2.0.0, push: false}}
project: {{delta: {{enabled: true}}}}
sf: {{relevant_tests: true}}
target:
  alias: {ALIAS}
  expect:
    org_id: {server.org.org_id}
    username: {server.org.scenario.org.username}
    instance_url: {server.url.rstrip("/")}
roles: {{deployment_lead: {{title: Deployment Lead, name: Avery Stone, email: a@example.com}}}}
separation_of_duties: {{exclusive: []}}
signoffs: []
alerts: {{escalation: [], internal_escalation: [deployment_lead]}}
checklists: {{smoke_tests: [], post_deploy: {{role: deployment_lead}}}}
stages: [guard, validate]
"""


class Project:
    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env

    def sh(self, *argv: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(argv, cwd=self.root, env=self.env, capture_output=True, text=True, timeout=600)
        assert done.returncode == expect, (
            f"$ {' '.join(argv)} -> {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
        return done

    def change(self, *classes: str) -> None:
        for name in classes:
            path = self.root / CLASSES / f"{name}.cls"
            body = path.read_text().rstrip()
            path.write_text(
                body[: body.rindex("}")] + "\n    public static Integer v2() {\n        return 2;\n    }\n}\n"
            )
        self.sh("git", "commit", "-qam", f"v2: {', '.join(classes)}")

    def status(self) -> dict[str, Any]:
        return json.loads(self.sh(str(CUTOVER), "status", "--format", "json").stdout)


def test_a_run_validates_with_the_relevant_tests_or_refuses(tmp_path: Path, sf_bin: Path) -> None:
    home = tmp_path / "sf-home"
    env = sf_env(home, sf_bin, {"CUTOVER_SF": str(sf_bin)})
    env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_AUTHOR_NAME": "Dev"})
    env.update(
        {"GIT_AUTHOR_EMAIL": "d@example.com", "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "d@example.com"}
    )
    server = OrgsimServer(tmp_path / "org", _scenario(tmp_path))
    try:
        login(sf_bin, home, server.url, server.token, alias=ALIAS)
        for name, changed in (("reached", "PricingEngine"), ("unreached", "UnusedUtil"), ("short", "StringUtils")):
            project = Project(tmp_path / name, env)
            shutil.copytree(FIXTURE, project.root)
            (project.root / ".gitignore").write_text(".cutover/\nbackups/\n")
            (project.root / "cutover.yaml").write_text(_runbook(server))
            project.sh("git", "init", "-q", "-b", "main")
            project.sh("git", "add", "-A")
            project.sh("git", "commit", "-qm", "v1")
            project.sh("git", "tag", "-a", "v1.0.0", "-m", "Production release v1.0.0")
            project.change(changed)
            if changed == "PricingEngine":
                project.sh(str(CUTOVER), "--yes", "run")
                status = project.status()
                steps = {s["id"]: s for s in status["steps"]}
                assert status["state"] == "succeeded", [(s["id"], s["status"], s["detail"]) for s in status["steps"]]
                assert "2/2 tests" in steps["validate.dry-run"]["detail"], steps["validate.dry-run"]["detail"]
                saved = (project.root / ".cutover").rglob("validation-result.json")
                result = json.loads(next(saved).read_text())  # sf project deploy report, as recorded
                tests = result["envelope"]["result"]["details"]["runTestResult"]
                ran = {t["name"] for t in tests["successes"]}
                assert ran == {"LineBuilderTest", "OrderServiceTest"}
            elif changed == "StringUtils":
                project.sh(str(CUTOVER), "--yes", "run", expect=1)
                steps = {s["id"]: s for s in project.status()["steps"]}
                detail = steps["validate.dry-run"]["detail"]
                assert steps["validate.dry-run"]["status"] == "failed"
                saved = (project.root / ".cutover").rglob("validation-result.json")
                tests = json.loads(next(saved).read_text())["envelope"]["result"]["details"]["runTestResult"]
                measured = next(c for c in tests["codeCoverage"] if c["name"] == "StringUtils")
                located, missed = measured["numLocations"], measured["numLocationsNotCovered"]
                pct = math.floor(1000 * (located - missed) / located) / 10  # about 60 % of the class's lines
                assert 50 < pct < 75 and any(w.get("name") == "StringUtils" for w in tests["codeCoverageWarnings"])
                assert detail.startswith("validation 0Af") and detail.endswith(
                    ": 1 Apex class(es)/trigger(s) of the release below 75 % coverage from the specified tests "
                    f"(Salesforce refuses a RunSpecifiedTests deploy): StringUtils {pct:g} %"
                ), detail
            else:
                done = project.sh(str(CUTOVER), "--yes", "run", expect=1)
                assert (
                    "1 Apex class(es)/trigger(s) of the release reached by no relevant test (RunSpecifiedTests needs "
                    "75 % coverage of each): UnusedUtil"
                ) in done.stderr + done.stdout
                status = project.status()
                assert status["state"] == "failed"
                assert not list((project.root / ".cutover").rglob("validation-result.json"))  # nothing validated
    finally:
        server.stop()
