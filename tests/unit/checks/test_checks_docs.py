from pathlib import Path

from checks_git_helpers import write

from cutover.checks.docs import check_changelog, check_known_issues, check_readme_version
from cutover.checks.result import GateStatus


def test_readme_mentions_version(tmp_path: Path):
    write(tmp_path, "README.md", "# App\n\n**Version: 3.0.0**\n")
    result = check_readme_version("g", "t", tmp_path, version="3.0.0")
    assert result.status == GateStatus.PASSED and "README.md:3" in result.detail


def test_readme_with_other_version_fails_and_says_which(tmp_path: Path):
    write(tmp_path, "README.md", "# App\nVersion 2.9.0, also 13.0.0 and 3.0.01\n")
    result = check_readme_version("g", "t", tmp_path, version="3.0.0")
    assert result.status == GateStatus.FAILED
    assert "does not mention version 3.0.0" in result.detail and "2.9.0" in result.detail


def test_readme_accepts_v_prefix(tmp_path: Path):
    write(tmp_path, "README.md", "Release v3.0.0 notes\n")
    assert check_readme_version("g", "t", tmp_path, version="3.0.0").status == GateStatus.PASSED


def test_missing_readme(tmp_path: Path):
    assert check_readme_version("g", "t", tmp_path, version="1.0.0").detail == "README.md not found"


def test_changelog_section(tmp_path: Path):
    write(
        tmp_path, "CHANGELOG.md", "# Changelog\n\n## [3.0.0] - 2026-11-27\n\n### Added\n- things\n\n## [2.9.0]\n- old\n"
    )
    result = check_changelog("g", "t", tmp_path, version="3.0.0")
    assert result.status == GateStatus.PASSED and "CHANGELOG.md:3" in result.detail
    assert "2.9.0" not in result.evidence[0].content


def test_changelog_without_section_or_with_empty_section(tmp_path: Path):
    write(tmp_path, "CHANGELOG.md", "# Changelog\n\n## [2.9.0]\n- old\n")
    assert "no section for 3.0.0" in check_changelog("g", "t", tmp_path, version="3.0.0").detail
    write(tmp_path, "CHANGELOG.md", "# Changelog\n\n## [3.0.0]\n\n## [2.9.0]\n- old\n")
    assert "has no release notes" in check_changelog("g", "t", tmp_path, version="3.0.0").detail


def test_known_issues_places(tmp_path: Path):
    assert check_known_issues("g", "t", tmp_path).status == GateStatus.FAILED
    assert check_known_issues("g", "t", tmp_path, runbook_known_issues=2).status == GateStatus.PASSED
    write(tmp_path, "README.md", "# App\n\n## Known Issues\nNone.\n")
    assert "README.md (Known Issues section)" in check_known_issues("g", "t", tmp_path).detail


def test_a_prerelease_of_the_version_is_not_the_version(tmp_path: Path):
    # The release candidate's notes do not document the release itself.
    write(tmp_path, "README.md", "Try 3.0.0-rc.1 now\n")
    write(tmp_path, "CHANGELOG.md", "# Changelog\n\n## [3.0.0-rc.1] - 2026-11-01\n\n- Candidate\n")
    assert check_readme_version("g", "t", tmp_path, version="3.0.0").status == GateStatus.FAILED
    assert check_changelog("g", "t", tmp_path, version="3.0.0").status == GateStatus.FAILED
    assert check_changelog("g", "t", tmp_path, version="3.0.0-rc.1").status == GateStatus.PASSED
    write(tmp_path, "CHANGELOG.md", "# Changelog\n\n## 3.0.0 - 2026-11-27\n\n- Release\n")
    assert check_changelog("g", "t", tmp_path, version="3.0.0").status == GateStatus.PASSED


def test_known_issues_declared_none_in_the_runbook(tmp_path: Path):
    assert check_known_issues("g", "t", tmp_path, declared_none=False).status == GateStatus.FAILED
    declared = check_known_issues("g", "t", tmp_path, declared_none=True)
    assert declared.status == GateStatus.PASSED and "known_issues: [], none" in declared.detail
