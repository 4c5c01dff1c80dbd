"""Every SOQL query of the Elaro runbook and every query the sf CLI itself sends, against a seeded org."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orgsim.schema import Schema
from orgsim.soql import SoqlError, StaticSource, column_metadata, execute

NOW = datetime(2026, 11, 27, 17, 5, tzinfo=UTC)


@pytest.fixture()
def org() -> StaticSource:
    schema = Schema()
    schema.add_custom_object("Elaro_Audit_Log__c", {"Event__c": "Text"})
    schema.add_custom_object("Governor_Limit_Snapshot__c", {"Value__c": "Number"})
    schema.add_custom_object("Compliance_Gap__c", {"Severity__c": "Picklist"})
    src = StaticSource(schema, now=NOW)
    src.add(
        "Organization",
        {
            "Id": "00D000000000001AAA",
            "Name": "Elaro Production",
            "InstanceName": "NA224",
            "IsSandbox": False,
            "TrialExpirationDate": None,
            "NamespacePrefix": None,
            "OrganizationType": "Enterprise Edition",
        },
    )
    src.add("User", {"Id": "005000000000001AAA", "Name": "Ada Admin", "Username": "ada@elaro.test"})
    src.add("PermissionSet", {"Id": "0PS000000000001AAA", "Name": "Elaro_Admin"})
    src.add("PermissionSet", {"Id": "0PS000000000002AAA", "Name": "Sales_User"})
    src.add(
        "PermissionSetAssignment",
        {"Id": "0Pa000000000001AAA", "AssigneeId": "005000000000001AAA", "PermissionSetId": "0PS000000000001AAA"},
    )
    src.add(
        "PermissionSetAssignment",
        {"Id": "0Pa000000000002AAA", "AssigneeId": "005000000000001AAA", "PermissionSetId": "0PS000000000002AAA"},
    )
    for i, (name, fire) in enumerate(
        [
            ("RetentionEnforcementScheduler", "2026-11-28T02:00:00.000+0000"),
            ("ElaroCCPASLAMonitorScheduler", "2026-11-27T18:00:00.000+0000"),
            ("ElaroAuditTrailPoller", "2026-11-27T17:15:00.000+0000"),
        ],
        start=1,
    ):
        src.add("CronJobDetail", {"Id": f"08a00000000000{i}AAA", "Name": name})
        src.add(
            "CronTrigger",
            {
                "Id": f"08e00000000000{i}AAA",
                "CronJobDetailId": f"08a00000000000{i}AAA",
                "State": "WAITING",
                "NextFireTime": fire,
                "PreviousFireTime": "2026-11-27T17:00:00.000+0000",
            },
        )
    src.add(
        "ApexLog",
        {
            "Id": "07L000000000001AAA",
            "Request": "API",
            "Operation": "ElaroAuditTrailPoller",
            "Status": "Attempt to de-reference a null object",
            "DurationMilliseconds": 42,
            "StartTime": "2026-11-27T16:00:00.000+0000",
        },
    )
    snapshots = [("SOQL", 35.0, "2026-11-27T16"), ("CPU", 80.0, "2026-11-27T17"), ("Old", 99.0, "2026-11-25T17")]
    for i, (name, value, hour) in enumerate(snapshots, start=1):
        src.add(
            "Governor_Limit_Snapshot__c",
            {"Id": f"a0100000000000{i}AAA", "Name": name, "Value__c": value, "CreatedDate": f"{hour}:00:00.000+0000"},
        )
    src.add(
        "Elaro_Audit_Log__c",
        {"Id": "a00000000000001AAA", "Name": "AL-0001", "CreatedDate": "2026-11-27T17:00:00.000+0000"},
    )
    src.add("Compliance_Gap__c", {"Id": "a02000000000001AAA", "Name": "GAP-1", "Severity__c": "High"})
    # Apex test run records, as orgsim's test simulation writes them.
    src.add("ApexClass", {"Id": "01p000000000001AAA", "Name": "ElaroSecurityUtilsTest", "NamespacePrefix": None})
    src.add("ApexClass", {"Id": "01p000000000002AAA", "Name": "ElaroSecurityUtils", "NamespacePrefix": None})
    src.add("AsyncApexJob", {"Id": "707000000000001AAA", "Status": "Completed", "JobType": "TestRequest"})
    src.add(
        "ApexTestRunResult",
        {
            "Id": "05m000000000001AAA",
            "AsyncApexJobId": "707000000000001AAA",
            "Status": "Completed",
            "ClassesCompleted": 1,
            "ClassesEnqueued": 1,
            "MethodsEnqueued": 2,
            "StartTime": "2026-11-27T17:00:00.000+0000",
            "EndTime": "2026-11-27T17:00:03.000+0000",
            "TestTime": 3000,
            "TestSetupTime": 0,
            "UserId": "005000000000001AAA",
        },
    )
    src.add(
        "ApexTestQueueItem",
        {
            "Id": "709000000000001AAA",
            "Status": "Completed",
            "ApexClassId": "01p000000000001AAA",
            "TestRunResultId": "05m000000000001AAA",
            "ParentJobId": "707000000000001AAA",
        },
    )
    for i, outcome in enumerate(["Pass", "Fail"], start=1):
        src.add(
            "ApexTestResult",
            {
                "Id": f"07M00000000000{i}AAA",
                "QueueItemId": "709000000000001AAA",
                "AsyncApexJobId": "707000000000001AAA",
                "ApexClassId": "01p000000000001AAA",
                "MethodName": f"testMethod{i}",
                "Outcome": outcome,
                "Message": None if outcome == "Pass" else "Assertion failed",
                "StackTrace": None,
                "RunTime": 12,
                "TestTimestamp": "2026-11-27T17:00:01.000+0000",
                "ApexLogId": None,
                "IsTestSetup": False,
            },
        )
    src.add(
        "ApexCodeCoverage",
        {
            "Id": "71a000000000001AAA",
            "ApexTestClassId": "01p000000000001AAA",
            "ApexClassOrTriggerId": "01p000000000002AAA",
            "TestMethodName": "testMethod1",
            "NumLinesCovered": 9,
            "NumLinesUncovered": 1,
            "Coverage": {"coveredLines": [1, 2], "uncoveredLines": [3]},
        },
    )
    src.add(
        "ApexCodeCoverageAggregate",
        {
            "Id": "715000000000001AAA",
            "ApexClassOrTriggerId": "01p000000000002AAA",
            "NumLinesCovered": 9,
            "NumLinesUncovered": 1,
            "Coverage": {"coveredLines": [1, 2], "uncoveredLines": [3]},
        },
    )
    src.add("ApexOrgWideCoverage", {"Id": "716000000000001AAA", "PercentCovered": 90})
    return src


# --- the runbook ---------------------------------------------------------------------------------------------
def test_runbook_recent_failure_logs_query_is_invalid_field_like_real_salesforce(org):
    """Real ApexLog has no CreatedDate: the runbook's query fails in a real org, so it fails here too."""
    soql = (
        "SELECT Id, Request, Operation, Status, DurationMilliseconds FROM ApexLog "
        "WHERE Status = 'Failure' AND CreatedDate = TODAY ORDER BY CreatedDate DESC LIMIT 10"
    )
    with pytest.raises(SoqlError) as info:
        execute(soql, org)
    assert info.value.error_code == "INVALID_FIELD"
    assert "No such column 'CreatedDate' on entity 'ApexLog'" in info.value.message


def test_runbook_recent_logs_query_with_starttime_works(org):
    soql = (
        "SELECT Id, Request, Operation, Status, DurationMilliseconds FROM ApexLog "
        "WHERE Status != 'Success' AND StartTime = TODAY ORDER BY StartTime DESC LIMIT 10"
    )
    result = execute(soql, org)
    assert [r["Status"] for r in result["records"]] == ["Attempt to de-reference a null object"]


def test_runbook_appendix_error_query_is_invalid_field(org):
    soql = "SELECT Id, Message, CreatedDate FROM ApexLog WHERE LogCategory = 'Apex' AND CreatedDate = TODAY LIMIT 100"
    with pytest.raises(SoqlError) as info:
        execute(soql, org)
    assert info.value.error_code == "INVALID_FIELD"
    assert "No such column 'Message' on entity 'ApexLog'" in info.value.message


def test_runbook_scheduled_jobs_query_orders_by_next_fire_time(org):
    soql = (
        "SELECT Id, CronJobDetail.Name, State, NextFireTime FROM CronTrigger "
        "WHERE CronJobDetail.Name LIKE 'Elaro%' ORDER BY NextFireTime"
    )
    result = execute(soql, org)
    assert [r["CronJobDetail"]["Name"] for r in result["records"]] == [
        "ElaroAuditTrailPoller",
        "ElaroCCPASLAMonitorScheduler",
    ]
    assert {r["State"] for r in result["records"]} == {"WAITING"}
    assert [c["columnName"] for c in column_metadata(soql, org)["columnMetadata"]] == [
        "Id",
        "CronJobDetail",
        "State",
        "NextFireTime",
    ]


def test_runbook_scheduled_jobs_verification_query(org):
    soql = (
        "SELECT Id, CronJobDetail.Name, State, NextFireTime, PreviousFireTime FROM CronTrigger "
        "WHERE CronJobDetail.Name LIKE 'Elaro%'"
    )
    records = execute(soql, org)["records"]
    assert len(records) == 2
    assert list(records[0]) == ["attributes", "Id", "CronJobDetail", "State", "NextFireTime", "PreviousFireTime"]


def test_runbook_governor_limits_query(org):
    soql = (
        "SELECT Id, Name, Value__c FROM Governor_Limit_Snapshot__c WHERE CreatedDate = TODAY "
        "ORDER BY CreatedDate DESC LIMIT 10"
    )
    result = execute(soql, org)
    assert [(r["Name"], r["Value__c"]) for r in result["records"]] == [("CPU", 80.0), ("SOQL", 35.0)]
    meta = column_metadata(soql, org)["columnMetadata"]
    assert meta[2]["columnName"] == "Value__c" and meta[2]["custom"] is True and meta[2]["numberType"] is True


def test_runbook_permission_set_assignments_query(org):
    soql = "SELECT Id, Assignee.Name, PermissionSet.Name FROM PermissionSetAssignment WHERE PermissionSet.Name LIKE 'Elaro%'"  # noqa: E501
    records = execute(soql, org)["records"]
    assert len(records) == 1
    assert records[0]["Assignee"]["Name"] == "Ada Admin"
    assert records[0]["PermissionSet"]["Name"] == "Elaro_Admin"
    assert records[0]["Assignee"]["attributes"]["type"] == "User"


def test_runbook_audit_log_and_compliance_gap_objects(org):
    assert execute("SELECT Id, Name FROM Elaro_Audit_Log__c WHERE CreatedDate = LAST_N_DAYS:1", org)["totalSize"] == 1
    assert execute("SELECT COUNT() FROM Compliance_Gap__c WHERE Severity__c = 'high'", org)["totalSize"] == 1


# --- what the sf CLI sends -----------------------------------------------------------------------------------
def test_cli_dev_hub_probe_is_invalid_type(org):
    with pytest.raises(SoqlError) as info:
        execute("SELECT Id FROM ScratchOrgInfo limit 1", org)
    assert info.value.error_code == "INVALID_TYPE"


def test_dev_hub_schema_knows_scratch_org_info():
    assert execute("SELECT Id FROM ScratchOrgInfo limit 1", StaticSource(Schema(dev_hub=True)))["totalSize"] == 0


def test_cli_organization_query(org):
    soql = (
        "SELECT Name, InstanceName, IsSandbox, TrialExpirationDate, NamespacePrefix, OrganizationType FROM Organization"
    )
    record = execute(soql, org)["records"][0]
    assert record["IsSandbox"] is False and record["TrialExpirationDate"] is None
    assert record["OrganizationType"] == "Enterprise Edition"


def test_cli_sandbox_process_query_is_empty_over_tooling(org):
    soql = (
        "SELECT Id,Status,SandboxName,SandboxInfoId,LicenseType,CreatedDate,CopyProgress,SandboxOrganization,"
        "SourceId,Description,EndDate,Features FROM SandboxProcess WHERE SandboxOrganization='00D000000000001' "
        "ORDER BY CreatedDate DESC"
    )
    assert execute(soql, org, "tooling") == {"totalSize": 0, "done": True, "records": []}


def test_cli_test_run_result_query(org):
    soql = (
        "SELECT AsyncApexJobId, Status, ClassesCompleted, ClassesEnqueued, MethodsEnqueued, StartTime, EndTime, "
        "TestTime, TestSetupTime, UserId FROM ApexTestRunResult WHERE AsyncApexJobId = '707000000000001AAA'"
    )
    record = execute(soql, org, "tooling")["records"][0]
    assert record["Status"] == "Completed" and record["TestTime"] == 3000


def test_cli_queue_item_query_with_15_char_job_id(org):
    soql = "SELECT Id, Status, ApexClassId, TestRunResultId, ParentJobId FROM ApexTestQueueItem WHERE ParentJobId = '707000000000001'"  # noqa: E501
    assert [r["Id"] for r in execute(soql, org, "tooling")["records"]] == ["709000000000001AAA"]


def test_cli_test_result_query_with_apex_class_relationship(org):
    soql = (
        "SELECT Id, QueueItemId, StackTrace, Message, RunTime, TestTimestamp, AsyncApexJobId, MethodName, Outcome, "
        "ApexLogId, IsTestSetup, ApexClass.Id, ApexClass.Name, ApexClass.NamespacePrefix FROM ApexTestResult "
        "WHERE QueueItemId IN ('709000000000001AAA','709000000000002AAA')"
    )
    records = execute(soql, org, "tooling")["records"]
    assert [r["Outcome"] for r in records] == ["Pass", "Fail"]
    assert records[0]["ApexClass"] == {
        "attributes": {
            "type": "ApexClass",
            "url": "/services/data/v62.0/tooling/sobjects/ApexClass/01p000000000001AAA",
        },
        "Id": "01p000000000001AAA",
        "Name": "ElaroSecurityUtilsTest",
        "NamespacePrefix": None,
    }


def test_cli_code_coverage_queries(org):
    per_test = execute(
        "SELECT ApexTestClassId, ApexClassOrTrigger.Id, ApexClassOrTrigger.Name, TestMethodName, NumLinesCovered, "
        "NumLinesUncovered, Coverage FROM ApexCodeCoverage WHERE ApexTestClassId IN ('01p000000000001AAA')",
        org,
        "tooling",
    )["records"]
    assert per_test[0]["ApexClassOrTrigger"]["Name"] == "ElaroSecurityUtils"
    assert per_test[0]["Coverage"] == {"coveredLines": [1, 2], "uncoveredLines": [3]}
    aggregate = execute(
        "SELECT ApexClassOrTrigger.Id, ApexClassOrTrigger.Name, NumLinesCovered, NumLinesUncovered, Coverage "
        "FROM ApexCodeCoverageAggregate WHERE ApexClassorTriggerId IN ('01p000000000002AAA')",
        org,
        "tooling",
    )["records"]
    assert aggregate[0]["NumLinesCovered"] == 9
    org_wide = execute("SELECT PercentCovered FROM ApexOrgWideCoverage", org, "tooling")["records"]
    assert org_wide[0]["PercentCovered"] == 90


def test_cli_flow_test_result_query_is_empty(org):
    soql = (
        "SELECT Id, ApexTestQueueItemId, Result, TestStartDateTime,TestEndDateTime, FlowTest.DeveloperName, "
        "FlowDefinition.DeveloperName, FlowDefinition.NamespacePrefix FROM FlowTestResult "
        "WHERE ApexTestQueueItemId IN ('709000000000001AAA')"
    )
    assert execute(soql, org, "tooling")["totalSize"] == 0


def test_async_apex_job_query(org):
    soql = "SELECT Id, Status, JobType, ApexClass.Name FROM AsyncApexJob WHERE Status = 'Completed' AND JobType = 'TestRequest'"  # noqa: E501
    records = execute(soql, org)["records"]
    assert records[0]["ApexClass"] is None and records[0]["Status"] == "Completed"


# --- against orgsim's real org runtime (store + schema + clock), not a stand-in ------------------------------
def test_runbook_queries_against_the_production_scenario_org(tmp_path):
    from orgsim.org import Org
    from orgsim.scenario import builtin_scenario_path

    org = Org(tmp_path / "org", builtin_scenario_path("production"))
    try:
        jobs = execute(
            "SELECT Id, CronJobDetail.Name, State, NextFireTime, PreviousFireTime FROM CronTrigger "
            "WHERE CronJobDetail.Name LIKE 'Elaro%' ORDER BY NextFireTime",
            org,
        )["records"]
        assert jobs and all(j["CronJobDetail"]["Name"].lower().startswith("elaro") for j in jobs)
        assert [j["NextFireTime"] for j in jobs] == sorted(j["NextFireTime"] for j in jobs)
        snapshots = execute(
            "SELECT Id, Name, Value__c FROM Governor_Limit_Snapshot__c WHERE CreatedDate = TODAY "
            "ORDER BY CreatedDate DESC LIMIT 10",
            org,
        )
        assert snapshots["totalSize"] >= 1
        holders = execute(
            "SELECT Id, Assignee.Name, PermissionSet.Name FROM PermissionSetAssignment "
            "WHERE PermissionSet.Name LIKE 'Elaro%'",
            org,
        )["records"]
        assert holders and holders[0]["Assignee"]["Name"]
        logs = execute("SELECT Id, Status FROM ApexLog WHERE StartTime = LAST_N_DAYS:1", org)
        assert logs["totalSize"] >= 1
    finally:
        org.close()


def test_column_metadata_follows_the_api_of_the_query(org):
    """`sf data query -t` asks `tooling/query?...&columns=true`: Tooling-only objects must describe there."""
    meta = column_metadata("SELECT PercentCovered FROM ApexOrgWideCoverage", org, "tooling")
    assert meta["columnMetadata"][0]["columnName"] == "PercentCovered"
    assert meta["columnMetadata"][0]["numberType"] is True
    with pytest.raises(SoqlError) as info:
        column_metadata("SELECT PercentCovered FROM ApexOrgWideCoverage", org)
    assert info.value.error_code == "INVALID_TYPE"
