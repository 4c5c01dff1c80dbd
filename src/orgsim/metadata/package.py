"""Metadata-format packages: reading deploy zips and manifests, writing retrieve zips.

A deploy zip holds `package.xml`, optional destructive-changes manifests, and one folder per metadata type
(`classes/Foo.cls` + `classes/Foo.cls-meta.xml`, `objects/Gap__c.object`, `lwc/bundle/...`); `types.py` knows every
type's folder and suffix. The files are kept exactly as received so that a retrieve gives back the same bytes.
"""

from __future__ import annotations

import io
import posixpath
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field

from orgsim.metadata import types as mdtypes
from orgsim.metadata.xml import SoapFault, local

PACKAGE_NS = "http://soap.sforce.com/2006/04/metadata"
MAX_ZIP_BYTES = 100 * 1024 * 1024
MAX_UNZIPPED_BYTES = 600 * 1024 * 1024  # Salesforce's own limit; also guards against zip bombs
MAX_FILES = 20_000
DESTRUCTIVE_MANIFESTS = ("destructiveChangesPre.xml", "destructiveChanges.xml", "destructiveChangesPost.xml")


@dataclass
class Component:
    type: str
    full_name: str
    files: dict[str, bytes] = field(default_factory=dict)  # path relative to the package root → bytes

    @property
    def main_file(self) -> str:
        """The file Salesforce names in DeployMessage.fileName (the source file, not its -meta.xml)."""
        non_meta = sorted(p for p in self.files if not p.endswith("-meta.xml"))
        return non_meta[0] if non_meta else sorted(self.files)[0]


@dataclass
class Manifest:
    types: dict[str, list[str]] = field(default_factory=dict)
    version: str | None = None

    def members(self) -> list[tuple[str, str]]:
        return [(t, m) for t, names in self.types.items() for m in names]


@dataclass
class Package:
    manifest: Manifest
    components: list[Component]
    destructive: dict[str, Manifest]  # manifest file name → its types
    prefix: str  # "" or the top folder ("unpackaged/") the zip used
    file_count: int
    files: dict[str, bytes] = field(default_factory=dict)  # every component file, path relative to the package root

    def component(self, type_name: str, full_name: str) -> Component | None:
        return next((c for c in self.components if c.type == type_name and c.full_name == full_name), None)


def parse_manifest(data: bytes, name: str = "package.xml") -> Manifest:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as error:
        raise SoapFault("sf:INVALID_XML", f"{name}: {error}") from None
    if local(root.tag) != "Package":
        raise SoapFault("sf:INVALID_XML", f"{name}: the root element must be Package")
    manifest = Manifest()
    for element in root:
        tag = local(element.tag)
        if tag == "version":
            manifest.version = (element.text or "").strip()
        elif tag == "types":
            type_name = ""
            members: list[str] = []
            for part in element:
                if local(part.tag) == "name":
                    type_name = (part.text or "").strip()
                elif local(part.tag) == "members":
                    members.append((part.text or "").strip())
            if type_name:
                manifest.types.setdefault(type_name, []).extend(m for m in members if m)
    return manifest


def read_zip(data: bytes) -> Package:
    """Read a deploy zip. Raises SoapFault for anything Salesforce would reject before queueing the deploy."""
    if len(data) > MAX_ZIP_BYTES:
        raise SoapFault(
            "sf:EXCEEDED_MAX_SIZE_REQUEST",
            "Maximum size of request reached. Maximum size of request is 52428800 bytes.",
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = [info for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, ValueError, EOFError) as error:
        raise SoapFault("sf:INVALID_ZIP", f"The zip file is not valid: {error}") from None
    if len(infos) > MAX_FILES:
        raise SoapFault("sf:LIMIT_EXCEEDED", f"The zip file holds more than {MAX_FILES} files")
    if sum(info.file_size for info in infos) > MAX_UNZIPPED_BYTES:
        raise SoapFault("sf:LIMIT_EXCEEDED", "Maximum size of the unzipped files exceeded (600 MB)")
    names = [info.filename for info in infos]
    for name in names:
        normal = posixpath.normpath(name)
        if name.startswith("/") or normal.startswith("..") or "\\" in name:
            raise SoapFault("sf:INVALID_ZIP", f"The zip file holds an unsafe path: {name}")
    if "package.xml" in names:
        prefix = ""
    else:
        tops = {n.split("/", 1)[0] for n in names if "/" in n}
        candidates = [t for t in tops if f"{t}/package.xml" in names]
        if len(candidates) != 1:
            raise SoapFault("sf:INVALID_ZIP", "No package.xml found")
        prefix = candidates[0] + "/"
    try:
        files = {n[len(prefix) :]: archive.read(n) for n in names if n.startswith(prefix)}
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as error:  # e.g. CRC errors, unsupported compression
        raise SoapFault("sf:INVALID_ZIP", f"The zip file is not valid: {error}") from None
    manifest = parse_manifest(files.pop("package.xml"))
    destructive = {name: parse_manifest(files.pop(name), name) for name in DESTRUCTIVE_MANIFESTS if name in files}
    components: dict[tuple[str, str], Component] = {}
    for path in sorted(files):
        key = mdtypes.component_key(path)
        if key is None:
            continue  # files no known type claims are never deployed (package.xml decides, see select.py)
        components.setdefault(key, Component(key[0], key[1])).files[path] = files[path]
    return Package(manifest, list(components.values()), destructive, prefix, len(names), files)


def package_xml(types: dict[str, list[str]], version: str) -> bytes:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<Package xmlns="{PACKAGE_NS}">']
    for type_name in sorted(types):
        lines.append("    <types>")
        lines.extend(f"        <members>{member}</members>" for member in sorted(types[type_name]))
        lines.append(f"        <name>{type_name}</name>")
        lines.append("    </types>")
    lines.append(f"    <version>{version}</version>")
    lines.append("</Package>")
    return ("\n".join(lines) + "\n").encode()


def write_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(files):
            archive.writestr(path, files[path])
    return buffer.getvalue()
