"""Which metadata component a source-format file belongs to, from the sf CLI's own registry (as data).

`metadata_registry.json` is generated from the CLI's `metadataRegistry.json` by `registry_gen.py`. The rules follow
the CLI's resolver (source-deploy-retrieve) for the shapes projects use:

- a folder the registry calls strict (`lwc`, `aura`, `staticresources`, `objects`, `experiences` ...) decides the type
  by itself; bundles are named by their folder (`lwc/card/card.js` → LightningComponentBundle `card`), a static
  resource or experience by its file or folder (`staticresources/logo.png`, `staticresources/lib/x.js`);
- decomposed types name their children by parent and child (`objects/Acct__c/fields/Score__c.field-meta.xml` →
  CustomField `Acct__c.Score__c`, `bots/Helper/v1.botVersion-meta.xml` → BotVersion `Helper.v1`); a child that is not
  addressable on its own (a field translation) stands for its parent;
- every other file by its suffix (`Foo.cls`, `Foo.cls-meta.xml` → ApexClass `Foo`); a type without content files
  counts only its `-meta.xml` file (a `README.md` is not CustomMetadata); types in folders are named with their folder
  path (`reports/Sales/Pipeline.report-meta.xml` → Report `Sales/Pipeline`).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TypedDict

META = "-meta.xml"
#: Adapters whose components have content files besides the `-meta.xml` (or no `-meta.xml` at all).
CONTENT_ADAPTERS = frozenset({"matchingContentFile", "mixedContent", "bundle", "digitalExperience", "uiBundles"})
#: Adapters whose component is a folder of files named by that folder.
FOLDER_ADAPTERS = frozenset({"bundle", "mixedContent", "digitalExperience", "uiBundles"})


class ChildRow(TypedDict):
    name: str
    suffix: str
    addressable: bool
    element: str
    id: str


class TypeRow(TypedDict, total=False):
    dir: str
    suffix: str
    legacySuffix: str
    metaFileSuffix: str
    strict: bool
    adapter: str
    decomposition: str
    inFolder: bool
    folderType: str
    folderContentType: str
    nonDecomposed: bool
    children: dict[str, ChildRow]


class Table(TypedDict):
    types: dict[str, TypeRow]
    suffixes: dict[str, str]
    shared_suffixes: dict[str, list[str]]
    strict_dirs: dict[str, str]


@cache
def table() -> Table:
    path = Path(__file__).resolve().parent / "metadata_registry.json"
    data: Table = json.loads(path.read_text(encoding="utf-8"))
    return data


@dataclass(frozen=True, order=True)
class Resolved:
    """A file's component, and the component it is part of (a field's object) when it is a child."""

    type: str
    name: str
    parent_type: str | None = None
    parent_name: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.type, self.name)


def _strip(base: str, *suffixes: str) -> str:
    for suffix in suffixes:
        if suffix and base.endswith("." + suffix):
            return base[: -len(suffix) - 1]
    return base


def _first_stem(base: str) -> str:
    return base.split(".", 1)[0]


def resolve(parts: tuple[str, ...] | list[str]) -> Resolved | None:
    """The component of the file at `parts` (its path inside a package directory), or None when it is no metadata
    (a README, a jest test outside a bundle, `lwc/jsconfig.json`)."""
    parts = tuple(parts)
    if not parts:
        return None
    meta = parts[-1].endswith(META)
    base = parts[-1][: -len(META)] if meta else parts[-1]
    tab = table()
    for index, part in enumerate(parts[:-1]):
        type_name = tab["strict_dirs"].get(part)
        if type_name is not None and type_name in tab["types"]:
            return _resolve_strict(type_name, tab["types"][type_name], parts[index + 1 :], base, meta)
    if "." not in base:
        return None
    stem, suffix = base.rsplit(".", 1)
    type_name = _by_suffix(suffix, parts)
    if type_name is None:
        return None
    row = tab["types"][type_name]
    if not meta and row.get("adapter") not in CONTENT_ADAPTERS:
        return None
    if row.get("inFolder") or row.get("folderContentType"):
        return Resolved(type_name, _folder_path(row, parts, stem))
    return Resolved(type_name, stem)


def _by_suffix_only(parts: tuple[str, ...], base: str, meta: bool) -> Resolved | None:
    """A file in a strict folder that belongs to another type (a folder's own `-meta.xml`)."""
    if not meta or "." not in base:
        return None
    stem, suffix = base.rsplit(".", 1)
    type_name = table()["suffixes"].get(suffix)
    return Resolved(type_name, stem) if type_name else None


def _by_suffix(suffix: str, parts: tuple[str, ...]) -> str | None:
    tab = table()
    shared = tab["shared_suffixes"].get(suffix)
    if shared:
        for name in shared:  # a suffix several types use: the one whose folder the file is in
            if tab["types"][name].get("dir") in parts[:-1]:
                return name
    return tab["suffixes"].get(suffix)


def _folder_path(row: TypeRow, parts: tuple[str, ...], stem: str) -> str:
    """`reports/Sales/Q1/Pipeline.report-meta.xml` → `Sales/Q1/Pipeline` (the path below the type's folder)."""
    folder = row.get("dir", "")
    dirs = parts[:-1]
    if folder in dirs:
        start = len(dirs) - 1 - dirs[::-1].index(folder)
        return "/".join((*dirs[start + 1 :], stem))
    return stem


def _resolve_strict(type_name: str, row: TypeRow, rest: tuple[str, ...], base: str, meta: bool) -> Resolved | None:
    adapter = row.get("adapter", "")
    suffix = row.get("suffix", "")
    if adapter == "decomposed":
        return _resolve_decomposed(type_name, row, rest, base)
    if row.get("inFolder"):  # documents/<folder>/<file>; documents/<folder>.documentFolder-meta.xml: by suffix
        if len(rest) < 2:
            return _by_suffix_only(rest, base, meta)
        return Resolved(type_name, "/".join((*rest[:-1], _first_stem(base))))
    if adapter in FOLDER_ADAPTERS:
        if type_name == "DigitalExperienceBundle":  # digitalExperiences/site/<name>/...
            return Resolved(type_name, "/".join(rest[:2])) if len(rest) >= 3 else None
        if len(rest) == 1:
            if adapter == "bundle":  # lwc/jsconfig.json, aura/.eslintrc.json: not a bundle
                return None
            return Resolved(type_name, _first_stem(_strip(base, suffix, row.get("metaFileSuffix", ""))))
        return Resolved(type_name, rest[0])
    if not meta and adapter not in CONTENT_ADAPTERS:
        return None
    if len(rest) == 1:
        return Resolved(type_name, _strip(base, suffix, row.get("legacySuffix", "")))
    return Resolved(type_name, rest[0] if rest[0] != base else _strip(base, suffix))


def _resolve_decomposed(type_name: str, row: TypeRow, rest: tuple[str, ...], base: str) -> Resolved | None:
    """objects/<Obj>/<Obj>.object-meta.xml, objects/<Obj>/fields/<F>.field-meta.xml, bots/<Bot>/<v>.botVersion-..."""
    children = row.get("children", {})
    suffix = row.get("suffix", "")
    if len(rest) == 1:
        return Resolved(type_name, _strip(base, suffix)) if base.endswith("." + suffix) else None
    parent = rest[0]
    child: ChildRow | None = None
    if len(rest) >= 3 and rest[1] in children:  # folderPerType: objects/Obj/fields/F.field-meta.xml
        child = children[rest[1]]
    elif len(rest) == 2 and not base.endswith("." + suffix):  # topLevel: bots/Bot/v1.botVersion-meta.xml
        child = next((c for c in children.values() if c["suffix"] and base.endswith("." + c["suffix"])), None)
    if child is None:
        return Resolved(type_name, parent)
    if not child["addressable"]:
        return Resolved(type_name, parent)
    return Resolved(child["name"], f"{parent}.{_strip(base, child['suffix'])}", type_name, parent)


def packs_children(type_name: str) -> bool:
    """True for a type whose one file holds many addressable children (`CustomLabels`): a change to the file is a
    change to the children that differ (`file_children`)."""
    return bool(table()["types"].get(type_name, {}).get("nonDecomposed"))


def file_children(type_name: str, content: bytes | None) -> dict[tuple[str, str], str]:
    """(child type, child name) → the child's XML, for a file of a `packs_children` type (empty when unreadable)."""
    if not content:
        return {}
    try:
        root = ET.fromstring(content)
    except ET.ParseError:
        return {}
    namespace = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    found: dict[tuple[str, str], str] = {}
    for child in table()["types"].get(type_name, {}).get("children", {}).values():
        for node in root.iter(namespace + child["element"]):
            name = (node.findtext(namespace + child["id"]) or "").strip()
            if name:
                found[(child["name"], name)] = ET.tostring(node, encoding="unicode").strip()
    return found
