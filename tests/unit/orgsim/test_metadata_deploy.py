"""Deploy state machine, queueing, rollback, quick-deploy eligibility, destructive changes, retrieve round trip.

These drive `orgsim.metadata` directly on a real `Org` (SQLite in tmp_path) and move the org clock instead of sleeping.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orgsim.metadata import deploy, rest, retrieve, seed_metadata
from orgsim.metadata import store as md
from orgsim.metadata.deploy import DeployOptions
from orgsim.metadata.package import package_xml
from orgsim.metadata.xml import SoapFault
from orgsim.org import Org

META = b"""<?xml version="1.0" encoding="UTF-8"?>
<ApexClass xmlns="http://soap.sforce.com/2006/04/metadata">
    <apiVersion>62.0</apiVersion>
    <status>Active</status>
</ApexClass>
"""
SERVICE = b"""public with sharing class GapService {
    public static Integer count(List<String> gaps) {
        Integer n = 0;
        for (String g : gaps) {
            n++;
        }
        return n;
    }
}
"""
SERVICE_TEST = b"""@isTest
private class GapServiceTest {
    @isTest static void counts() {
        System.assertEquals(1, GapService.count(new List<String>{'a'}));
    }
    @isTest static void countsNone() {
        System.assertEquals(0, GapService.count(new List<String>()));
    }
}
"""
JOB = b"""public class ElaroNightly implements Schedulable {
    public void execute(SchedulableContext c) {
        GapService.count(new List<String>());
    }
}
"""
OBJECT = b"""<?xml version="1.0" encoding="UTF-8"?>
<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata">
    <fields>
        <fullName>Severity__c</fullName>
        <label>Severity</label>
        <length>40</length>
        <type>Text</type>
    </fields>
    <label>Compliance Gap</label>
</CustomObject>
"""


def make_zip(
    classes: dict[str, bytes], *, extra: dict[str, bytes] | None = None, types: dict[str, list[str]] | None = None
) -> bytes:
    files: dict[str, bytes] = {}
    for name, body in classes.items():
        files[f"classes/{name}.cls"] = body
        files[f"classes/{name}.cls-meta.xml"] = META
    files.update(extra or {})
    manifest = types if types is not None else {"ApexClass": sorted(classes)} if classes else {}
    files["package.xml"] = package_xml(manifest, "62.0")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, content in files.items():
            archive.writestr(path, content)
    return buffer.getvalue()


APP = {"GapService": SERVICE, "GapServiceTest": SERVICE_TEST}


@pytest.fixture
def make_org(tmp_path: Path) -> Any:
    def factory(**scenario: Any) -> Org:
        scenario.setdefault("durations", {"deploy_seconds": 10, "validate_seconds": 10, "retrieve_seconds": 1})
        return Org(tmp_path / f"org{len(list(tmp_path.iterdir()))}", scenario)

    return factory


@pytest.fixture
def org(make_org: Any) -> Org:
    return make_org()


def run_to_end(org: Org, job_id: str) -> dict[str, Any]:
    org.advance_clock(11)
    result = deploy.status(org, job_id)
    assert result["done"], result["status"]
    return result


def names(org: Org, type_name: str = "ApexClass") -> list[str]:
    return [c.full_name for c in md.list_components(org, type_name)]


def test_status_moves_from_in_progress_to_succeeded_and_applies(org: Org) -> None:
    job = deploy.submit(org, make_zip(APP), DeployOptions(test_level="RunLocalTests"))
    assert len(job) == 18 and job.startswith("0Af")
    first = deploy.status(org, job)
    assert first["status"] == "InProgress" and first["done"] is False
    assert names(org) == []  # nothing visible until the deploy completes
    org.advance_clock(7)
    middle = deploy.status(org, job)
    assert middle["numberComponentsDeployed"] == 2 and middle["numberTestsCompleted"] == 0
    final = run_to_end(org, job)
    assert final["status"] == "Succeeded" and final["success"] is True
    assert final["numberTestsCompleted"] == 2 and final["runTestsEnabled"] is True
    run = final["details"]["runTestResult"]
    assert run["numTestsRun"] == 2 and run["numFailures"] == 0
    assert [c["name"] for c in run["codeCoverage"]] == ["GapService"]
    assert names(org) == ["GapService", "GapServiceTest"]
    records = {r["Name"]: r for r in org.store.list("ApexClass")}
    assert records["GapService"]["Body"] == SERVICE.decode() and records["GapService"]["Status"] == "Active"


def test_deploys_queue_one_at_a_time(org: Org) -> None:
    first = deploy.submit(org, make_zip(APP), DeployOptions(test_level="RunLocalTests"))
    second = deploy.submit(org, make_zip({"ElaroNightly": JOB}), DeployOptions(test_level="RunLocalTests"))
    assert deploy.status(org, first)["status"] == "InProgress"
    assert deploy.status(org, second)["status"] == "Pending"
    org.advance_clock(11)
    assert deploy.status(org, first)["status"] == "Succeeded"
    assert deploy.status(org, second)["status"] == "InProgress"
    org.advance_clock(10)
    # The second deploy ran its tests against the org as the first left it.
    assert deploy.status(org, second)["status"] == "Succeeded"
    assert names(org) == ["ElaroNightly", "GapService", "GapServiceTest"]


def test_component_failure_rolls_back_everything(make_org: Any) -> None:
    org = make_org(
        faults={"component_failures": [{"name": "GapService", "problem": "Unexpected token '}'.", "line": 3}]}
    )
    job = deploy.submit(org, make_zip(APP), DeployOptions(test_level="RunLocalTests"))
    result = run_to_end(org, job)
    assert result["status"] == "Failed" and result["numberComponentErrors"] == 1
    assert (result["numberComponentsDeployed"], result["numberComponentsTotal"]) == (1, 2)  # compiled, rolled back
    failure = result["details"]["componentFailures"][0]
    assert (failure["fullName"], failure["problem"], failure["lineNumber"]) == (
        "GapService",
        "Unexpected token '}'.",
        3,
    )
    assert "runTestResult" not in result["details"]
    assert names(org) == []


def test_unbalanced_braces_fail_to_compile(org: Org) -> None:
    job = deploy.submit(org, make_zip({"Broken": b"public class Broken {\n    void m() {\n}\n"}), DeployOptions())
    failure = run_to_end(org, job)["details"]["componentFailures"][0]
    assert failure["problemType"] == "Error" and "<EOF>" in failure["problem"]


def test_failing_test_rolls_back(make_org: Any) -> None:
    org = make_org(
        apex={"failing_tests": [{"test": "GapServiceTest.countsNone", "message": "System.AssertException: no"}]}
    )
    result = run_to_end(org, deploy.submit(org, make_zip(APP), DeployOptions(test_level="RunLocalTests")))
    assert result["status"] == "Failed" and result["numberTestErrors"] == 1
    failure = result["details"]["runTestResult"]["failures"][0]
    assert failure["methodName"] == "countsNone" and failure["stackTrace"].startswith("Class.GapServiceTest.countsNone")
    assert names(org) == []


def test_low_org_coverage_fails_with_salesforce_warning(make_org: Any) -> None:
    org = make_org(apex={"coverage": {"GapService": 50}})
    result = run_to_end(org, deploy.submit(org, make_zip(APP), DeployOptions(test_level="RunLocalTests")))
    assert result["status"] == "Failed"
    warning = result["details"]["runTestResult"]["codeCoverageWarnings"][0]["message"]
    assert warning.startswith("Average test coverage across all Apex Classes and Triggers is 50%")
    assert names(org) == []


def test_production_refuses_no_test_run_for_apex_and_defaults_to_local_tests(org: Org) -> None:
    refused = run_to_end(org, deploy.submit(org, make_zip(APP), DeployOptions(test_level="NoTestRun")))
    assert refused["status"] == "Failed" and "NoTestRun" in refused["errorMessage"]
    defaulted = run_to_end(org, deploy.submit(org, make_zip(APP), DeployOptions()))
    assert defaulted["status"] == "Succeeded" and defaulted["numberTestsTotal"] == 2


def test_sandbox_allows_no_test_run(make_org: Any) -> None:
    org = make_org(org={"sandbox": True})
    result = run_to_end(org, deploy.submit(org, make_zip(APP), DeployOptions(test_level="NoTestRun")))
    assert result["status"] == "Succeeded" and result["runTestsEnabled"] is False


def test_validation_changes_nothing_and_quick_deploys_once(org: Org) -> None:
    validation = deploy.submit(org, make_zip(APP), DeployOptions(check_only=True, test_level="RunLocalTests"))
    assert run_to_end(org, validation)["checkOnly"] is True
    assert names(org) == []
    quick = deploy.submit_quick(org, validation)
    assert quick != validation
    result = run_to_end(org, quick)
    assert result["status"] == "Succeeded" and result["checkOnly"] is False
    assert names(org) == ["GapService", "GapServiceTest"]
    with pytest.raises(SoapFault) as refused:
        deploy.submit_quick(org, validation)
    assert refused.value.code == "sf:INVALID_ID_FIELD"


def test_quick_deploy_refused_after_ten_days(org: Org) -> None:
    validation = deploy.submit(org, make_zip(APP), DeployOptions(check_only=True, test_level="RunLocalTests"))
    run_to_end(org, validation)
    org.advance_clock(9 * 86400)
    assert deploy.quick_deploy_refusal(org, validation) is None
    org.advance_clock(2 * 86400)
    assert "10 days" in (deploy.quick_deploy_refusal(org, validation) or "")


def test_quick_deploy_refused_after_another_deploy(org: Org) -> None:
    validation = deploy.submit(org, make_zip(APP), DeployOptions(check_only=True, test_level="RunLocalTests"))
    run_to_end(org, validation)
    run_to_end(org, deploy.submit(org, make_zip({"ElaroNightly": JOB}), DeployOptions(test_level="RunLocalTests")))
    assert "changed since" in (deploy.quick_deploy_refusal(org, validation) or "")


def test_quick_deploy_needs_a_validation_that_ran_tests(make_org: Any) -> None:
    org = make_org(org={"sandbox": True})
    validation = deploy.submit(org, make_zip(APP), DeployOptions(check_only=True, test_level="NoTestRun"))
    run_to_end(org, validation)
    assert "did not run" in (deploy.quick_deploy_refusal(org, validation) or "")
    assert deploy.quick_deploy_refusal(org, "0Af000000000000AAA") == "invalid validation id"


def test_stuck_deploy_waits_until_canceled(make_org: Any) -> None:
    org = make_org(faults={"deploy_stuck_in_queue": True})
    job = deploy.submit(org, make_zip(APP), DeployOptions(test_level="RunLocalTests"))
    org.advance_clock(3600)
    assert deploy.status(org, job)["status"] == "Pending"
    assert deploy.cancel(org, job) == {"done": True, "id": job}
    canceled = deploy.status(org, job)
    assert canceled["status"] == "Canceled" and canceled["done"] is True and canceled["success"] is False
    assert names(org) == []


def test_cancel_of_a_finished_deploy_is_refused(org: Org) -> None:
    job = deploy.submit(org, make_zip(APP), DeployOptions(test_level="RunLocalTests"))
    run_to_end(org, job)
    with pytest.raises(SoapFault, match="already completed"):
        deploy.cancel(org, job)


def test_pending_scheduled_job_blocks_the_class(org: Org) -> None:
    run_to_end(org, deploy.submit(org, make_zip({**APP, "ElaroNightly": JOB}), DeployOptions()))
    org.schedule_job("Elaro Nightly", "ElaroNightly", "0 0 2 * * ?")
    changed = JOB.replace(b"count(new", b"count( new")
    result = run_to_end(org, deploy.submit(org, make_zip({"ElaroNightly": changed}), DeployOptions()))
    assert result["status"] == "Failed"
    assert result["details"]["componentFailures"][0]["problem"] == deploy.PENDING_JOBS_PROBLEM


def test_pending_scheduled_job_allowed_by_org_setting(make_org: Any) -> None:
    org = make_org(settings={"allow_deploy_with_pending_jobs": True})
    run_to_end(org, deploy.submit(org, make_zip({**APP, "ElaroNightly": JOB}), DeployOptions()))
    org.schedule_job("Elaro Nightly", "ElaroNightly", "0 0 2 * * ?")
    result = run_to_end(org, deploy.submit(org, make_zip({"ElaroNightly": JOB + b"\n"}), DeployOptions()))
    assert result["status"] == "Succeeded"


def test_successful_deploy_calls_after_deploy_and_can_abort_jobs(make_org: Any) -> None:
    org = make_org(faults={"abort_scheduled_jobs_on_deploy": True, "apexlog_failures_after_deploy": 1})
    run_to_end(org, deploy.submit(org, make_zip({**APP, "ElaroNightly": JOB}), DeployOptions()))
    # The first deploy already aborted nothing (no jobs yet); schedule one and deploy something unrelated.
    org.schedule_job("Elaro Nightly", "ElaroNightly", "0 0 2 * * ?")
    assert org.scheduled_job_named("Elaro Nightly") is not None
    other = make_zip({"Other": b"public class Other {\n}\n"})
    run_to_end(org, deploy.submit(org, other, DeployOptions()))
    assert org.scheduled_job_named("Elaro Nightly") is None
    assert org.store.get_setting("last_deploy_at") is not None  # Org.after_deploy ran
    assert org.store.count("ApexLog") == 2  # one failure log per successful deploy, as the scenario asks


def test_destructive_post_changes_remove_a_class_and_its_record(org: Org) -> None:
    run_to_end(org, deploy.submit(org, make_zip({**APP, "ElaroNightly": JOB}), DeployOptions()))
    destructive = package_xml({"ApexClass": ["ElaroNightly"]}, "62.0")
    job = deploy.submit(org, make_zip({}, extra={"destructiveChangesPost.xml": destructive}), DeployOptions())
    result = run_to_end(org, job)
    assert result["status"] == "Succeeded"
    deleted = [m for m in result["details"]["componentSuccesses"] if m.get("deleted")]
    assert [(m["componentType"], m["fullName"]) for m in deleted] == [("ApexClass", "ElaroNightly")]
    assert names(org) == ["GapService", "GapServiceTest"]
    assert [r["Name"] for r in org.store.list("ApexClass")] == ["GapService", "GapServiceTest"]


def test_deleting_a_missing_component_is_a_warning_that_fails_unless_ignored(org: Org) -> None:
    destructive = package_xml({"ApexClass": ["Ghost"]}, "62.0")
    zip_bytes = make_zip({}, extra={"destructiveChanges.xml": destructive})
    strict = run_to_end(org, deploy.submit(org, zip_bytes, DeployOptions()))
    assert strict["status"] == "Failed"
    assert strict["details"]["componentFailures"][0]["problemType"] == "Warning"
    lenient = run_to_end(org, deploy.submit(org, zip_bytes, DeployOptions(ignore_warnings=True)))
    assert lenient["status"] == "Succeeded"


def test_missing_file_named_in_package_xml_fails(org: Org) -> None:
    zip_bytes = make_zip(APP, types={"ApexClass": ["GapService", "GapServiceTest", "NotThere"]})
    result = run_to_end(org, deploy.submit(org, zip_bytes, DeployOptions()))
    assert result["status"] == "Failed"
    assert "was named in package.xml" in result["details"]["componentFailures"][0]["problem"]


def test_custom_object_is_registered_with_the_schema_and_retrieved_unchanged(org: Org) -> None:
    zip_bytes = make_zip(
        APP,
        extra={"objects/Compliance_Gap__c.object": OBJECT},
        types={"ApexClass": ["*"], "CustomObject": ["Compliance_Gap__c"]},
    )
    run_to_end(org, deploy.submit(org, zip_bytes, DeployOptions()))
    assert org.schema.field("Compliance_Gap__c", "Severity__c") is not None
    retrieve_id = retrieve.submit(
        org,
        {
            "apiVersion": "62.0",
            "version": None,
            "singlePackage": False,
            "types": {"ApexClass": ["*"], "CustomObject": ["Compliance_Gap__c"], "ApexTrigger": ["Missing"]},
        },
    )
    assert retrieve.status(org, retrieve_id)["done"] is False
    org.advance_clock(2)
    result = retrieve.status(org, retrieve_id)
    archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(result["zipFile"])))
    assert archive.read("unpackaged/classes/GapService.cls") == SERVICE
    assert archive.read("unpackaged/classes/GapService.cls-meta.xml") == META
    assert archive.read("unpackaged/objects/Compliance_Gap__c.object") == OBJECT
    assert b"<members>GapServiceTest</members>" in archive.read("unpackaged/package.xml")
    assert result["messages"] == [
        {
            "fileName": "unpackaged/package.xml",
            "problem": "Entity of type 'ApexTrigger' named 'Missing' cannot be found",
        }
    ]
    assert {p["type"] for p in result["fileProperties"]} == {"ApexClass", "CustomObject", "Package"}


def test_seed_metadata_loads_a_metadata_format_folder(tmp_path: Path, org: Org) -> None:
    folder = tmp_path / "seed"
    (folder / "classes").mkdir(parents=True)
    (folder / "classes" / "GapService.cls").write_bytes(SERVICE)
    (folder / "classes" / "GapService.cls-meta.xml").write_bytes(META)
    (folder / "package.xml").write_bytes(package_xml({"ApexClass": ["GapService"]}, "62.0"))
    assert seed_metadata(org, folder) == [("ApexClass", "GapService")]
    assert names(org) == ["GapService"]
    assert org.apex_class_id("GapService") is not None


def test_unreadable_zip_is_refused_before_queueing(org: Org) -> None:
    with pytest.raises(SoapFault) as refused:
        deploy.submit(org, b"not a zip", DeployOptions())
    assert refused.value.code == "sf:INVALID_ZIP"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../evil/package.xml", b"<Package/>")
    with pytest.raises(SoapFault, match="unsafe path"):
        deploy.submit(org, buffer.getvalue(), DeployOptions())


def _multipart(zip_bytes: bytes, options: dict[str, Any]) -> tuple[bytes, str]:
    boundary = "----orgsimBoundary42"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="package.xml"\r\n'
            "Content-Type: application/zip\r\n\r\n"
        ).encode()
        + zip_bytes
        + (
            f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="entity_content"\r\n'
            f"Content-Type: application/json\r\n\r\n{json.dumps({'deployOptions': options})}\r\n--{boundary}--\r\n"
        ).encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def test_rest_deploy_request_validates_and_quick_deploys(org: Org) -> None:
    body, content_type = _multipart(make_zip(APP), {"checkOnly": True, "testLevel": "RunLocalTests"})
    status, raw, _ = rest.handle(
        org, "POST", "/services/data/v62.0/metadata/deployRequest", body, {"content-type": content_type}
    )
    assert status == 201, raw
    validation = json.loads(raw)
    assert validation["deployOptions"]["checkOnly"] is True
    org.advance_clock(11)
    status, raw, _ = rest.handle(org, "GET", f"/services/data/v62.0/metadata/deployRequest/{validation['id']}", b"", {})
    result = json.loads(raw)["deployResult"]
    assert (status, result["status"], result["numberTestsTotal"]) == (200, "Succeeded", 2)
    assert result["details"]["runTestResult"]["successes"][0]["namespace"] is None
    quick_body = json.dumps({"validatedDeployRequestId": validation["id"]}).encode()
    status, raw, _ = rest.handle(
        org, "POST", "/services/data/v62.0/metadata/deployRequest", quick_body, {"content-type": "application/json"}
    )
    assert status == 201 and json.loads(raw)["validatedDeployRequestId"] == validation["id"]
    run_to_end(org, json.loads(raw)["id"])
    assert names(org) == ["GapService", "GapServiceTest"]
    status, raw, _ = rest.handle(
        org, "POST", "/services/data/v62.0/metadata/deployRequest", quick_body, {"content-type": "application/json"}
    )
    assert status == 404 and json.loads(raw)[0]["errorCode"] == "INVALID_ID_FIELD"


def test_rest_deploy_request_rejects_bad_input(org: Org) -> None:
    path = "/services/data/v62.0/metadata/deployRequest"
    status, raw, _ = rest.handle(org, "POST", path, b"not multipart", {"content-type": "text/plain"})
    assert status == 400 and json.loads(raw)[0]["errorCode"] == "INVALID_MULTIPART_REQUEST"
    body, content_type = _multipart(b"not a zip", {})
    status, raw, _ = rest.handle(org, "POST", path, body, {"content-type": content_type})
    assert status == 400 and json.loads(raw)[0]["errorCode"] == "INVALID_ZIP"
    status, raw, _ = rest.handle(org, "POST", path, b"{oops", {"content-type": "application/json"})
    assert status == 400 and json.loads(raw)[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_abort_on_deploy_removes_the_scenario_jobs_even_without_the_elaro_prefix(make_org: Any) -> None:
    org = make_org(
        faults={"abort_scheduled_jobs_on_deploy": True},
        scheduled_jobs=[{"name": "RetentionEnforcementScheduler", "class_name": "Retention", "cron": "0 0 3 * * ?"}],
    )
    org.schedule_job("Unrelated Nightly", "Other", "0 0 4 * * ?")
    assert org.scheduled_job_named("RetentionEnforcementScheduler") is not None
    run_to_end(org, deploy.submit(org, make_zip(APP), DeployOptions()))
    assert org.scheduled_job_named("RetentionEnforcementScheduler") is None
    assert org.scheduled_job_named("Unrelated Nightly") is not None


def test_seed_metadata_converts_a_source_format_project(org: Org) -> None:
    source = Path(__file__).resolve().parents[2] / "fixtures" / "sfdx_mini" / "force-app"
    stored = seed_metadata(org, source)
    assert sorted(stored) == [
        ("ApexClass", "ElaroGreeter"),
        ("ApexClass", "ElaroGreeterTest"),
        ("ApexClass", "ElaroNightlyJob"),
        ("CustomObject", "Compliance_Gap__c"),
        ("PermissionSet", "Elaro_Admin"),
    ]
    assert org.schema.field("Compliance_Gap__c", "Severity__c") is not None
    assert [r["Label"] for r in org.store.list("PermissionSet")] == ["Elaro Admin"]


def test_deleting_a_class_still_referenced_is_refused(org: Org) -> None:
    run_to_end(org, deploy.submit(org, make_zip({**APP, "ElaroNightly": JOB}), DeployOptions()))
    destructive = package_xml({"ApexClass": ["GapService"]}, "62.0")
    result = run_to_end(
        org, deploy.submit(org, make_zip({}, extra={"destructiveChangesPost.xml": destructive}), DeployOptions())
    )
    assert result["status"] == "Failed"
    problem = result["details"]["componentFailures"][0]["problem"]
    assert problem.startswith("This apex class is referenced elsewhere in salesforce.com.")
    assert "Class.ElaroNightly: line 3" in problem or "Class.GapServiceTest" in problem
    assert "GapService" in names(org)
    # Deleting the class together with everything that uses it works.
    everything = package_xml({"ApexClass": ["GapService", "GapServiceTest", "ElaroNightly"]}, "62.0")
    result = run_to_end(
        org, deploy.submit(org, make_zip({}, extra={"destructiveChanges.xml": everything}), DeployOptions())
    )
    assert result["status"] == "Succeeded" and names(org) == []


_PATH_PART = st.text(alphabet="abcXYZ_.-019", min_size=1, max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    files=st.dictionaries(
        st.lists(
            st.sampled_from(["classes", "objects", "lwc", "weird", "triggers"]) | _PATH_PART, min_size=1, max_size=3
        ).map("/".join),
        st.binary(max_size=60),
        max_size=6,
    ),
    members=st.lists(_PATH_PART, max_size=3),
)
def test_random_packages_end_in_a_terminal_state_without_internal_errors(
    make_org: Any, files: dict[str, bytes], members: list[str]
) -> None:
    org = make_org(org={"sandbox": True})
    files = {path: content for path, content in files.items() if path not in ("package.xml",) and ".." not in path}
    zip_bytes = make_zip({}, extra=files, types={"ApexClass": members, "CustomObject": ["*"]})
    try:
        job = deploy.submit(org, zip_bytes, DeployOptions(test_level="RunLocalTests"))
    except SoapFault:
        return  # refused up front, as a fault: fine
    result = run_to_end(org, job)
    assert result["status"] in ("Succeeded", "Failed")
    assert "UNKNOWN_EXCEPTION" not in (result.get("errorMessage") or "")


def test_rest_cancel_and_unknown_id(make_org: Any) -> None:
    org = make_org(faults={"deploy_stuck_in_queue": True})
    body, content_type = _multipart(make_zip(APP), {"testLevel": "RunLocalTests"})
    path = "/services/data/v62.0/metadata/deployRequest"
    job_id = json.loads(rest.handle(org, "POST", path, body, {"content-type": content_type})[1])["id"]
    cancel = json.dumps({"deployResult": {"status": "Canceling"}}).encode()
    status, raw, _ = rest.handle(org, "PATCH", f"{path}/{job_id}", cancel, {"content-type": "application/json"})
    assert status == 202 and json.loads(raw)["deployResult"]["status"] == "Canceled"
    status, raw, _ = rest.handle(org, "GET", f"{path}/0Af000000000000AAA", b"", {})
    assert status == 404 and json.loads(raw)[0]["errorCode"] == "INVALID_ID_FIELD"
