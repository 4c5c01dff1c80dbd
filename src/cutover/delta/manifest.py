"""A delta as the manifests sf deploys: `package.xml` (upserts) and `destructiveChangesPost.xml` (deletions)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path
from xml.sax.saxutils import escape

from cutover.delta.compute import Component, Delta
from cutover.delta.registry import table

MD_NS = "http://soap.sforce.com/2006/04/metadata"
#: Folders the Metadata API names with a trailing `/` under their content type (`Report: Sales/`), as the CLI does.
SLASHED_FOLDERS = frozenset({"DashboardFolder", "ReportFolder", "EmailTemplateFolder"})


def manifest_type(type_name: str) -> str:
    """The type a manifest lists a component under: a folder goes under its content type (`EmailFolder` →
    `EmailTemplate`), as `sf project generate manifest` writes it."""
    content = table()["types"].get(type_name, {}).get("folderContentType")
    if content:
        return next((n for n, row in table()["types"].items() if n.lower() == content.lower()), type_name)
    return type_name


def manifest_text(components: Iterable[Component], api_version: str) -> str:
    """package.xml text: types sorted, members sorted within each type (the CLI's own order)."""
    by_type: dict[str, set[str]] = {}
    for component in components:
        name = component.name + ("/" if component.type in SLASHED_FOLDERS and not component.name.endswith("/") else "")
        by_type.setdefault(manifest_type(component.type), set()).add(name)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<Package xmlns="{MD_NS}">']
    for type_name in sorted(by_type):
        lines.append("    <types>")
        lines += [f"        <members>{escape(m)}</members>" for m in sorted(by_type[type_name])]
        lines.append(f"        <name>{escape(type_name)}</name>")
        lines.append("    </types>")
    lines += [f"    <version>{escape(api_version)}</version>", "</Package>"]
    return "\n".join(lines) + "\n"


def read_members(path: Path) -> list[tuple[str, str]]:
    """(type, member) of every member a manifest lists."""
    root = ET.parse(path).getroot()
    out: list[tuple[str, str]] = []
    for types in root.iter(f"{{{MD_NS}}}types"):
        name = (types.findtext(f"{{{MD_NS}}}name") or "").strip()
        out += [(name, (m.text or "").strip()) for m in types.findall(f"{{{MD_NS}}}members") if (m.text or "").strip()]
    return out


def write_manifests(delta: Delta, folder: Path, api_version: str) -> tuple[Path, Path | None]:
    """`folder/package.xml` listing the upserts (empty when there are none: a deploy that only deletes), and
    `folder/destructiveChangesPost.xml` listing the deletions (None, and no file, when there are none)."""
    folder.mkdir(parents=True, exist_ok=True)
    package = folder / "package.xml"
    package.write_text(manifest_text(delta.upserts, api_version), encoding="utf-8")
    destructive = folder / "destructiveChangesPost.xml"
    if not delta.deletions:
        destructive.unlink(missing_ok=True)
        return package, None
    destructive.write_text(manifest_text(delta.deletions, api_version), encoding="utf-8")
    return package, destructive
