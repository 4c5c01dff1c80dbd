"""Which components a deploy zip holds, decided by its package.xml as Salesforce does.

Every `<types>` entry is looked up in the type table: a known type's members are found in the zip by folder and suffix
(bundles by folder, folder-based types inside their folder), child types inside their parent's file. A member the zip
lacks is "named in package.xml, but was not found in zipped directory"; a type the table lacks is "Unknown type name".
Files package.xml does not name are not deployed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orgsim.metadata import children as kids
from orgsim.metadata import types as mdtypes
from orgsim.metadata.package import Component, Package


@dataclass
class Selection:
    components: list[Component] = field(default_factory=list)  # top-level components, files as in the zip
    children: list[kids.ChildRef] = field(default_factory=list)  # child components found in their parent's file
    parent_files: dict[tuple[str, str], tuple[str, bytes]] = field(default_factory=dict)  # parent -> (path, bytes)
    missing: list[tuple[str, str]] = field(default_factory=list)
    unknown: list[tuple[str, str]] = field(default_factory=list)

    def component(self, type_name: str, full_name: str) -> Component | None:
        return next((c for c in self.components if c.type == type_name and c.full_name == full_name), None)


def parent_path(parent_type: str, parent: str) -> str | None:
    metadata_type = mdtypes.get(parent_type)
    if metadata_type is None or not metadata_type.suffix:
        return None
    return f"{metadata_type.directory}/{parent}.{metadata_type.suffix}"


def _claim(files: dict[str, bytes], type_name: str, member: str) -> dict[str, bytes]:
    paths, prefix = mdtypes.expected_paths(type_name, member)
    claimed = {p: files[p] for p in paths if p in files}
    metadata_type = mdtypes.get(type_name)
    if prefix is not None and metadata_type is not None:
        base = prefix[:-1]
        claimed.update({p: c for p, c in files.items() if p.startswith(prefix) or p.startswith(base + ".")})
    return claimed


def folder_member(type_name: str, member: str) -> tuple[str, str]:
    """package.xml lists a folder under its content type (`EmailTemplate: Fleet_Templates`, the CLI also writes
    `Report: Fleet_Reports/`): that member is the folder component (EmailFolder Fleet_Templates)."""
    metadata_type = mdtypes.get(type_name)
    if metadata_type is not None and metadata_type.in_folder and metadata_type.folder_type:
        bare = member.rstrip("/")
        if "/" not in bare:
            return metadata_type.folder_type, bare
    return type_name, member


def select(package: Package) -> Selection:
    selection = Selection()
    files = package.files
    by_type: dict[str, list[Component]] = {}
    for component in package.components:
        by_type.setdefault(component.type, []).append(component)
    seen: set[tuple[str, str]] = set()

    def add_child(ref: kids.ChildRef) -> bool:
        path = parent_path(ref.parent_type, ref.parent)
        if path is None or path not in files or not kids.has_child(files[path], ref):
            return False
        if (ref.type, ref.name) not in seen:
            seen.add((ref.type, ref.name))
            selection.children.append(ref)
            selection.parent_files[(ref.parent_type, ref.parent)] = (path, files[path])
        return True

    for type_name, members in package.manifest.types.items():
        kind = mdtypes.child(type_name)
        metadata_type = mdtypes.get(type_name)
        if kind is None and metadata_type is None:
            selection.unknown.extend((type_name, m) for m in members)
            continue
        for member in members:
            if member == "*":
                if kind is not None:
                    for component in by_type.get(kind.parent, []):
                        path = parent_path(kind.parent, component.full_name)
                        content = files.get(path or "")
                        for ref in kids.children_of(kind.parent, component.full_name, content or b""):
                            if ref.type == type_name:
                                add_child(ref)
                    continue
                for component in by_type.get(type_name, []):
                    if (type_name, component.full_name) not in seen:
                        seen.add((type_name, component.full_name))
                        selection.components.append(component)
                continue
            if kind is not None:
                ref = kids.child_ref(type_name, member)
                if ref is None or not add_child(ref):
                    selection.missing.append((type_name, member))
                continue
            real_type, name = folder_member(type_name, member)
            if (real_type, name) in seen:
                continue
            claimed = _claim(files, real_type, name)
            if not claimed:
                selection.missing.append((real_type, name))
                continue
            seen.add((real_type, name))
            selection.components.append(Component(real_type, name, claimed))
    return selection
