"""`cutover plan` shows a delta release: the git command, the frozen manifests, in backup and validation."""

from __future__ import annotations

from cutover.runbook import parse_runbook
from cutover.runbook.plan import build_plan


def _steps(text: str) -> dict[str, object]:
    return {s.id: s for s in build_plan(parse_runbook(text))}


def test_plan_of_a_delta_release_names_the_git_command_and_the_frozen_manifests() -> None:
    steps = _steps(
        "target: {alias: prod}\nproject: {extra_source_dirs: [libs], delta: {enabled: true, since: v1.2.0}}\n"
    )
    backup = steps["backup.retrieve"]
    checks = "\n".join(backup.checks)  # type: ignore[attr-defined]
    assert "git diff --name-status -M v1.2.0 HEAD -- force-app libs" in checks
    assert "--manifest .cutover/runs/<run>/delta/package.xml" in backup.sf_command  # type: ignore[attr-defined]
    validate = steps["validate.dry-run"].sf_command  # type: ignore[attr-defined]
    assert "--manifest .cutover/runs/<run>/delta/package.xml" in validate
    assert "--post-destructive-changes .cutover/runs/<run>/delta/destructiveChangesPost.xml" in validate
    assert "--source-dir" not in validate


def test_default_since_is_the_latest_release_tag_and_a_full_release_is_unchanged() -> None:
    steps = _steps("target: {alias: prod}\nproject: {delta: {enabled: true}}\n")
    assert "git diff --name-status -M <latest v* tag> HEAD -- force-app" in "\n".join(steps["backup.retrieve"].checks)  # type: ignore[attr-defined]
    full = _steps("target: {alias: prod}\n")
    assert "--source-dir force-app" in full["validate.dry-run"].sf_command  # type: ignore[attr-defined]
    assert not any("Delta" in c for c in full["backup.retrieve"].checks)  # type: ignore[attr-defined]
