"""The run's delta is computed once, frozen in the run's folder, and every later step reads the same files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from delta_repo import Repo, apex_class

from cutover.delta import read_members
from cutover.engine import Engine, StepContext
from cutover.engine.damage import StateDamaged
from cutover.engine.model import StepSpec
from cutover.errors import Failure
from cutover.runbook import parse_runbook
from cutover.steps._selection import release_selection

SRC = "force-app/main/default"
DELTA = (
    "target: {alias: prod}\nrelease: {version: '2.0.0'}\nproject: {delta: {enabled: true}}\nsf: {api_version: '61.0'}\n"
)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "proj")
    repo.write({".gitignore": ".cutover/\n"})
    for name in ("Keep", "Change", "Remove"):
        repo.write(apex_class(name))
    repo.commit("v1", tag="v1.0.0")
    return repo


@pytest.fixture
def engine(repo: Repo) -> Iterator[Engine]:
    eng = Engine(repo.root)
    yield eng
    eng.close()


def contexts(engine: Engine) -> tuple[StepContext, StepContext]:
    steps = [StepSpec(id="backup.retrieve", stage="backup", title="b", action="x")]
    steps.append(StepSpec(id="validate.dry-run", stage="validate", title="v", action="x"))
    run = engine.create_run("prod", steps)
    return tuple(  # type: ignore[return-value]
        StepContext(store=engine.store, record=engine.store.step(run.id, s.id), project_dir=engine.project_dir)
        for s in steps
    )


def release_v2(repo: Repo) -> None:
    repo.write(apex_class("Change", "Integer x;"))
    repo.write(apex_class("Added"))
    repo.remove(f"{SRC}/classes/Remove.cls", f"{SRC}/classes/Remove.cls-meta.xml")
    repo.commit("v2")


def test_frozen_once_and_read_back_by_later_steps(repo: Repo, engine: Engine) -> None:
    release_v2(repo)
    backup, validate = contexts(engine)
    first = release_selection(backup, parse_runbook(DELTA))
    assert first.manifest is not None and first.manifest.parent.name == "delta"
    assert sorted(read_members(first.manifest)) == [("ApexClass", "Added"), ("ApexClass", "Change")]
    assert first.post_destructive is not None
    assert read_members(first.post_destructive) == [("ApexClass", "Remove")]
    assert "<version>61.0</version>" in first.manifest.read_text()
    assert first.delta is not None
    span = f"{first.delta.since_commit[:7]}..{first.delta.until_commit[:7]}"
    assert first.summary == f"delta release: 2 upsert(s), 1 deletion(s) since v1.0.0 ({span})"
    names = {e["name"] for e in engine.store.evidence(backup.run_id, "backup.retrieve")}
    assert {"delta-package.xml", "delta-destructiveChangesPost.xml", "delta.json"} <= names

    repo.write(apex_class("TooLate"))  # HEAD moves on during the run: the run keeps its delta
    repo.commit("v3")
    again = release_selection(validate, parse_runbook(DELTA))
    assert again.flags == first.flags and again.delta == first.delta
    assert not engine.store.evidence(validate.run_id, "validate.dry-run")  # nothing computed twice


def test_a_frozen_manifest_edited_afterwards_is_damage(repo: Repo, engine: Engine) -> None:
    release_v2(repo)
    backup, validate = contexts(engine)
    first = release_selection(backup, parse_runbook(DELTA))
    assert first.manifest is not None
    first.manifest.write_text(first.manifest.read_text().replace("Added", "Other"))
    with pytest.raises(StateDamaged, match="changed since it was frozen"):
        release_selection(validate, parse_runbook(DELTA))


def test_empty_delta_is_refused_in_one_line(repo: Repo, engine: Engine) -> None:
    backup, _ = contexts(engine)
    with pytest.raises(Failure, match=r"^nothing to release: no component in force-app changed since v1\.0\.0") as err:
        release_selection(backup, parse_runbook(DELTA))
    assert "\n" not in err.value.message


def test_missing_tags_name_the_tag_and_the_key(repo: Repo, engine: Engine, tmp_path: Path) -> None:
    backup, _ = contexts(engine)
    runbook = parse_runbook("target: {alias: prod}\nproject: {delta: {enabled: true, since: v0.9.0}}\n")
    with pytest.raises(Failure, match=r"project\.delta\.since: tag 'v0\.9\.0' does not exist"):
        release_selection(backup, runbook)
    repo.git("tag", "-d", "v1.0.0")
    with pytest.raises(Failure, match=r"no release tag matching 'v\*' before HEAD.*set project\.delta\.since"):
        release_selection(backup, parse_runbook(DELTA))


def test_the_tag_this_release_creates_is_not_the_base(repo: Repo, engine: Engine) -> None:
    release_v2(repo)
    repo.git("tag", "-a", "v2.0.0", "-m", "this release")  # the release step tagged HEAD already
    runbook = parse_runbook(DELTA)
    backup, _ = contexts(engine)
    selection = release_selection(backup, runbook)
    assert selection.delta is not None and selection.delta.since == "v1.0.0"


def test_runbook_deletions_join_the_delta(repo: Repo, engine: Engine) -> None:
    release_v2(repo)
    repo.write(
        {
            "manifest/destructiveChangesPost.xml": '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<Package xmlns="http://soap.sforce.com/2006/04/metadata"><types><members>Legacy</members>'
            "<name>ApexPage</name></types><version>61.0</version></Package>\n"
        }
    )
    runbook = parse_runbook(
        DELTA.replace(
            "{enabled: true}", "{enabled: true}, destructive_changes: {post: manifest/destructiveChangesPost.xml}"
        )
    )
    backup, _ = contexts(engine)
    selection = release_selection(backup, runbook)
    assert selection.post_destructive is not None and selection.post_destructive.parent.name == "delta"
    assert sorted(read_members(selection.post_destructive)) == [("ApexClass", "Remove"), ("ApexPage", "Legacy")]


def test_relevant_tests_without_a_selector_keep_the_test_level(
    repo: Repo, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    release_v2(repo)
    monkeypatch.setitem(sys.modules, "cutover.testsel", None)  # the selector is not installed
    backup, _ = contexts(engine)
    selection = release_selection(
        backup, parse_runbook(DELTA.replace("api_version: '61.0'", "api_version: '61.0', relevant_tests: true"))
    )
    assert selection.test_level == "RunLocalTests" and selection.tests == ()


def test_relevant_tests_become_run_specified_tests(repo: Repo, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    seen: list[object] = []

    def relevant_test_run(project_dir: Path, delta: object, runbook: object) -> object:
        seen.append(delta)
        tests = ("ChangeTest", "AddedTest")
        return types.SimpleNamespace(test_level="RunSpecifiedTests", tests=tests, summary="2 relevant test class(es)")

    fake = types.ModuleType("cutover.testsel")
    fake.relevant_test_run = relevant_test_run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "cutover.testsel", fake)
    release_v2(repo)
    backup, _ = contexts(engine)
    runbook = parse_runbook(DELTA.replace("api_version: '61.0'", "api_version: '61.0', relevant_tests: true"))
    selection = release_selection(backup, runbook)
    assert selection.test_level == "RunSpecifiedTests" and selection.tests == ("ChangeTest", "AddedTest")
    assert selection.test_flags() == [
        "--test-level",
        "RunSpecifiedTests",
        "--tests",
        "ChangeTest",
        "--tests",
        "AddedTest",
    ]
    assert seen == [selection.delta] and "2 relevant test class(es)" in selection.summary


def test_relevant_tests_with_the_real_selector(repo: Repo, engine: Engine) -> None:
    """cutover.testsel on this repository: the class the release changes has no test reaching it, so
    the selector refuses with its one line, or names tests; either way the level follows its answer."""
    pytest.importorskip("cutover.testsel")
    repo.write(
        {
            f"{SRC}/classes/ChangeTest.cls": "@isTest\nprivate class ChangeTest {\n    @isTest static void t() {\n"
            "        new Change();\n        new Added();\n    }\n}\n",
            f"{SRC}/classes/ChangeTest.cls-meta.xml": apex_class("X")[f"{SRC}/classes/X.cls-meta.xml"],
        }
    )
    release_v2(repo)
    backup, _ = contexts(engine)
    runbook = parse_runbook(DELTA.replace("api_version: '61.0'", "api_version: '61.0', relevant_tests: true"))
    selection = release_selection(backup, runbook)
    assert selection.test_level == "RunSpecifiedTests" and selection.tests == ("ChangeTest",)


def test_the_rollback_reads_the_frozen_record(repo: Repo, engine: Engine) -> None:
    from cutover.delta.frozen import frozen_record

    backup, _ = contexts(engine)
    run_dir = engine.store.run_dir(backup.run_id)
    assert frozen_record(run_dir) is None  # a full release
    release_v2(repo)
    release_selection(backup, parse_runbook(DELTA))
    record = frozen_record(run_dir)
    assert record is not None and record["since"] == "v1.0.0"
    assert record["upserted"] == ["ApexClass:Added", "ApexClass:Change"] and record["deleted"] == ["ApexClass:Remove"]
