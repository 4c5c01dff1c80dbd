"""The release branch and tag over failed attempts, with `cutover run` (real processes) → the real sf CLI → orgsim.

A compile error fails the validation after the release step created the branch and tag (nothing was pushed: the push
waits for a successful deploy). The fix is a new commit, so the next run is blocked by the old branch; its message
names the run that created it and the `cutover abort` that removes it; after that abort the next run deploys and
pushes. Refs that already pointed at HEAD are reused, and abort never removes them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_deploy_path import cutover, env, git, make_project, quick_deploys, start_org, steps_by_id  # noqa: F401

pytestmark = pytest.mark.integration

STAGES = ["release", "validate", "deploy"]
CLASS = "force-app/main/default/classes/ElaroLogger.cls"
BRANCH, TAG = "release/v3.0.0", "v3.0.0"


def commit_and_push(project: Path, env: dict[str, str], message: str) -> str:  # noqa: F811
    git(project, "commit", "-q", "-am", message, env=env)
    git(project, "push", "-q", "origin", "main", env=env)
    return git(project, "rev-parse", "HEAD", env=env).strip()


def show_refs(path: Path, env: dict[str, str]) -> str:  # noqa: F811
    return git(path, "for-each-ref", "--format=%(refname)", env=env)


def test_abort_after_a_failed_validation_clears_the_way_for_the_fixed_commit(
    tmp_path: Path,
    sf_bin: Path,
    sf_home: Path,
    env: dict[str, str],  # noqa: F811
) -> None:
    server = start_org(tmp_path, sf_bin, sf_home)
    try:
        project = make_project(tmp_path, server, env, stages=STAGES)
        source = (project / CLASS).read_text()
        (project / CLASS).write_text(source + "\n}\n")  # Unexpected token '}'
        commit_and_push(project, env, "logger: a stray brace")
        failed = cutover(project, env, "run", "--yes", "--format", "json")
        assert failed.returncode == 1, failed.stdout[-2000:] + failed.stderr[-2000:]
        first = json.loads(failed.stdout)
        steps = steps_by_id(first)
        assert steps["release.branch-and-tag"]["status"] == "passed"
        assert steps["validate.dry-run"]["status"] == "failed" and "ElaroLogger" in steps["validate.dry-run"]["detail"]
        assert f"refs/heads/{BRANCH}" in show_refs(project, env)
        assert "release/" not in show_refs(tmp_path / "origin.git", env)  # nothing pushed before a deploy

        (project / CLASS).write_text(source)
        fixed = commit_and_push(project, env, "logger: fix the brace")
        blocked = cutover(project, env, "run", "--yes", "--format", "json")
        assert blocked.returncode == 1
        detail = steps_by_id(json.loads(blocked.stdout))["release.branch-and-tag"]["detail"]
        hint = f"run {first['run_id']} created it and is failed: `cutover abort {first['run_id']} --reason TEXT`"
        assert f"branch {BRANCH} already exists" in detail and hint in detail

        aborted = cutover(project, env, "abort", first["run_id"], "--reason", "validation failed", "--yes")
        assert aborted.returncode == 0, aborted.stdout + aborted.stderr
        assert aborted.stdout.splitlines()[1:] == [f"removed local branch {BRANCH}", f"removed local tag {TAG}"]
        assert "v3.0.0" not in show_refs(project, env)

        done = cutover(project, env, "run", "--yes", "--format", "json")  # continues the blocked run: gate re-checked
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        status = json.loads(done.stdout)
        assert status["state"] == "succeeded"
        steps = steps_by_id(status)
        assert [steps[s]["status"] for s in ("deploy.quick", "deploy.push-release")] == ["passed", "passed"]
        origin = tmp_path / "origin.git"
        assert git(origin, "rev-parse", f"refs/heads/{BRANCH}", env=env).strip() == fixed
        assert git(origin, "rev-parse", f"{TAG}^{{commit}}", env=env).strip() == fixed
        assert len(quick_deploys(server)) == 1
        verified = cutover(project, env, "audit", "verify", "--all")
        assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        server.stop()


def test_refs_already_at_head_are_reused_and_never_removed_by_abort(
    tmp_path: Path,
    sf_bin: Path,
    sf_home: Path,
    env: dict[str, str],  # noqa: F811
) -> None:
    server = start_org(tmp_path, sf_bin, sf_home)
    try:
        project = make_project(tmp_path, server, env, stages=STAGES)
        (project / CLASS).write_text((project / CLASS).read_text() + "\n}\n")
        head = commit_and_push(project, env, "logger: a stray brace")
        git(project, "branch", BRANCH, env=env)
        git(project, "tag", "-a", TAG, "-m", "tagged by hand", env=env)
        failed = cutover(project, env, "run", "--yes", "--format", "json")
        assert failed.returncode == 1, failed.stdout[-2000:] + failed.stderr[-2000:]
        status = json.loads(failed.stdout)
        release = steps_by_id(status)["release.branch-and-tag"]
        assert release["status"] == "passed"
        assert (
            f"branch {BRANCH} already at HEAD" in release["detail"]
            and f"tag {TAG} already at HEAD" in release["detail"]
        )
        aborted = cutover(project, env, "abort", "--reason", "validation failed", "--yes")
        assert aborted.returncode == 0, aborted.stdout + aborted.stderr
        assert aborted.stdout.strip() == f"run {status['run_id']} aborted"
        assert git(project, "rev-parse", BRANCH, env=env).strip() == head
        assert git(project, "tag", "-l", "--format=%(contents:subject)", TAG, env=env).strip() == "tagged by hand"
    finally:
        server.stop()
