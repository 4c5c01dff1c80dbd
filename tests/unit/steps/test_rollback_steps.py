"""Rollback decisions: the backup record, the destructive package, job handling, and the deploy calls made."""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_verify_steps import FakeSf, make_ctx, session_of

from cutover.engine import Engine, StepContext, StepStatus
from cutover.sf.results import parse_deploy_result
from cutover.steps.rollback import (
    Component,
    RedeployBackupStep,
    RemoveAddedStep,
    RollbackProblem,
    jobs_on_classes,
    manifest_components,
    package_xml,
    parse_backup,
    restore_folder,
)
from cutover.steps.verify import JobSpec

JOBS = (JobSpec("RetentionEnforcementScheduler", "RetentionEnforcementScheduler", ("0 0 2 * * ?",)),)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(tmp_path)
    yield eng
    eng.close()


def deploy(status: str = "Succeeded", *, deploy_id: str = "0Af000000000001AAA", failures: list | None = None) -> Any:
    done = status != "Queued"
    return parse_deploy_result(
        {
            "id": deploy_id,
            "status": status,
            "done": done,
            "success": status == "Succeeded",
            "details": {"componentFailures": failures or [], "componentSuccesses": []},
        }
    )


def write_backup(project: Path, components: list[tuple[str, str]]) -> dict[str, Any]:
    """A metadata-format backup like the backup step writes: folder + tar.gz + backup.json document."""
    folder = project / "backups" / "production-backup-20261127-170000"
    root = folder / "unpackaged"
    (root / "classes").mkdir(parents=True)
    (root / "package.xml").write_text(package_xml([Component(t, n) for t, n in components]))
    for _, name in components:
        (root / "classes" / f"{name}.cls").write_text(f"public class {name} {{ /* before the release */ }}")
    archive = folder.with_name(folder.name + ".tar.gz")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return {
        "verified": True,
        "format": "metadata",
        "folder": folder.relative_to(project).as_posix(),
        "metadata_root": root.relative_to(project).as_posix(),
        "archive": archive.relative_to(project).as_posix(),
        "sha256": hashlib.sha256(archive.read_bytes()).hexdigest(),
        "components": [{"type": t, "name": n} for t, n in components],
        "added_by_release": [{"type": "ApexClass", "name": "ReleaseX"}, {"type": "ApexClass", "name": "ReleaseXTest"}],
    }


def success_row(type_name: str, name: str, **flags: bool) -> dict[str, Any]:
    return {"componentType": type_name, "fullName": name, "success": True, "fileName": f"x/{name}", **flags}


def deploy_evidence(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """`deploy-result.json` as the deploy step records it (SfResult.to_evidence() of the last `deploy report`)."""
    package = success_row("", "package.xml", changed=True)
    result = {"id": "0Af0000000000DPAAA", "status": "Succeeded", "done": True, "success": True,
              "details": {"componentSuccesses": [package, *rows]}}  # fmt: skip
    return {"argv": ["sf", "project", "deploy", "report"], "exit_code": 0, "envelope": {"status": 0, "result": result}}


RELEASE_CREATED = [
    success_row("ApexClass", "ReleaseX", created=True),
    success_row("ApexClass", "ReleaseXTest", created=True),
]


def rollback_ctx(
    engine: Engine, step_id: str, backup_doc: dict[str, Any], created: list[dict[str, Any]] | None = None
) -> StepContext:
    stages = {"backup.retrieve": "backup", "deploy.quick": "deploy", step_id: "rollback"}
    ctx = make_ctx(engine, step_id, stages=stages)
    backup_ctx = StepContext(
        store=engine.store, record=engine.store.step(ctx.run_id, "backup.retrieve"), project_dir=engine.project_dir
    )
    backup_ctx.record_evidence("backup.json", backup_doc)
    deploy_ctx = StepContext(
        store=engine.store, record=engine.store.step(ctx.run_id, "deploy.quick"), project_dir=engine.project_dir
    )
    deploy_ctx.record_evidence("deploy-result.json", deploy_evidence(RELEASE_CREATED if created is None else created))
    return ctx


def test_backup_record_reads_the_backup_steps_document(tmp_path: Path) -> None:
    doc = write_backup(tmp_path, [("ApexClass", "ElaroLogger")])
    record = parse_backup(doc, tmp_path)
    assert record.folder == tmp_path / doc["metadata_root"]
    assert record.components == (Component("ApexClass", "ElaroLogger"),)
    assert [str(c) for c in record.added_by_release] == ["ApexClass:ReleaseX", "ApexClass:ReleaseXTest"]
    assert Component.parse("ApexTrigger:T1") == Component("ApexTrigger", "T1")


def test_restore_folder_checks_the_archive_and_unpacks_it_when_the_folder_is_gone(tmp_path: Path) -> None:
    doc = write_backup(tmp_path, [("ApexClass", "ElaroLogger")])
    record = parse_backup(doc, tmp_path)
    first = restore_folder(record, tmp_path / "work")
    assert (first / "package.xml").is_file() and first.is_relative_to(tmp_path / "work")
    import shutil

    shutil.rmtree(tmp_path / doc["folder"])
    unpacked = restore_folder(record, tmp_path / "work")
    assert (unpacked / "package.xml").is_file() and (unpacked / "classes" / "ElaroLogger.cls").is_file()
    assert manifest_components(unpacked / "package.xml") == [Component("ApexClass", "ElaroLogger")]
    tampered = parse_backup({**doc, "sha256": "0" * 64}, tmp_path)
    with pytest.raises(RollbackProblem, match="changed since the backup"):
        restore_folder(tampered, tmp_path / "work2")


def test_jobs_on_classes_are_the_ones_whose_class_is_redeployed_or_deleted() -> None:
    components = [Component("ApexClass", "retentionenforcementscheduler"), Component("ApexTrigger", "X")]
    assert jobs_on_classes(JOBS, components) == list(JOBS)
    assert jobs_on_classes(JOBS, [Component("ApexClass", "ElaroLogger")]) == []


def test_remove_added_deploys_only_a_destructive_package_and_checks_the_classes_are_gone(engine: Engine) -> None:
    ctx = rollback_ctx(
        engine, "rollback.remove-added", write_backup(engine.project_dir, [("ApexClass", "ElaroLogger")])
    )
    fake = FakeSf(queries=[lambda soql: [], lambda soql: []], deploys=[deploy("Queued"), deploy()])
    outcome = RemoveAddedStep("prod", session_of(fake), engine.project_dir, jobs=JOBS).run(ctx)
    assert outcome.status == StepStatus.PASSED, outcome.detail
    assert "deleted 2 component(s)" in outcome.detail and "ApexClass:ReleaseX" in outcome.detail
    kinds = [c[0] for c in fake.calls]
    assert kinds == ["deploy_start", "deploy_report", "query"]  # no job touches ReleaseX: no abort query
    folder = Path(fake.calls[0][1]["metadata_dir"])
    assert fake.calls[0][1]["async_"] is True and fake.calls[0][1]["ignore_warnings"] is True
    assert "<types>" not in (folder / "package.xml").read_text()
    assert not (folder / "destructiveChangesPost.xml").exists()  # only Apex: all of it in the pre manifest
    destructive = (folder / "destructiveChangesPre.xml").read_text()
    assert "<members>ReleaseX</members>" in destructive and "<members>ReleaseXTest</members>" in destructive
    assert "ElaroLogger" not in destructive
    assert engine.store.step(ctx.run_id, ctx.step.id).external_ids["deploy_id"] == "0Af000000000001AAA"
    assert "WHERE Name IN ('ReleaseX', 'ReleaseXTest')" in fake.calls[2][1]


def test_remove_added_fails_when_a_deleted_class_is_still_there(engine: Engine) -> None:
    ctx = rollback_ctx(
        engine, "rollback.remove-added", write_backup(engine.project_dir, [("ApexClass", "ElaroLogger")])
    )
    fake = FakeSf(queries=[lambda soql: [{"Id": "01p1", "Name": "ReleaseX"}]], deploys=[deploy("Queued"), deploy()])
    outcome = RemoveAddedStep("prod", session_of(fake), engine.project_dir).run(ctx)
    assert outcome.status == StepStatus.FAILED and "still in the org: ApexClass:ReleaseX" in outcome.detail


def test_redeploy_aborts_jobs_of_restored_classes_and_reschedules_them_even_if_the_deploy_fails(
    engine: Engine,
) -> None:
    doc = write_backup(engine.project_dir, [("ApexClass", "RetentionEnforcementScheduler")])
    ctx = rollback_ctx(engine, "rollback.redeploy-backup", doc)
    live = [{"Id": "08e000000000001AAA", "CronJobDetail": {"Name": "RetentionEnforcementScheduler"}}]
    failure = {
        "componentType": "ApexClass",
        "fullName": "RetentionEnforcementScheduler",
        "problem": "boom",
        "problemType": "Error",
        "success": False,
        "fileName": "classes/RetentionEnforcementScheduler.cls",
    }
    fake = FakeSf(queries=[lambda soql: live], deploys=[deploy("Queued"), deploy("Failed", failures=[failure])])
    outcome = RedeployBackupStep("prod", session_of(fake), engine.project_dir, jobs=JOBS).run(ctx)
    assert outcome.status == StepStatus.FAILED and "boom" in outcome.detail
    assert [c[0] for c in fake.calls] == ["query", "apex_run", "deploy_start", "deploy_report", "apex_run"]
    assert "System.abortJob('08e000000000001AAA');" in fake.scripts[0]
    assert "System.schedule('RetentionEnforcementScheduler', '0 0 2 * * ?'" in fake.scripts[1]
    # The verified archive, unpacked in the run's folder, is what is redeployed.
    deployed = fake.calls[2][1]["metadata_dir"]
    assert deployed.is_relative_to(engine.cutover_dir / "runs") and (deployed / "package.xml").is_file()
    assert deployed.parts[-2:] == Path(doc["metadata_root"]).parts[-2:]
    assert fake.calls[2][1]["test_level"] == "RunLocalTests"


def test_redeploy_passes_and_says_what_it_restored(engine: Engine) -> None:
    ctx = rollback_ctx(
        engine, "rollback.redeploy-backup", write_backup(engine.project_dir, [("ApexClass", "ElaroLogger")])
    )
    fake = FakeSf(queries=[lambda soql: []], deploys=[deploy("Queued"), deploy()])
    outcome = RedeployBackupStep("prod", session_of(fake), engine.project_dir, jobs=JOBS).run(ctx)
    assert outcome.status == StepStatus.PASSED, outcome.detail
    assert "restored 1 component(s) from the backup (ElaroLogger)" in outcome.detail
    assert [c[0] for c in fake.calls] == ["deploy_start", "deploy_report"]


def test_rollback_without_a_backup_fails_clearly(engine: Engine) -> None:
    ctx = make_ctx(engine, "rollback.redeploy-backup", stages={"rollback.redeploy-backup": "rollback"})
    outcome = RedeployBackupStep("prod", session_of(FakeSf()), engine.project_dir).run(ctx)
    assert outcome.status == StepStatus.FAILED and "recorded no backup" in outcome.detail


def test_after_a_rollback_jobs_of_classes_the_release_added_are_not_expected(engine: Engine) -> None:
    from cutover.steps.verify import VerifyJobsStep

    ctx = rollback_ctx(engine, "rollback.scheduled-jobs", write_backup(engine.project_dir, [("ApexClass", "A")]))
    jobs = (*JOBS, JobSpec("ReleaseXPoller", "ReleaseX", ("0 0 * * * ?",)))
    rows = [{"Id": "08e1", "CronJobDetail": {"Name": "RetentionEnforcementScheduler"}, "State": "WAITING",
             "NextFireTime": "2999-01-01T00:00:00.000+0000"}]  # fmt: skip
    fake = FakeSf(queries=[lambda soql: rows])
    step = VerifyJobsStep("prod", session_of(fake), jobs=jobs, recreate=True, skip_jobs_of_removed_classes=True)
    outcome = step.run(ctx)
    assert outcome.status == StepStatus.PASSED, outcome.detail
    assert "not checked, their class was added by the release: ReleaseXPoller" in outcome.detail
    assert "ReleaseXPoller" not in fake.calls[0][1] and not fake.scripts


def test_redeploy_fails_loudly_when_the_aborted_jobs_cannot_be_rescheduled(engine: Engine) -> None:
    from cutover.sf import ApexExecutionFailed

    doc = write_backup(engine.project_dir, [("ApexClass", "RetentionEnforcementScheduler")])
    ctx = rollback_ctx(engine, "rollback.redeploy-backup", doc)
    live = [{"Id": "08e000000000001AAA", "CronJobDetail": {"Name": "RetentionEnforcementScheduler"}}]

    class SchedulingRefused(FakeSf):
        def apex_run(self, alias: str, file: Any) -> Any:
            if "System.schedule" in Path(file).read_text():
                raise ApexExecutionFailed("anonymous Apex failed: System.AsyncException: already scheduled")
            return super().apex_run(alias, file)

    fake = SchedulingRefused(queries=[lambda soql: live], deploys=[deploy("Queued"), deploy()])
    outcome = RedeployBackupStep("prod", session_of(fake), engine.project_dir, jobs=JOBS).run(ctx)
    assert outcome.status == StepStatus.FAILED
    assert "restored the backup, but re-scheduling RetentionEnforcementScheduler failed" in outcome.detail
    assert "already scheduled" in outcome.detail
    # The printed command re-runs the recorded script: the file it names exists and schedules the job.
    command = outcome.detail.split("once fixed: `", 1)[1].split("`", 1)[0].split()
    assert command[:4] == ["sf", "apex", "run", "--file"] and command[-2:] == ["--target-org", "prod"]
    script = engine.project_dir / command[4]
    assert "System.schedule('RetentionEnforcementScheduler'" in script.read_text()
    types = [e.type for e in engine.events(ctx.run_id)]
    assert "scheduled_jobs.recreate_failed" in types


def test_after_a_crash_the_destructive_deploy_is_reattached_not_started_again(engine: Engine) -> None:
    ctx = rollback_ctx(
        engine, "rollback.remove-added", write_backup(engine.project_dir, [("ApexClass", "ElaroLogger")])
    )
    fake = FakeSf(queries=[lambda soql: []], deploys=[deploy(deploy_id="0Af00000000000RAAA")])
    step = RemoveAddedStep("prod", session_of(fake), engine.project_dir)
    outcome = step.reattach(ctx, {"deploy_id": "0Af00000000000RAAA"})
    assert outcome.status == StepStatus.PASSED, outcome.detail
    assert [c[0] for c in fake.calls] == ["deploy_report", "query"]
    assert fake.calls[0][1] == "0Af00000000000RAAA"


def test_restore_deploys_the_verified_archive_not_a_folder_edited_since(tmp_path: Path) -> None:
    # The SHA-256 proves the archive; the loose folder beside it may have been changed after the backup (a stray
    # retrieve, a hand edit): what is redeployed must be what was backed up.
    doc = write_backup(tmp_path, [("ApexClass", "ElaroLogger")])
    record = parse_backup(doc, tmp_path)
    edited = next((tmp_path / doc["folder"]).rglob("ElaroLogger.cls"))
    original = edited.read_text()
    edited.write_text("public class ElaroLogger { /* edited after the backup */ }")
    folder = restore_folder(record, tmp_path / "work")
    assert (folder / "classes" / "ElaroLogger.cls").read_text() == original


def test_a_waived_backup_makes_both_rollback_steps_say_who_waived_it(engine: Engine) -> None:
    ctx = make_ctx(
        engine,
        "rollback.redeploy-backup",
        stages={"backup.retrieve": "backup", "deploy.quick": "deploy", "rollback.redeploy-backup": "rollback"},
    )
    engine.waive(ctx.run_id, "backup.retrieve", reason="retrieve kept timing out", approver="Dana Lead")
    for step in (
        RedeployBackupStep("prod", session_of(FakeSf()), engine.project_dir),
        RemoveAddedStep("prod", session_of(FakeSf()), engine.project_dir),
    ):
        outcome = step.run(ctx)
        assert outcome.status == StepStatus.FAILED
        assert "rollback impossible: the backup step backup.retrieve was waived on 20" in outcome.detail
        assert "by Dana Lead (retrieve kept timing out); a rollback needs a backup" in outcome.detail
        assert "\n" not in outcome.detail
