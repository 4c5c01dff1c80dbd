"""release_selection without a delta is exactly what validate and backup used before it existed."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from cutover.runbook import parse_runbook
from cutover.steps._selection import release_selection


def _ctx(project: Path) -> SimpleNamespace:
    return SimpleNamespace(project_dir=project)


def test_source_dirs_without_manifest(tmp_path: Path) -> None:
    runbook = parse_runbook("target: {alias: prod}\nproject: {source_dir: force-app, extra_source_dirs: [extra]}\n")
    sel = release_selection(_ctx(tmp_path), runbook)  # type: ignore[arg-type]
    assert sel.flags == ["--source-dir", "force-app", "--source-dir", "extra"]
    assert sel.manifest is None and sel.source_dirs == ["force-app", "extra"]
    assert (sel.pre_destructive, sel.post_destructive) == (None, None)
    assert sel.test_level == "RunLocalTests" and sel.tests == ()
    assert sel.test_flags() == ["--test-level", "RunLocalTests"]
    assert sel.delta is None


def test_manifest_and_destructive_changes(tmp_path: Path) -> None:
    runbook = parse_runbook(
        "target: {alias: prod}\nsf: {test_level: RunSpecifiedTests}\n"
        "project:\n  manifest: manifest/package.xml\n"
        "  destructive_changes: {pre: manifest/pre.xml, post: manifest/post.xml}\n"
    )
    sel = release_selection(_ctx(tmp_path), runbook)  # type: ignore[arg-type]
    assert sel.flags == ["--manifest", str(tmp_path / "manifest/package.xml")]
    assert sel.manifest == tmp_path / "manifest/package.xml" and sel.source_dirs == []
    assert sel.pre_destructive == tmp_path / "manifest/pre.xml"
    assert sel.post_destructive == tmp_path / "manifest/post.xml"
    assert sel.test_level == "RunSpecifiedTests"
    assert "manifest/package.xml" in sel.summary and "manifest/post.xml" in sel.summary


def test_new_runbook_fields_default_off() -> None:
    runbook = parse_runbook("target: {alias: prod}\n")
    assert runbook.project.delta.enabled is False and runbook.project.delta.since is None
    assert runbook.sf.relevant_tests is False and runbook.sf.overlap is True
    on = parse_runbook("target: {alias: prod}\nproject: {delta: {enabled: true, since: v1.2.0}}\n")
    assert on.project.delta.enabled and on.project.delta.since == "v1.2.0"
