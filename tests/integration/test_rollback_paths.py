"""Backup and rollback paths of issue 7 with the real sf CLI against orgsim.

1. The backup of a release that adds components (a custom object with a field, a custom field on Account, an Apex
   class), with an explicit manifest and with `manifest: null` (`--source-dir`): both pass, and the added
   components are recorded as `added_by_release` (before, the retrieve's "cannot be found" messages failed it).
   With the explicit manifest the release also deletes a class (`destructive_changes.post`): the backup holds it.
2. The two-step rollback with real processes: `cutover rollback` (exit 4, waits for `rollback.decide`), the printed
   `cutover signoff rollback.decide ...`, then the printed `cutover resume RUN` → `rolled_back`. The rollback
   deletes the custom object (its field goes with it), the field on Account and the class; Account itself is never
   named; the counts are exact (the class, deleted by hand meanwhile, counts as already gone).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from test_verify_rollback import (
    create_run,
    cutover,
    deploy_folder,
    edit_runbook,
    make_project,
    start_org,
)

from cutover.engine import Engine, StepStatus

pytestmark = pytest.mark.integration

OBJECT = "Rollback_Probe__c"
CLASS = "RollbackProbeService"
ACCOUNT_FIELD = "Account.Probe_Score__c"
RETIRED = "ElaroGLBAAnnualNoticeBatch"  # in production before the release; the release deletes it
META = '<?xml version="1.0" encoding="UTF-8"?>\n'
NS = 'xmlns="http://soap.sforce.com/2006/04/metadata"'


def add_release_components(project: Path) -> None:
    """The release adds a custom object with a field, a custom field on Account and a class using the object."""
    base = project / "force-app" / "main" / "default"
    obj = base / "objects" / OBJECT
    (obj / "fields").mkdir(parents=True)
    (obj / f"{OBJECT}.object-meta.xml").write_text(
        f"{META}<CustomObject {NS}><label>Rollback Probe</label><pluralLabel>Rollback Probes</pluralLabel>"
        "<nameField><label>Name</label><type>Text</type></nameField><deploymentStatus>Deployed</deploymentStatus>"
        "<sharingModel>ReadWrite</sharingModel></CustomObject>\n"
    )
    (obj / "fields" / "Amount__c.field-meta.xml").write_text(
        f"{META}<CustomField {NS}><fullName>Amount__c</fullName><label>Amount</label><type>Number</type>"
        "<precision>18</precision><scale>2</scale></CustomField>\n"
    )
    account = base / "objects" / "Account" / "fields"
    account.mkdir(parents=True)
    (account / "Probe_Score__c.field-meta.xml").write_text(
        f"{META}<CustomField {NS}><fullName>Probe_Score__c</fullName><label>Probe Score</label><type>Number</type>"
        "<precision>18</precision><scale>0</scale></CustomField>\n"
    )
    (base / "classes" / f"{CLASS}.cls").write_text(
        f"public with sharing class {CLASS} {{\n"
        f"    public static Integer count() {{ return [SELECT COUNT() FROM {OBJECT}]; }}\n}}\n"
    )
    (base / "classes" / f"{CLASS}.cls-meta.xml").write_text(
        f"{META}<ApexClass {NS}><apiVersion>62.0</apiVersion><status>Active</status></ApexClass>\n"
    )


def set_manifest(project: Path, manifest: dict[str, list[str]] | None) -> None:
    """An explicit release manifest, or `manifest: null` (the release is the source folder)."""
    ryaml = YAML()
    doc = ryaml.load((project / "cutover.yaml").read_text())
    if manifest is None:
        doc["project"]["manifest"] = None
    else:
        body = "".join(
            "<types>" + "".join(f"<members>{m}</members>" for m in members) + f"<name>{t}</name></types>"
            for t, members in manifest.items()
        )
        (project / "manifest" / "package.xml").write_text(
            f"{META}<Package {NS}>{body}<version>62.0</version></Package>\n"
        )
    with (project / "cutover.yaml").open("w") as handle:
        ryaml.dump(doc, handle)


def backup_record(engine: Engine, run_id: str) -> dict[str, Any]:
    item = next(e for e in engine.store.evidence(run_id, "backup.retrieve") if e["name"] == "backup.json")
    return json.loads((engine.cutover_dir / item["relpath"]).read_text())


EXPLICIT = {
    "ApexClass": ["ElaroLogger", CLASS],
    "CustomObject": ["Elaro_Audit_Log__c", OBJECT],
    "CustomField": [f"{OBJECT}.Amount__c", ACCOUNT_FIELD],
}


@pytest.mark.parametrize("manifest", [EXPLICIT, None], ids=["explicit-manifest", "manifest-null"])
def test_backup_of_a_release_that_adds_components(
    tmp_path: Path,
    sf_bin: Path,
    sf_home: Path,
    sf_environment: dict[str, str],
    manifest: dict[str, list[str]] | None,
) -> None:
    server = start_org(tmp_path, sf_bin, sf_home)
    try:
        project = make_project(tmp_path)
        add_release_components(project)
        set_manifest(project, manifest)
        if manifest is not None:  # the release also deletes a class production has: the backup must hold it
            (project / "manifest" / "destructiveChangesPost.xml").write_text(
                f"{META}<Package {NS}><types><members>{RETIRED}</members><name>ApexClass</name></types>"
                "<version>62.0</version></Package>\n"
            )
            ryaml = YAML()
            doc = ryaml.load((project / "cutover.yaml").read_text())
            doc["project"]["destructive_changes"] = {"post": "manifest/destructiveChangesPost.xml"}
            with (project / "cutover.yaml").open("w") as handle:
                ryaml.dump(doc, handle)
        engine = Engine(project)
        try:
            run, executors = create_run(engine, ["backup.retrieve"])
            engine.execute(run.id, executors)
            record = engine.steps(run.id)[0]
            assert record.status == StepStatus.PASSED, record.detail
            doc = backup_record(engine, run.id)
        finally:
            engine.close()
        added = {(c["type"], c["name"]) for c in doc["added_by_release"]}
        assert {("ApexClass", CLASS), ("CustomObject", OBJECT), ("CustomField", ACCOUNT_FIELD)} <= added
        in_org = {(c["type"], c["name"]) for c in doc["components"]}
        assert ("ApexClass", "ElaroLogger") in in_org and ("ApexClass", "ElaroLogger") not in added
        if manifest is not None:
            assert doc["deleted_by_release"] == [{"type": "ApexClass", "name": RETIRED}]
            root = project / doc["metadata_dir"]
            assert (root / "classes" / f"{RETIRED}.cls").is_file() and (root / "classes" / "ElaroLogger.cls").is_file()
            assert RETIRED in (root / "package.xml").read_text()
        # The retrieve that ran is the one the plan shows.
        calls = [json.loads(p.read_text()) for p in (project / ".cutover").rglob("sf-*-project-retrieve-start.json")]
        argv = calls[-1]["argv"]
        if manifest is None:
            assert argv[argv.index("--source-dir") + 1] == "force-app" and "--manifest" not in argv
        else:
            assert argv[argv.index("--manifest") + 1].endswith("manifest/package.xml")
        shown = cutover(project, sf_environment, "plan", "--stage", "backup")
        assert shown.returncode == 0, shown.stderr
        selection = "--source-dir force-app" if manifest is None else "--manifest manifest/package.xml"
        assert selection in shown.stdout
    finally:
        server.stop()


def printed_commands(text: str) -> list[str]:
    """Every `cutover ...` command a message printed (up to a quote, `;`, `)` or the end of the line)."""
    return [m.strip() for m in re.findall(r"(cutover (?:signoff|resume|retry|rollback|waive)[^;`)\n]*)", text)]


def test_two_step_rollback_removes_the_added_object_field_and_class(
    tmp_path: Path,
    sf_bin: Path,
    sf_home: Path,
    sf_environment: dict[str, str],
) -> None:
    server = start_org(tmp_path, sf_bin, sf_home)
    try:
        project = make_project(tmp_path)
        add_release_components(project)
        edit_runbook(project, ["backup", "validate", "deploy", "verify"])
        ryaml = YAML()
        doc = ryaml.load((project / "cutover.yaml").read_text())
        doc["rollback"]["automatic_on_verification_failure"] = False  # nothing left that rolls back by itself
        with (project / "cutover.yaml").open("w") as handle:
            ryaml.dump(doc, handle)
        deployed = cutover(project, sf_environment, "run", "--until", "deploy", "--yes", "--format", "json")
        assert deployed.returncode == 0, deployed.stdout[-2000:] + deployed.stderr[-2000:]
        run_id = json.loads(deployed.stdout)["run_id"]
        org = server.org
        assert _exists(org, "CustomObject", OBJECT) and _exists(org, "ApexClass", CLASS)

        asked = cutover(project, sf_environment, "rollback", run_id, "--yes", "--reason", "users locked out")
        assert asked.returncode == 4, asked.stdout + asked.stderr
        commands = printed_commands(asked.stderr)
        signoff = next(c for c in commands if c.startswith("cutover signoff rollback.decide"))
        resume = next(c for c in commands if c.startswith("cutover resume"))
        assert resume == f"cutover resume {run_id}"
        # Run the printed sign-off command with the placeholder filled in.
        args = signoff.replace("<name>", "AVERY_BROOKS").split()[1:]
        args = [a.replace("AVERY_BROOKS", "Avery Brooks") for a in args]
        signed = cutover(project, sf_environment, *args)
        assert signed.returncode == 0, signed.stdout + signed.stderr
        # Meanwhile someone deleted the added class by hand: the rollback counts it as already gone.
        by_hand = tmp_path / "by-hand"
        by_hand.mkdir()
        (by_hand / "package.xml").write_text(f"{META}<Package {NS}><version>62.0</version></Package>\n")
        (by_hand / "destructiveChanges.xml").write_text(
            f"{META}<Package {NS}><types><members>{CLASS}</members><name>ApexClass</name></types>"
            "<version>62.0</version></Package>\n"
        )
        deploy_folder(sf_bin, sf_home, by_hand)
        assert not _exists(org, "ApexClass", CLASS)
        done = cutover(project, sf_environment, *resume.split()[1:], "--format", "json")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        status = json.loads(done.stdout)
        assert status["state"] == "rolled_back", status["note"]
        steps = {s["id"]: s for s in status["steps"]}
        detail = steps["rollback.remove-added"]["detail"]
        plan = _evidence(project, run_id, "rollback.remove-added", "destructive-plan.json")
        pre, post = plan["destructiveChangesPre"], plan["destructiveChangesPost"]
        with_object = plan["removed_with_their_object"]
        # The class goes first (it references the object); the field on Account and the object after it; the
        # object's own field goes with the object. Account itself is never named.
        assert f"ApexClass:{CLASS}" in pre and f"CustomObject:{OBJECT}" not in pre
        assert {f"CustomField:{ACCOUNT_FIELD}", f"CustomObject:{OBJECT}"} <= set(post)
        assert f"CustomField:{OBJECT}.Amount__c" in with_object and f"CustomField:{OBJECT}.Amount__c" not in post
        assert not any(c in ("CustomObject:Account", "CustomObject:Contact") for c in pre + post)
        assert all(c.split(":", 1)[1].split(".")[0] != OBJECT for c in pre + post if c.startswith("CustomField:"))
        # Exact counts: what the manifests named, what went with its object, nothing already gone or left.
        assert detail.startswith(f"deleted {len(pre) + len(post) - 1} component(s) the release added"), detail
        assert f"; {len(with_object)} removed with their object; 1 already gone; 0 left in place" in detail, detail
        assert f"ApexClass:{CLASS}" not in detail.split(";")[0]

        assert not _exists(org, "CustomObject", OBJECT) and not _exists(org, "ApexClass", CLASS)
        assert not _exists(org, "CustomField", ACCOUNT_FIELD)
        assert not _exists(org, "CustomField", f"{OBJECT}.Amount__c")
        audit = cutover(project, sf_environment, "audit", "verify", run_id)
        assert audit.returncode == 0, audit.stdout + audit.stderr
    finally:
        server.stop()


def _exists(org: Any, type_name: str, name: str) -> bool:
    from orgsim.metadata import store as md

    return md.get_component(org, type_name, name) is not None


def _evidence(project: Path, run_id: str, step_id: str, name: str) -> Any:
    engine = Engine(project)
    try:
        item = next(e for e in engine.store.evidence(run_id, step_id) if e["name"] == name)
        return json.loads((engine.cutover_dir / item["relpath"]).read_text())
    finally:
        engine.close()


def test_a_waived_backup_refuses_the_rollback_and_its_restore_command_works(
    tmp_path: Path,
    sf_bin: Path,
    sf_home: Path,
    sf_environment: dict[str, str],
) -> None:
    from cutover.runbook import load_runbook
    from cutover.runbook.plan import build_plan
    from cutover.steps import file_sha256, plan_to_specs
    from orgsim.testing import run_sf

    server = start_org(tmp_path, sf_bin, sf_home)
    try:
        project = make_project(tmp_path)
        runbook = load_runbook(project / "cutover.yaml")
        engine = Engine(project)
        try:
            run = engine.create_run(
                "production",
                plan_to_specs(build_plan(runbook), runbook),
                runbook_path="cutover.yaml",
                runbook_sha256=file_sha256(project / "cutover.yaml"),
            )
            engine.waive(run.id, "backup.retrieve", reason="retrieve timed out", approver="Avery Brooks",
                         accept_no_rollback=True)  # fmt: skip
            with engine.store.transaction() as tx:  # the release went out without a backup
                engine.store.update_step(
                    tx, run.id, "deploy.quick", status=StepStatus.PASSED, started="x", finished="y"
                )
        finally:
            engine.close()
        refused = cutover(project, sf_environment, "rollback", run.id, "--yes", "--by", "Avery Brooks")
        assert refused.returncode == 1, refused.stdout + refused.stderr
        message = " ".join(refused.stderr.split())
        assert "the backup step backup.retrieve was waived on" in message and "a rollback needs a backup" in message
        command = re.search(r"`(sf project deploy start [^`]+)`", message)
        assert command is not None, message
        # The printed restore command, run from a checkout of the previous release (here: the project itself).
        restored = run_sf(sf_bin, [*command.group(1).split()[1:], "--wait", "5"], sf_home, cwd=project)
        assert restored.returncode == 0, str(restored)
        assert _exists(server.org, "ApexClass", "ElaroLogger")
    finally:
        server.stop()
