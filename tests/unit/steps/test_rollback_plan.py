"""What the rollback deletes: proof of creation, never standard components, no children of a deleted object,
referencers first (pre) and what they reference after (post), and exact counts from the destructive deploy."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cutover.sf.results import parse_deploy_result
from cutover.steps.rollback_plan import (
    Item,
    count_deletions,
    manifest_xml,
    never_delete,
    plan_deletions,
    references_in,
    summary,
)

NS = "{http://soap.sforce.com/2006/04/metadata}"


def items(*pairs: str) -> list[Item]:
    return [Item(*p.split(":", 1)) for p in pairs]


def created(*pairs: str) -> set[tuple[str, str]]:
    return {(i.type, i.name.lower()) for i in items(*pairs)}


# What a release of "an LWC app with custom objects" adds, as the backup records it. Account and Contact were in its
# manifest and the org "lacked" them only because the retrieve did not return them: issue 7's failure 4.
ADDED = items(
    "CustomObject:Account",
    "CustomObject:Contact",
    "CustomField:Account.Name",
    "CustomField:Account.Score__c",
    "CustomObject:Property__c",
    "CustomField:Property__c.Price__c",
    "CustomField:Property__c.Name",
    "ListView:Property__c.All",
    "RecordType:Property__c.Residential",
    "CompactLayout:Property__c.Compact",
    "Layout:Property__c-Property Layout",
    "Layout:Account-Account Score Layout",
    "CustomTab:Property__c",
    "PermissionSet:Property_Admin",
    "FlexiPage:Property_Record_Page",
    "LightningComponentBundle:propertyCard",
    "ApexClass:PropertyController",
    "ApexTrigger:PropertyTrigger",
    "CustomApplication:Dreamhouse",
    "LightningMessageChannel:PropertySelected",
    "StaticResource:sample_data",
    "StandardValueSet:LeadSource",
)


def test_standard_objects_and_fields_are_never_deleted() -> None:
    assert never_delete(Item("CustomObject", "Account")) == "standard object"
    assert never_delete(Item("CustomField", "Account.Name")) == "standard field"
    assert never_delete(Item("CustomField", "Property__c.Name")) == "standard field"  # standard field, custom object
    assert never_delete(Item("CustomField", "Account.Score__c")) is None
    assert never_delete(Item("CustomField", "ns__Deal__c.ns__Amount__c")) is None
    for custom in ("Property__c", "Order_Event__e", "Config__mdt", "Archive__b", "Remote__x"):
        assert never_delete(Item("CustomObject", custom)) is None, custom
    assert never_delete(Item("CustomTab", "standard-Account")) == "standard tab"
    assert never_delete(Item("CustomApplication", "standard__Sales")) == "standard app"
    assert never_delete(Item("StandardValueSet", "LeadSource")) is not None
    assert never_delete(Item("AccountSettings", "Account")) is not None


def test_only_what_the_deploy_created_is_deleted() -> None:
    plan = plan_deletions(items("ApexClass:New", "ApexClass:MadeBySomeoneElse"), created("ApexClass:New"))
    assert plan.delete == items("ApexClass:New")
    assert [(str(x.item), x.reason) for x in plan.left] == [
        ("ApexClass:MadeBySomeoneElse", "the deploy did not create it (no created=true row in its result)")
    ]
    nothing_known = plan_deletions(items("ApexClass:New"), None)
    assert nothing_known.delete == [] and "no deploy or validation result" in nothing_known.left[0].reason


def test_children_of_a_deleted_object_are_left_to_the_object_and_layers_are_ordered() -> None:
    everything = created(*(str(i) for i in ADDED))
    plan = plan_deletions(ADDED, everything)
    left = {str(x.item): x.reason for x in plan.left}
    assert left == {
        "CustomObject:Account": "standard object",
        "CustomObject:Contact": "standard object",
        "CustomField:Account.Name": "standard field",
        "CustomField:Property__c.Name": "standard field",
        "StandardValueSet:LeadSource": "StandardValueSet is never deleted by a rollback",
    }
    assert [str(i) for i in plan.with_parent] == [
        "Layout:Property__c-Property Layout",
        "CompactLayout:Property__c.Compact",
        "ListView:Property__c.All",
        "RecordType:Property__c.Residential",
        "CustomField:Property__c.Price__c",
    ]
    # Pre: everything that references something, referencers first; post: the data model and leaf resources.
    assert [str(i) for i in plan.pre] == [
        "PermissionSet:Property_Admin",  # names the app, the tab, the class, the object and its fields
        "CustomApplication:Dreamhouse",  # names the tab and the pages
        "CustomTab:Property__c",
        "FlexiPage:Property_Record_Page",
        "Layout:Account-Account Score Layout",  # a layout of an object that stays: deleted itself
        "LightningComponentBundle:propertyCard",
        "ApexTrigger:PropertyTrigger",
        "ApexClass:PropertyController",
    ]
    assert [str(i) for i in plan.post] == [
        "CustomField:Account.Score__c",  # a custom field on a standard object: deleted, the object stays
        "CustomObject:Property__c",
        "LightningMessageChannel:PropertySelected",
        "StaticResource:sample_data",
    ]
    total = len(plan.pre) + len(plan.post) + len(plan.with_parent) + len(plan.left)
    assert total == len(ADDED)


def test_manifest_keeps_the_dependency_order() -> None:
    plan = plan_deletions(ADDED, created(*(str(i) for i in ADDED)))
    root = ET.fromstring(manifest_xml(plan.pre, "62.0"))
    types = [t.findtext(f"{NS}name") for t in root.findall(f"{NS}types")]
    assert types == [
        "PermissionSet",
        "CustomApplication",
        "CustomTab",
        "FlexiPage",
        "Layout",
        "LightningComponentBundle",
        "ApexTrigger",
        "ApexClass",
    ]
    assert root.findtext(f"{NS}version") == "62.0"


def _destructive_result(rows: list[dict[str, object]], status: str = "Succeeded") -> object:
    package = {"componentType": "", "fullName": "package.xml", "success": True, "changed": True}
    return parse_deploy_result(
        {
            "id": "0Af1",
            "status": status,
            "done": True,
            "success": status == "Succeeded",
            "details": {"componentSuccesses": [package, *rows]},
        }
    )


def test_counts_come_from_the_destructive_deploy_result() -> None:
    plan = plan_deletions(ADDED, created(*(str(i) for i in ADDED)))
    rows = [
        {"componentType": i.type, "fullName": i.name, "success": True, "deleted": True, "changed": True}
        for i in plan.delete
        if i.name != "sample_data"
    ]
    rows.append({"componentType": "StaticResource", "fullName": "sample_data", "success": True,
                 "problemType": "Warning", "problem": "No StaticResource named: sample_data found"})  # fmt: skip
    counts = count_deletions(plan.delete, _destructive_result(rows))
    assert len(counts.deleted) == 11 and [str(i) for i in counts.already_gone] == ["StaticResource:sample_data"]
    assert counts.unconfirmed == []
    text = summary(plan, counts)
    assert text.startswith("deleted 11 component(s) the release added (")
    assert (
        "5 removed with their object; 1 already gone; 5 left in place: CustomField:Account.Name (standard field)"
        in (text)
    )


@pytest.mark.parametrize("name", ["Account", "Contact", "Opportunity"])
def test_a_standard_object_is_never_listed_even_when_the_deploy_reports_it_created(name: str) -> None:
    plan = plan_deletions(items(f"CustomObject:{name}"), created(f"CustomObject:{name}"))
    assert plan.delete == [] and plan.left[0].reason == "standard object"


def test_folders_close_post_unknown_types_open_it_and_metadata_records_go_with_their_type() -> None:
    added = items(
        "Report:Sales_Reports",
        "Report:Sales_Reports/Pipeline",
        "EmailTemplate:unfiled$public",
        "EmailTemplate:unfiled$public/Welcome",
        "DataWeaveResource:csvToContacts",
        "CustomObject:Config__mdt",
        "CustomField:Config__mdt.Value__c",
        "CustomMetadata:Config.Default",
        "CustomMetadata:Other.Default",
        "CustomField:Account.Score__c",
    )
    plan = plan_deletions(added, created(*(str(i) for i in added)))
    assert [str(i) for i in plan.pre] == ["Report:Sales_Reports/Pipeline", "EmailTemplate:unfiled$public/Welcome"]
    assert [str(i) for i in plan.post] == [
        "DataWeaveResource:csvToContacts",  # a type the order does not know: before the data model
        "CustomMetadata:Other.Default",  # a record of a type that stays: deleted before fields and objects
        "CustomField:Account.Score__c",
        "CustomObject:Config__mdt",
        "Report:Sales_Reports",  # the folder, once its report is gone
    ]
    assert [str(i) for i in plan.with_parent] == ["CustomMetadata:Config.Default", "CustomField:Config__mdt.Value__c"]
    assert [(str(x.item), x.reason) for x in plan.left] == [
        ("EmailTemplate:unfiled$public", "the standard unfiled$public folder")
    ]


def test_what_the_restored_backup_still_names_is_left_in_place(tmp_path: Path) -> None:
    # An org whose old code already used an object the deploy "created": deleting it would make the whole
    # destructive deploy fail ("This custom object is referenced elsewhere"), so it stays, with the reason.
    (tmp_path / "classes").mkdir()
    (tmp_path / "classes" / "Poller.cls").write_text("public class Poller { List<Audit_Log__c> rows; }")
    (tmp_path / "objects").mkdir()
    (tmp_path / "objects" / "Other__c.object").write_text("<CustomObject><fields><fullName>Amount__c</fullName>")
    (tmp_path / "package.xml").write_text("<Package><members>Helper</members></Package>")
    (tmp_path / "permissionsets").mkdir()  # a permission set's entries do not block a deletion
    (tmp_path / "permissionsets" / "Admin.permissionset").write_text("<apexClass>Helper</apexClass>")
    added = items(
        "CustomObject:Audit_Log__c",
        "CustomField:Audit_Log__c.Level__c",
        "CustomField:New__c.Amount__c",  # `Amount__c` appears, but on another object: not a reference
        "ApexClass:Helper",  # named only in package.xml and a permission set: not a blocking reference
    )
    referenced = references_in(tmp_path, added)
    assert referenced == {("CustomObject", "audit_log__c"): "classes/Poller.cls"}
    plan = plan_deletions(added, created(*(str(i) for i in added)), referenced)
    assert [(str(x.item), x.reason) for x in plan.left] == [
        ("CustomObject:Audit_Log__c", "classes/Poller.cls, restored from the backup, still references it")
    ]
    # The object stays, so its new field is deleted by itself (not "removed with its object").
    assert [str(i) for i in plan.post] == [
        "CustomField:Audit_Log__c.Level__c",
        "CustomField:New__c.Amount__c",
    ]
    assert plan.with_parent == [] and [str(i) for i in plan.pre] == ["ApexClass:Helper"]
