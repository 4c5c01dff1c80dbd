"""A full retrieve of the org after a release and its rollback equals the one taken before, file for file (real sf CLI).

The rollback is done as cutover does it, by hand here: the backup (a retrieve of the release's manifest) is redeployed
from its metadata folder, and what the backup proved absent is deleted with destructiveChangesPost.xml.
"""

from __future__ import annotations

import re
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from test_orgsim_deploy_types import EXPECTED, PROJECT_FILES, manifest, write_project, xml

from orgsim.testing import login, run_sf

pytestmark = pytest.mark.integration

RELEASE_FILES = {
    **PROJECT_FILES,
    "classes/Greeter.cls": "public with sharing class Greeter {\n  public static String hello() { return 'hey'; }\n}\n",
    "classes/FleetService.cls": "public with sharing class FleetService {\n  public static Integer size() {"
    " return Greeter.hello().length(); }\n}\n",
    "classes/FleetService.cls-meta.xml": PROJECT_FILES["classes/Greeter.cls-meta.xml"],
    "objects/Vehicle__c/fields/Model__c.field-meta.xml": xml(
        "CustomField", "<fullName>Model__c</fullName><label>Model</label><length>40</length><type>Text</type>"
    ),
    "objects/Account/fields/Region__c.field-meta.xml": xml(
        "CustomField", "<fullName>Region__c</fullName><label>Region</label><length>20</length><type>Text</type>"
    ),
    "objects/Trip__c/Trip__c.object-meta.xml": xml(
        "CustomObject",
        "<deploymentStatus>Deployed</deploymentStatus><label>Trip</label><nameField><label>Name</label>"
        "<type>Text</type></nameField><pluralLabel>Trips</pluralLabel><sharingModel>ReadWrite</sharingModel>",
    ),
    "layouts/Trip__c-Trip Layout.layout-meta.xml": xml(
        "Layout", "<layoutSections><label>Info</label><style>OneColumn</style></layoutSections>"
    ),
    "labels/CustomLabels.labels-meta.xml": PROJECT_FILES["labels/CustomLabels.labels-meta.xml"].replace(
        "</labels>",
        "</labels><labels><fullName>Fleet_Bye</fullName><language>en_US</language><protected>false</protected>"
        "<shortDescription>Bye</shortDescription><value>Bye</value></labels>",
        1,
    ),
    "messageChannels/Trip_Started.messageChannel-meta.xml": xml(
        "LightningMessageChannel", "<isExposed>true</isExposed><masterLabel>Trip Started</masterLabel>"
    ),
}

# "Everything the project uses": "*" per type, children too, folder-based types by name.
FOLDERED = {
    "EmailTemplate": ["Fleet_Templates", "Fleet_Templates/Welcome"],
    "Report": ["Fleet_Reports", "Fleet_Reports/Vehicles"],
}
FULL = {
    **{t: ["*"] for t, _ in EXPECTED if t not in (*FOLDERED, "EmailFolder", "ReportFolder")},
    **FOLDERED,
    "CustomObject": ["*", "Account"],
}


def _retrieve(sf_bin: Path, home: Path, project: Path, manifest_name: str, out: str) -> dict[str, Any]:
    run = run_sf(
        sf_bin,
        [
            "project",
            "retrieve",
            "start",
            "--target-org",
            "sim",
            "--manifest",
            manifest_name,
            "--target-metadata-dir",
            out,
            "--wait",
            "5",
        ],
        home,
        cwd=project,
    )
    assert run.returncode == 0, run
    return run.json["result"]


def _files(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {n: archive.read(n) for n in archive.namelist() if not n.endswith("/") and n != "unpackaged/package.xml"}


def test_full_retrieve_after_release_and_rollback_equals_the_one_before(
    orgsim_factory: Any, sf_bin: Path, sf_home: Path, tmp_path: Path
) -> None:
    server = orgsim_factory("empty")
    login(sf_bin, sf_home, server.url, server.token, alias="sim")
    v1 = write_project(tmp_path / "v1")
    run = run_sf(
        sf_bin,
        ["project", "deploy", "start", "--target-org", "sim", "--source-dir", "force-app", "--wait", "5"],
        sf_home,
        cwd=v1,
    )
    assert run.returncode == 0, run

    release = write_project(tmp_path / "v2", RELEASE_FILES)
    (release / "full.xml").write_text(manifest(FULL), encoding="utf-8")
    started = time.monotonic()
    _retrieve(sf_bin, sf_home, release, "full.xml", "before")
    before = _files(release / "before" / "unpackaged.zip")
    timing = {"full_retrieve": time.monotonic() - started}
    assert "unpackaged/objects/Account.object" in before and "unpackaged/lwc/vehicleCard/vehicleCard.js" in before

    # backup: the release's own manifest, as the CLI resolves it
    run = run_sf(
        sf_bin,
        ["project", "generate", "manifest", "--source-dir", "force-app", "--output-dir", "."],
        sf_home,
        cwd=release,
    )
    assert run.returncode == 0, run
    backup = _retrieve(sf_bin, sf_home, release, "package.xml", "backup")
    absent: dict[str, list[str]] = {}
    for message in backup["messages"]:
        found = re.fullmatch(r"Entity of type '(\w+)' named '(.+)' cannot be found", message["problem"])
        assert found, message
        absent.setdefault(found.group(1), []).append(found.group(2))
    assert sorted((t, n) for t, names in absent.items() for n in names) == [
        ("ApexClass", "FleetService"),
        ("CustomField", "Account.Region__c"),
        ("CustomField", "Vehicle__c.Model__c"),
        ("CustomLabel", "Fleet_Bye"),
        ("CustomObject", "Trip__c"),
        ("Layout", "Trip__c-Trip Layout"),
        ("LightningMessageChannel", "Trip_Started"),
    ]
    with zipfile.ZipFile(release / "backup" / "unpackaged.zip") as archive:
        archive.extractall(release / "backup")

    run = run_sf(
        sf_bin,
        ["project", "deploy", "start", "--target-org", "sim", "--source-dir", "force-app", "--wait", "5"],
        sf_home,
        cwd=release,
    )
    assert run.returncode == 0, run

    # rollback: redeploy the backup, then delete what the release added
    started = time.monotonic()
    run = run_sf(
        sf_bin,
        ["project", "deploy", "start", "--target-org", "sim", "--metadata-dir", "backup/unpackaged", "--wait", "5"],
        sf_home,
        cwd=release,
    )
    assert run.returncode == 0, run
    delete = release / "delete"
    delete.mkdir()
    (delete / "package.xml").write_text(manifest({}), encoding="utf-8")
    (delete / "destructiveChangesPost.xml").write_text(manifest(absent), encoding="utf-8")
    run = run_sf(
        sf_bin,
        ["project", "deploy", "start", "--target-org", "sim", "--metadata-dir", "delete", "--wait", "5"],
        sf_home,
        cwd=release,
    )
    assert run.returncode == 0, run
    assert run.json["result"]["numberComponentsDeployed"] == sum(len(v) for v in absent.values())
    timing["rollback"] = time.monotonic() - started

    _retrieve(sf_bin, sf_home, release, "full.xml", "after")
    after = _files(release / "after" / "unpackaged.zip")
    assert sorted(after) == sorted(before)
    assert [p for p in before if after[p] != before[p]] == []
    print("timings", {k: round(v, 1) for k, v in timing.items()}, "files compared", len(before))
