"""The real sf CLI deploying, retrieving and deleting ~30 metadata types against orgsim in a handful of calls.

The project is written here in source format (the CLI converts it to metadata format, as it does for users); the
assertions look at what the CLI reports and at what the org stored.
"""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from orgsim.metadata import store as md
from orgsim.metadata import types as mdtypes
from orgsim.testing import login, run_sf

pytestmark = pytest.mark.integration

NS = 'xmlns="http://soap.sforce.com/2006/04/metadata"'
HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'


def xml(root: str, body: str) -> str:
    return f"{HEAD}<{root} {NS}>\n{body}\n</{root}>\n"


# path under force-app/main/default -> content; (type, fullName) the org must hold after the deploy
PROJECT_FILES: dict[str, str] = {
    "classes/Greeter.cls": "public with sharing class Greeter {\n  public static String hello() { return 'hi'; }\n}\n",
    "classes/Greeter.cls-meta.xml": xml("ApexClass", "<apiVersion>62.0</apiVersion><status>Active</status>"),
    "classes/GreeterTest.cls": "@isTest\nprivate class GreeterTest {\n    @isTest static void says() {"
    " System.assertEquals('hi', Greeter.hello()); }\n}\n",
    "classes/GreeterTest.cls-meta.xml": xml("ApexClass", "<apiVersion>62.0</apiVersion><status>Active</status>"),
    "triggers/VehicleTrigger.trigger": "trigger VehicleTrigger on Vehicle__c (before insert) {\n}\n",
    "triggers/VehicleTrigger.trigger-meta.xml": xml(
        "ApexTrigger", "<apiVersion>62.0</apiVersion><status>Active</status>"
    ),
    "lwc/vehicleCard/vehicleCard.js": "import { LightningElement } from 'lwc';\nexport default class VehicleCard"
    " extends LightningElement {}\n",
    "lwc/vehicleCard/vehicleCard.html": "<template><p>Vehicle</p></template>\n",
    "lwc/vehicleCard/vehicleCard.js-meta.xml": xml(
        "LightningComponentBundle", "<apiVersion>62.0</apiVersion><isExposed>false</isExposed>"
    ),
    "aura/fleetHello/fleetHello.cmp": "<aura:component>Hello</aura:component>\n",
    "aura/fleetHello/fleetHello.cmp-meta.xml": xml(
        "AuraDefinitionBundle", "<apiVersion>62.0</apiVersion><description>hello</description>"
    ),
    "flows/Welcome.flow-meta.xml": xml(
        "Flow",
        "<apiVersion>62.0</apiVersion><label>Welcome</label><processType>AutoLaunchedFlow</processType>"
        "<status>Draft</status>",
    ),
    "objects/Vehicle__c/Vehicle__c.object-meta.xml": xml(
        "CustomObject",
        "<deploymentStatus>Deployed</deploymentStatus><label>Vehicle</label><nameField><label>Name</label>"
        "<type>Text</type></nameField><pluralLabel>Vehicles</pluralLabel><sharingModel>ReadWrite</sharingModel>",
    ),
    "objects/Vehicle__c/fields/Make__c.field-meta.xml": xml(
        "CustomField", "<fullName>Make__c</fullName><label>Make</label><length>80</length><type>Text</type>"
    ),
    "objects/Vehicle__c/listViews/All.listView-meta.xml": xml(
        "ListView", "<fullName>All</fullName><filterScope>Everything</filterScope><label>All</label>"
    ),
    "objects/Vehicle__c/compactLayouts/Compact.compactLayout-meta.xml": xml(
        "CompactLayout", "<fullName>Compact</fullName><fields>Name</fields><label>Compact</label>"
    ),
    "objects/Vehicle__c/recordTypes/Car.recordType-meta.xml": xml(
        "RecordType", "<fullName>Car</fullName><active>true</active><label>Car</label>"
    ),
    "objects/Vehicle__c/validationRules/Make_Required.validationRule-meta.xml": xml(
        "ValidationRule",
        "<fullName>Make_Required</fullName><active>true</active><errorConditionFormula>ISBLANK(Make__c)"
        "</errorConditionFormula><errorMessage>Make is required</errorMessage>",
    ),
    "objects/Vehicle__c/webLinks/Open_Site.webLink-meta.xml": xml(
        "WebLink",
        "<fullName>Open_Site</fullName><availability>online</availability><displayType>button</displayType>"
        "<linkType>url</linkType><masterLabel>Open Site</masterLabel><openType>newWindow</openType>"
        "<protected>false</protected><url>https://example.com</url>",
    ),
    "objects/Vehicle__c/fieldSets/Main.fieldSet-meta.xml": xml(
        "FieldSet", "<fullName>Main</fullName><description>main</description><label>Main</label>"
    ),
    "objects/Account/fields/Fleet_Size__c.field-meta.xml": xml(
        "CustomField",
        "<fullName>Fleet_Size__c</fullName><label>Fleet Size</label><precision>6</precision>"
        "<scale>0</scale><type>Number</type>",
    ),
    "objects/Vehicle_Event__e/Vehicle_Event__e.object-meta.xml": xml(
        "CustomObject",
        "<deploymentStatus>Deployed</deploymentStatus><eventType>HighVolume</eventType><label>Vehicle Event</label>"
        "<pluralLabel>Vehicle Events</pluralLabel><publishBehavior>PublishAfterCommit</publishBehavior>",
    ),
    "objects/Vehicle_Event__e/fields/Vin__c.field-meta.xml": xml(
        "CustomField", "<fullName>Vin__c</fullName><label>VIN</label><length>17</length><type>Text</type>"
    ),
    "objects/Fleet_Setting__mdt/Fleet_Setting__mdt.object-meta.xml": xml(
        "CustomObject",
        "<label>Fleet Setting</label><pluralLabel>Fleet Settings</pluralLabel><visibility>Public</visibility>",
    ),
    "objects/Fleet_Setting__mdt/fields/Limit__c.field-meta.xml": xml(
        "CustomField",
        "<fullName>Limit__c</fullName><label>Limit</label><precision>4</precision><scale>0</scale><type>Number</type>",
    ),
    "customMetadata/Fleet_Setting.Default.md-meta.xml": xml(
        "CustomMetadata", "<label>Default</label><protected>false</protected>"
    ),
    "layouts/Vehicle__c-Vehicle Layout.layout-meta.xml": xml(
        "Layout", "<layoutSections><label>Info</label><style>OneColumn</style></layoutSections>"
    ),
    "permissionsets/Fleet_Admin.permissionset-meta.xml": xml(
        "PermissionSet", "<hasActivationRequired>false</hasActivationRequired><label>Fleet Admin</label>"
    ),
    "applications/Fleet.app-meta.xml": xml(
        "CustomApplication", "<label>Fleet</label><navType>Standard</navType><uiType>Lightning</uiType>"
    ),
    "tabs/Vehicle__c.tab-meta.xml": xml(
        "CustomTab", "<customObject>true</customObject><motif>Custom20: Airplane</motif>"
    ),
    "staticresources/fleetLogo.resource-meta.xml": xml(
        "StaticResource", "<cacheControl>Public</cacheControl><contentType>text/plain</contentType>"
    ),
    "staticresources/fleetLogo.txt": "logo\n",
    "messageChannels/Vehicle_Selected.messageChannel-meta.xml": xml(
        "LightningMessageChannel", "<isExposed>true</isExposed><masterLabel>Vehicle Selected</masterLabel>"
    ),
    "labels/CustomLabels.labels-meta.xml": xml(
        "CustomLabels",
        "<labels><fullName>Fleet_Greeting</fullName><language>en_US</language><protected>false</protected>"
        "<shortDescription>Greeting</shortDescription><value>Hello fleet</value></labels>",
    ),
    "email/Fleet_Templates.emailFolder-meta.xml": xml(
        "EmailFolder",
        "<accessType>Public</accessType><name>Fleet Templates</name><publicFolderAccess>ReadWrite</publicFolderAccess>",
    ),
    "email/Fleet_Templates/Welcome.email": "Welcome to the fleet\n",
    "email/Fleet_Templates/Welcome.email-meta.xml": xml(
        "EmailTemplate",
        "<available>true</available><encodingKey>UTF-8</encodingKey><name>Welcome</name>"
        "<style>none</style><subject>Welcome</subject><type>text</type><uiType>Aloha</uiType>",
    ),
    "reports/Fleet_Reports.reportFolder-meta.xml": xml(
        "ReportFolder",
        "<accessType>Public</accessType><name>Fleet Reports</name><publicFolderAccess>ReadOnly</publicFolderAccess>",
    ),
    "reports/Fleet_Reports/Vehicles.report-meta.xml": xml(
        "Report", "<format>Tabular</format><name>Vehicles</name><reportType>CustomEntity$Vehicle__c</reportType>"
    ),
    "namedCredentials/Fleet_API.namedCredential-meta.xml": xml(
        "NamedCredential", "<label>Fleet API</label><namedCredentialType>SecuredEndpoint</namedCredentialType>"
    ),
    "dw/vehicleToJson.dwl": "%dw 2.0\noutput application/json\n---\npayload\n",
    "dw/vehicleToJson.dwl-meta.xml": xml(
        "DataWeaveResource", "<apiVersion>62.0</apiVersion><isGlobal>false</isGlobal>"
    ),
    "genAiPromptTemplates/Vehicle_Summary.genAiPromptTemplate-meta.xml": xml(
        "GenAiPromptTemplate",
        "<developerName>Vehicle_Summary</developerName><masterLabel>Vehicle Summary"
        "</masterLabel><type>einstein_gpt__flex</type>",
    ),
    "prompts/Fleet_Help.prompt-meta.xml": xml("Prompt", "<masterLabel>Fleet Help</masterLabel>"),
    "brandingSets/Fleet_Brand.brandingSet-meta.xml": xml(
        "BrandingSet",
        "<brandingSetProperty><propertyName>BrandColor</propertyName><propertyValue>#0070D2"
        "</propertyValue></brandingSetProperty><masterLabel>Fleet Brand</masterLabel>",
    ),
    "lightningExperienceThemes/Fleet_Theme.lightningExperienceTheme-meta.xml": xml(
        "LightningExperienceTheme",
        "<defaultBrandingSet>Fleet_Brand</defaultBrandingSet><masterLabel>Fleet Theme"
        "</masterLabel><shouldOverrideLoadingImage>false</shouldOverrideLoadingImage>",
    ),
    "cachePartitions/FleetCache.cachePartition-meta.xml": xml(
        "PlatformCachePartition", "<isDefaultPartition>false</isDefaultPartition><masterLabel>FleetCache</masterLabel>"
    ),
    "flexipages/Vehicle_Record.flexipage-meta.xml": xml(
        "FlexiPage",
        "<masterLabel>Vehicle Record</masterLabel><sobjectType>Vehicle__c</sobjectType>"
        "<template><name>flexipage:recordHomeTemplateDesktop</name></template><type>RecordPage</type>",
    ),
    "quickActions/Vehicle__c.Inspect.quickAction-meta.xml": xml(
        "QuickAction", "<label>Inspect</label><optionsCreateFeedItem>false</optionsCreateFeedItem><type>Update</type>"
    ),
    "customPermissions/Fleet_Manager.customPermission-meta.xml": xml(
        "CustomPermission", "<isLicensed>false</isLicensed><label>Fleet Manager</label>"
    ),
    "profiles/Fleet Profile.profile-meta.xml": xml(
        "Profile", "<custom>true</custom><userLicense>Salesforce</userLicense>"
    ),
}

EXPECTED: set[tuple[str, str]] = {
    ("ApexClass", "Greeter"),
    ("ApexClass", "GreeterTest"),
    ("ApexTrigger", "VehicleTrigger"),
    ("LightningComponentBundle", "vehicleCard"),
    ("AuraDefinitionBundle", "fleetHello"),
    ("Flow", "Welcome"),
    ("CustomObject", "Vehicle__c"),
    ("CustomField", "Vehicle__c.Make__c"),
    ("ListView", "Vehicle__c.All"),
    ("CompactLayout", "Vehicle__c.Compact"),
    ("RecordType", "Vehicle__c.Car"),
    ("ValidationRule", "Vehicle__c.Make_Required"),
    ("WebLink", "Vehicle__c.Open_Site"),
    ("FieldSet", "Vehicle__c.Main"),
    ("CustomField", "Account.Fleet_Size__c"),
    ("CustomObject", "Vehicle_Event__e"),
    ("CustomField", "Vehicle_Event__e.Vin__c"),
    ("CustomObject", "Fleet_Setting__mdt"),
    ("CustomField", "Fleet_Setting__mdt.Limit__c"),
    ("CustomMetadata", "Fleet_Setting.Default"),
    ("Layout", "Vehicle__c-Vehicle Layout"),
    ("PermissionSet", "Fleet_Admin"),
    ("CustomApplication", "Fleet"),
    ("CustomTab", "Vehicle__c"),
    ("StaticResource", "fleetLogo"),
    ("LightningMessageChannel", "Vehicle_Selected"),
    ("CustomLabels", "CustomLabels"),
    ("CustomLabel", "Fleet_Greeting"),
    ("EmailFolder", "Fleet_Templates"),
    ("EmailTemplate", "Fleet_Templates/Welcome"),
    ("ReportFolder", "Fleet_Reports"),
    ("Report", "Fleet_Reports/Vehicles"),
    ("NamedCredential", "Fleet_API"),
    ("DataWeaveResource", "vehicleToJson"),
    ("GenAiPromptTemplate", "Vehicle_Summary"),
    ("Prompt", "Fleet_Help"),
    ("BrandingSet", "Fleet_Brand"),
    ("LightningExperienceTheme", "Fleet_Theme"),
    ("PlatformCachePartition", "FleetCache"),
    ("FlexiPage", "Vehicle_Record"),
    ("QuickAction", "Vehicle__c.Inspect"),
    ("CustomPermission", "Fleet_Manager"),
    ("Profile", "Fleet Profile"),
}


def write_project(root: Path, files: dict[str, str] = PROJECT_FILES) -> Path:
    (root / "force-app" / "main" / "default").mkdir(parents=True, exist_ok=True)
    (root / "sfdx-project.json").write_text(
        json.dumps({"packageDirectories": [{"path": "force-app", "default": True}], "sourceApiVersion": "62.0"}),
        encoding="utf-8",
    )
    for path, content in files.items():
        target = root / "force-app" / "main" / "default" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    return root


def manifest(types: dict[str, list[str]]) -> str:
    body = "".join(
        "<types>" + "".join(f"<members>{m}</members>" for m in sorted(members)) + f"<name>{name}</name></types>"
        for name, members in sorted(types.items())
    )
    return xml("Package", body + "<version>62.0</version>")


def _stored(org: Any) -> set[tuple[str, str]]:
    return {(c.type, c.full_name) for c in md.list_components(org)}


def _zip_names(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist() if not name.endswith("/")}


def test_every_type_deploys_retrieves_and_deletes_with_the_real_cli(
    orgsim_factory: Any, sf_bin: Path, sf_home: Path, tmp_path: Path
) -> None:
    server = orgsim_factory("empty")
    login(sf_bin, sf_home, server.url, server.token, alias="sim")
    project = write_project(tmp_path / "project")
    timings: dict[str, float] = {}

    started = time.monotonic()
    run = run_sf(
        sf_bin,
        ["project", "deploy", "start", "--target-org", "sim", "--source-dir", "force-app", "--wait", "5"],
        sf_home,
        cwd=project,
    )
    timings["deploy"] = time.monotonic() - started
    assert run.returncode == 0, json.dumps(run.json, indent=1)[:6000]
    result = run.json["result"]
    deployed = {(f["type"], f["fullName"]) for f in result["files"] if f["state"] != "Failed"}
    assert deployed >= EXPECTED, sorted(EXPECTED - deployed)
    tops = {(t, n) for t, n in EXPECTED if "." not in n or t in ("CustomMetadata", "QuickAction")}
    tops -= {("CustomLabel", "Fleet_Greeting")}
    stored = _stored(server.org)
    assert tops - {("CustomField", "Account.Fleet_Size__c")} <= stored, sorted(tops - stored)
    assert ("CustomObject", "Account") in stored  # the container of the custom field on a standard object
    assert result["numberComponentsDeployed"] == result["numberComponentsTotal"]
    assert result["numberComponentErrors"] == 0

    # Retrieve by explicit names (every type, children included) and by wildcard, in metadata format.
    explicit: dict[str, list[str]] = {}
    for type_name, name in EXPECTED:
        explicit.setdefault(type_name, []).append(name)
    explicit["ApexClass"].append("NotInTheOrg")
    (project / "explicit.xml").write_text(manifest(explicit), encoding="utf-8")
    started = time.monotonic()
    run = run_sf(
        sf_bin,
        [
            "project",
            "retrieve",
            "start",
            "--target-org",
            "sim",
            "--manifest",
            "explicit.xml",
            "--target-metadata-dir",
            "explicit",
            "--wait",
            "5",
        ],
        sf_home,
        cwd=project,
    )
    timings["retrieve_explicit"] = time.monotonic() - started
    assert run.returncode == 0, run
    got = {(p["type"], p["fullName"]) for p in run.json["result"]["fileProperties"]}
    assert got >= EXPECTED, (sorted(EXPECTED - got), run.json["result"]["messages"], sorted(got))
    assert [m["problem"] for m in run.json["result"]["messages"]] == [
        "Entity of type 'ApexClass' named 'NotInTheOrg' cannot be found"
    ]
    files = _zip_names(project / "explicit" / "unpackaged.zip")
    assert b"Fleet_Size__c" in files["unpackaged/objects/Account.object"]
    assert files["unpackaged/classes/Greeter.cls"] == PROJECT_FILES["classes/Greeter.cls"].encode()
    assert "unpackaged/lwc/vehicleCard/vehicleCard.html" in files
    assert "unpackaged/email/Fleet_Templates/Welcome.email" in files
    assert "unpackaged/reports/Fleet_Reports-meta.xml" in files

    # Folder-based types are named explicitly, as Salesforce requires (no "*" for reports and email templates).
    folders = ("EmailTemplate", "Report", "EmailFolder", "ReportFolder")
    wildcard = {t: ["*"] for t, _ in EXPECTED if t not in folders}
    wildcard["EmailTemplate"] = ["Fleet_Templates", "Fleet_Templates/Welcome"]
    wildcard["Report"] = ["Fleet_Reports", "Fleet_Reports/Vehicles"]
    (project / "wildcard.xml").write_text(manifest(wildcard), encoding="utf-8")
    run = run_sf(
        sf_bin,
        [
            "project",
            "retrieve",
            "start",
            "--target-org",
            "sim",
            "--manifest",
            "wildcard.xml",
            "--target-metadata-dir",
            "wildcard",
            "--wait",
            "5",
        ],
        sf_home,
        cwd=project,
    )
    assert run.returncode == 0, run
    got = {(p["type"], p["fullName"]) for p in run.json["result"]["fileProperties"]}
    assert got >= EXPECTED, sorted(EXPECTED - got)
    assert ("CustomObject", "Account") not in got  # "*" never covers a standard object

    # Delete everything the release added: standard object refused, the rest removed (children with parents).
    deletions = {t: [n] for t, n in [("CustomObject", "Account")]}
    (project / "empty.xml").write_text(manifest({}), encoding="utf-8")
    (project / "refused.xml").write_text(manifest(deletions), encoding="utf-8")
    run = run_sf(
        sf_bin,
        [
            "project",
            "deploy",
            "start",
            "--target-org",
            "sim",
            "--manifest",
            "empty.xml",
            "--post-destructive-changes",
            "refused.xml",
            "--wait",
            "5",
        ],
        sf_home,
        cwd=project,
    )
    assert run.returncode != 0
    problems = [f.get("error") or f.get("problem") for f in run.json.get("result", {}).get("files", [])]
    assert "The CustomObject called 'Account' is standard and cannot be deleted" in json.dumps(run.json), problems

    doomed = {
        t: sorted(n for tt, n in EXPECTED if tt == t)
        for t, _ in EXPECTED
        if t
        not in (
            "CustomLabels",
            "ListView",
            "CompactLayout",
            "RecordType",
            "ValidationRule",
            "WebLink",
            "FieldSet",
            "Layout",
            "CustomTab",
            "QuickAction",
            "CustomMetadata",
        )
    }
    doomed["CustomField"] = ["Account.Fleet_Size__c"]
    (project / "destructive.xml").write_text(manifest(doomed), encoding="utf-8")
    started = time.monotonic()
    run = run_sf(
        sf_bin,
        [
            "project",
            "deploy",
            "start",
            "--target-org",
            "sim",
            "--manifest",
            "empty.xml",
            "--post-destructive-changes",
            "destructive.xml",
            "--wait",
            "5",
        ],
        sf_home,
        cwd=project,
    )
    timings["delete"] = time.monotonic() - started
    assert run.returncode == 0, [
        (f["type"], f["fullName"], f.get("error")) for f in run.json["result"]["files"] if f.get("error")
    ]
    left = _stored(server.org)
    assert left == set(), sorted(left)
    account = md.component_files(server.org, "CustomObject", "Account")
    assert b"Fleet_Size__c" not in b"".join(account.values())
    print("timings", {k: round(v, 1) for k, v in timings.items()}, "types", len({t for t, _ in EXPECTED}))


def test_seeding_from_source_matches_the_clis_own_conversion(
    orgsim_factory: Any, sf_bin: Path, sf_home: Path, tmp_path: Path
) -> None:
    from orgsim.metadata.source import source_to_metadata

    project = write_project(tmp_path / "project")
    run = run_sf(
        sf_bin,
        ["project", "convert", "source", "--source-dir", "force-app", "--output-dir", "converted"],
        sf_home,
        cwd=project,
    )
    assert run.returncode == 0, run
    converted = {
        p.relative_to(project / "converted").as_posix(): p.read_bytes()
        for p in (project / "converted").rglob("*")
        if p.is_file() and p.name != "package.xml"
    }
    ours = source_to_metadata(project / "force-app")
    assert sorted(ours) == sorted(converted)
    for path in ("classes/Greeter.cls", "flows/Welcome.flow", "email/Fleet_Templates-meta.xml", "dw/vehicleToJson.dwl"):
        assert ours[path] == converted[path], path

    server = orgsim_factory({"org": {"sandbox": True}, "metadata": {"seed_dir": str(project / "force-app")}})
    stored = _stored(server.org)
    tops = {(t, n) for t, n in EXPECTED if mdtypes.child(t) is None} | {("CustomObject", "Account")}
    assert stored == tops, (sorted(tops - stored), sorted(stored - tops))
