"""The audit head anchored in git notes (`cutover.engine.anchors`), with real git repositories in tmp_path: what is
written and pushed, two clones adding to the same notes ref without --force, a push that fails being a warning, and
the check of a local chain against the anchors read back."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cutover.engine import Engine, StepSpec
from cutover.engine.anchors import (
    NOTES_REF,
    Anchor,
    Head,
    check_against,
    parse_anchor_lines,
    publish_anchor,
    read_notes,
)

ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, env={**os.environ, **ENV}
    )
    return done.stdout.strip()


@pytest.fixture
def origin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    seed = tmp_path / "seed"
    git(tmp_path, "init", "-q", "-b", "main", str(seed))
    (seed / "README").write_text("x\n")
    git(seed, "add", "README")
    git(seed, "commit", "-q", "-m", "one")
    git(seed, "remote", "add", "origin", str(bare))
    git(seed, "push", "-q", "origin", "main")
    return bare


def clone(origin: Path, name: str) -> Path:
    path = origin.parent / name
    git(origin.parent, "clone", "-q", str(origin), str(path))
    return path


@pytest.fixture
def engines() -> Iterator[list[Engine]]:
    opened: list[Engine] = []
    yield opened
    for engine in opened:
        engine.close()


def paused_run(project: Path, engines: list[Engine]) -> tuple[Engine, str]:
    engine = Engine(project)
    engines.append(engine)
    run = engine.create_run("prod", [StepSpec("a", "preflight", "A", "x")], git_head=git(project, "rev-parse", "HEAD"))
    return engine, run.id


def test_the_head_is_noted_on_the_commit_pushed_and_recorded(origin: Path, engines: list[Engine]) -> None:
    project = clone(origin, "one")
    engine, run_id = paused_run(project, engines)
    head = engine.store.read_head(run_id)
    published = publish_anchor(engine.store, project, run_id, reason="paused")
    assert published is not None and published.warnings == []
    [target] = published.targets
    assert target["pushed"] is True and target["remote"] == "origin" and target["on"].startswith("commit ")
    [anchor] = read_notes(origin, NOTES_REF)  # on the remote, readable by anyone with a clone
    assert (anchor.head.run_id, anchor.head.seq, anchor.head.hash) == (run_id, *head)  # type: ignore[misc]
    assert anchor.reason == "paused" and anchor.on == git(project, "rev-parse", "HEAD")
    event = engine.events(run_id)[-1]
    assert event.type == "anchor.published" and event.payload["head"] == {"seq": head[0], "hash": head[1]}  # type: ignore[index]
    assert engine.verify(run_id).ok


def test_two_clones_add_to_the_same_notes_without_force(origin: Path, engines: list[Engine]) -> None:
    first, second = clone(origin, "one"), clone(origin, "two")
    engine_a, run_a = paused_run(first, engines)
    engine_b, run_b = paused_run(second, engines)
    assert publish_anchor(engine_a.store, first, run_a) is not None
    published = publish_anchor(engine_b.store, second, run_b)  # its local notes ref is behind origin's: merged
    assert published is not None and published.targets[0]["pushed"] is True, published.warnings
    assert publish_anchor(engine_a.store, first, run_a) is not None  # and back again
    runs = sorted(a.head.run_id for a in read_notes(origin, NOTES_REF))
    assert runs == sorted([run_a, run_a, run_b])


def test_a_failing_push_is_a_warning_and_without_git_nothing_is_published(
    origin: Path, engines: list[Engine], tmp_path: Path
) -> None:
    project = clone(origin, "one")
    engine, run_id = paused_run(project, engines)
    (origin / "hooks" / "pre-receive").write_text("#!/bin/sh\necho 'refusing notes' >&2\nexit 1\n")
    (origin / "hooks" / "pre-receive").chmod(0o755)
    warned: list[str] = []
    published = publish_anchor(engine.store, project, run_id, warn=warned.append)
    assert published is not None and published.targets[0]["pushed"] is False
    assert "git push origin refs/notes/cutover failed" in published.warnings[0] and warned
    assert NOTES_REF in git(project, "for-each-ref", "--format=%(refname)")  # kept in this clone

    plain = tmp_path / "not-git"
    plain.mkdir()
    other = Engine(plain)
    engines.append(other)
    run = other.create_run("prod", [StepSpec("a", "preflight", "A", "x")], git_head="c0ffee")
    assert publish_anchor(other.store, plain, run.id) is None
    assert [e.type for e in other.events(run.id)] == ["run.created"]


def test_the_check_names_a_rewritten_or_truncated_anchor(engines: list[Engine], tmp_path: Path) -> None:
    engine = Engine(tmp_path)
    engines.append(engine)
    run = engine.create_run("prod", [StepSpec("a", "preflight", "A", "x")])
    with engine.store.transaction() as tx:
        tx.append_event(run.id, "note", None, {})
    events = engine.events(run.id)
    good = Anchor(Head(run.id, 2, events[1].hash, "2026-12-05T20:00:00Z"), "paused", "c0ffee")
    assert check_against(run.id, events, [good], "origin").ok
    rewritten = Anchor(Head(run.id, 1, "a" * 64, "2026-12-05T20:00:00Z"), "paused", "c0ffee")
    truncated = Anchor(Head(run.id, 9, "b" * 64), "succeeded", "c0ffee")
    other_run = Anchor(Head("another", 1, "c" * 64), "paused", "c0ffee")
    check = check_against(run.id, events, [good, rewritten, truncated, other_run], "origin")
    assert check.anchors == 3 and len(check.problems) == 2
    assert "anchor of event #1" in check.problems[0] and "the log was rewritten" in check.problems[0]
    assert "no event #9 (it ends at #2)" in check.problems[1]
    lines = "\n".join([good.head.line(reason="paused"), "not json", json.dumps({"other": 1}), "{bad"])
    assert [a.head for a in parse_anchor_lines(lines)] == [good.head]
