"""orgsim's timing model (orgsim.timing): the formula per test level, quick deploys, test runs and retrieves.

No sleeping: the pure functions are checked with numbers, and deploys on a real `Org` move its clock and read the
job's started/completed times.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from orgsim import timing
from orgsim.metadata import deploy
from orgsim.metadata.deploy import DeployOptions
from orgsim.metadata.package import package_xml
from orgsim.metadata.xml import SoapFault
from orgsim.org import Org
from orgsim.scenario import Durations, ScenarioError, scenario_from_dict

META = (
    b'<?xml version="1.0" encoding="UTF-8"?><ApexClass xmlns="http://soap.sforce.com/2006/04/metadata">'
    b"<apiVersion>62.0</apiVersion><status>Active</status></ApexClass>"
)

PER_UNIT = {
    "validate_seconds": 3,
    "deploy_seconds": 2,
    "component_seconds": 0.5,
    "test_class_seconds": 10,
    "deploy_test_parallelism": 1,
    "test_parallelism": 4,
}


def service(n: int) -> bytes:
    return f"public class Svc{n} {{\n    public static Integer run() {{\n        return {n};\n    }}\n}}\n".encode()


def service_test(n: int, methods: int = 2) -> bytes:
    body = "".join(
        f"    @isTest static void m{i}() {{\n        System.assertEquals({n}, Svc{n}.run());\n    }}\n"
        for i in range(methods)
    )
    return f"@isTest\nprivate class Svc{n}Test {{\n{body}}}\n".encode()


def make_zip(classes: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, body in classes.items():
            archive.writestr(f"classes/{name}.cls", body)
            archive.writestr(f"classes/{name}.cls-meta.xml", META)
        archive.writestr("package.xml", package_xml({"ApexClass": sorted(classes)}, "62.0"))
    return buffer.getvalue()


def app(count: int) -> dict[str, bytes]:
    classes: dict[str, bytes] = {}
    for n in range(count):
        classes[f"Svc{n}"] = service(n)
        classes[f"Svc{n}Test"] = service_test(n)
    return classes


def seconds_of(org: Org, job_id: str) -> float:
    """Run the job to its end on the org clock and return how long it took (completed - started)."""
    org.advance_clock(100_000)
    job = next(j for j in deploy.list_jobs(org) if j["id"] == job_id)
    assert job["status"] in ("Succeeded", "Failed"), job
    started = datetime.fromisoformat(job["started"].replace("Z", "+00:00"))
    completed = datetime.fromisoformat(job["completed"].replace("Z", "+00:00"))
    return round((completed - started).total_seconds(), 3)


@pytest.fixture
def sandbox(tmp_path: Path) -> Org:
    """A sandbox holding 6 service classes and their 6 test classes (12 components), per-unit timing."""
    org = Org(tmp_path / "org", {"org": {"sandbox": True}, "durations": PER_UNIT})
    first = deploy.submit(org, make_zip(app(6)), DeployOptions(test_level="NoTestRun"))
    assert seconds_of(org, first) == 2 + 0.5 * 12
    return org


# -- the formula, with numbers ----------------------------------------------------------------------------------


def durations(**keys: Any) -> Durations:
    return Durations(**keys)


def test_fixed_model_is_unchanged_when_the_new_keys_are_unset() -> None:
    d = durations(validate_seconds=30, deploy_seconds=20, test_seconds=7, retrieve_seconds=5)
    assert not timing.per_unit(d)
    assert timing.deploy_timing(d, check_only=True, components=500, test_class_methods=[3] * 200).total == 30
    assert timing.deploy_timing(d, check_only=False, components=500, test_class_methods=[3] * 200).total == 20
    assert timing.test_run_seconds(d, 200) == 7 and timing.test_run_queue_seconds(d, 200) == pytest.approx(2.1)
    assert timing.retrieve_seconds(d, 1000) == 5


def test_per_unit_deploy_is_fixed_plus_components_plus_serial_test_classes() -> None:
    d = durations(**PER_UNIT)
    validation = timing.deploy_timing(d, check_only=True, components=40, test_class_methods=[2] * 200)
    assert validation.component_phase == 3 + 0.5 * 40
    assert validation.test_phase == 10 * 200  # deploy tests run one class after another
    quick = timing.deploy_timing(d, check_only=False, components=40)
    assert quick.total == 2 + 0.5 * 40  # a quick deploy: component time only
    assert validation.total / quick.total > 90


def test_test_runs_use_the_parallelism_and_waves_round_up() -> None:
    d = durations(**PER_UNIT, test_seconds=1)
    assert timing.test_run_seconds(d, 200) == 1 + 10 * 50
    assert timing.test_run_seconds(d, 201) == 1 + 10 * 51
    assert timing.test_run_seconds(durations(**{**PER_UNIT, "test_parallelism": 1}, test_seconds=1), 5) == 51
    assert timing.waves([1, 2, 3, 4, 5], 2) == [3, 7, 5]
    assert timing.classes_completed(d, 10, 1 + 10 * 2 + 0.1) == 8 and timing.classes_completed(d, 10, 0.5) == 0
    parallel_deploy = timing.deploy_timing(
        durations(**{**PER_UNIT, "deploy_test_parallelism": 3}),
        check_only=True,
        components=0,
        test_class_methods=[1] * 7,
    )
    assert parallel_deploy.test_phase == 10 * 3


def test_progress_deploys_components_first_then_tests_wave_by_wave() -> None:
    plan = timing.deploy_timing(durations(**PER_UNIT), check_only=True, components=10, test_class_methods=[2, 3, 4])
    assert plan.component_phase == 8 and plan.test_phase == 30
    assert plan.progress(0, 10, 9) == (0, 0, False)
    assert plan.progress(5.5, 10, 9) == (6, 0, False)
    assert plan.progress(8, 10, 9) == (10, 0, True)
    assert plan.progress(8 + 10, 10, 9) == (10, 2, True)
    assert plan.progress(8 + 25, 10, 9) == (10, 5, True)
    assert timing.DeployTiming.from_json(plan.to_json()) == plan
    legacy = timing.deploy_timing(durations(validate_seconds=10), check_only=True, components=10)
    assert legacy.progress(2.5, 10, 4) == (5, 0, False) and legacy.progress(7.5, 10, 4) == (10, 2, True)


def test_retrieve_adds_time_per_component() -> None:
    assert timing.retrieve_seconds(durations(retrieve_seconds=1, retrieve_component_seconds=0.25), 8) == 3


def test_scenario_keys_are_validated() -> None:
    scenario = scenario_from_dict({"durations": {"test_class_seconds": 0.2, "test_parallelism": 2}})
    assert scenario.durations.test_class_seconds == 0.2 and scenario.durations.deploy_test_parallelism == 1
    with pytest.raises(ScenarioError, match=r"durations\.test_parallelism"):
        scenario_from_dict({"durations": {"test_parallelism": 0}})
    with pytest.raises(ScenarioError, match=r"durations\.test_class_secs: unknown key"):
        scenario_from_dict({"durations": {"test_class_secs": 1}})


# -- deploys on an org, per test level ----------------------------------------------------------------------------


def test_each_test_level_costs_its_test_classes(sandbox: Org) -> None:
    change = make_zip({"Svc0": service(0) + b"\n"})  # one component
    base = 3 + 0.5 * 1
    levels = {
        "NoTestRun": DeployOptions(check_only=True, test_level="NoTestRun"),
        "RunSpecifiedTests": DeployOptions(check_only=True, test_level="RunSpecifiedTests", run_tests=["Svc0Test"]),
        "RunLocalTests": DeployOptions(check_only=True, test_level="RunLocalTests"),
        "RunAllTestsInOrg": DeployOptions(check_only=True, test_level="RunAllTestsInOrg"),
    }
    took = {level: seconds_of(sandbox, deploy.submit(sandbox, change, options)) for level, options in levels.items()}
    assert took == {
        "NoTestRun": base,
        "RunSpecifiedTests": base + 10 * 1,
        "RunLocalTests": base + 10 * 6,  # every test class in the org after the deploy
        "RunAllTestsInOrg": base + 10 * 6,  # no installed packages here, so the same classes
    }


def test_run_relevant_tests_runs_the_tests_that_reach_the_change(tmp_path: Path) -> None:
    org = Org(tmp_path / "org", {"org": {"sandbox": True, "api_version": "66.0"}, "durations": PER_UNIT})
    seconds_of(org, deploy.submit(org, make_zip(app(6)), DeployOptions(test_level="NoTestRun")))
    change = make_zip({"Svc2": service(2) + b"\n", "Svc4": service(4) + b"\n"})
    job = deploy.submit(org, change, DeployOptions(check_only=True, test_level="RunRelevantTests"))
    assert seconds_of(org, job) == 3 + 0.5 * 2 + 10 * 2
    result = deploy.status(org, job)
    assert result["success"], result
    assert sorted({t["name"] for t in result["details"]["runTestResult"]["successes"]}) == ["Svc2Test", "Svc4Test"]


def test_run_relevant_tests_needs_api_66(sandbox: Org) -> None:
    with pytest.raises(SoapFault, match=r"66\.0"):
        deploy.submit(sandbox, make_zip({"Svc0": service(0)}), DeployOptions(test_level="RunRelevantTests"))


def test_quick_deploy_costs_component_time_only(sandbox: Org) -> None:
    change = make_zip({"Svc0": service(0) + b"\n", "Svc1": service(1) + b"\n"})
    validation = deploy.submit(sandbox, change, DeployOptions(check_only=True, test_level="RunLocalTests"))
    assert seconds_of(sandbox, validation) == 3 + 0.5 * 2 + 10 * 6
    quick = deploy.submit_quick(sandbox, validation)
    assert seconds_of(sandbox, quick) == 2 + 0.5 * 2


def test_live_progress_follows_the_schedule(sandbox: Org) -> None:
    change = make_zip({"Svc0": service(0) + b"\n", "Svc1": service(1) + b"\n"})
    job = deploy.submit(sandbox, change, DeployOptions(check_only=True, test_level="RunLocalTests"))
    first = deploy.status(sandbox, job, include_details=False)
    assert first["numberComponentsDeployed"] == 0 and first["numberTestsTotal"] == 12
    sandbox.advance_clock(4 + 10 * 2 + 1)  # components done, two test classes (4 methods) done
    middle = deploy.status(sandbox, job, include_details=False)
    assert middle["numberComponentsDeployed"] == 2 and middle["numberTestsCompleted"] == 4
    assert middle["stateDetail"] == "Running Test" and not middle["done"]


def test_specified_tests_must_cover_every_deployed_class(sandbox: Org) -> None:
    change = make_zip({"Svc0": service(0) + b"\n", "Svc1": service(1) + b"\n"})
    options = DeployOptions(check_only=True, test_level="RunSpecifiedTests", run_tests=["Svc0Test"])
    job = deploy.submit(sandbox, change, options)
    assert seconds_of(sandbox, job) == 3 + 0.5 * 2 + 10  # the test ran before the coverage gate failed it
    result = deploy.status(sandbox, job)
    assert result["status"] == "Failed"
    warnings = result["details"]["runTestResult"]["codeCoverageWarnings"]
    assert [(w["name"], w["message"]) for w in warnings] == [
        ("Svc1", "Test coverage of selected Apex Class is 0%, at least 75% test coverage is required")
    ]


# -- Tooling test runs and retrieves on an org ---------------------------------------------------------------------


def tooling(org: Org, method: str, path: str, payload: Any = None) -> Any:
    from orgsim.server import dispatch

    body = json.dumps(payload).encode() if payload is not None else b""
    headers = {"authorization": f"Bearer {org.access_token}"}
    response = dispatch(org, method, "/services/data/v62.0/tooling" + path, headers, body)
    assert response.status < 300, response.body
    return json.loads(response.body)


def test_apex_test_runs_cost_per_class_with_parallelism(sandbox: Org) -> None:
    # 6 test classes, 4 at a time, 10 s each, after a fixed test_seconds (2 by default): 2 + 10 × 2 = 22 s.
    job = tooling(sandbox, "POST", "/runTestsAsynchronous", {"testLevel": "RunLocalTests"})
    soql = f"SELECT Status, ClassesCompleted, MethodsCompleted FROM ApexTestRunResult WHERE AsyncApexJobId = '{job}'"

    def summary() -> dict[str, Any]:
        return tooling(sandbox, "GET", "/query?q=" + soql.replace(" ", "+"))["records"][0]

    assert summary()["Status"] == "Queued"
    sandbox.advance_clock(2.5)
    assert summary()["Status"] == "Processing" and summary()["ClassesCompleted"] == 0
    sandbox.advance_clock(10)
    first_wave = summary()
    assert first_wave["ClassesCompleted"] == 4 and first_wave["MethodsCompleted"] == 8
    sandbox.advance_clock(9)  # 21.5 s: not yet
    assert summary()["Status"] == "Processing"
    sandbox.advance_clock(0.6)
    final = summary()
    assert (final["Status"], final["ClassesCompleted"], final["MethodsCompleted"]) == ("Completed", 6, 12)


def test_retrieve_takes_longer_with_more_components(tmp_path: Path) -> None:
    from orgsim.metadata import retrieve

    org = Org(
        tmp_path / "org",
        {"org": {"sandbox": True}, "durations": {"retrieve_seconds": 1, "retrieve_component_seconds": 0.5}},
    )
    seconds_of(org, deploy.submit(org, make_zip(app(3)), DeployOptions(test_level="NoTestRun")))
    request = {"apiVersion": "62.0", "version": "62.0", "singlePackage": False, "types": {"ApexClass": ["*"]}}
    job = retrieve.submit(org, request)
    org.advance_clock(1 + 0.5 * 6 - 0.1)
    assert retrieve.status(org, job)["done"] is False
    org.advance_clock(0.2)
    done = retrieve.status(org, job)
    assert done["done"] is True and len([p for p in done["fileProperties"] if p["type"] == "ApexClass"]) == 6


def test_the_timing_example_in_docs_orgsim_md_is_a_valid_scenario() -> None:
    import re

    import yaml

    text = (Path(__file__).resolve().parents[3] / "docs" / "orgsim.md").read_text()
    match = re.search(r"### Timing model.*?```yaml\n(.*?)```", text, re.DOTALL)
    assert match, "docs/orgsim.md has no YAML example under '### Timing model'"
    d = scenario_from_dict(yaml.safe_load(match.group(1)), source="docs/orgsim.md").durations
    assert timing.per_unit(d)
    validation = timing.deploy_timing(d, check_only=True, components=400, test_class_methods=[2] * 200)
    assert validation.total == pytest.approx(2 + 0.05 * 400 + 3 * 200)
