"""orgsim.schema: standard objects, relationships, API visibility, custom objects from metadata and records."""

from __future__ import annotations

import pytest

from orgsim.schema import Schema, SchemaError


def test_relationships_of_the_objects_the_runbook_and_cli_use():
    schema = Schema()
    assert schema.relationship("CronTrigger", "CronJobDetail") == ("CronJobDetailId", "CronJobDetail")
    assert schema.relationship("permissionsetassignment", "assignee") == ("AssigneeId", "User")
    assert schema.relationship("PermissionSetAssignment", "PermissionSet") == ("PermissionSetId", "PermissionSet")
    assert schema.relationship("ApexTestResult", "ApexClass") == ("ApexClassId", "ApexClass")
    assert schema.relationship("ApexTestQueueItem", "ApexClass") == ("ApexClassId", "ApexClass")
    assert schema.relationship("ApexCodeCoverage", "ApexTestClass") == ("ApexTestClassId", "ApexClass")
    assert schema.relationship("ApexCodeCoverageAggregate", "ApexClassOrTrigger") == (
        "ApexClassOrTriggerId",
        "ApexClass",
    )
    assert schema.relationship_field("ApexCodeCoverage", "ApexClassOrTrigger").reference_to == (
        "ApexClass",
        "ApexTrigger",
    )
    assert schema.relationship("AsyncApexJob", "ApexClass") == ("ApexClassId", "ApexClass")
    assert schema.relationship("ApexLog", "LogUser") == ("LogUserId", "User")
    assert schema.relationship("ApexClass", "CreatedBy") == ("CreatedById", "User")
    assert schema.relationship("CronTrigger", "Nope") is None


def test_api_visibility():
    schema = Schema()
    assert schema.has_object("ApexOrgWideCoverage", "tooling") and not schema.has_object("ApexOrgWideCoverage", "rest")
    assert schema.has_object("CronTrigger", "rest") and not schema.has_object("CronTrigger", "tooling")
    assert schema.has_object("ApexTestResult", "rest") and schema.has_object("ApexTestResult", "tooling")
    assert not schema.has_object("ScratchOrgInfo")
    assert Schema(dev_hub=True).has_object("ScratchOrgInfo", "rest")


def test_lookups_are_case_insensitive_and_canonical():
    schema = Schema()
    assert schema.canonical_name("crontrigger") == "CronTrigger"
    assert schema.field("crontrigger", "nextfiretime").name == "NextFireTime"
    assert schema.field("CronTrigger", "NextFireTime").type == "datetime"
    assert schema.key_prefix("ApexTestQueueItem") == "709"
    assert schema.object_for_id("08e000000000001AAA") == "CronTrigger"


def test_apex_log_has_no_created_date_like_real_salesforce():
    fields = {f.name for f in Schema().fields("ApexLog")}
    assert {"StartTime", "Status", "LogUserId", "DurationMilliseconds"} <= fields
    assert "CreatedDate" not in fields and "Message" not in fields


def test_custom_object_gets_standard_fields_and_typed_custom_fields():
    schema = Schema()
    obj = schema.add_custom_object(
        "Governor_Limit_Snapshot__c",
        {"Value__c": "Number", "Taken__c": "DateTime", "Ok__c": "Checkbox", "Gap__c": "Lookup:Compliance_Gap__c"},
    )
    assert obj.custom and obj.key_prefix.startswith("a")
    names = [f.name for f in schema.fields("governor_limit_snapshot__c")]
    for standard in ("Id", "Name", "CreatedDate", "CreatedById", "LastModifiedDate", "OwnerId", "SystemModstamp"):
        assert standard in names
    assert schema.field("Governor_Limit_Snapshot__c", "value__c").type == "double"
    assert schema.field("Governor_Limit_Snapshot__c", "Taken__c").type == "datetime"
    assert schema.field("Governor_Limit_Snapshot__c", "Ok__c").type == "boolean"
    assert schema.relationship("Governor_Limit_Snapshot__c", "Gap__r") == ("Gap__c", "Compliance_Gap__c")


def test_custom_objects_get_distinct_prefixes_and_reregistering_extends():
    schema = Schema()
    first = schema.add_custom_object("A__c", {"X__c": "Text"})
    second = schema.add_custom_object("B__c")
    assert first.key_prefix != second.key_prefix
    schema.add_custom_object("a__c", {"Y__c": "Number"})
    assert {"X__c", "Y__c"} <= {f.name for f in schema.fields("A__c")}


def test_remove_custom_object_and_field():
    schema = Schema()
    schema.add_custom_object("Temp__c", {"X__c": "Text"})
    schema.add_custom_field("Account", "Tier__c", "Picklist")
    assert schema.remove_custom_field("Account", "Tier__c")
    assert schema.field("Account", "Tier__c") is None
    assert not schema.remove_custom_field("Account", "Name")
    assert schema.remove_custom_object("temp__c") and not schema.has_object("Temp__c")
    assert not schema.remove_custom_object("Account")


@pytest.mark.parametrize(
    ("name", "fields"),
    [("NoSuffix", {}), ("Bad Name__c", {}), ("Ok__c", {"NoSuffix": "Text"}), ("Ok__c", {"X__c": "Wibble"})],
)
def test_invalid_definitions_are_rejected_when_strict(name, fields):
    schema = Schema()
    with pytest.raises(SchemaError):
        schema.add_custom_object(name, fields, strict=True)
    assert not schema.has_object(name)


def test_reference_without_target_is_rejected():
    with pytest.raises(SchemaError):
        Schema().add_custom_object("Ok__c", {"Parent__c": "Lookup"}, strict=True)


def test_lenient_registration_skips_only_the_odd_field(caplog):
    schema = Schema()
    schema.add_custom_object("Ok__c", {"Good__c": "Number", "Odd__c": "Wibble", "Parent__c": "Lookup"})
    assert schema.field("Ok__c", "Good__c").type == "double"
    assert schema.field("Ok__c", "Odd__c") is None and schema.field("Ok__c", "Parent__c") is None
    assert "Wibble" in caplog.text
    with pytest.raises(SchemaError):
        schema.add_custom_object("No Suffix", {})


def test_register_from_records_guesses_types():
    schema = Schema()
    schema.register_from_records(
        "Elaro_Audit_Log__c",
        [{"Id": "a00000000000001AAA", "Name": "x", "Count__c": 3, "When__c": "2026-11-27T10:00:00.000+0000"}],
    )
    schema.register_from_records("Account", [{"Name": "Acme", "Tier__c": True, "NotAField": 1}])
    schema.register_from_records("NotCustom", [{"Name": "x"}])
    assert schema.field("Elaro_Audit_Log__c", "Count__c").type == "double"
    assert schema.field("Elaro_Audit_Log__c", "When__c").type == "datetime"
    assert schema.field("Account", "Tier__c").type == "boolean"
    assert schema.field("Account", "NotAField") is None
    assert not schema.has_object("NotCustom")


def test_describe_lists_fields_with_references():
    described = Schema().describe("PermissionSetAssignment")
    assignee = next(f for f in described["fields"] if f["name"] == "AssigneeId")
    assert assignee["referenceTo"] == ["User"] and assignee["relationshipName"] == "Assignee"
    assert described["keyPrefix"] == "0Pa"
    with pytest.raises(KeyError):
        Schema().describe("Nope")


def test_child_relationships_use_salesforce_names_and_skip_audit_lookups():
    schema = Schema()
    schema.add_custom_object("Compliance_Gap__c")
    schema.add_custom_object("Gap_Note__c", {"Gap__c": "MasterDetail:Compliance_Gap__c"})
    assert schema.child_relationships("permissionset")["assignments"] == (
        "Assignments",
        "PermissionSetAssignment",
        "PermissionSetId",
    )
    users = schema.child_relationships("User")
    assert users["permissionsetassignments"][1:] == ("PermissionSetAssignment", "AssigneeId")
    assert "crontriggers" not in users  # CronTrigger.OwnerId / CreatedById give none
    assert schema.child_relationships("CronJobDetail")["crontriggers"] == (
        "CronTriggers",
        "CronTrigger",
        "CronJobDetailId",
    )
    assert schema.child_relationships("Compliance_Gap__c")["gap_notes__r"][1:] == ("Gap_Note__c", "Gap__c")
    assert schema.child_relationships("Nope") == {}
