"""The release branch and tag over a run's life: pushed only after the deploy, removed by `cutover abort` when the
run created them (never when it only reused them, never after it deployed). Real git repositories, no sf."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from test_release_step import git, git_identity, repo  # noqa: F401  (fixtures)

from cutover.engine import Engine, StepContext, StepOutcome, StepSpec
from cutover.errors import StepFailed
from cutover.runbook import parse_runbook
from cutover.steps.registry import StepServices
from cutover.steps.release import GitRelease, GitReleasePush
from cutover.steps.release_refs import remove_release_refs

RUNBOOK = parse_runbook('target:\n  alias: production\nrelease:\n  version: "3.1.0"\n')
SPECS = [
    StepSpec(id="release.branch-and-tag", stage="release", title="release", action="git.release"),
    StepSpec(id="validate.dry-run", stage="validate", title="validate", action="sf.validate"),
    StepSpec(id="deploy.quick", stage="deploy", title="deploy", action="sf.quick_deploy"),
    StepSpec(id="deploy.push-release", stage="deploy", title="push", action="git.push_release"),
]


class Fixed:
    def __init__(self, outcome: StepOutcome, idempotent: bool = True) -> None:
        self.outcome, self.idempotent = outcome, idempotent

    def run(self, ctx: StepContext) -> StepOutcome:
        return self.outcome


def execute(project: Path, validation: StepOutcome) -> tuple[Engine, str]:
    engine = Engine(project)
    run = engine.create_run("production", SPECS)
    services = StepServices(project_dir=project, target_org="production")
    executors = {
        "release.branch-and-tag": GitRelease({}, RUNBOOK, services),
        "validate.dry-run": Fixed(validation),
        "deploy.quick": Fixed(StepOutcome.passed("Succeeded"), idempotent=False),
        "deploy.push-release": GitReleasePush({}, RUNBOOK, services),
    }
    try:
        engine.execute(run.id, executors)
    except StepFailed:
        pass
    return engine, run.id


@pytest.fixture
def project(repo: Path) -> Path:  # noqa: F811
    (repo / ".gitignore").write_text(".cutover/\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-q", "-m", "ignore state")
    git(repo, "push", "-q", "origin", "main")
    return repo


def refs(path: Path) -> str:
    return subprocess.run(["git", "show-ref"], cwd=path, capture_output=True, text=True, check=False).stdout


def test_the_push_waits_for_a_successful_deploy(project: Path) -> None:
    engine, run_id = execute(project, StepOutcome.passed("Succeeded"))
    origin = project.parent / "origin.git"
    head = git(project, "rev-parse", "HEAD")
    assert git(origin, "rev-parse", "refs/tags/v3.1.0^{commit}") == head
    assert git(origin, "rev-parse", "refs/heads/release/v3.1.0") == head
    order = [e.step_id for e in engine.events(run_id) if e.type == "step.finished"]
    assert order.index("deploy.push-release") > order.index("deploy.quick")
    # a deployed run keeps its refs on abort (they name what production runs)
    lines = remove_release_refs(project, engine.store, run_id)
    assert lines and all(line.startswith("kept ") for line in lines)
    assert "refs/tags/v3.1.0" in refs(project) and "refs/tags/v3.1.0" in refs(origin)


def test_abort_after_a_failed_validation_removes_what_the_run_created(project: Path) -> None:
    engine, run_id = execute(project, StepOutcome.failed("component failures: 1"))
    origin = project.parent / "origin.git"
    assert "release/v3.1.0" in refs(project) and "release/v3.1.0" not in refs(origin)  # never pushed
    engine.abort(run_id, "validation failed")
    lines = remove_release_refs(project, engine.store, run_id)
    assert lines == ["removed local branch release/v3.1.0", "removed local tag v3.1.0"]
    assert "v3.1.0" not in refs(project)
    # a fix on a new commit: the next run is not blocked by the old refs
    (project / "README.md").write_text("Elaro 3.1.0 fixed\n")
    git(project, "commit", "-q", "-am", "fix")
    git(project, "push", "-q", "origin", "main")
    engine2, run2 = execute(project, StepOutcome.passed("Succeeded"))
    assert engine2.status(run2)["state"] == "succeeded"
    assert git(project, "rev-parse", "v3.1.0^{commit}") == git(project, "rev-parse", "HEAD")


def test_refs_reused_at_head_are_not_the_runs_to_remove(project: Path) -> None:
    git(project, "branch", "release/v3.1.0")
    git(project, "tag", "-a", "v3.1.0", "-m", "made by hand")
    engine, run_id = execute(project, StepOutcome.failed("test failures: 1"))
    detail = engine.status(run_id)["steps"][0]["detail"]
    assert "branch release/v3.1.0 already at HEAD" in detail and "tag v3.1.0 already at HEAD" in detail
    engine.abort(run_id, "validation failed")
    assert remove_release_refs(project, engine.store, run_id) == []
    assert "refs/heads/release/v3.1.0" in refs(project) and "refs/tags/v3.1.0" in refs(project)


def test_a_ref_moved_since_is_kept_and_a_blocking_ref_names_the_run_that_made_it(project: Path) -> None:
    engine, run_id = execute(project, StepOutcome.failed("component failures: 1"))
    (project / "README.md").write_text("next\n")
    git(project, "commit", "-q", "-am", "next")
    git(project, "push", "-q", "origin", "main")
    # a second run at the new commit is blocked by the first one's branch, and is told how to clear it
    engine2, run2 = execute(project, StepOutcome.passed("Succeeded"))
    detail = engine2.status(run2)["steps"][0]["detail"]
    assert f"run {run_id} created it and is failed: `cutover abort {run_id} --reason TEXT` removes it" in detail
    git(project, "branch", "-f", "release/v3.1.0", "HEAD")  # someone moved the branch by hand
    lines = remove_release_refs(project, engine.store, run_id)
    assert lines[0].startswith("kept local branch release/v3.1.0: it now points at")
    assert lines[1] == "removed local tag v3.1.0"


def test_a_pushed_ref_is_removed_from_the_remote(project: Path) -> None:
    runbook = parse_runbook('target:\n  alias: production\nrelease:\n  version: "3.1.0"\nstages: [release, validate]\n')
    engine = Engine(project)
    run = engine.create_run("production", SPECS[:2])
    services = StepServices(project_dir=project, target_org="production")
    executors = {
        "release.branch-and-tag": GitRelease({}, runbook, services),
        "validate.dry-run": Fixed(StepOutcome.failed("no")),
    }
    with pytest.raises(StepFailed):
        engine.execute(run.id, executors)
    origin = project.parent / "origin.git"
    assert "refs/tags/v3.1.0" in refs(origin)
    lines = remove_release_refs(project, engine.store, run.id)
    assert "removed branch release/v3.1.0 from origin" in lines and "removed tag v3.1.0 from origin" in lines
    assert "v3.1.0" not in refs(origin) and "v3.1.0" not in refs(project)
