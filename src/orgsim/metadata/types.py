"""The metadata types orgsim accepts: one table generated from the sf CLI's registry (`data/metadata_types.json`,
see `registry_gen.py`), with the folder and suffix of each type's files in a metadata-format zip.

Types are stored generically by folder and suffix; a few get simulated behaviour elsewhere (Apex mirrors, custom
objects in the schema). A type not in this table is unknown, as it would be to Salesforce.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

_TABLE = Path(__file__).resolve().parents[1] / "data" / "metadata_types.json"
# Suffixes of custom object names (Salesforce's own list in "fullName must end with: ...").
CUSTOM_SUFFIXES = ("__c", "__kav", "__x", "__b", "__e", "__p", "__mdt", "__dll", "__dlm", "__ka", "__hd", "__share")

# Standard objects every org has (lower case), beyond those orgsim's schema models; a retrieve by name returns them.
STANDARD_OBJECTS = frozenset(
    {
        "account", "contact", "lead", "opportunity", "opportunitylineitem", "case", "campaign", "campaignmember",
        "task", "event", "user", "product2", "pricebook2", "pricebookentry", "order", "orderitem", "contract",
        "asset", "quote", "quotelineitem", "solution", "idea", "contentversion", "contentdocument", "note",
        "attachment", "entitlement", "servicecontract", "workorder", "workorderlineitem", "individual",
        "contactpointemail", "contactpointphone", "location", "site", "group", "organization", "profile",
        "permissionset",
    }
)  # fmt: skip


@dataclass(frozen=True)
class ChildType:
    name: str  # CustomField
    parent: str  # CustomObject
    element: str  # fields: the XML element it travels as inside the parent file
    id_element: str = "fullName"


@dataclass(frozen=True)
class MetadataType:
    name: str
    directory: str
    suffix: str | None = None
    in_folder: bool = False
    folder_type: str | None = None  # Report -> ReportFolder
    folder_content_type: str | None = None  # ReportFolder -> Report
    bundle: bool = False  # every file under <dir>/<name>/ belongs to component <name>
    meta_file: bool = False  # content file plus <file>-meta.xml
    children: tuple[ChildType, ...] = field(default_factory=tuple)


@cache
def _load() -> tuple[dict[str, MetadataType], dict[str, ChildType]]:
    rows = json.loads(_TABLE.read_text(encoding="utf-8"))
    types: dict[str, MetadataType] = {}
    children: dict[str, ChildType] = {}
    for row in rows:
        kids = tuple(ChildType(c["name"], row["name"], c["element"], c["id"]) for c in row.get("children", ()))
        types[row["name"]] = MetadataType(
            name=row["name"],
            directory=row["dir"],
            suffix=row.get("suffix"),
            in_folder=bool(row.get("inFolder")),
            folder_type=row.get("folderType"),
            folder_content_type=row.get("folderContentType"),
            bundle=bool(row.get("bundle")),
            meta_file=bool(row.get("metaFile")),
            children=kids,
        )
        for kid in kids:
            children.setdefault(kid.name, kid)
    return types, children


def all_types() -> dict[str, MetadataType]:
    return _load()[0]


def child_types() -> dict[str, ChildType]:
    return _load()[1]


def get(name: str) -> MetadataType | None:
    return all_types().get(name)


def child(name: str) -> ChildType | None:
    return child_types().get(name)


def is_known(name: str) -> bool:
    return name in all_types() or name in child_types()


@cache
def by_directory() -> dict[str, tuple[MetadataType, ...]]:
    table: dict[str, list[MetadataType]] = {}
    for metadata_type in all_types().values():
        table.setdefault(metadata_type.directory, []).append(metadata_type)
    return {directory: tuple(found) for directory, found in table.items()}


def is_custom_name(name: str) -> bool:
    """True for a custom object (or custom field) API name: it ends with one of Salesforce's custom suffixes."""
    return name.lower().endswith(CUSTOM_SUFFIXES)


def component_key(path: str) -> tuple[str, str] | None:
    """(type, fullName) of a metadata-format file path relative to the package root, or None when no type of the
    table claims it (the path's folder is unknown, or no suffix of that folder's types matches)."""
    parts = path.split("/")
    if len(parts) < 2:
        return None
    candidates = by_directory().get(parts[0])
    if not candidates:
        return None
    rest = "/".join(parts[1:])
    bare = rest.removesuffix("-meta.xml")
    for metadata_type in candidates:
        if metadata_type.bundle:
            # lwc/card/card.js; experiences/site1/...; experiences/site1.site-meta.xml belongs to site1 too
            name = parts[1] if len(parts) > 2 else bare.split(".", 1)[0]
            return metadata_type.name, name
    for metadata_type in candidates:
        if metadata_type.in_folder:
            if len(parts) == 2 and rest.endswith("-meta.xml") and metadata_type.folder_type:
                return metadata_type.folder_type, bare  # reports/Sales-meta.xml: the folder itself
            if len(parts) == 3:
                if metadata_type.suffix and bare.endswith("." + metadata_type.suffix):
                    return metadata_type.name, bare.removesuffix("." + metadata_type.suffix)
                if metadata_type.meta_file or metadata_type.name == "Document":
                    return metadata_type.name, bare  # documents/Folder/logo.png: the name keeps its extension
    for metadata_type in sorted(candidates, key=lambda item: -len(item.suffix or "")):
        if metadata_type.in_folder or metadata_type.folder_content_type:
            continue
        if metadata_type.suffix and bare.endswith("." + metadata_type.suffix):
            return metadata_type.name, bare.removesuffix("." + metadata_type.suffix)
    single = [t for t in candidates if not t.in_folder and not t.folder_content_type]
    if len(single) == 1 and single[0].meta_file:
        # staticresources/logo.resource is matched above; mixed content such as `documents` keeps its extension
        return single[0].name, bare.rsplit(".", 1)[0] if "." in bare else bare
    return None


def expected_paths(type_name: str, member: str) -> tuple[set[str], str | None]:
    """Exact file paths of component `member` of `type_name` in a metadata-format zip, and a folder prefix whose
    files also belong to it (bundles)."""
    metadata_type = get(type_name)
    if metadata_type is None:
        return set(), None
    base = f"{metadata_type.directory}/{member}"
    paths = {base, f"{base}-meta.xml"}
    if metadata_type.suffix:
        paths |= {f"{base}.{metadata_type.suffix}", f"{base}.{metadata_type.suffix}-meta.xml"}
    prefix = f"{base}/" if metadata_type.bundle else None
    return paths, prefix
