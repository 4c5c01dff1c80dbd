from pathlib import Path

from checks_git_helpers import commit, git, write

from cutover.checks.git import check_clean_tree, check_merge_conflicts, check_up_to_date, previous_release_tag
from cutover.checks.result import GateStatus


def test_clean_tree_passes_and_ignores_cutover_state(repo_with_origin):
    repo = repo_with_origin()
    write(repo, ".cutover/state.db", "x")
    assert check_clean_tree("g", "t", repo).status == GateStatus.PASSED


def test_dirty_tree_names_the_files(repo_with_origin):
    repo = repo_with_origin()
    write(repo, "README.md", "# changed\n")
    write(repo, "notes.txt", "new\n")
    result = check_clean_tree("g", "t", repo)
    assert result.status == GateStatus.FAILED
    assert "README.md" in result.detail and "notes.txt" in result.detail


def test_up_to_date_and_behind(repo_with_origin, tmp_path: Path):
    repo = repo_with_origin()
    assert check_up_to_date("g", "t", repo, remote="origin", base_branch="main").status == GateStatus.PASSED
    # Someone else pushes to main.
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(tmp_path / "origin.git"), str(other))
    write(other, "other.txt", "x\n")
    commit(other, "other change")
    git(other, "push", "-q", "origin", "main")
    result = check_up_to_date("g", "t", repo, remote="origin", base_branch="main")
    assert result.status == GateStatus.FAILED
    assert "1 commit(s) behind origin/main" in result.detail


def test_missing_remote_fails(tmp_path: Path):
    repo = tmp_path / "solo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write(repo, "a.txt", "a\n")
    commit(repo, "a")
    result = check_up_to_date("g", "t", repo, remote="origin", base_branch="main")
    assert result.status == GateStatus.FAILED
    assert result.detail == (
        "the repository has no remote 'origin' (it has none): add it (git remote add origin URL) "
        "or set release.remote to the remote releases are pushed to"
    )


def test_missing_base_branch_on_the_remote_names_the_setting(repo_with_origin):
    repo = repo_with_origin()
    result = check_up_to_date("g", "t", repo, remote="origin", base_branch="master")
    assert result.status == GateStatus.FAILED
    assert result.detail.startswith("origin has no branch 'master': set release.base_branch")
    other = check_up_to_date("g", "t", repo, remote="upstream", base_branch="main")
    assert "no remote 'upstream' (it has: origin)" in other.detail


def test_not_a_git_repository_is_said_plainly(tmp_path: Path):
    result = check_clean_tree("g", "t", tmp_path)
    assert result.status == GateStatus.FAILED and result.detail.endswith(
        "is not in a git repository: put the project under git first"
    )


def test_merge_conflicts_are_found_with_merge_tree(repo_with_origin, tmp_path: Path):
    repo = repo_with_origin()
    git(repo, "checkout", "-q", "-b", "release")
    write(repo, "README.md", "# release version\n")
    commit(repo, "release edit")
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(tmp_path / "origin.git"), str(other))
    write(other, "README.md", "# main version\n")
    commit(other, "main edit")
    git(other, "push", "-q", "origin", "main")
    git(repo, "fetch", "-q", "origin")
    result = check_merge_conflicts("g", "t", repo, remote="origin", base_branch="main")
    assert result.status == GateStatus.FAILED
    assert "README.md" in result.detail
    # And the working tree was not touched.
    assert (repo / "README.md").read_text() == "# release version\n"


def test_clean_merge_passes(repo_with_origin):
    repo = repo_with_origin()
    git(repo, "fetch", "-q", "origin")
    assert check_merge_conflicts("g", "t", repo, remote="origin", base_branch="main").status == GateStatus.PASSED


def test_previous_release_tag_skips_the_release_itself(repo_with_origin):
    repo = repo_with_origin()
    git(repo, "tag", "v2.9.0")
    write(repo, "b.txt", "b\n")
    commit(repo, "b")
    git(repo, "tag", "v2.10.0")
    git(repo, "tag", "v3.0.0")
    assert previous_release_tag(repo, exclude="v3.0.0") == "v2.10.0"  # version order, not string order
    assert previous_release_tag(repo, pattern="release-*") is None


def test_cutover_state_of_a_project_in_a_subfolder_does_not_dirty_the_tree(tmp_path: Path):
    # git status --porcelain names paths from the repository root: app/.cutover/, not .cutover/.
    repo = tmp_path / "r"
    project = repo / "app"
    project.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    write(project, "sfdx-project.json", "{}\n")
    commit(repo, "init")
    write(project, ".cutover/state.db", "x")
    assert check_clean_tree("g", "t", project).status == GateStatus.PASSED
    write(project, "new.cls", "x")
    result = check_clean_tree("g", "t", project)
    assert result.status == GateStatus.FAILED and "app/new.cls" in result.detail and ".cutover" not in result.detail
