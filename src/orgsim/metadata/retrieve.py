"""Retrieves, listMetadata and describeMetadata: give back exactly the files that were deployed."""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
import zlib
from datetime import timedelta
from typing import Any

from orgsim import timing
from orgsim.ids import new_id, to_18
from orgsim.metadata import children as kids
from orgsim.metadata import store as md
from orgsim.metadata import types as mdtypes
from orgsim.metadata.package import package_xml, write_zip
from orgsim.metadata.select import folder_member
from orgsim.metadata.xml import SoapFault, child, children, text, texts
from orgsim.store import parse_datetime

COMPONENTS_KEY = "orgsimComponents"  # stored with the request: how many components the retrieve returns


def _iso_now(org: Any) -> str:
    moment = org.now()
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_request(element: ET.Element) -> dict[str, Any]:
    request = child(element, "request")
    if request is None:
        raise SoapFault("sf:INVALID_CROSS_REFERENCE_KEY", "retrieve needs a RetrieveRequest")
    types: dict[str, list[str]] = {}
    unpackaged = child(request, "unpackaged")
    version = None
    if unpackaged is not None:
        version = text(unpackaged, "version")
        for type_element in children(unpackaged, "types"):
            name = text(type_element, "name")
            if name:
                types.setdefault(name, []).extend(texts(type_element, "members"))
    package_names = texts(request, "packageNames")
    if package_names:
        raise SoapFault(
            "sf:INVALID_CROSS_REFERENCE_KEY", f"orgsim has no installed packages: {', '.join(package_names)}"
        )
    return {
        "apiVersion": text(request, "apiVersion") or version or "62.0",
        "version": version,
        "singlePackage": (text(request, "singlePackage") or "false").lower() == "true",
        "types": types,
    }


def submit(org: Any, request: dict[str, Any]) -> str:
    md.ensure_tables(org)
    retrieve_id = new_id("09S")
    if org.scenario.durations.retrieve_component_seconds is not None:
        # the per-component part of the duration needs the count now; the files are still read at completion
        result, _ = _build(org, request, retrieve_id)
        request = {**request, COMPONENTS_KEY: sum(1 for p in result["fileProperties"] if p["type"] != "Package")}
    with org.store.transaction() as conn:
        conn.execute(
            "INSERT INTO md_retrieves (id, created, request) VALUES (?, ?, ?)",
            (retrieve_id, _iso_now(org), json.dumps(request)),
        )
    return retrieve_id


def status(org: Any, retrieve_id: str, include_zip: bool = True) -> dict[str, Any]:
    md.ensure_tables(org)
    row = None
    if retrieve_id and len(retrieve_id) in (15, 18):
        row = org.store.conn.execute(
            "SELECT * FROM md_retrieves WHERE substr(id, 1, 15) = ?", (retrieve_id[:15],)
        ).fetchone()
    if row is None:
        raise SoapFault("sf:INVALID_ID_FIELD", f"INVALID_ID_FIELD: Retrieve result has been deleted: {retrieve_id}")
    created = parse_datetime(row["created"])
    components = int(json.loads(row["request"]).get(COMPONENTS_KEY) or 0)
    ready_at = created + timedelta(seconds=timing.retrieve_seconds(org.scenario.durations, components))
    if org.now() < ready_at:
        return {"done": False, "id": row["id"], "status": "InProgress", "success": False, "zipFile": ""}
    if row["result"] is None:
        # The snapshot is taken when the retrieve completes, so it reflects deploys finished before then.
        result, zip_bytes = _build(org, json.loads(row["request"]), row["id"])
        with org.store.transaction() as conn:
            conn.execute(
                "UPDATE md_retrieves SET result = ?, zip = ? WHERE id = ?", (json.dumps(result), zip_bytes, row["id"])
            )
    else:
        result, zip_bytes = json.loads(row["result"]), bytes(row["zip"])
    answer = dict(result)
    answer["zipFile"] = base64.b64encode(zip_bytes).decode("ascii") if include_zip else ""
    return answer


def _file_properties(org: Any, stored: md.StoredComponent, file_name: str) -> dict[str, Any]:
    user_id = org.user_id
    user_name = org.scenario.org.user_name
    return {
        "createdById": user_id,
        "createdByName": user_name,
        "createdDate": stored.created_date,
        "fileName": file_name,
        "fullName": stored.full_name,
        "id": stored.id,
        "lastModifiedById": user_id,
        "lastModifiedByName": user_name,
        "lastModifiedDate": stored.last_modified_date,
        "manageableState": "unmanaged",
        "type": stored.type,
    }


def _problem(type_name: str, member: str) -> str:
    return f"Entity of type '{type_name}' named '{member}' cannot be found"


class _Collector:
    """Files of a retrieve: whole components, and parent files cut down to the children asked for."""

    def __init__(self, org: Any, root: str) -> None:
        self.org, self.root = org, root
        self.whole: dict[tuple[str, str], md.StoredComponent] = {}
        self.parts: dict[tuple[str, str], tuple[md.StoredComponent, set[tuple[str, str]]]] = {}
        self.properties: list[dict[str, Any]] = []
        self.listed: dict[str, list[str]] = {}
        self.standard: dict[str, bytes] = {}

    def component(self, stored: md.StoredComponent) -> None:
        key = (stored.type, stored.full_name)
        if key in self.whole:
            return
        self.whole[key] = stored
        files = md.component_files(self.org, stored.type, stored.full_name)
        self.properties.append(_file_properties(self.org, stored, self.root + _main(files)))
        self.listed.setdefault(stored.type, []).append(stored.full_name)

    def child(self, parent: md.StoredComponent, ref: kids.ChildRef) -> None:
        entry = self.parts.setdefault((parent.type, parent.full_name), (parent, set()))
        if (ref.element, ref.key) in entry[1]:
            return
        entry[1].add((ref.element, ref.key))
        files = md.component_files(self.org, parent.type, parent.full_name)
        props = _file_properties(self.org, parent, self.root + _main(files))
        props.update(type=ref.type, fullName=ref.name)
        self.properties.append(props)
        self.listed.setdefault(ref.type, []).append(ref.name)

    def standard_object(self, name: str) -> None:
        """A standard object the org never had customised: Salesforce still returns its definition (orgsim: an
        empty one), so a backup never mistakes Account for something a release added."""
        if name in self.standard:
            return
        self.standard[name] = kids.empty_parent("CustomObject")
        now = _iso_now(self.org)
        object_id = to_18(f"01I000000{zlib.crc32(name.encode()) % 10**6:06d}")
        stored = md.StoredComponent("CustomObject", name, object_id, now, now)
        self.properties.append(_file_properties(self.org, stored, f"{self.root}objects/{name}.object"))
        self.listed.setdefault("CustomObject", []).append(name)

    def files(self) -> dict[str, bytes]:
        out: dict[str, bytes] = {f"{self.root}objects/{name}.object": body for name, body in self.standard.items()}
        for (type_name, full_name), (parent, wanted) in sorted(self.parts.items()):
            if (type_name, full_name) in self.whole:
                continue
            for path, content in md.component_files(self.org, parent.type, parent.full_name).items():
                out[self.root + path] = kids.only(content, parent.type, wanted)
        for stored in self.whole.values():
            for path, content in md.component_files(self.org, stored.type, stored.full_name).items():
                out[self.root + path] = content
        return out


def _main(files: dict[str, bytes]) -> str:
    main = sorted(p for p in files if not p.endswith("-meta.xml")) or sorted(files)
    return main[0] if main else ""


def _children_in_org(org: Any, type_name: str) -> list[tuple[md.StoredComponent, kids.ChildRef]]:
    kind = mdtypes.child(type_name)
    found = []
    if kind is None:
        return found
    for parent in md.list_components(org, kind.parent):
        for content in md.component_files(org, parent.type, parent.full_name).values():
            found.extend((parent, ref) for ref in kids.children_of(parent.type, parent.full_name, content))
    return [(parent, ref) for parent, ref in found if ref.type == type_name]


def _child_in(org: Any, parent: md.StoredComponent, ref: kids.ChildRef) -> kids.ChildRef | None:
    for content in md.component_files(org, parent.type, parent.full_name).values():
        for found in kids.children_of(parent.type, parent.full_name, content):
            if found.type == ref.type and found.key == ref.key:
                return found
    return None


def _is_standard_object(org: Any, name: str) -> bool:
    if mdtypes.is_custom_name(name):
        return False
    schema = getattr(org, "schema", None)
    return name.lower() in mdtypes.STANDARD_OBJECTS or (schema is not None and schema.has_object(name))


def _wildcard(org: Any, type_name: str) -> list[md.StoredComponent]:
    stored = md.list_components(org, type_name)
    if type_name == "CustomObject":
        # "*" never covers standard objects: Salesforce retrieves those only by name
        stored = [s for s in stored if mdtypes.is_custom_name(s.full_name)]
    return stored


def _build(org: Any, request: dict[str, Any], retrieve_id: str) -> tuple[dict[str, Any], bytes]:
    root = "" if request["singlePackage"] else "unpackaged/"
    collector = _Collector(org, root)
    messages: list[dict[str, str]] = []
    for type_name, members in request["types"].items():
        kind = mdtypes.child(type_name)
        if kind is None and mdtypes.get(type_name) is None:
            messages.append({"fileName": f"{root}package.xml", "problem": f"Unknown type name '{type_name}'"})
            continue
        for member in members:
            if member == "*":
                if kind is not None:
                    for parent, ref in _children_in_org(org, type_name):
                        collector.child(parent, ref)
                else:
                    for stored in _wildcard(org, type_name):
                        collector.component(stored)
                continue
            if kind is not None:
                ref = kids.child_ref(type_name, member)
                parent = md.get_component(org, kind.parent, ref.parent) if ref is not None else None
                match = _child_in(org, parent, ref) if parent is not None and ref is not None else None
                if parent is not None and match is not None:
                    collector.child(parent, match)
                    continue
            else:
                stored = md.get_component(org, *folder_member(type_name, member))
                if stored is not None:
                    collector.component(stored)
                    continue
                if type_name == "CustomObject" and _is_standard_object(org, member):
                    collector.standard_object(member)
                    continue
            messages.append({"fileName": f"{root}package.xml", "problem": _problem(type_name, member)})
    files = collector.files()
    version = request.get("version") or request["apiVersion"]
    files[f"{root}package.xml"] = package_xml(collector.listed, version)
    properties = collector.properties
    properties.append(
        {
            "createdById": org.user_id,
            "createdByName": org.scenario.org.user_name,
            "createdDate": _iso_now(org),
            "fileName": f"{root}package.xml",
            "fullName": f"{root}package.xml",
            "id": "",
            "lastModifiedById": org.user_id,
            "lastModifiedByName": org.scenario.org.user_name,
            "lastModifiedDate": _iso_now(org),
            "manageableState": "unmanaged",
            "type": "Package",
        }
    )
    result = {
        "done": True,
        "fileProperties": properties,
        "id": retrieve_id,
        "messages": messages,
        "status": "Succeeded",
        "success": True,
    }
    return result, write_zip(files)


def list_metadata(org: Any, element: ET.Element) -> list[dict[str, Any]]:
    md.ensure_tables(org)
    found: list[dict[str, Any]] = []
    for query in children(element, "queries"):
        type_name = text(query, "type")
        if not type_name:
            continue
        folder = text(query, "folder")
        if mdtypes.child(type_name) is not None:
            for parent, ref in _children_in_org(org, type_name):
                paths = md.component_files(org, parent.type, parent.full_name)
                props = _file_properties(org, parent, _main(paths))
                props.update(type=ref.type, fullName=ref.name)
                found.append(props)
            continue
        for stored in md.list_components(org, type_name):
            if folder and not stored.full_name.startswith(folder + "/"):
                continue
            found.append(_file_properties(org, stored, _main(md.component_files(org, stored.type, stored.full_name))))
    return found


def describe_metadata(org: Any) -> dict[str, Any]:
    """Every type of the table, as Salesforce lists them (folder types travel with their content type)."""
    objects = []
    for metadata_type in sorted(mdtypes.all_types().values(), key=lambda item: item.name):
        if metadata_type.folder_content_type:
            continue
        objects.append(
            {
                "childXmlNames": [kid.name for kid in metadata_type.children],
                "directoryName": metadata_type.directory,
                "inFolder": metadata_type.in_folder,
                "metaFile": metadata_type.meta_file,
                "suffix": metadata_type.suffix,
                "xmlName": metadata_type.name,
            }
        )
    return {
        "metadataObjects": objects,
        "organizationNamespace": org.scenario.org.namespace_prefix or "",
        "partialSaveAllowed": True,
        "testRequired": not org.scenario.org.sandbox,
    }
