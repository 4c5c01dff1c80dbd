"""The fixture projects of issue 7 are what the acceptance flow claims: real SFDX projects, unlike examples/elaro,
using at least 25 metadata types together (counted by `sf project generate manifest` from the source), with a
release that adds, changes and deletes components."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from projects_metadata import FIXTURES, PROJECTS, compare_snapshots, materialise, read_package

from orgsim.testing import run_sf

pytestmark = pytest.mark.integration
MD = "http://soap.sforce.com/2006/04/metadata"

# The types issue 7's "Done means" names, as the Metadata API calls them.
NAMED_TYPES = {
    "LightningComponentBundle", "AuraDefinitionBundle", "Flow", "CustomObject", "CustomField", "Layout", "ListView",
    "CompactLayout", "RecordType", "PermissionSet", "CustomApplication", "CustomTab", "StaticResource",
    "LightningMessageChannel", "CustomMetadata", "CustomLabels", "ApexTrigger", "EmailTemplate", "Report",
    "NamedCredential", "DataWeaveResource", "GenAiPromptTemplate", "BrandingSet", "LightningExperienceTheme",
    "PlatformCachePartition",
}  # fmt: skip


def manifest_of(tree: Path, package_dirs: tuple[str, ...], sf_bin: Path, home: Path) -> dict[str, list[str]]:
    args = ["project", "generate", "manifest", "--output-dir", str(tree), "--name", "types.xml"]
    for package_dir in package_dirs:
        args += ["--source-dir", package_dir]
    done = run_sf(sf_bin, args, home, cwd=tree)
    assert done.returncode == 0, str(done)
    return read_package(tree / "types.xml")


def test_the_three_projects_use_at_least_25_metadata_types_and_a_release_deletes_a_component(
    tmp_path: Path, sf_bin: Path, sf_home: Path
) -> None:
    types: dict[str, set[str]] = {}
    deleted: list[str] = []
    for name, project in PROJECTS.items():
        v1 = manifest_of(
            materialise(project, tmp_path / name / "v1", release=False), project.package_dirs, sf_bin, sf_home
        )
        v2 = manifest_of(
            materialise(project, tmp_path / name / "v2", release=True), project.package_dirs, sf_bin, sf_home
        )
        for listing in (v1, v2):
            for type_name, members in listing.items():
                types.setdefault(type_name, set()).update(f"{name}:{m}" for m in members)
        for type_name, members in v1.items():
            gone = set(members) - set(v2.get(type_name, []))
            deleted += [f"{name}: {type_name} {m}" for m in sorted(gone)]
        added = {t: set(m) - set(v1.get(t, [])) for t, m in v2.items()}
        assert any(added.values()), f"{name}: the release adds nothing"
    print(f"{len(types)} metadata types: {json.dumps(sorted(types))}")
    assert len(types) >= 25, sorted(types)
    assert types.keys() >= NAMED_TYPES, sorted(NAMED_TYPES - types.keys())
    platform_events = [m for m in types["CustomObject"] if m.endswith("__e")]
    custom_metadata_types = [m for m in types["CustomObject"] if m.endswith("__mdt")]
    assert platform_events and custom_metadata_types
    # A release deletes components, and says so in a destructive-changes manifest (as a real project must).
    assert deleted, "no release deletes a component"
    declared = []
    for name in PROJECTS:
        for manifest in (FIXTURES / name / "release" / "manifest").glob("destructiveChanges*.xml"):
            declared += [f"{name}: {t} {m}" for t, members in read_package(manifest).items() for m in members]
    assert sorted(declared) == sorted(deleted)


def test_the_projects_are_unlike_the_elaro_example() -> None:
    lwc_app, apex, library = (PROJECTS[n] for n in ("lwc-app", "apex-platform", "component-lib"))
    scripts = json.loads((lwc_app.base / "package.json").read_text())["scripts"]
    assert list(scripts) == ["lint"], "lwc-app: a package.json with only a lint script"
    assert not (apex.base / "package.json").exists(), "apex-platform: no package.json at all"
    packages = json.loads((apex.base / "sfdx-project.json").read_text())["packageDirectories"]
    assert [p["path"] for p in packages] == list(apex.package_dirs) and len(packages) == 2
    classes = [p for p in apex.base.rglob("*.cls")]
    assert 20 <= len(classes) <= 40, len(classes)
    assert not list(library.base.rglob("*.cls")) and not list(library.base.rglob("objects"))
    for project in PROJECTS.values():
        for path in [*project.base.rglob("*"), *project.release.rglob("*")]:
            if path.is_file():
                assert "elaro" not in path.read_text(errors="replace").lower(), path


def test_the_snapshot_comparison_normalises_only_what_salesforce_regenerates(tmp_path: Path) -> None:
    before, after = tmp_path / "before", tmp_path / "after"
    files = {
        "unpackaged/package.xml": (
            f'<?xml version="1.0"?><Package xmlns="{MD}"><types><members>A</members><members>B</members>'
            f"<name>ApexClass</name></types><version>62.0</version></Package>"
        ),
        "unpackaged/objects/Shift__c.object": (
            f'<?xml version="1.0"?><CustomObject xmlns="{MD}"><searchLayouts></searchLayouts><label>Shift</label>'
            "</CustomObject>"
        ),
        "unpackaged/classes/A.cls": "public class A {}\n",
        "unpackaged/classes/B.cls": "public class B {}\n",
    }
    for root in (before, after):
        for relative, text in files.items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_text(text)
    # Salesforce's own re-serialisations are the same snapshot: members in another order, an empty element.
    package = files["unpackaged/package.xml"].replace(
        "<members>A</members><members>B</members>", "<members>B</members><members>A</members>"
    )
    (after / "unpackaged/package.xml").write_text(package)
    obj = after / "unpackaged/objects/Shift__c.object"
    obj.write_text(obj.read_text().replace("<searchLayouts></searchLayouts>", "<searchLayouts />"))
    assert compare_snapshots(before, after) == []
    # Any change of content is a difference: XML text, a source byte, a file gone or left behind.
    obj.write_text(obj.read_text().replace("<label>Shift</label>", "<label>Shifts</label>"))
    (after / "unpackaged/classes/A.cls").write_text("public class A { }\n")
    (after / "unpackaged/classes/B.cls").unlink()
    (after / "unpackaged/classes/C.cls").write_text("public class C {}\n")
    problems = compare_snapshots(before, after)
    assert problems == [
        "missing after the rollback: unpackaged/classes/B.cls",
        "left behind by the release: unpackaged/classes/C.cls",
        "changed: unpackaged/classes/A.cls: line 1: before 'public class A {}', after 'public class A { }'",
        "changed: unpackaged/objects/Shift__c.object: line 1: before 's></searchLayouts><label>Shift</label></"
        "CustomObject>', after 's></searchLayouts><label>Shifts</label></CustomObject>'",
    ], problems
