from pathlib import Path

from checks_git_helpers import commit, git, write

from cutover.checks.result import GateStatus
from cutover.checks.reviews import Person, check_reviews, release_commits


def _release(tmp_path: Path, *trailers: str) -> Path:
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write(repo, "a.txt", "a\n")
    commit(repo, "old")
    git(repo, "tag", "v1.0.0")
    write(repo, "b.txt", "b\n")
    commit(repo, "feature\n\n" + "\n".join(trailers))
    return repo


def test_two_reviewers_pass(tmp_path: Path):
    repo = _release(tmp_path, "Reviewed-by: Alex <alex@example.com>", "Approved-by: Sam <sam@example.com>")
    result = check_reviews("g", "t", repo, since="v1.0.0", min_approvals=2)
    assert result.status == GateStatus.PASSED
    assert "Alex <alex@example.com>" in result.detail and "since v1.0.0" in result.detail


def test_author_cannot_approve_own_change(tmp_path: Path):
    repo = _release(tmp_path, "Reviewed-by: Alex <alex@example.com>", "Approved-by: Dana Developer <dana@example.com>")
    result = check_reviews("g", "t", repo, since="v1.0.0", min_approvals=2)
    assert result.status == GateStatus.FAILED
    assert "1 of 2" in result.detail
    assert "not counted (authors of the change): Dana Developer" in result.detail


def test_author_counts_when_the_runbook_allows_it(tmp_path: Path):
    repo = _release(tmp_path, "Reviewed-by: Alex <alex@example.com>", "Approved-by: Dana Developer <dana@example.com>")
    result = check_reviews("g", "t", repo, since="v1.0.0", min_approvals=2, reviewer_not_author=False)
    assert result.status == GateStatus.PASSED


def test_duplicate_reviewer_counts_once_and_signoffs_add(tmp_path: Path):
    repo = _release(tmp_path, "Reviewed-by: Alex <alex@example.com>", "Approved-by: Alex <ALEX@example.com>")
    assert check_reviews("g", "t", repo, since="v1.0.0", min_approvals=2).status == GateStatus.FAILED
    signed = (Person.parse("Sam <sam@example.com>"),)
    assert check_reviews("g", "t", repo, since="v1.0.0", min_approvals=2, signed_reviewers=signed).status == "passed"


def test_release_commits_lists_authors_and_approvers(tmp_path: Path):
    repo = _release(tmp_path, "Reviewed-by: Alex <alex@example.com>")
    release = release_commits(repo, "v1.0.0")
    assert len(release.commits) == 1
    assert [p.email for p in release.authors] == ["dana@example.com"]
    assert [str(p) for p in release.approvers] == ["Alex <alex@example.com>"]


def test_no_commits_since_tag_fails(tmp_path: Path):
    repo = _release(tmp_path)
    git(repo, "tag", "v2.0.0")
    result = check_reviews("g", "t", repo, since="v2.0.0", min_approvals=1)
    assert result.status == GateStatus.FAILED and "nothing to review" in result.detail


def test_not_a_git_repository_fails_clearly(tmp_path: Path):
    result = check_reviews("g", "t", tmp_path, since=None, min_approvals=2)
    assert result.status == GateStatus.FAILED
    assert "cannot read the release's commits" in result.detail and "not a git repository" in result.detail


def test_one_reviewer_named_twice_counts_once(tmp_path: Path):
    # The same person as a trailer (name + email) and as a cutover sign-off (name only) is one approval, not two.
    repo = _release(tmp_path, "Reviewed-by: Alex Reviewer <alex@example.com>")
    signed = (Person.parse("Alex Reviewer"), Person.parse("ALEX@example.com"))
    result = check_reviews("g", "t", repo, since="v1.0.0", min_approvals=2, signed_reviewers=signed)
    assert result.status == GateStatus.FAILED
    assert "1 of 2" in result.detail
