"""The deployed metadata of an org, in its own tables on the org's SQLite database.

`md_components` has one row per (type, fullName); `md_files` keeps each file's bytes exactly as deployed (path relative
to the package root, e.g. `classes/Foo.cls`). Components that are also sobjects (ApexClass, ApexTrigger,
PermissionSet) are mirrored as records so SOQL sees them, and CustomObjects are registered with the org's schema.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from orgsim.apexsim import ApexSource, blank_comments_and_strings
from orgsim.ids import new_id
from orgsim.metadata import children as kids
from orgsim.metadata import types as mdtypes
from orgsim.metadata.package import Component
from orgsim.metadata.xml import local

_TABLES = (
    """CREATE TABLE IF NOT EXISTS md_components (
        type TEXT NOT NULL,
        full_name TEXT NOT NULL,
        id TEXT NOT NULL,
        created_date TEXT NOT NULL,
        last_modified_date TEXT NOT NULL,
        PRIMARY KEY (type, full_name)
    )""",
    """CREATE TABLE IF NOT EXISTS md_files (
        path TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        full_name TEXT NOT NULL,
        content BLOB NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS md_deploys (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL,
        check_only INTEGER NOT NULL,
        options TEXT NOT NULL,
        zip BLOB NOT NULL,
        validation_id TEXT,
        created TEXT NOT NULL,
        started TEXT,
        completed TEXT,
        outcome TEXT,
        canceled_by TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS md_retrieves (
        id TEXT PRIMARY KEY,
        created TEXT NOT NULL,
        request TEXT NOT NULL,
        result TEXT,
        zip BLOB
    )""",
)

# Id prefixes of metadata components (what DeployMessage.id and FileProperties.id carry).
COMPONENT_ID_PREFIXES = {
    "ApexClass": "01p",
    "ApexTrigger": "01q",
    "ApexPage": "066",
    "ApexComponent": "099",
    "CustomObject": "01I",
    "PermissionSet": "0PS",
    "Layout": "00h",
    "CustomTab": "01r",
    "CustomApplication": "02u",
    "FlexiPage": "0M0",
    "Flow": "301",
    "StaticResource": "081",
    "LightningComponentBundle": "0Rb",
    "AuraDefinitionBundle": "0Ab",
    "Profile": "00e",
    "CustomMetadata": "m00",
}
MIRRORED_SOBJECTS = {"ApexClass": "ApexClass", "ApexTrigger": "ApexTrigger", "PermissionSet": "PermissionSet"}


def ensure_tables(org: Any) -> None:
    # Plain CREATE statements (not executescript) so this is safe inside an open transaction.
    with org.store.lock:
        for statement in _TABLES:
            org.store.conn.execute(statement)


@dataclass(frozen=True)
class StoredComponent:
    type: str
    full_name: str
    id: str
    created_date: str
    last_modified_date: str


def get_component(org: Any, type_name: str, full_name: str) -> StoredComponent | None:
    row = org.store.conn.execute(
        "SELECT * FROM md_components WHERE type = ? AND full_name = ? COLLATE NOCASE", (type_name, full_name)
    ).fetchone()
    return None if row is None else _component(row)


def list_components(org: Any, type_name: str | None = None) -> list[StoredComponent]:
    if type_name is None:
        rows = org.store.conn.execute("SELECT * FROM md_components ORDER BY type, full_name").fetchall()
    else:
        rows = org.store.conn.execute(
            "SELECT * FROM md_components WHERE type = ? ORDER BY full_name", (type_name,)
        ).fetchall()
    return [_component(row) for row in rows]


def _component(row: Any) -> StoredComponent:
    return StoredComponent(row["type"], row["full_name"], row["id"], row["created_date"], row["last_modified_date"])


def component_files(org: Any, type_name: str, full_name: str) -> dict[str, bytes]:
    rows = org.store.conn.execute(
        "SELECT path, content FROM md_files WHERE type = ? AND full_name = ? ORDER BY path", (type_name, full_name)
    ).fetchall()
    return {row["path"]: bytes(row["content"]) for row in rows}


def save_component(org: Any, component: Component, now_text: str) -> tuple[str, bool, bool]:
    """Store (or replace) a component; returns (id, created, changed)."""
    conn = org.store.conn
    existing = get_component(org, component.type, component.full_name)
    if existing is None:
        prefix = COMPONENT_ID_PREFIXES.get(component.type, "0Xx")
        component_id = new_id(prefix)
        conn.execute(
            "INSERT INTO md_components (type, full_name, id, created_date, last_modified_date) VALUES (?, ?, ?, ?, ?)",
            (component.type, component.full_name, component_id, now_text, now_text),
        )
        changed = True
    else:
        component_id = existing.id
        changed = component_files(org, component.type, existing.full_name) != component.files
        if changed:
            conn.execute(
                "UPDATE md_components SET last_modified_date = ? WHERE type = ? AND full_name = ?",
                (now_text, component.type, existing.full_name),
            )
    conn.execute(
        "DELETE FROM md_files WHERE type = ? AND full_name = ? COLLATE NOCASE", (component.type, component.full_name)
    )
    for path, content in component.files.items():
        conn.execute(
            "INSERT OR REPLACE INTO md_files (path, type, full_name, content) VALUES (?, ?, ?, ?)",
            (path, component.type, component.full_name, content),
        )
    _mirror(org, component, component_id, now_text)
    return component_id, existing is None, changed


def delete_component(org: Any, type_name: str, full_name: str) -> StoredComponent | None:
    existing = get_component(org, type_name, full_name)
    if existing is None:
        return None
    for dependent in cascade_of(org, type_name, existing.full_name):
        delete_component(org, dependent.type, dependent.full_name)
    conn = org.store.conn
    conn.execute("DELETE FROM md_components WHERE type = ? AND full_name = ?", (type_name, existing.full_name))
    conn.execute("DELETE FROM md_files WHERE type = ? AND full_name = ?", (type_name, existing.full_name))
    if type_name in MIRRORED_SOBJECTS:
        org.store.delete(existing.id)
    if type_name == "CustomObject" and getattr(org, "schema", None) is not None:
        org.schema.remove_custom_object(existing.full_name)
    return existing


def _parent_file(org: Any, parent_type: str, parent: str) -> tuple[StoredComponent | None, str | None, bytes | None]:
    stored = get_component(org, parent_type, parent)
    if stored is None:
        return None, None, None
    path = _main_parent_path(parent_type, stored.full_name)
    files = component_files(org, parent_type, stored.full_name)
    if path not in files and files:
        path = sorted(files)[0]
    return stored, path, files.get(path or "")


def _main_parent_path(parent_type: str, parent: str) -> str | None:
    metadata_type = mdtypes.get(parent_type)
    if metadata_type is None or not metadata_type.suffix:
        return None
    return f"{metadata_type.directory}/{parent}.{metadata_type.suffix}"


def upsert_component(org: Any, component: Component, now_text: str) -> tuple[str, bool, bool]:
    """Deploy one top-level component. A parent of child types (an object, the labels) keeps the children the org
    has and the deployed file lacks, as Salesforce does: only destructive changes delete a child."""
    metadata_type = mdtypes.get(component.type)
    if metadata_type is not None and metadata_type.children:
        _stored, path, existing = _parent_file(org, component.type, component.full_name)
        main = _main_parent_path(component.type, component.full_name)
        if existing is not None and main in component.files and path == main:
            merged = kids.merge(existing, component.files[main], component.type, whole=True, names=set())
            component = Component(component.type, component.full_name, {**component.files, main: merged})
    return save_component(org, component, now_text)


def upsert_children(
    org: Any, parent_type: str, parent: str, path: str, content: bytes, names: set[tuple[str, str]], now_text: str
) -> None:
    """Deploy child components (named in package.xml without their parent) into the parent the org holds."""
    stored, stored_path, existing = _parent_file(org, parent_type, parent)
    merged = kids.merge(existing, content, parent_type, whole=False, names=names)
    full_name = stored.full_name if stored is not None else parent
    save_component(org, Component(parent_type, full_name, {stored_path or path: merged}), now_text)


def delete_any(org: Any, type_name: str, full_name: str) -> None:
    """Apply one destructive change: a child leaves its parent's file, a component goes with what depends on it."""
    ref = kids.child_ref(type_name, full_name)
    if ref is None:
        delete_component(org, type_name, full_name)
        return
    stored, path, existing = _parent_file(org, ref.parent_type, ref.parent)
    if stored is None or path is None or existing is None:
        return
    remaining = kids.remove(existing, ref)
    if remaining is None:
        return
    if ref.type == "CustomField" and getattr(org, "schema", None) is not None:
        org.schema.remove_custom_field(stored.full_name, ref.key)
    if kids.is_empty(remaining) and (ref.parent_type == "CustomLabels" or not mdtypes.is_custom_name(stored.full_name)):
        # a container that only held children (the labels file, a standard object's custom fields) goes with them
        delete_component(org, ref.parent_type, stored.full_name)
        return
    org.store.conn.execute(
        "UPDATE md_files SET content = ? WHERE path = ? AND type = ?", (remaining, path, ref.parent_type)
    )


def cascade_of(org: Any, type_name: str, full_name: str) -> list[StoredComponent]:
    """Components Salesforce deletes together with a custom object: its layouts, quick actions, tab, workflow,
    sharing rules, translations, and the records of a custom metadata type."""
    if type_name != "CustomObject":
        return []
    lower = full_name.lower()
    record_prefix = (lower.removesuffix("__mdt") + ".") if lower.endswith("__mdt") else None
    found = []
    for stored in list_components(org):
        name = stored.full_name.lower()
        if (
            (stored.type == "Layout" and name.startswith(lower + "-"))
            or (stored.type == "QuickAction" and name.startswith(lower + "."))
            or (stored.type == "CustomObjectTranslation" and name.startswith(lower + "-"))
            or (stored.type in ("CustomTab", "Workflow", "SharingRules", "TopicsForObjects") and name == lower)
            or (record_prefix is not None and stored.type == "CustomMetadata" and name.startswith(record_prefix))
        ):
            found.append(stored)
    return found


# -- sobject mirrors ------------------------------------------------------------------------------------------------


def _meta_value(files: dict[str, bytes], tag: str) -> str | None:
    for path, content in files.items():
        if path.endswith("-meta.xml") or path.endswith(".permissionset") or path.endswith(".object"):
            try:
                root = ET.fromstring(content)
            except ET.ParseError:
                continue
            for element in root:
                if local(element.tag) == tag:
                    return (element.text or "").strip()
    return None


def _source_text(component: Component) -> str:
    return component.files.get(component.main_file, b"").decode("utf-8", errors="replace")


def length_without_comments(body: str) -> int:
    return len(re.sub(r"\s+", "", blank_comments_and_strings(body)))


def _mirror(org: Any, component: Component, component_id: str, now_text: str) -> None:
    sobject = MIRRORED_SOBJECTS.get(component.type)
    if sobject is not None:
        fields: dict[str, Any] = {"Name": component.full_name, "NamespacePrefix": None}
        if component.type in ("ApexClass", "ApexTrigger"):
            body = _source_text(component)
            fields.update(
                {
                    "Body": body,
                    "ApiVersion": float(_meta_value(component.files, "apiVersion") or org.api_version),
                    "Status": _meta_value(component.files, "status") or "Active",
                    "LengthWithoutComments": length_without_comments(body),
                    "IsValid": True,
                }
            )
            if component.type == "ApexTrigger":
                match = re.search(r"\btrigger\s+\w+\s+on\s+(\w+)", blank_comments_and_strings(body), re.IGNORECASE)
                fields["TableEnumOrId"] = match.group(1) if match else None
        else:
            fields.update(
                {
                    "Label": _meta_value(component.files, "label") or component.full_name,
                    "IsOwnedByProfile": False,
                    "Type": "Regular",
                }
            )
        if org.store.get(component_id) is None:
            org.store.insert(sobject, {"Id": component_id, "CreatedDate": now_text, **fields})
        else:
            org.store.update(component_id, fields)
    elif component.type == "CustomObject":
        register_custom_object(org, component)


def custom_object_fields(content: bytes) -> tuple[str | None, dict[str, str]]:
    """(label, {field API name: type}) from a metadata-format `.object` file."""
    root = ET.fromstring(content)
    label = None
    fields: dict[str, str] = {}
    for element in root:
        tag = local(element.tag)
        if tag == "label":
            label = (element.text or "").strip()
        elif tag == "fields":
            values = {local(part.tag): (part.text or "").strip() for part in element}
            name, field_type = values.get("fullName"), values.get("type")
            if not name or not field_type or not name.endswith("__c"):
                continue
            if field_type in ("Lookup", "MasterDetail") and values.get("referenceTo"):
                field_type = f"{field_type}:{values['referenceTo']}"
            fields[name] = field_type
    return label, fields


def register_custom_object(
    org: Any, component: Component | None = None, *, name: str = "", content: bytes | None = None
) -> None:
    schema = getattr(org, "schema", None)
    if schema is None:
        return
    if component is not None:
        name = component.full_name
        content = next((v for p, v in component.files.items() if p.endswith(".object")), None)
    label, fields = (None, {})
    if content:
        try:
            label, fields = custom_object_fields(content)
        except ET.ParseError:
            pass
    if not name.endswith("__c"):
        # a standard object (or a platform event, a custom metadata type): its custom fields join a known object
        if schema.has_object(name):
            for field_name, field_type in fields.items():
                try:
                    schema.add_custom_field(name, field_name, field_type)
                except ValueError:
                    continue
        return
    try:
        schema.add_custom_object(name, fields, label=label)
    except ValueError:
        # A field type the schema does not know must not break the deploy: register the object without it.
        schema.add_custom_object(name, {}, label=label)


def register_all_custom_objects(org: Any) -> None:
    """Re-register deployed custom objects with a fresh schema (the schema lives in memory only)."""
    ensure_tables(org)
    for stored in list_components(org, "CustomObject"):
        files = component_files(org, "CustomObject", stored.full_name)
        register_custom_object(org, name=stored.full_name, content=next(iter(files.values()), None))


def apex_sources(org: Any) -> list[ApexSource]:
    """Every deployed Apex class and trigger with its body, for apexsim."""
    ensure_tables(org)
    sources = []
    with org.store.lock:
        for type_name, kind, suffix in (("ApexClass", "Class", ".cls"), ("ApexTrigger", "Trigger", ".trigger")):
            for stored in list_components(org, type_name):
                files = component_files(org, type_name, stored.full_name)
                body = next((v for p, v in files.items() if p.endswith(suffix)), b"")
                sources.append(ApexSource(stored.full_name, body.decode("utf-8", errors="replace"), kind, stored.id))
    return sources
