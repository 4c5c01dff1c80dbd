"""Permission-set gate: every custom object and field the release adds is granted in some permission set.

A field nobody can see is the classic "deployed fine, broken for users" release bug. New components are the
`*.object-meta.xml` / `*.field-meta.xml` files added since the previous release tag (or all of them for a first
release). Fields that cannot carry field permissions (required, master-detail) are not expected in one.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cutover.checks.git import git
from cutover.checks.result import Evidence, GateResult, failed, passed

NS = "{http://soap.sforce.com/2006/04/metadata}"
#: Object suffixes whose access is not set through permission sets (metadata types, events, external objects' ids).
NO_PERMISSION_SUFFIXES = ("__mdt", "__e", "__b", "__x", "__Share", "__History", "__Feed", "__ChangeEvent")


@dataclass(frozen=True)
class Grants:
    objects: dict[str, list[str]]  # object API name -> permission sets granting read
    fields: dict[str, list[str]]  # Object.Field -> permission sets granting read
    permission_sets: tuple[str, ...] = ()
    unreadable: tuple[str, ...] = ()  # permission set files that are not valid XML


def _text(element: ET.Element, tag: str) -> str:
    found = element.find(f"{NS}{tag}")
    return (found.text or "").strip() if found is not None else ""


def read_grants(*source_dirs: Path) -> Grants:
    """Read access granted by the permission sets under `source_dirs` (every package directory of the project)."""
    objects: dict[str, list[str]] = {}
    fields: dict[str, list[str]] = {}
    names: list[str] = []
    unreadable: list[str] = []
    files = sorted({path for folder in source_dirs for path in folder.rglob("*.permissionset-meta.xml")})
    for path in files:
        name = path.name.removesuffix(".permissionset-meta.xml")
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError:
            unreadable.append(path.name)
            continue
        names.append(name)
        for perm in root.iter(f"{NS}objectPermissions"):
            if _text(perm, "allowRead") == "true":
                objects.setdefault(_text(perm, "object"), []).append(name)
        for perm in root.iter(f"{NS}fieldPermissions"):
            if _text(perm, "readable") == "true":
                fields.setdefault(_text(perm, "field"), []).append(name)
    return Grants(objects, fields, tuple(names), tuple(unreadable))


def manifest_members(manifest: Path, type_name: str) -> set[str] | None:
    """Members of `type_name` in a package.xml ({"*"} for a wildcard); None when the manifest cannot be read."""
    try:
        root = ET.parse(manifest).getroot()
    except (ET.ParseError, OSError):
        return None
    members: set[str] = set()
    for types in root.iter(f"{NS}types"):
        if _text(types, "name") == type_name:
            members.update((m.text or "").strip() for m in types.iter(f"{NS}members"))
    return members


def _needs_field_permission(path: Path) -> bool:
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError):
        return True
    return _text(root, "required") != "true" and _text(root, "type") != "MasterDetail"


def added_components(repo: Path, source_dirs: Sequence[str], since: str | None) -> tuple[list[str], list[str]]:
    """Custom objects and fields (as `Obj` and `Obj.Field`) added since `since` under `source_dirs`, from the files
    git tracks."""
    if since:
        listed = git(repo, "diff", "--name-only", "--diff-filter=A", "--no-renames", since, "HEAD", "--", *source_dirs)
    else:
        listed = git(repo, "ls-files", "--", *source_dirs)
    if listed.code != 0:
        raise ValueError(listed.err.strip().splitlines()[0] if listed.err.strip() else f"git exited {listed.code}")
    out = listed.out
    objects: list[str] = []
    fields: list[str] = []
    for line in out.splitlines():
        path = Path(line.strip())
        if path.name.endswith(".object-meta.xml") and path.parent.parent.name == "objects":
            name = path.name.removesuffix(".object-meta.xml")
            if name.endswith("__c"):
                objects.append(name)
        elif path.name.endswith(".field-meta.xml") and path.parent.name == "fields":
            obj = path.parent.parent.name
            field = path.name.removesuffix(".field-meta.xml")
            if (
                field.endswith("__c")
                and not obj.endswith(NO_PERMISSION_SUFFIXES)
                and _needs_field_permission(repo / path)
            ):
                fields.append(f"{obj}.{field}")
    return sorted(objects), sorted(fields)


def check_permission_sets(
    gate_id: str,
    title: str,
    repo: Path,
    *,
    source_dirs: Sequence[str],
    since: str | None,
    manifest: str | None = None,
) -> GateResult:
    """Every custom object and field added under `source_dirs` (the project's package directories) is readable
    through a permission set found under them."""
    try:
        objects, fields = added_components(repo, source_dirs, since)
    except ValueError as exc:
        return failed(gate_id, title, f"cannot list the components added since {since or 'the start'}: {exc}")
    grants = read_grants(*(repo / folder for folder in source_dirs))
    missing_objects = [name for name in objects if name not in grants.objects]
    missing_fields = [name for name in fields if name not in grants.fields]
    if grants.unreadable:
        return failed(gate_id, title, f"permission set file(s) are not valid XML: {', '.join(grants.unreadable)}")
    if manifest and grants.permission_sets:
        members = manifest_members(repo / manifest, "PermissionSet")
        if members is None:
            return failed(gate_id, title, f"{manifest}: cannot read the manifest")
        undeployed = [name for name in grants.permission_sets if "*" not in members and name not in members]
        if undeployed:
            return failed(
                gate_id,
                title,
                f"permission set(s) not in {manifest}, so not deployed: {', '.join(undeployed)}",
            )
    evidence = Evidence.json(
        "permission-sets.json",
        {
            "since": since,
            "added_objects": {name: grants.objects.get(name, []) for name in objects},
            "added_fields": {name: grants.fields.get(name, []) for name in fields},
            "missing_objects": missing_objects,
            "missing_fields": missing_fields,
        },
    )
    scope = f"since {since}" if since else "(first release: all components)"
    if not objects and not fields:
        return passed(gate_id, title, f"no custom objects or fields added {scope}", evidence)
    if not missing_objects and not missing_fields:
        return passed(
            gate_id,
            title,
            f"{len(objects)} new object(s) and {len(fields)} new field(s) {scope} all granted in a permission set",
            evidence,
        )
    missing = [*missing_objects, *missing_fields]
    listed = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
    where = ", ".join(f"{folder}/" for folder in source_dirs)
    if not grants.permission_sets:
        return failed(
            gate_id,
            title,
            f"the release adds {listed}, but there is no permission set in {where} to grant read access; "
            "add one (a *.permissionset-meta.xml), or waive the gate if access comes from profiles",
            evidence,
        )
    return failed(gate_id, title, f"no permission set grants read access to: {listed}", evidence)
