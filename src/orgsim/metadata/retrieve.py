"""Retrieves, listMetadata and describeMetadata: give back exactly the files that were deployed."""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import Any

from orgsim.ids import new_id
from orgsim.metadata import store as md
from orgsim.metadata.package import FOLDER_TYPES, package_xml, write_zip
from orgsim.metadata.xml import SoapFault, child, children, text, texts
from orgsim.store import parse_datetime

# Child types that live inside their parent's file in metadata format: asking for one retrieves the parent file.
CHILD_TYPES = {
    "CustomField": "CustomObject",
    "ListView": "CustomObject",
    "RecordType": "CustomObject",
    "ValidationRule": "CustomObject",
    "WebLink": "CustomObject",
    "CompactLayout": "CustomObject",
    "FieldSet": "CustomObject",
    "BusinessProcess": "CustomObject",
    "Index": "CustomObject",
    "CustomLabel": "CustomLabels",
}


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
    ready_at = created + timedelta(seconds=float(org.scenario.durations.retrieve_seconds))
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


def _build(org: Any, request: dict[str, Any], retrieve_id: str) -> tuple[dict[str, Any], bytes]:
    root = "" if request["singlePackage"] else "unpackaged/"
    files: dict[str, bytes] = {}
    properties: list[dict[str, Any]] = []
    messages: list[dict[str, str]] = []
    listed: dict[str, list[str]] = {}
    seen: set[tuple[str, str]] = set()

    def include(stored: md.StoredComponent) -> None:
        key = (stored.type, stored.full_name)
        if key in seen:
            return
        seen.add(key)
        component_files = md.component_files(org, stored.type, stored.full_name)
        for path, content in component_files.items():
            files[root + path] = content
        main = sorted(p for p in component_files if not p.endswith("-meta.xml")) or sorted(component_files)
        properties.append(_file_properties(org, stored, root + (main[0] if main else "")))
        listed.setdefault(stored.type, []).append(stored.full_name)

    for type_name, members in request["types"].items():
        parent_type = CHILD_TYPES.get(type_name)
        for member in members:
            if member == "*":
                for stored in md.list_components(org, parent_type or type_name):
                    include(stored)
                continue
            if parent_type is not None:
                parent = md.get_component(org, parent_type, member.split(".", 1)[0])
                if parent is not None:
                    include(parent)
                    continue
            else:
                stored = md.get_component(org, type_name, member)
                if stored is not None:
                    include(stored)
                    continue
            messages.append(
                {
                    "fileName": f"{root}package.xml",
                    "problem": f"Entity of type '{type_name}' named '{member}' cannot be found",
                }
            )
    version = request.get("version") or request["apiVersion"]
    files[f"{root}package.xml"] = package_xml(listed, version)
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
        for stored in md.list_components(org, type_name):
            if folder and not stored.full_name.startswith(folder + "/"):
                continue
            paths = md.component_files(org, stored.type, stored.full_name)
            main = sorted(p for p in paths if not p.endswith("-meta.xml")) or sorted(paths)
            found.append(_file_properties(org, stored, main[0] if main else ""))
    return found


def describe_metadata(org: Any) -> dict[str, Any]:
    objects = []
    for folder, folder_type in sorted(FOLDER_TYPES.items(), key=lambda item: item[1].type):
        objects.append(
            {
                "childXmlNames": sorted(name for name, parent in CHILD_TYPES.items() if parent == folder_type.type),
                "directoryName": folder,
                "inFolder": folder_type.in_folders,
                "metaFile": folder_type.type
                in (
                    "ApexClass",
                    "ApexTrigger",
                    "ApexPage",
                    "ApexComponent",
                    "StaticResource",
                    "Document",
                    "EmailTemplate",
                ),
                "suffix": folder_type.suffix,
                "xmlName": folder_type.type,
            }
        )
    return {
        "metadataObjects": objects,
        "organizationNamespace": org.scenario.org.namespace_prefix or "",
        "partialSaveAllowed": True,
        "testRequired": not org.scenario.org.sandbox,
    }
