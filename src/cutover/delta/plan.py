"""How `cutover plan` shows a delta release (the run computes it; the plan names the command and the files)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cutover.delta.compute import git_command

if TYPE_CHECKING:
    from cutover.runbook.models import Runbook

#: Where a run freezes its delta (`cutover.delta.frozen`), as the plan writes it.
FROZEN_DIR = ".cutover/runs/<run>/delta"


def tag_pattern(runbook: Runbook) -> str:
    return runbook.release.tag.replace("{version}", "*").replace("{date}", "*")


def plan_command(runbook: Runbook) -> str:
    """The git command that lists what the delta holds."""
    since = runbook.project.delta.since or f"<latest {tag_pattern(runbook)} tag>"
    return git_command(since, "HEAD", runbook.project.source_dirs)


def plan_check(runbook: Runbook) -> str:
    return (
        f"Delta release: the components changed since the last release (`{plan_command(runbook)}`) become "
        f"{FROZEN_DIR}/package.xml, what it removed {FROZEN_DIR}/destructiveChangesPost.xml; frozen once for the "
        "run (SHA-256 as evidence); an empty delta stops the run"
    )


def plan_selection() -> list[str]:
    """The sf flags of a delta release (backup, validation)."""
    return ["--manifest", f"{FROZEN_DIR}/package.xml"]


def plan_deploy_selection(runbook: Runbook) -> list[str]:
    """What a deploy of a delta release sends: its package.xml, its deletions, the runbook's own pre-deletions."""
    flags = plan_selection()
    if runbook.project.destructive_changes.pre:
        flags += ["--pre-destructive-changes", runbook.project.destructive_changes.pre]
    return [*flags, "--post-destructive-changes", f"{FROZEN_DIR}/destructiveChangesPost.xml"]
