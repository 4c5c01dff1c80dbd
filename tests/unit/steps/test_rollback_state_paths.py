"""Issue 11: the rollback never follows a path from the recorded backup (backup.json evidence) that leaves the
project: `..`, an absolute path elsewhere, a symlink out. Refused with one line (StateDamaged, exit 6; a failed step
inside a run), before anything is hashed, unpacked or deployed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_rollback_steps import rollback_ctx, write_backup
from test_verify_steps import FakeSf, session_of

from cutover.engine import Engine
from cutover.engine.damage import StateDamaged
from cutover.steps.rollback import RedeployBackupStep, RemoveAddedStep, find_backup, parse_backup


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    project = tmp_path / "project"
    project.mkdir()
    eng = Engine(project)
    yield eng
    eng.close()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.tar.gz").write_bytes(b"not yours")
    return folder


def escapes(project: Path, outside: Path) -> dict[str, str]:
    (project / "backups").mkdir(exist_ok=True)
    (project / "backups" / "link-out").symlink_to(outside, target_is_directory=True)
    return {
        "dotdot": "../outside/secret.tar.gz",
        "absolute": str(outside / "secret.tar.gz"),
        "symlink": "backups/link-out/secret.tar.gz",
    }


@pytest.mark.parametrize("key", ["archive", "metadata_root", "folder"])
@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink"])
def test_parse_backup_refuses_every_path_that_leaves_the_project(
    engine: Engine, outside: Path, key: str, how: str
) -> None:
    project = engine.project_dir
    doc = write_backup(project, [("ApexClass", "ElaroLogger")])
    bad = escapes(project, outside)[how]
    tampered: dict[str, Any] = {**doc, key: bad}
    if key == "folder":
        tampered.pop("metadata_root")  # `folder` is read only when metadata_root is absent
    with pytest.raises(StateDamaged) as caught:
        parse_backup(tampered, project, "backup.retrieve")
    message = caught.value.message
    assert f"{key} in the backup record of step backup.retrieve is {bad!r}, which leaves the project" in message
    assert "\n" not in message and caught.value.exit_code == 6


def test_paths_inside_the_project_are_read_absolute_or_relative(engine: Engine) -> None:
    project = engine.project_dir
    doc = write_backup(project, [("ApexClass", "ElaroLogger")])
    relative = parse_backup(doc, project)
    absolute = parse_backup({**doc, "archive": str(project / doc["archive"])}, project)
    assert relative.archive == absolute.archive == (project / doc["archive"]).resolve()


@pytest.mark.parametrize("cls", [RedeployBackupStep, RemoveAddedStep])
def test_both_rollback_steps_refuse_a_backup_record_pointing_outside(
    engine: Engine, outside: Path, cls: type[RedeployBackupStep] | type[RemoveAddedStep]
) -> None:
    doc = write_backup(engine.project_dir, [("ApexClass", "ElaroLogger")])
    step_id = "rollback.redeploy-backup" if cls is RedeployBackupStep else "rollback.remove-added"
    ctx = rollback_ctx(engine, step_id, {**doc, "archive": "../outside/secret.tar.gz"})
    fake = FakeSf(queries=[lambda soql: []])
    with pytest.raises(StateDamaged, match="leaves the project folder"):
        cls("prod", session_of(fake), engine.project_dir).run(ctx)
    assert fake.calls == []  # nothing deployed


def test_an_unreadable_backup_record_is_damage_not_a_crash(engine: Engine) -> None:
    ctx = rollback_ctx(engine, "rollback.redeploy-backup", write_backup(engine.project_dir, [("ApexClass", "A")]))
    evidence = next(e for e in engine.store.evidence(ctx.run_id) if e["name"] == "backup.json")
    (engine.cutover_dir / evidence["relpath"]).write_text("[" * 100_000)
    with pytest.raises(StateDamaged, match=r"the backup record \.cutover/.*backup\.json cannot be read"):
        find_backup(ctx, ctx.run_id, engine.project_dir)
