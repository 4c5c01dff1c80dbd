"""What a release sends to the org, decided once for every step that needs it (backup, validation, quick deploy,
rollback): `release_selection(ctx, runbook)`.

- Default: the runbook's `project.manifest` (`--manifest`), else one `--source-dir` per package directory; the
  runbook's `project.destructive_changes`; `sf.test_level`; no named tests.
- `project.delta.enabled`: the delta since the last release (`cutover.delta`), computed when the run first asks and
  frozen in the run's folder (`.cutover/runs/<run>/delta/`): `--manifest <its package.xml>` and its
  destructiveChangesPost.xml. Every later call reads the frozen files back (their SHA-256 checked).
- `sf.relevant_tests`: the test level and tests `cutover.testsel.relevant_test_run` decides for the delta
  (`RunSpecifiedTests` with the relevant tests; it refuses a deploy with Apex no relevant test reaches).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cutover.delta import Delta
    from cutover.engine import StepContext
    from cutover.runbook.models import Runbook


@dataclass(frozen=True)
class ReleaseSelection:
    """The sf selection of a release: `flags` are `--manifest PATH` or `--source-dir DIR ...` (paths of source
    folders relative to the project, a manifest absolute); the destructive manifests are absolute paths."""

    flags: list[str]
    pre_destructive: Path | None
    post_destructive: Path | None
    test_level: str
    tests: tuple[str, ...]
    summary: str
    delta: Delta | None = None

    @property
    def manifest(self) -> Path | None:
        """The `--manifest` path, or None when the selection is by source folder."""
        if "--manifest" in self.flags:
            return Path(self.flags[self.flags.index("--manifest") + 1])
        return None

    @property
    def source_dirs(self) -> list[str]:
        """The `--source-dir` folders (empty with a manifest)."""
        return [self.flags[i + 1] for i, flag in enumerate(self.flags[:-1]) if flag == "--source-dir"]

    @property
    def destructive(self) -> list[Path]:
        return [p for p in (self.pre_destructive, self.post_destructive) if p is not None]

    def test_flags(self) -> list[str]:
        """`--test-level LEVEL` and, for RunSpecifiedTests, one `--tests NAME` per test."""
        flags = ["--test-level", self.test_level]
        for test in self.tests:
            flags += ["--tests", test]
        return flags


def default_selection(project_dir: Path, runbook: Runbook) -> ReleaseSelection:
    """What validate and backup use without a delta: the manifest or the package directories, the runbook's
    destructive changes, `sf.test_level`."""
    project = runbook.project
    if project.manifest:
        flags = ["--manifest", str(project_dir / project.manifest)]
        what = f"manifest {project.manifest}"
    else:
        flags = [flag for folder in project.source_dirs for flag in ("--source-dir", folder)]
        what = f"source {', '.join(project.source_dirs)}"
    destructive = project.destructive_changes
    pre = project_dir / destructive.pre if destructive.pre else None
    post = project_dir / destructive.post if destructive.post else None
    deletes = ", ".join(p for p in destructive.paths())
    return ReleaseSelection(
        flags=flags,
        pre_destructive=pre,
        post_destructive=post,
        test_level=runbook.sf.test_level,
        tests=(),
        summary=f"full release: {what}" + (f", deletions from {deletes}" if deletes else ""),
    )


def release_selection(ctx: StepContext, runbook: Runbook) -> ReleaseSelection:
    """The release's selection for this run (see the module docstring)."""
    project_dir = Path(ctx.project_dir)
    selection = default_selection(project_dir, runbook)
    delta: Delta | None = None
    if runbook.project.delta.enabled or runbook.sf.relevant_tests:
        from cutover.delta.frozen import frozen_delta

        frozen = frozen_delta(ctx, runbook)
        delta = frozen.delta
        if runbook.project.delta.enabled:
            pre = selection.pre_destructive
            selection = ReleaseSelection(
                flags=["--manifest", str(frozen.package_xml)],
                pre_destructive=pre,
                post_destructive=frozen.destructive_post_xml,
                test_level=selection.test_level,
                tests=(),
                summary=frozen.summary,
                delta=delta,
            )
        else:
            selection = replace(selection, delta=delta)
    if runbook.sf.relevant_tests and delta is not None:
        selection = _with_relevant_tests(selection, project_dir, delta, runbook)
    return selection


def _with_relevant_tests(
    selection: ReleaseSelection, project_dir: Path, delta: Delta, runbook: Runbook
) -> ReleaseSelection:
    try:
        from cutover.testsel import relevant_test_run
    except ImportError:
        return replace(selection, summary=f"{selection.summary}; tests: {selection.test_level} (no test selector)")
    # RunSpecifiedTests with the relevant tests, NoTestRun without Apex, RunRelevantTests when the runbook asks
    # (API 66.0+); a Failure (one line) when an Apex class of the deploy is reached by no relevant test (75 % rule).
    run = relevant_test_run(project_dir, delta, runbook)
    return replace(selection, test_level=run.test_level, tests=run.tests, summary=f"{selection.summary}; {run.summary}")


__all__ = ["ReleaseSelection", "default_selection", "release_selection"]
