"""The fixture projects of issue 7 (`tests/fixtures/projects/`) and what the acceptance flow compares them with:
their v1/v2 trees, package.xml files, and retrieved org snapshots (file for file, normalising only what Salesforce
itself regenerates)."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "projects"
MD_NS = "http://soap.sforce.com/2006/04/metadata"
# Types whose members live in folders: `*` does not retrieve them, so folders and members are named.
FOLDERED_TYPES = {"EmailTemplate", "Report", "Dashboard", "Document"}


@dataclass(frozen=True)
class FixtureProject:
    name: str
    package_dirs: tuple[str, ...]
    v1: str  # the version in production before the release
    v2: str  # the release
    two_step_rollback: bool  # `cutover rollback` without --by, then `signoff rollback.decide` + `resume`
    # Anonymous Apex run in production after v1 (as its admins did), e.g. scheduling the project's jobs.
    production_apex: str | None = None
    # Setup > Deployment Settings: "Allow deployments of components when corresponding Apex jobs are pending or in
    # progress" (off by default; production orgs with always-scheduled jobs usually turn it on).
    allow_deploy_with_pending_jobs: bool = False

    @property
    def base(self) -> Path:
        return FIXTURES / self.name / "base"

    @property
    def release(self) -> Path:
        return FIXTURES / self.name / "release"

    @property
    def deleted(self) -> list[str]:
        listing = FIXTURES / self.name / "release.deleted"
        if not listing.exists():
            return []
        return [line.strip() for line in listing.read_text().splitlines() if line.strip()]


PROJECTS = {
    "lwc-app": FixtureProject("lwc-app", ("force-app",), "1.4.0", "1.5.0", two_step_rollback=False),
    "apex-platform": FixtureProject(
        "apex-platform",
        ("core", "integrations"),
        "2.3.0",
        "2.4.0",
        two_step_rollback=True,
        production_apex="scripts/apex/schedule-nightly.apex",
        allow_deploy_with_pending_jobs=True,
    ),
    "component-lib": FixtureProject("component-lib", ("force-app",), "0.9.0", "1.0.0", two_step_rollback=True),
}


def materialise(project: FixtureProject, dest: Path, *, release: bool) -> Path:
    """The project's v1 tree, or v2 (release laid over base, deleted paths removed), in `dest`."""
    shutil.copytree(project.base, dest, dirs_exist_ok=True)
    if release:
        apply_release(project, dest)
    return dest


def apply_release(project: FixtureProject, dest: Path) -> None:
    shutil.copytree(project.release, dest, dirs_exist_ok=True)
    for relative in project.deleted:
        target = dest / relative
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def read_package(path: Path) -> dict[str, list[str]]:
    return read_package_bytes(path.read_bytes())


def write_package(types: dict[str, list[str]], version: str = "62.0") -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<Package xmlns="{MD_NS}">']
    for name in sorted(types):
        lines.append("    <types>")
        lines += [f"        <members>{m}</members>" for m in types[name]]
        lines += [f"        <name>{name}</name>", "    </types>"]
    lines += [f"    <version>{version}</version>", "</Package>", ""]
    return "\n".join(lines)


def snapshot_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def normalised(relative: str, content: bytes) -> bytes:
    """What Salesforce itself regenerates is compared by meaning, everything else byte for byte.

    - The retrieve's own `package.xml`: Salesforce writes it for each retrieve, listing what the retrieve returned in
      an order of its choosing, so types and members are compared as sorted sets.
    - Metadata XML files: a real org never stores the bytes a deploy sent; every retrieve serialises the components
      anew, and a `.object` file is composed from the object and its fields, list views, layouts... So two
      serialisations of the same XML (`<searchLayouts></searchLayouts>` and `<searchLayouts />`) are the same
      component. They are compared in canonical XML (C14N 2.0), which keeps every element, attribute, text and
      whitespace: any change of content still differs. Source files (Apex, LWC, Aura, resources) stay byte for byte.
    """
    name = relative.rsplit("/", 1)[-1]
    if name == "package.xml":
        listing = read_package_bytes(content)
        return json.dumps({k: sorted(v) for k, v in sorted(listing.items())}).encode()
    if content.lstrip().startswith(b"<?xml"):
        try:
            return ET.canonicalize(content.decode("utf-8")).encode()
        except (ET.ParseError, UnicodeDecodeError):
            return content
    return content


def read_package_bytes(content: bytes) -> dict[str, list[str]]:
    root = ET.fromstring(content)
    out: dict[str, list[str]] = {}
    for types in root.findall(f"{{{MD_NS}}}types"):
        name = types.findtext(f"{{{MD_NS}}}name") or ""
        out.setdefault(name, []).extend(m.text or "" for m in types.findall(f"{{{MD_NS}}}members"))
    return out


def compare_snapshots(before: Path, after: Path) -> list[str]:
    """Differences, one line each: files only before, only after, or with other content (first differing line)."""
    old, new = snapshot_files(before), snapshot_files(after)
    problems = [f"missing after the rollback: {p}" for p in sorted(old.keys() - new.keys())]
    problems += [f"left behind by the release: {p}" for p in sorted(new.keys() - old.keys())]
    for relative in sorted(old.keys() & new.keys()):
        a, b = normalised(relative, old[relative]), normalised(relative, new[relative])
        if a != b:
            problems.append(f"changed: {relative}: {first_difference(a, b)}")
    return problems


def first_difference(a: bytes, b: bytes) -> str:
    """`line N: before '…x…', after '…y…'` around the first character that differs."""
    left, right = a.decode(errors="replace").splitlines(), b.decode(errors="replace").splitlines()
    for number, (x, y) in enumerate(zip(left, right, strict=False), start=1):
        if x != y:
            at = next((i for i, (c, d) in enumerate(zip(x, y, strict=False)) if c != d), min(len(x), len(y)))
            start = max(0, at - 30)
            return f"line {number}: before {x[start : at + 40]!r}, after {y[start : at + 40]!r}"
    return f"{len(left)} line(s) before, {len(right)} after"
