"""Source format (an SFDX project's `force-app/...`) to metadata format, for seeding a scenario's org.

Only seeding uses this: deploys get metadata format from the sf CLI, which converts them itself. The rules come from
the type table: plain types drop `-meta.xml` (`flows/X.flow-meta.xml` -> `flows/X.flow`), content types keep their
content and meta file, bundles are copied, folders get their metadata-format meta file (`email/F.emailFolder-meta.xml`
-> `email/F-meta.xml`), static resources become `<name>.resource` (a folder is zipped), and decomposed types
(`objects/X/fields/F.field-meta.xml`) are recomposed into one parent file.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from orgsim.metadata import _zip_directory
from orgsim.metadata import types as mdtypes
from orgsim.metadata.children import MD_NS, XML_DECLARATION
from orgsim.metadata.xml import local

_SKIP_PARTS = ("__tests__", ".eslintrc.json", "jsconfig.json", ".DS_Store")


def _type_index(parts: tuple[str, ...]) -> int | None:
    directories = mdtypes.by_directory()
    return next((i for i, part in enumerate(parts[:-1]) if part in directories), None)


def _compose(parent_type: str, main: bytes | None, children: list[tuple[str, str, bytes]]) -> bytes:
    """One metadata-format parent file from its source-format parts ((child dir, name, bytes), sorted)."""
    ET.register_namespace("", MD_NS)
    root = ET.fromstring(main) if main else ET.Element(f"{{{MD_NS}}}{parent_type}")
    metadata_type = mdtypes.get(parent_type)
    elements = {kid.name: kid.element for kid in (metadata_type.children if metadata_type else ())}
    for _, _, content in children:
        child = ET.fromstring(content)
        element = elements.get(local(child.tag))
        if element is None:
            continue
        child.tag = f"{{{MD_NS}}}{element}"
        root.append(child)
    ET.indent(root, space="    ")
    return XML_DECLARATION + ET.tostring(root, encoding="unicode").encode() + b"\n"


def source_to_metadata(root: Path) -> dict[str, bytes]:
    """Metadata-format files (path relative to the package root -> bytes) for every source file under `root`."""
    files: dict[str, bytes] = {}
    parents: dict[tuple[str, str], tuple[bytes | None, list[tuple[str, str, bytes]]]] = {}
    resources: dict[str, Path] = {}
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        parts = file.relative_to(root).parts
        if any(part in _SKIP_PARTS for part in parts):
            continue
        index = _type_index(parts)
        if index is None:
            continue
        directory, rest = parts[index], parts[index + 1 :]
        candidates = mdtypes.by_directory()[directory]
        main_type = next((t for t in candidates if not t.folder_content_type), candidates[0])
        name = rest[-1]
        if main_type.bundle:
            if len(rest) >= 2 or name.endswith("-meta.xml"):
                files["/".join((directory, *rest))] = file.read_bytes()
            continue
        if main_type.children and len(rest) >= 2 and main_type.name not in ("CustomLabels",):
            main, kids = parents.setdefault((main_type.name, rest[0]), (None, []))
            if len(rest) == 2:
                parents[(main_type.name, rest[0])] = (file.read_bytes(), kids)
            else:
                kids.append((rest[1], name, file.read_bytes()))
            continue
        if main_type.name == "StaticResource":
            if name.endswith(".resource-meta.xml"):
                files[f"{directory}/{name}"] = file.read_bytes()
            elif len(rest) == 1:
                resources.setdefault(name.split(".", 1)[0], file)
            else:
                resources.setdefault(rest[0], file.parents[len(rest) - 2])  # the resource's folder
            continue
        folder_type = next((t for t in candidates if t.folder_content_type), None)
        if folder_type is not None and len(rest) == 1 and name.endswith(f".{folder_type.suffix}-meta.xml"):
            files[f"{directory}/{name.removesuffix(f'.{folder_type.suffix}-meta.xml')}-meta.xml"] = file.read_bytes()
            continue
        path = "/".join((directory, *rest))
        if name.endswith("-meta.xml") and not any(t.meta_file for t in candidates):
            path = path.removesuffix("-meta.xml")
        files[path] = file.read_bytes()
    for stem, found in resources.items():
        files[f"staticresources/{stem}.resource"] = _zip_directory(found) if found.is_dir() else found.read_bytes()
    for (parent_type, parent), (main, kids) in sorted(parents.items()):
        metadata_type = mdtypes.get(parent_type)
        suffix = metadata_type.suffix if metadata_type else parent_type.lower()
        files[f"{metadata_type.directory if metadata_type else parent_type}/{parent}.{suffix}"] = _compose(
            parent_type, main, sorted(kids)
        )
    return files
