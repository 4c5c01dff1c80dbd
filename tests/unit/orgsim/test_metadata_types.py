"""Every metadata type of orgsim's describeMetadata answer deploys, retrieves (by name and by "*") and deletes; child
components live inside their parent's file; unknown types, standard objects and standard fields are refused."""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from orgsim.metadata import children as kids
from orgsim.metadata import deploy, retrieve
from orgsim.metadata import store as md
from orgsim.metadata import types as mdtypes
from orgsim.metadata.deploy import DeployOptions
from orgsim.metadata.package import package_xml
from orgsim.org import Org

NS = "http://soap.sforce.com/2006/04/metadata"


def generic(root: str, body: str = "") -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{NS}">\n{body}</{root}>\n'.encode()


def zip_of(
    files: dict[str, bytes], types: dict[str, list[str]], destructive: dict[str, list[str]] | None = None
) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, content in sorted(files.items()):
            archive.writestr(path, content)
        archive.writestr("package.xml", package_xml(types, "62.0"))
        if destructive is not None:
            archive.writestr("destructiveChangesPost.xml", package_xml(destructive, "62.0"))
    return buffer.getvalue()


@pytest.fixture
def org(tmp_path: Path) -> Org:
    # A sandbox: no Apex tests run by default, so every type can go through one deploy.
    return Org(tmp_path / "org", {"org": {"sandbox": True}, "durations": {"deploy_seconds": 1, "retrieve_seconds": 0}})


def run(org: Org, data: bytes, **options: Any) -> dict[str, Any]:
    job = deploy.submit(org, data, DeployOptions(**options))
    org.advance_clock(2)
    result = deploy.status(org, job)
    assert result["done"]
    return result


def fetch(org: Org, types: dict[str, list[str]]) -> tuple[dict[str, Any], dict[str, bytes]]:
    request = {"apiVersion": "62.0", "version": "62.0", "singlePackage": True, "types": types}
    result = retrieve.status(org, retrieve.submit(org, request))
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(result["zipFile"]))) as archive:
        files = {n: archive.read(n) for n in archive.namelist() if n != "package.xml"}
    return result, files


def sample(metadata_type: mdtypes.MetadataType) -> tuple[list[str], dict[str, bytes]]:
    """Package.xml members and metadata-format files for one component of any type (plus its folder)."""
    directory, suffix, name = metadata_type.directory, metadata_type.suffix, metadata_type.name
    content = generic(name)
    if metadata_type.bundle:
        return ["Sample1"], {f"{directory}/Sample1/Sample1.txt": b"x\n", f"{directory}/Sample1/Sample1.xml": content}
    if metadata_type.in_folder:
        folder = {f"{directory}/Folder1-meta.xml": generic(metadata_type.folder_type or "Folder")}
        item = "Folder1/Sample1.txt" if name == "Document" else "Folder1/Sample1"
        path = f"{directory}/{item}" if name == "Document" else f"{directory}/{item}.{suffix}"
        files = {**folder, path: content}
        if metadata_type.meta_file:
            files[f"{path}-meta.xml"] = content
        return ["Folder1", item], files
    member = "Sample1__c" if name == "CustomObject" else "Sample1"
    path = f"{directory}/{member}.{suffix}"
    files = {path: content}
    if metadata_type.meta_file:
        files = {path: b"content\n", f"{path}-meta.xml": content}
    return [member], files


TOP_TYPES = sorted((t for t in mdtypes.all_types().values() if not t.folder_content_type), key=lambda t: t.name)


def test_describe_metadata_lists_every_type_of_the_table(org: Org) -> None:
    described = {o["xmlName"]: o for o in retrieve.describe_metadata(org)["metadataObjects"]}
    assert len(described) == len(TOP_TYPES) > 450
    assert described["CustomObject"]["childXmlNames"][:3] == ["BusinessProcess", "CompactLayout", "CustomField"]
    assert described["LightningMessageChannel"]["directoryName"] == "messageChannels"
    assert described["Report"]["inFolder"] is True and described["ApexClass"]["metaFile"] is True


def test_every_described_type_round_trips_deploy_retrieve_and_delete(org: Org) -> None:
    files: dict[str, bytes] = {}
    types: dict[str, list[str]] = {}
    for metadata_type in TOP_TYPES:
        members, type_files = sample(metadata_type)
        files.update(type_files)
        types[metadata_type.name] = members
    expected = sum(len(m) for m in types.values())

    result = run(org, zip_of(files, types))
    assert result["status"] == "Succeeded", [
        (f["fullName"], f.get("problem")) for f in result["details"]["componentFailures"]
    ][:3]
    stored = md.list_components(org)
    assert result["numberComponentsDeployed"] == len(stored) == expected

    # by name: exactly the deployed bytes back
    answer, got = fetch(org, types)
    assert answer["messages"] == []
    assert got == files
    # by wildcard (folder-based types by name, as Salesforce requires)
    wildcard = {t.name: ["*"] for t in TOP_TYPES if not t.in_folder}
    wildcard.update({t.name: types[t.name] for t in TOP_TYPES if t.in_folder})
    _, got = fetch(org, wildcard)
    assert got == files

    # every component deleted; nothing is left and a retrieve finds nothing
    result = run(org, zip_of({}, {}, destructive=types))
    assert result["status"] == "Succeeded", [
        (f["fullName"], f.get("problem")) for f in result["details"]["componentFailures"]
    ][:3]
    assert md.list_components(org) == []
    answer, got = fetch(org, types)
    assert got == {} and len(answer["messages"]) == expected


def test_unknown_type_is_a_component_failure_and_nothing_is_dropped(org: Org) -> None:
    files = {
        "classes/A.cls": b"public class A {}\n",
        "classes/A.cls-meta.xml": generic("ApexClass"),
        "madeUp/Thing.madeUp": generic("MadeUpType"),
    }
    result = run(org, zip_of(files, {"ApexClass": ["A"], "MadeUpType": ["Thing"]}))
    assert result["status"] == "Failed" and result["numberComponentErrors"] == 1
    failure = result["details"]["componentFailures"][0]
    assert (failure["componentType"], failure["fullName"], failure["fileName"]) == (
        "MadeUpType",
        "Thing",
        "package.xml",
    )
    assert failure["problem"] == "Unknown type name 'MadeUpType' specified in package.xml"
    assert md.list_components(org) == []  # all or nothing

    partial = run(org, zip_of(files, {"ApexClass": ["A"], "MadeUpType": ["Thing"]}), rollback_on_error=False)
    assert partial["status"] == "SucceededPartial"
    assert partial["numberComponentsDeployed"] == len(md.list_components(org)) == 1


def test_an_explicit_manifest_finds_types_in_the_zip_and_reports_those_it_lacks(org: Org) -> None:
    files = {
        "messageChannels/Sel.messageChannel": generic("LightningMessageChannel"),
        "dw/map.dwl": b"%dw 2.0\n",
        "dw/map.dwl-meta.xml": generic("DataWeaveResource"),
        "cachePartitions/P.cachePartition": generic("PlatformCachePartition"),
    }
    manifest = {
        "LightningMessageChannel": ["Sel"],
        "DataWeaveResource": ["map"],
        "PlatformCachePartition": ["P"],
        "BrandingSet": ["Gone"],
    }
    result = run(org, zip_of(files, manifest))
    assert [f["problem"] for f in result["details"]["componentFailures"]] == [
        "An object 'Gone' of type BrandingSet was named in package.xml, but was not found in zipped directory"
    ]
    result = run(org, zip_of(files, {k: v for k, v in manifest.items() if k != "BrandingSet"}))
    assert result["status"] == "Succeeded" and result["numberComponentsDeployed"] == 3
    assert {(c.type, c.full_name) for c in md.list_components(org)} == {
        ("LightningMessageChannel", "Sel"),
        ("DataWeaveResource", "map"),
        ("PlatformCachePartition", "P"),
    }


def field(name: str, kind: str = "Text") -> str:
    return (
        f"    <fields>\n        <fullName>{name}</fullName>\n        <label>{name}</label>\n"
        f"        <type>{kind}</type>\n    </fields>\n"
    )


def test_children_merge_on_deploy_and_leave_one_by_one(org: Org) -> None:
    first = generic("CustomObject", field("A__c") + "    <label>Vehicle</label>\n")
    run(
        org,
        zip_of(
            {"objects/Vehicle__c.object": first}, {"CustomObject": ["Vehicle__c"], "CustomField": ["Vehicle__c.A__c"]}
        ),
    )
    second = generic("CustomObject", field("B__c") + "    <label>Vehicle</label>\n")
    result = run(org, zip_of({"objects/Vehicle__c.object": second}, {"CustomObject": ["Vehicle__c"]}))
    assert result["status"] == "Succeeded"
    stored = md.component_files(org, "CustomObject", "Vehicle__c")["objects/Vehicle__c.object"]
    assert [c.name for c in kids.children_of("CustomObject", "Vehicle__c", stored)] == [
        "Vehicle__c.A__c",
        "Vehicle__c.B__c",
    ]

    # a child alone: only that field comes back
    answer, got = fetch(org, {"CustomField": ["Vehicle__c.B__c", "Vehicle__c.Nope__c"]})
    assert [c.name for c in kids.children_of("CustomObject", "Vehicle__c", got["objects/Vehicle__c.object"])] == [
        "Vehicle__c.B__c"
    ]
    assert b"<label>Vehicle</label>" not in got["objects/Vehicle__c.object"]
    assert [m["problem"] for m in answer["messages"]] == [
        "Entity of type 'CustomField' named 'Vehicle__c.Nope__c' cannot be found"
    ]

    result = run(
        org,
        zip_of({}, {}, destructive={"CustomField": ["Vehicle__c.A__c", "Vehicle__c.Nope__c"]}),
        ignore_warnings=True,
    )
    assert result["status"] == "Succeeded"
    warnings = [m for m in result["details"]["componentSuccesses"] if m.get("problemType") == "Warning"]
    assert [w["problem"] for w in warnings] == ["No CustomField named: Vehicle__c.Nope__c found"]
    stored = md.component_files(org, "CustomObject", "Vehicle__c")["objects/Vehicle__c.object"]
    assert [c.name for c in kids.children_of("CustomObject", "Vehicle__c", stored)] == ["Vehicle__c.B__c"]
    assert org.schema.get_object("Vehicle__c").field("B__c") is not None


def test_custom_field_on_a_standard_object_and_refused_standard_deletions(org: Org) -> None:
    account = generic("CustomObject", field("Tier__c"))
    result = run(org, zip_of({"objects/Account.object": account}, {"CustomField": ["Account.Tier__c"]}))
    assert result["status"] == "Succeeded" and result["numberComponentsDeployed"] == 1
    assert org.schema.get_object("Account").field("Tier__c") is not None

    refused = run(
        org, zip_of({}, {}, destructive={"CustomObject": ["Account", "Contact"], "CustomField": ["Account.Name"]})
    )
    assert refused["status"] == "Failed"
    assert sorted(f["problem"] for f in refused["details"]["componentFailures"]) == [
        "The CustomField called 'Account.Name' is standard and cannot be deleted",
        "The CustomObject called 'Account' is standard and cannot be deleted",
        "The CustomObject called 'Contact' is standard and cannot be deleted",
    ]
    # the custom field can go; the standard object's container leaves with its last custom field
    assert run(org, zip_of({}, {}, destructive={"CustomField": ["Account.Tier__c"]}))["status"] == "Succeeded"
    assert md.list_components(org) == []
    assert org.schema.get_object("Account").field("Tier__c") is None


def test_deleting_a_custom_object_takes_what_belongs_to_it(org: Org) -> None:
    files = {
        "objects/Vehicle__c.object": generic("CustomObject", field("A__c")),
        "layouts/Vehicle__c-Vehicle Layout.layout": generic("Layout"),
        "tabs/Vehicle__c.tab": generic("CustomTab"),
        "quickActions/Vehicle__c.Inspect.quickAction": generic("QuickAction"),
        "objects/Setting__mdt.object": generic("CustomObject"),
        "customMetadata/Setting.Default.md": generic("CustomMetadata"),
        "layouts/Account-Account Layout.layout": generic("Layout"),
    }
    manifest = {
        "CustomObject": ["Vehicle__c", "Setting__mdt"],
        "Layout": ["Vehicle__c-Vehicle Layout", "Account-Account Layout"],
        "CustomTab": ["Vehicle__c"],
        "QuickAction": ["Vehicle__c.Inspect"],
        "CustomMetadata": ["Setting.Default"],
    }
    assert run(org, zip_of(files, manifest))["status"] == "Succeeded"
    result = run(org, zip_of({}, {}, destructive={"CustomObject": ["Vehicle__c", "Setting__mdt"]}))
    assert result["status"] == "Succeeded"
    assert {(c.type, c.full_name) for c in md.list_components(org)} == {("Layout", "Account-Account Layout")}
    assert org.schema.get_object("Vehicle__c") is None

    again = run(org, zip_of({}, {}, destructive={"CustomObject": ["Vehicle__c"]}))
    assert again["status"] == "Failed"
    assert again["details"]["componentFailures"][0]["problem"] == "No CustomObject named: Vehicle__c found"


def test_full_retrieve_after_deploy_and_rollback_equals_the_one_before(org: Org) -> None:
    before_files = {
        "classes/Keep.cls": b"public class Keep {}\n",
        "classes/Keep.cls-meta.xml": generic("ApexClass"),
        "objects/Vehicle__c.object": generic("CustomObject", field("A__c") + "    <label>Vehicle</label>\n"),
        "objects/Account.object": generic("CustomObject", field("Tier__c")),
        "labels/CustomLabels.labels": generic(
            "CustomLabels",
            "    <labels>\n        <fullName>Hello</fullName>\n        <value>Hi</value>\n    </labels>\n",
        ),
        "lwc/card/card.js": b"export default class Card {}\n",
        "lwc/card/card.js-meta.xml": generic("LightningComponentBundle"),
    }
    manifest = {
        "ApexClass": ["Keep"],
        "CustomObject": ["Vehicle__c"],
        "CustomField": ["Vehicle__c.A__c", "Account.Tier__c"],
        "CustomLabels": ["CustomLabels"],
        "CustomLabel": ["Hello"],
        "LightningComponentBundle": ["card"],
    }
    assert run(org, zip_of(before_files, manifest))["status"] == "Succeeded"
    full = {
        "ApexClass": ["*"],
        "CustomObject": ["*"],
        "CustomField": ["*"],
        "CustomLabels": ["*"],
        "CustomLabel": ["*"],
        "LightningComponentBundle": ["*"],
        "Layout": ["*"],
        "FlexiPage": ["*"],
    }
    _, before = fetch(org, full)

    release = dict(before_files)
    release["classes/New.cls"] = b"public class New {}\n"
    release["classes/New.cls-meta.xml"] = generic("ApexClass")
    release["objects/Vehicle__c.object"] = generic(
        "CustomObject", field("A__c", "Number") + field("B__c") + "    <label>Car</label>\n"
    )
    release["layouts/Vehicle__c-Car.layout"] = generic("Layout")
    release["labels/CustomLabels.labels"] = generic(
        "CustomLabels", "    <labels>\n        <fullName>Bye</fullName>\n        <value>Bye</value>\n    </labels>\n"
    )
    release_manifest = {
        **manifest,
        "ApexClass": ["Keep", "New"],
        "CustomField": ["Vehicle__c.A__c", "Vehicle__c.B__c"],
        "Layout": ["Vehicle__c-Car"],
        "CustomLabel": ["Bye"],
    }
    _, backup = fetch(org, release_manifest)  # what the release will overwrite
    assert run(org, zip_of(release, release_manifest))["status"] == "Succeeded"
    _, during = fetch(org, full)
    assert during != before

    added = {
        "ApexClass": ["New"],
        "CustomField": ["Vehicle__c.B__c"],
        "Layout": ["Vehicle__c-Car"],
        "CustomLabel": ["Bye"],
    }
    backup_manifest = {
        "ApexClass": ["Keep"],
        "CustomObject": ["Vehicle__c"],
        "CustomField": ["Vehicle__c.A__c"],
        "CustomLabels": ["CustomLabels"],
        "CustomLabel": ["Hello"],
        "LightningComponentBundle": ["card"],
    }
    rollback = run(org, zip_of(backup, backup_manifest, destructive=added))
    assert rollback["status"] == "Succeeded", rollback["details"]["componentFailures"]
    _, after = fetch(org, full)
    assert sorted(after) == sorted(before)
    for path in before:
        assert after[path] == before[path], path


def test_child_edits_keep_every_other_byte() -> None:
    original = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata">\n'
        b"    <description>It&apos;s a &quot;car&quot;</description>\n"
        b"    <fields>\n        <fullName>A__c</fullName>\n        <label>A &amp; B</label>\n    </fields>\n"
        b"    <fields>\n        <fullName>C__c</fullName>\n        <type>Text</type>\n    </fields>\n"
        b"    <label>Car</label>\n</CustomObject>\n"
    )
    release = original.replace(b"<label>Car</label>", b"<label>Vehicle</label>").replace(
        b"    <fields>\n        <fullName>C__c",
        b"    <fields>\n        <fullName>B__c</fullName>\n    </fields>\n    <fields>\n        <fullName>C__c",
    )
    stored = kids.merge(release, original, "CustomObject", whole=True, names=set())  # the backup redeployed
    assert [c.key for c in kids.children_of("CustomObject", "Car__c", stored)] == ["A__c", "B__c", "C__c"]
    assert b"<label>Car</label>" in stored and b"It&apos;s" in stored
    ref = kids.child_ref("CustomField", "Car__c.B__c")
    assert ref is not None
    assert kids.remove(stored, ref) == original  # the rollback's destructive change: back to the exact bytes
    only_c = kids.only(original, "CustomObject", {("fields", "C__c")})
    assert only_c == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata">\n'
        b"    <fields>\n        <fullName>C__c</fullName>\n        <type>Text</type>\n    </fields>\n</CustomObject>\n"
    )
    added = kids.merge(None, original, "CustomObject", whole=False, names={("fields", "C__c")})
    assert kids.only(added, "CustomObject", {("fields", "C__c")}) == added
    assert [c.key for c in kids.children_of("CustomObject", "Car__c", added)] == ["C__c"]


def test_a_standard_object_is_retrieved_by_name_but_never_by_wildcard(org: Org) -> None:
    answer, got = fetch(org, {"CustomObject": ["Account", "Opportunity", "Nope__c"]})
    assert sorted(got) == ["objects/Account.object", "objects/Opportunity.object"]
    assert [m["problem"] for m in answer["messages"]] == [
        "Entity of type 'CustomObject' named 'Nope__c' cannot be found"
    ]
    again, _ = fetch(org, {"CustomObject": ["Account"]})
    assert [p["id"] for p in again["fileProperties"] if p["type"] == "CustomObject"] == [
        p["id"] for p in answer["fileProperties"] if p["fullName"] == "Account"
    ]
    _, wildcard = fetch(org, {"CustomObject": ["*"]})
    assert wildcard == {}


def test_a_field_of_a_custom_object_nobody_has_is_refused(org: Org) -> None:
    files = {"objects/Ghost__c.object": generic("CustomObject", field("A__c"))}
    result = run(org, zip_of(files, {"CustomField": ["Ghost__c.A__c"]}))
    assert result["status"] == "Failed"
    failure = result["details"]["componentFailures"][0]
    assert (failure["componentType"], failure["fullName"]) == ("CustomField", "Ghost__c.A__c")
    assert failure["problem"] == "Must specify a non-empty label for the CustomObject"
    assert md.list_components(org) == []


def test_a_custom_object_or_field_apex_still_uses_cannot_be_deleted(org: Org) -> None:
    service = b"public class TripService {\n    public static Integer n() { return [SELECT COUNT() FROM Trip__c"
    service += b" WHERE Km__c > 0]; }\n}\n"
    files = {
        "objects/Trip__c.object": generic("CustomObject", field("Km__c", "Number") + "    <label>Trip</label>\n"),
        "classes/TripService.cls": service,
        "classes/TripService.cls-meta.xml": generic("ApexClass"),
    }
    manifest = {"CustomObject": ["Trip__c"], "CustomField": ["Trip__c.Km__c"], "ApexClass": ["TripService"]}
    assert run(org, zip_of(files, manifest))["status"] == "Succeeded"

    refused = run(org, zip_of({}, {}, destructive={"CustomField": ["Trip__c.Km__c"]}))
    assert refused["status"] == "Failed"
    assert refused["details"]["componentFailures"][0]["problem"] == (
        "This custom field is referenced elsewhere in salesforce.com. : Apex Class - TripService."
    )
    # the object deleted first (Pre) while the class (Post) still uses it: refused
    data = zip_of({}, {}, destructive={"ApexClass": ["TripService"]})
    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("destructiveChangesPre.xml", package_xml({"CustomObject": ["Trip__c"]}, "62.0"))
    wrong_order = run(org, buffer.getvalue())
    assert [f["problem"] for f in wrong_order["details"]["componentFailures"]] == [
        "This custom object is referenced elsewhere in salesforce.com. : Apex Class - TripService."
    ]
    # the class deleted first (Pre), the object after (Post): accepted
    data = zip_of({}, {}, destructive={"CustomObject": ["Trip__c"]})
    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("destructiveChangesPre.xml", package_xml({"ApexClass": ["TripService"]}, "62.0"))
    assert run(org, buffer.getvalue())["status"] == "Succeeded"
    assert md.list_components(org) == []


def test_every_child_type_deploys_retrieves_and_deletes_inside_its_parent(org: Org) -> None:
    files: dict[str, bytes] = {}
    children: dict[str, list[str]] = {}
    for metadata_type in TOP_TYPES:
        if not metadata_type.children or not metadata_type.suffix:
            continue
        parent = "CustomLabels" if metadata_type.name == "CustomLabels" else "Parent1__c"
        body = ""
        for kid in metadata_type.children:
            key = f"<{kid.id_element}>{kid.name}1__c</{kid.id_element}>"
            body += f"    <{kid.element}>\n        {key}\n    </{kid.element}>\n"
            member = f"{kid.name}1__c" if metadata_type.name == "CustomLabels" else f"{parent}.{kid.name}1__c"
            children.setdefault(kid.name, []).append(member)
        files[f"{metadata_type.directory}/{parent}.{metadata_type.suffix}"] = generic(metadata_type.name, body)
    parents = {
        t.name: ["CustomLabels" if t.name == "CustomLabels" else "Parent1__c"]
        for t in TOP_TYPES
        if t.children and t.suffix
    }
    count = sum(len(m) for m in children.values())
    assert len(children) == len(mdtypes.child_types()) > 30

    result = run(org, zip_of(files, {**parents, **children}))
    assert result["status"] == "Succeeded", [
        (f["fullName"], f.get("problem")) for f in result["details"]["componentFailures"]
    ][:3]
    assert result["numberComponentsDeployed"] == count + len(parents)
    answer, got = fetch(org, children)
    assert answer["messages"] == [] and got == files  # every child asked for: each parent file whole again
    _, wildcard = fetch(org, {name: ["*"] for name in children})
    assert wildcard == files

    refused = run(org, zip_of({}, {}, destructive={"RecordType": children["RecordType"]}))
    assert [f["problem"] for f in refused["details"]["componentFailures"]] == ["Cannot delete record type through API"]
    children.pop("RecordType")  # Salesforce never deletes a record type through the API: only with its object
    count -= 1
    result = run(org, zip_of({}, {}, destructive=children))
    assert result["status"] == "Succeeded", [
        (f["fullName"], f.get("problem")) for f in result["details"]["componentFailures"]
    ][:3]
    answer, got = fetch(org, children)
    assert len(answer["messages"]) == count
    assert md.list_components(org, "CustomLabels") == []  # the labels file leaves with its last label


def test_children_listed_with_their_deleted_object_go_with_it(org: Org) -> None:
    body = field("A__c") + "    <recordTypes>\n        <fullName>Car</fullName>\n    </recordTypes>\n"
    files = {"objects/Vehicle__c.object": generic("CustomObject", body)}
    manifest = {"CustomObject": ["Vehicle__c"], "CustomField": ["Vehicle__c.A__c"], "RecordType": ["Vehicle__c.Car"]}
    assert run(org, zip_of(files, manifest))["status"] == "Succeeded"
    alone = run(org, zip_of({}, {}, destructive={"RecordType": ["Vehicle__c.Car"]}))
    assert alone["details"]["componentFailures"][0]["problem"] == "Cannot delete record type through API"
    result = run(org, zip_of({}, {}, destructive=manifest))  # what `sf project delete source` sends
    assert result["status"] == "Succeeded" and md.list_components(org) == []
