"""A delta release end to end: the real sf CLI and the real `cutover` processes against orgsim (scenario `empty`).

v1 is deployed with `sf` and tagged; v2 adds a class, changes one, deletes one, renames one, adds a field and
deletes an LWC bundle. `cutover run` with `project.delta.enabled` sends exactly that delta (the frozen
package.xml and destructiveChangesPost.xml), so the org holds v2 and the deleted components are gone; `cutover
rollback` restores what the release changed and deleted and deletes what it added, so a retrieve of the org equals
the one taken before the release, file for file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from projects_metadata import compare_snapshots, write_package

from cutover.delta import read_members
from orgsim.scenario import builtin_scenario_path
from orgsim.testing import OrgsimServer, login, run_sf, sf_env

CUTOVER = Path(sys.executable).parent / "cutover"
ALIAS = "production"
SRC = "force-app/main/default"
META = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<{kind} xmlns="http://soap.sforce.com/2006/04/metadata">{body}</{kind}>\n'
)
CLASS_META = META.format(kind="ApexClass", body="<apiVersion>62.0</apiVersion><status>Active</status>")
LWC_META = META.format(
    kind="LightningComponentBundle", body="<apiVersion>62.0</apiVersion><isExposed>false</isExposed>"
)


def apex(name: str, extra: str = "") -> dict[str, str]:
    body = "\n".join(f"    public Integer value{i}() {{ return {i}; }}" for i in range(12))
    return {
        f"{SRC}/classes/{name}.cls": f"public with sharing class {name} {{\n{body}\n{extra}}}\n",
        f"{SRC}/classes/{name}.cls-meta.xml": CLASS_META,
    }


def field(name: str) -> dict[str, str]:
    body = f"<fullName>{name}</fullName><label>{name}</label><type>Text</type><length>20</length>"
    return {f"{SRC}/objects/Shift__c/fields/{name}.field-meta.xml": META.format(kind="CustomField", body=body)}


def lwc(name: str) -> dict[str, str]:
    base = f"{SRC}/lwc/{name}/{name}"
    return {
        f"{base}.js": "import { LightningElement } from 'lwc';\nexport default class C extends LightningElement {}\n",
        f"{base}.html": f"<template><p>{name}</p></template>\n",
        f"{base}.js-meta.xml": LWC_META,
    }


V1: dict[str, str] = {
    "sfdx-project.json": json.dumps(
        {"packageDirectories": [{"path": "force-app", "default": True}], "sourceApiVersion": "62.0"}
    ),
    ".forceignore": "**/jsconfig.json\n**/__tests__/**\n",
    ".gitignore": ".cutover/\nbackups/\n",
    **apex("Keep"),
    **apex("Change"),
    **apex("Remove"),
    **apex("Old"),
    f"{SRC}/classes/AppTest.cls": "@isTest\nprivate class AppTest {\n    @isTest static void runs() {\n"
    "        System.assertEquals(1, new Keep().value1());\n    }\n}\n",
    f"{SRC}/classes/AppTest.cls-meta.xml": CLASS_META,
    f"{SRC}/objects/Shift__c/Shift__c.object-meta.xml": META.format(
        kind="CustomObject",
        body="<label>Shift</label><pluralLabel>Shifts</pluralLabel><nameField><label>Name</label><type>Text</type>"
        "</nameField><deploymentStatus>Deployed</deploymentStatus><sharingModel>ReadWrite</sharingModel>",
    ),
    **field("A__c"),
    **lwc("card"),
    **lwc("gone"),
}


class DeltaFlow:
    def __init__(self, root: Path, sf_bin: Path) -> None:
        self.root = root
        self.sf_bin = sf_bin
        self.home = root / "sf-home"
        self.work = root / "project"
        self.env = sf_env(self.home, sf_bin, {"CUTOVER_SF": str(sf_bin)})
        self.env.update(
            {
                "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_CONFIG_GLOBAL": "/dev/null",
                "GIT_AUTHOR_NAME": "Dev",
                "GIT_AUTHOR_EMAIL": "dev@example.com",
                "GIT_COMMITTER_NAME": "Dev",
                "GIT_COMMITTER_EMAIL": "dev@example.com",
            }
        )
        self.sf_calls = 0

    def sh(self, *argv: str, expect: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(argv, cwd=self.work, env=self.env, capture_output=True, text=True, timeout=900)
        assert done.returncode in expect, (
            f"$ {' '.join(argv)} -> {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
        return done

    def sf(self, *args: str) -> dict[str, Any]:
        self.sf_calls += 1
        run = run_sf(self.sf_bin, list(args), self.home, cwd=self.work, timeout=600)
        assert run.returncode == 0 and run.json is not None, run.stdout[-3000:]
        return run.json

    def write(self, files: dict[str, str]) -> None:
        for rel, text in files.items():
            (self.work / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.work / rel).write_text(text)

    def status(self) -> dict[str, Any]:
        return json.loads(self.sh(str(CUTOVER), "status", "--format", "json").stdout)

    def retrieve(self, label: str) -> tuple[Path, set[tuple[str, str]]]:
        manifest = self.root / "snapshot.xml"
        types = {"ApexClass": ["*"], "CustomObject": ["Shift__c"], "LightningComponentBundle": ["*"]}
        manifest.write_text(write_package(types))
        out = self.root / f"snapshot-{label}"
        done = self.sf(
            "project", "retrieve", "start", "--manifest", str(manifest), "--target-metadata-dir", str(out),
            "--unzip", "--target-org", ALIAS, "--wait", "10",
        )  # fmt: skip
        held = {(str(p["type"]), str(p["fullName"])) for p in done["result"].get("fileProperties", [])}
        return out, held


def _scenario(root: Path) -> Path:
    data: dict[str, Any] = yaml.safe_load(builtin_scenario_path("empty").read_text()) or {}
    data["durations"] = {"validate_seconds": 1, "deploy_seconds": 1, "test_seconds": 1, "retrieve_seconds": 0}
    path = root / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_delta_release_and_rollback(tmp_path: Path, sf_bin: Path) -> None:
    flow = DeltaFlow(tmp_path, sf_bin)
    server = OrgsimServer(tmp_path / "org", _scenario(tmp_path))
    try:
        login(sf_bin, flow.home, server.url, server.token, alias=ALIAS)
        flow.sf_calls += 1
        run_delta_flow(flow, server)
    finally:
        server.stop()


def run_delta_flow(flow: DeltaFlow, server: OrgsimServer) -> None:
    # v1: committed, tagged, deployed with sf directly; the "before" snapshot.
    flow.work.mkdir()
    flow.write(V1)
    flow.sh("git", "init", "-q", "-b", "main")
    flow.sh("git", "add", "-A")
    flow.sh("git", "commit", "-q", "-m", "v1")
    flow.sh("git", "tag", "-a", "v1.0.0", "-m", "Production release v1.0.0")
    flow.sf("project", "deploy", "start", "--source-dir", "force-app", "--target-org", ALIAS, "--wait", "10",
            "--test-level", "RunLocalTests")  # fmt: skip
    before, held_before = flow.retrieve("before")
    assert {("ApexClass", "Remove"), ("ApexClass", "Old"), ("LightningComponentBundle", "gone")} <= held_before

    # v2: add, change, delete, rename a class; add a field; delete an LWC bundle.
    flow.write(apex("Change", "    public String v2() { return 'v2'; }\n"))
    flow.write({**apex("Added"), **field("B__c")})
    flow.sh("git", "rm", "-q", f"{SRC}/classes/Remove.cls", f"{SRC}/classes/Remove.cls-meta.xml")
    flow.sh("git", "rm", "-q", "-r", f"{SRC}/lwc/gone")
    flow.sh("git", "mv", f"{SRC}/classes/Old.cls", f"{SRC}/classes/Fresh.cls")
    flow.sh("git", "mv", f"{SRC}/classes/Old.cls-meta.xml", f"{SRC}/classes/Fresh.cls-meta.xml")
    renamed = (flow.work / f"{SRC}/classes/Fresh.cls").read_text().replace("class Old", "class Fresh")
    flow.write({f"{SRC}/classes/Fresh.cls": renamed})
    runbook = {
        "release": {"version": "2.0.0", "push": False},
        "project": {"delta": {"enabled": True}},
        "target": {
            "alias": ALIAS,
            "expect": {
                "org_id": server.org.org_id,
                "username": server.org.scenario.org.username,
                "instance_url": server.url.rstrip("/"),
            },
        },
        "roles": {"deployment_lead": {"title": "Deployment Lead", "name": "Avery Stone", "email": "avery@example.com"}},
        "separation_of_duties": {"exclusive": []},
        "signoffs": [],
        "alerts": {"escalation": [], "internal_escalation": ["deployment_lead"]},
        "checklists": {"smoke_tests": [], "post_deploy": {"role": "deployment_lead"}},
        "stages": ["guard", "backup", "validate", "deploy"],
    }
    flow.write({"cutover.yaml": yaml.safe_dump(runbook)})
    flow.sh("git", "add", "-A")
    flow.sh("git", "commit", "-q", "-m", "v2")

    plan = flow.sh(str(CUTOVER), "plan").stdout
    assert "git diff --name-status -M <latest v* tag> HEAD -- force-app" in plan

    # The release: exactly the delta.
    flow.sh(str(CUTOVER), "--yes", "run")
    status = flow.status()
    assert status["state"] == "succeeded", [(s["id"], s["status"], s["detail"]) for s in status["steps"]]
    delta_dir = flow.work / ".cutover" / "runs" / status["run_id"] / "delta"
    assert sorted(read_members(delta_dir / "package.xml")) == [
        ("ApexClass", "Added"),
        ("ApexClass", "Change"),
        ("ApexClass", "Fresh"),
        ("CustomField", "Shift__c.B__c"),
    ]
    assert sorted(read_members(delta_dir / "destructiveChangesPost.xml")) == [
        ("ApexClass", "Old"),
        ("ApexClass", "Remove"),
        ("LightningComponentBundle", "gone"),
    ]
    frozen = json.loads((delta_dir / "delta.json").read_text())
    assert frozen["since"] == "v1.0.0" and len(frozen["until_commit"]) == 40
    # The backup covers exactly the delta: what it changes or adds, and what it deletes.
    record = json.loads(next((flow.work / "backups").glob("production-backup-*.json")).read_text())
    names = {key: sorted(f"{c['type']}:{c['name']}" for c in record[key]) for key in record if key.endswith("release")}
    assert names["added_by_release"] == ["ApexClass:Added", "ApexClass:Fresh", "CustomField:Shift__c.B__c"]
    assert names["deleted_by_release"] == ["ApexClass:Old", "ApexClass:Remove", "LightningComponentBundle:gone"]
    assert sorted(f"{c['type']}:{c['name']}" for c in record["components"]) == [
        "ApexClass:Change",
        *names["deleted_by_release"],
    ]

    released, held = flow.retrieve("released")
    assert {("ApexClass", "Added"), ("ApexClass", "Fresh"), ("ApexClass", "Change")} <= held
    assert not {("ApexClass", "Remove"), ("ApexClass", "Old"), ("LightningComponentBundle", "gone")} & held
    change = next(released.rglob("Change.cls")).read_text()
    assert "return 'v2'" in change
    assert "<fullName>B__c</fullName>" in next(released.rglob("Shift__c.object")).read_text()

    # The rollback inverts it.
    flow.sh(str(CUTOVER), "--yes", "rollback", "--reason", "delta drill", "--by", "Avery Stone",
            "--role", "deployment_lead")  # fmt: skip
    status = flow.status()
    assert status["state"] == "rolled_back", [(s["id"], s["status"], s["detail"]) for s in status["steps"]]
    plan = json.loads(next((flow.work / ".cutover" / "runs").rglob("rollback-plan.json")).read_text())
    assert plan["delta"]["deleted"] == ["ApexClass:Old", "ApexClass:Remove", "LightningComponentBundle:gone"]
    after, _ = flow.retrieve("after")
    assert compare_snapshots(before, after) == []
    flow.sh(str(CUTOVER), "audit", "verify")
