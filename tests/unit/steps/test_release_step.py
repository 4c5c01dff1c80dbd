"""git.release against real temporary git repositories (a work tree and a bare origin)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cutover.engine import Engine, StepContext, StepOutcome, StepSpec, StepStatus
from cutover.runbook import parse_runbook
from cutover.steps.registry import StepServices
from cutover.steps.release import GitRelease

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Release Bot",
    "GIT_AUTHOR_EMAIL": "bot@example.com",
    "GIT_COMMITTER_NAME": "Release Bot",
    "GIT_COMMITTER_EMAIL": "bot@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture(autouse=True)
def git_identity(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    origin = tmp_path / "origin.git"
    work = tmp_path / "work"
    work.mkdir()
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(work, "init", "-q", "-b", "main")
    (work / "README.md").write_text("Elaro 3.1.0\n")
    git(work, "add", "README.md")
    git(work, "commit", "-q", "-m", "first")
    git(work, "remote", "add", "origin", str(origin))
    git(work, "push", "-q", "origin", "main")
    return work


@pytest.fixture
def engine(repo: Path) -> Iterator[Engine]:
    eng = Engine(repo / ".state")  # keep .cutover out of the work tree's tracked files
    yield eng
    eng.close()


RUNBOOK = parse_runbook('target:\n  alias: production\nrelease:\n  version: "3.1.0"\n')


def release(engine: Engine, repo: Path, runbook: object = RUNBOOK) -> StepOutcome:
    run = engine.create_run(
        "production", [StepSpec(id="release.branch-and-tag", stage="release", title="r", action="git.release")]
    )
    ctx = StepContext(store=engine.store, record=engine.store.step(run.id, "release.branch-and-tag"), project_dir=repo)
    services = StepServices(project_dir=repo, target_org="production")
    return GitRelease({}, runbook, services).run(ctx)


def test_creates_branch_and_annotated_tag_at_head_but_leaves_the_push_to_after_the_deploy(
    engine: Engine, repo: Path
) -> None:
    head = git(repo, "rev-parse", "HEAD")
    outcome = release(engine, repo)
    assert outcome.status == StepStatus.PASSED, outcome.detail
    assert git(repo, "rev-parse", "release/v3.1.0") == head
    assert git(repo, "cat-file", "-t", "v3.1.0") == "tag"
    assert git(repo, "rev-parse", "v3.1.0^{commit}") == head
    assert "Production release v3.1.0 - " in git(repo, "tag", "-l", "--format=%(contents)", "v3.1.0")
    assert "pushed after a successful deploy (deploy.push-release)" in outcome.detail
    assert outcome.data["created"] == ["branch", "tag"] and outcome.data["pushed_refs"] == []
    origin = repo.parent / "origin.git"
    assert git(origin, "show-ref") == git(origin, "show-ref", "refs/heads/main")  # nothing pushed yet
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"  # same commit: no checkout needed


def test_without_a_deploy_stage_the_release_step_pushes_itself(engine: Engine, repo: Path) -> None:
    runbook = parse_runbook('target:\n  alias: production\nrelease:\n  version: "3.1.0"\nstages: [release, validate]\n')
    head = git(repo, "rev-parse", "HEAD")
    outcome = release(engine, repo, runbook)
    assert outcome.status == StepStatus.PASSED, outcome.detail
    origin = repo.parent / "origin.git"
    assert git(origin, "rev-parse", "refs/heads/release/v3.1.0") == head
    assert git(origin, "rev-parse", "refs/tags/v3.1.0^{commit}") == head
    assert outcome.data["pushed_refs"] == ["branch", "tag"]


def test_running_again_is_a_no_op(engine: Engine, repo: Path) -> None:
    assert release(engine, repo).status == StepStatus.PASSED
    tag_object = git(repo, "rev-parse", "v3.1.0")
    again = release(engine, repo)
    assert again.status == StepStatus.PASSED
    assert "already at HEAD" in again.detail
    assert git(repo, "rev-parse", "v3.1.0") == tag_object  # the annotated tag object itself was not re-created


def test_an_existing_tag_elsewhere_is_never_moved(engine: Engine, repo: Path) -> None:
    git(repo, "tag", "-a", "v3.1.0", "-m", "old")
    old = git(repo, "rev-parse", "v3.1.0")
    (repo / "README.md").write_text("Elaro 3.1.0 fixed\n")
    git(repo, "commit", "-q", "-am", "second")
    git(repo, "push", "-q", "origin", "main")
    outcome = release(engine, repo)
    assert outcome.status == StepStatus.FAILED and "never moves a tag" in outcome.detail
    assert git(repo, "rev-parse", "v3.1.0") == old


def test_behind_the_remote_is_refused(engine: Engine, repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(tmp_path / "origin.git"), str(other))
    (other / "CHANGELOG.md").write_text("3.1.0\n")
    git(other, "add", "CHANGELOG.md")
    git(other, "commit", "-q", "-m", "someone else's commit")
    git(other, "push", "-q", "origin", "main")
    outcome = release(engine, repo)
    assert outcome.status == StepStatus.FAILED and "behind origin/main" in outcome.detail
    assert git(repo, "tag", "-l") == ""


def test_uncommitted_tracked_changes_are_refused(engine: Engine, repo: Path) -> None:
    (repo / "README.md").write_text("edited, not committed\n")
    outcome = release(engine, repo)
    assert outcome.status == StepStatus.FAILED and "uncommitted changes" in outcome.detail


def test_no_remote_skips_fetch_and_push(engine: Engine, repo: Path) -> None:
    git(repo, "remote", "remove", "origin")
    outcome = release(engine, repo)
    assert outcome.status == StepStatus.PASSED and "no remote 'origin'" in outcome.detail
    assert git(repo, "cat-file", "-t", "v3.1.0") == "tag"


def test_head_off_the_base_branch_is_refused(engine: Engine, repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "README.md").write_text("feature work\n")
    git(repo, "commit", "-q", "-am", "feature")
    outcome = release(engine, repo)
    assert outcome.status == StepStatus.FAILED and "is not the tip of main" in outcome.detail
