"""The delta's resolver against the real sf CLI's: `sf project generate manifest --source-dir ...` on the three
fixture projects (v1 → v2 in a real git repository).

For each project: every file of v2 resolved by cutover equals what sf lists for the package directories; the
delta's upserts equal what sf lists for the changed files (v2 tree), its deletions what sf lists for the deleted
files (v1 tree), minus the children of a deleted object (deleted with it) and components that still have files.
Three sf calls per project.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from projects_metadata import PROJECTS, apply_release, materialise, read_package

from cutover.delta import compute_delta
from cutover.delta.forceignore import ForceIgnore
from cutover.delta.manifest import SLASHED_FOLDERS, manifest_type
from cutover.delta.registry import file_children, packs_children, resolve
from orgsim.testing import run_sf

Key = tuple[str, str]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _listed(name: str, members: dict[str, list[str]]) -> set[Key]:
    return {(t, m) for t, names in members.items() for m in names}


def _manifest_key(type_name: str, name: str) -> Key:
    return (manifest_type(type_name), name + ("/" if type_name in SLASHED_FOLDERS else ""))


def _sf_manifest(sf_bin: Path, home: Path, tree: Path, paths: list[str], out: Path) -> set[Key]:
    args = ["project", "generate", "manifest", "--output-dir", str(out.parent), "--name", out.name]
    for path in paths:
        args += ["--source-dir", path]
    run = run_sf(sf_bin, args, home, cwd=tree, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:]
    return _listed(out.name, read_package(out))


def _resolve_tree(tree: Path, package_dirs: list[str]) -> set[Key]:
    ignore_file = tree / ".forceignore"
    ignore = ForceIgnore(ignore_file.read_text() if ignore_file.exists() else "")
    found: set[Key] = set()
    for package_dir in package_dirs:
        for path in sorted(p for p in (tree / package_dir).rglob("*") if p.is_file()):
            if ignore.ignored(path.relative_to(tree).as_posix()):
                continue
            item = resolve(path.relative_to(tree / package_dir).parts)
            if item is None:
                continue
            found.add(_manifest_key(item.type, item.name))
            if packs_children(item.type):
                found |= set(file_children(item.type, path.read_bytes()))
    return found


@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_resolver_and_delta_match_the_sf_cli(name: str, tmp_path: Path, sf_bin: Path, sf_home: Path) -> None:
    project = PROJECTS[name]
    dirs = list(project.package_dirs)
    repo = materialise(project, tmp_path / "repo", release=False)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "-c", "user.name=D", "-c", "user.email=d@example.com", "add", "-A")
    _git(repo, "-c", "user.name=D", "-c", "user.email=d@example.com", "commit", "-q", "-m", "v1")
    _git(repo, "tag", "v1")
    apply_release(project, repo)
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=D", "-c", "user.email=d@example.com", "commit", "-q", "-m", "v2")
    v1_tree = materialise(project, tmp_path / "v1", release=False)

    # 1. Every file of v2: cutover's resolver names exactly what the CLI names.
    whole = _sf_manifest(sf_bin, sf_home, repo, dirs, tmp_path / "whole.xml")
    assert _resolve_tree(repo, dirs) == whole

    delta = compute_delta(repo, "v1", source_dirs=dirs)
    assert delta.upserts and (delta.deletions or name == "component-lib")
    upserted = {_manifest_key(c.type, c.name) for c in delta.upserts}
    deleted = {_manifest_key(c.type, c.name) for c in delta.deletions}

    # 2. The changed files of v2, resolved by the CLI: the upserts (a labels file: only the labels that differ).
    changed = sorted({p for c in delta.upserts for p in c.paths if (repo / p).exists()})
    sf_upserts = _sf_manifest(sf_bin, sf_home, repo, changed, tmp_path / "upserts.xml")
    labels = {k for k in sf_upserts if k[0] in ("CustomLabel", "CustomLabels")}
    assert upserted - labels == sf_upserts - labels
    assert {k for k in upserted if k[0] == "CustomLabel"} <= labels

    # 3. The deleted files of v1, resolved by the CLI: the deletions, without what goes with a deleted object.
    gone = sorted({p for c in delta.deletions for p in c.paths})
    if not gone:
        return
    sf_deleted = _sf_manifest(sf_bin, sf_home, v1_tree, gone, tmp_path / "deleted.xml")
    objects = {n for t, n in deleted if t == "CustomObject"}
    sf_deleted = {
        (t, n) for t, n in sf_deleted if not ("." in n and n.split(".")[0] in objects and t != "CustomObject")
    }
    assert deleted == sf_deleted - upserted


def test_resolver_matches_the_sf_cli_on_forty_types(tmp_path: Path, sf_bin: Path, sf_home: Path) -> None:
    """tests/fixtures/delta/many-types: bundles, static resources (file and folder), an experience bundle, a bot
    version, an object translation, object children, custom metadata records, folders (reports nested, dashboards,
    email, documents), labels, settings, a site, pages, components: one sf call."""
    tree = Path(__file__).resolve().parents[1] / "fixtures" / "delta" / "many-types"
    whole = _sf_manifest(sf_bin, sf_home, tree, ["force-app"], tmp_path / "whole.xml")
    assert len({t for t, _ in whole}) >= 35
    assert _resolve_tree(tree, ["force-app"]) == whole
