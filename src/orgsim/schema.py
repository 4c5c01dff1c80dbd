"""The sobject schema of one simulated org: objects, fields, field types, relationships, API visibility.

One `Schema` instance per org. It starts with the standard objects the `sf` CLI and the Elaro runbook touch
(Organization, User, PermissionSet/Assignment, CronTrigger/CronJobDetail, AsyncApexJob, ApexClass/Trigger,
ApexLog, the Apex test and coverage objects of the Tooling API, SandboxProcess, ...). Custom objects and custom
fields are added when metadata is deployed (`add_custom_object`, `add_custom_field`) and removed by destructive
changes (`remove_custom_object`, `remove_custom_field`).

All look-ups are case-insensitive, like Salesforce; what they return carries the canonical spelling.
Field types use the names of Salesforce's describe API (`id`, `string`, `boolean`, `int`, `double`, `date`,
`datetime`, `reference`, `picklist`, ...). Custom field types may also be given with their metadata names
(`Text`, `Number`, `Checkbox`, `DateTime`, `Lookup:Account`, ...), see `add_custom_object`.

The building blocks (`FieldDef`, `ObjectDef`, field types, `SchemaError`) live in `orgsim.schema_defs`, the
standard-object tables in `orgsim.schema_standard`; both are re-exported here.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from orgsim.schema_defs import (
    _APEX_TYPES,
    _METADATA_TYPE_TO_API,
    BOTH,
    FIELD_TYPES,
    NUMBER_TYPES,
    REST,
    REST_ONLY,
    TEXT_TYPES,
    TOOLING,
    TOOLING_ONLY,
    FieldDef,
    ObjectDef,
    SchemaError,
    _id_field,
    _parse_spec,
    normalize_field_type,
)
from orgsim.schema_standard import _AUDIT, _CUSTOM_OBJECT_BASE, _STANDARD_OBJECTS

__all__ = [
    "BOTH",
    "FIELD_TYPES",
    "NUMBER_TYPES",
    "REST",
    "REST_ONLY",
    "TEXT_TYPES",
    "TOOLING",
    "TOOLING_ONLY",
    "_APEX_TYPES",
    "_AUDIT",
    "_CUSTOM_OBJECT_BASE",
    "_METADATA_TYPE_TO_API",
    "_STANDARD_OBJECTS",
    "FieldDef",
    "ObjectDef",
    "Schema",
    "SchemaError",
    "_id_field",
    "_parse_spec",
    "normalize_field_type",
]

log = logging.getLogger("orgsim.schema")


# Salesforce's own names for child relationships whose name is not simply the child's plural.
_CHILD_RELATIONSHIP_NAMES = {
    ("PermissionSetAssignment", "PermissionSetId"): "Assignments",
    ("PermissionSetAssignment", "AssigneeId"): "PermissionSetAssignments",
    ("PermissionSetAssignment", "PermissionSetGroupId"): "Assignments",
    ("ApexTestQueueItem", "ParentJobId"): "ApexTestQueueItems",
    ("AsyncApexJob", "ParentJobId"): "ChildJobs",
}
_NO_CHILD_RELATIONSHIP = frozenset({"CreatedById", "LastModifiedById", "OwnerId"})


def _plural(name: str) -> str:
    if name.endswith("y") and not name.endswith(("ay", "ey", "oy", "uy")):
        return name[:-1] + "ies"
    if name.endswith(("s", "x", "ch", "sh")):
        return name + "es"
    return name + "s"


def _default_child_name(child: ObjectDef, fk: FieldDef) -> str:
    if fk.custom or child.custom:
        return _plural(child.name.removesuffix("__c")) + "__r"
    return _plural(child.name)


def _guess_type(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "double"
    if isinstance(value, str):
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return "date"
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?", value):
            return "datetime"
        return "textarea" if len(value) > 255 else "string"
    return "textarea"


def _valid_api_name(name: str) -> bool:
    if not name or not (name[0].isascii() and name[0].isalpha()):
        return False
    return all(ch.isascii() and (ch.isalnum() or ch == "_") for ch in name) and "___" not in name


class Schema:
    """The sobjects of one org. Thread-safe for concurrent readers and a deploying writer."""

    def __init__(self, *, dev_hub: bool = False) -> None:
        self._lock = threading.RLock()
        self._objects: dict[str, ObjectDef] = {}
        self._next_custom_prefix = 0
        for name, prefix, apis, specs in _STANDARD_OBJECTS:
            obj = ObjectDef(name=name, key_prefix=prefix, apis=apis, label=name)
            obj.add_field(_id_field())
            for spec in specs:
                obj.add_field(_parse_spec(spec))
            self._objects[name.lower()] = obj
        if dev_hub:
            # Only a Dev Hub org exposes ScratchOrgInfo; the CLI probes it to classify orgs.
            obj = ObjectDef(name="ScratchOrgInfo", key_prefix="2SR", apis=REST_ONLY, label="ScratchOrgInfo")
            obj.add_field(_id_field())
            for spec in ("ScratchOrg:string", "SignupUsername:string", "ExpirationDate:date", "Status:picklist"):
                obj.add_field(_parse_spec(spec))
            self._objects["scratchorginfo"] = obj

    # --- look-ups ------------------------------------------------------------------------------------------
    def get_object(self, name: str, api: str | None = None) -> ObjectDef | None:
        """The object called `name` (any casing), or None if unknown or not visible in `api` ("rest"/"tooling")."""
        with self._lock:
            obj = self._objects.get(name.lower())
        if obj is None or (api is not None and api not in obj.apis):
            return None
        return obj

    def has_object(self, name: str, api: str | None = None) -> bool:
        return self.get_object(name, api) is not None

    def canonical_name(self, name: str) -> str | None:
        obj = self.get_object(name)
        return obj.name if obj else None

    def object_names(self, api: str | None = None) -> list[str]:
        with self._lock:
            objs = list(self._objects.values())
        return sorted(o.name for o in objs if api is None or api in o.apis)

    def fields(self, sobject: str) -> list[FieldDef]:
        """All fields of `sobject` in declaration order (Id first). Unknown object → KeyError."""
        obj = self.get_object(sobject)
        if obj is None:
            raise KeyError(sobject)
        with self._lock:
            return list(obj.fields.values())

    def field(self, sobject: str, field_name: str) -> FieldDef | None:
        obj = self.get_object(sobject)
        return obj.field(field_name) if obj else None

    def relationship(self, sobject: str, name: str) -> tuple[str, str] | None:
        """(foreign-key field, first target sobject) of relationship `name` on `sobject`, e.g.
        `relationship("CronTrigger", "cronjobdetail") == ("CronJobDetailId", "CronJobDetail")`."""
        obj = self.get_object(sobject)
        fk = obj.relationship(name) if obj else None
        if fk is None or not fk.reference_to:
            return None
        return fk.name, fk.reference_to[0]

    def relationship_field(self, sobject: str, name: str) -> FieldDef | None:
        obj = self.get_object(sobject)
        return obj.relationship(name) if obj else None

    def child_relationships(self, sobject: str) -> dict[str, tuple[str, str, str]]:
        """Child relationships of `sobject` for subqueries: lower-case name → (name, child sobject, foreign-key
        field), e.g. `child_relationships("PermissionSet")["assignments"] ==
        ("Assignments", "PermissionSetAssignment", "PermissionSetId")`.

        Names follow Salesforce where orgsim knows them (`_CHILD_RELATIONSHIP_NAMES`); otherwise the child's
        plural (`CronTriggers`), and for custom lookups `<Child without __c>s__r`. Audit and owner lookups
        (CreatedBy, LastModifiedBy, Owner) give no child relationship, so User is not swamped by them.
        """
        target = self.get_object(sobject)
        if target is None:
            return {}
        with self._lock:
            objects = list(self._objects.values())
        found: dict[str, tuple[str, str, str]] = {}
        for child in objects:
            for f in child.fields.values():
                if f.type != "reference" or f.name in _NO_CHILD_RELATIONSHIP:
                    continue
                if target.name.lower() not in (t.lower() for t in f.reference_to):
                    continue
                name = _CHILD_RELATIONSHIP_NAMES.get((child.name, f.name)) or _default_child_name(child, f)
                found.setdefault(name.lower(), (name, child.name, f.name))
        return found

    def key_prefix(self, sobject: str) -> str | None:
        obj = self.get_object(sobject)
        return obj.key_prefix if obj else None

    def object_for_id(self, record_id: str) -> str | None:
        """The sobject whose key prefix starts `record_id`, if any."""
        prefix = record_id[:3]
        with self._lock:
            for obj in self._objects.values():
                if obj.key_prefix == prefix:
                    return obj.name
        return None

    # --- changes from deployed metadata ---------------------------------------------------------------------
    def add_custom_object(
        self,
        name: str,
        fields: Mapping[str, str] | None = None,
        *,
        label: str | None = None,
        strict: bool = False,
    ) -> ObjectDef:
        """Register (or extend) custom object `name` (must end in `__c`) with `fields`: API name → type.

        Types: describe names (`string`, `double`, `boolean`, `datetime`, ...) or metadata names (`Text`,
        `Number`, `Checkbox`, `DateTime`, `LongTextArea`, ...); references as `Lookup:Target`,
        `MasterDetail:Target` or `reference:Target`. The standard fields (Id, Name, OwnerId, CreatedDate,
        CreatedById, LastModifiedDate, LastModifiedById, SystemModstamp, IsDeleted) are always present.
        Registering an existing object again adds or retypes the given fields and keeps the others.
        A field whose name or type is not understood is skipped with a warning (one odd field must not hide
        the whole object from SOQL), or raises SchemaError with `strict=True`. A bad object name always raises.
        """
        if not name.lower().endswith("__c") or not _valid_api_name(name):
            raise SchemaError(f"invalid custom object name {name!r}: expected an API name ending in '__c'")
        if strict:
            for field_name, field_type in (fields or {}).items():
                self._check_field(field_name, field_type)
        with self._lock:
            obj = self._objects.get(name.lower())
            if obj is None:
                obj = ObjectDef(
                    name=name,
                    key_prefix=self._allocate_custom_prefix(),
                    apis=REST_ONLY,
                    custom=True,
                    label=label or name.removesuffix("__c").replace("_", " "),
                )
                obj.add_field(_id_field())
                for spec in _CUSTOM_OBJECT_BASE:
                    obj.add_field(_parse_spec(spec))
                self._objects[name.lower()] = obj
            elif not obj.custom:
                raise SchemaError(f"{obj.name} is a standard object")
            for field_name, field_type in (fields or {}).items():
                try:
                    self._add_field(obj, field_name, field_type)
                except SchemaError as error:
                    if strict:
                        raise
                    log.warning("custom field skipped: %s", error)
            return obj

    def add_custom_field(self, sobject: str, field_name: str, field_type: str) -> FieldDef:
        """Add a custom field (`X__c`) to any object, standard or custom."""
        with self._lock:
            obj = self._objects.get(sobject.lower())
            if obj is None:
                raise SchemaError(f"unknown object {sobject!r}")
            return self._add_field(obj, field_name, field_type)

    def remove_custom_object(self, name: str) -> bool:
        with self._lock:
            obj = self._objects.get(name.lower())
            if obj is None or not obj.custom:
                return False
            del self._objects[name.lower()]
            return True

    def remove_custom_field(self, sobject: str, field_name: str) -> bool:
        with self._lock:
            obj = self._objects.get(sobject.lower())
            f = obj.field(field_name) if obj else None
            if obj is None or f is None or not f.custom:
                return False
            obj.remove_field(field_name)
            return True

    def register_from_records(self, sobject: str, records: Iterable[Mapping[str, Any]]) -> None:
        """Learn custom objects and custom fields that only seeded records mention (no deployed metadata).

        Types are guessed from the values: booleans, numbers, `YYYY-MM-DD` dates, datetimes, else text.
        Standard fields that are not in the schema are ignored: they are not real API fields.
        """
        records = list(records)
        custom_fields: dict[str, str] = {}
        for record in records:
            for key, value in record.items():
                if key.lower().endswith("__c") and _valid_api_name(key):
                    guessed = _guess_type(value)
                    if guessed is not None or key not in custom_fields:
                        custom_fields[key] = guessed or custom_fields.get(key) or "string"
        with self._lock:
            obj = self._objects.get(sobject.lower())
            if obj is None:
                if not (sobject.lower().endswith("__c") and _valid_api_name(sobject)):
                    return
                obj = self.add_custom_object(sobject)
            for name, ftype in custom_fields.items():
                if obj.field(name) is None:
                    self._add_field(obj, name, ftype)

    def _check_field(self, field_name: str, field_type: str) -> None:
        if not field_name.lower().endswith("__c") or not _valid_api_name(field_name):
            raise SchemaError(f"invalid custom field name {field_name!r}: expected a name ending in '__c'")
        normalize_field_type(field_type)

    def _add_field(self, obj: ObjectDef, field_name: str, field_type: str) -> FieldDef:
        existing = obj.field(field_name)
        if existing is not None and not existing.custom:
            # Deployed definitions of standard fields (e.g. Name as AutoNumber) do not change the API shape.
            return existing
        if not field_name.lower().endswith("__c") or not _valid_api_name(field_name):
            raise SchemaError(f"invalid custom field name {obj.name}.{field_name}: expected a name ending in '__c'")
        api_type, targets = normalize_field_type(field_type)
        f = FieldDef(
            name=field_name,
            type=api_type,
            reference_to=targets,
            relationship_name=field_name[:-3] + "__r" if api_type == "reference" else None,
            custom=True,
            createable=True,
            updateable=True,
            label=field_name.removesuffix("__c").replace("_", " "),
        )
        obj.add_field(f)
        return f

    def _allocate_custom_prefix(self) -> str:
        # Custom objects get a00..a0Z, a10..: unique per org, never clashing with the standard prefixes above.
        alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        n = self._next_custom_prefix
        self._next_custom_prefix += 1
        return "a" + alphabet[(n // len(alphabet)) % len(alphabet)] + alphabet[n % len(alphabet)]

    # --- describe -------------------------------------------------------------------------------------------
    def describe(self, sobject: str) -> dict:
        """A minimal describe result (`GET /sobjects/X/describe`) for `sobject`. Unknown object → KeyError."""
        obj = self.get_object(sobject)
        if obj is None:
            raise KeyError(sobject)
        return {
            "name": obj.name,
            "label": obj.label or obj.name,
            "custom": obj.custom,
            "keyPrefix": obj.key_prefix,
            "queryable": True,
            "createable": obj.custom,
            "updateable": obj.custom,
            "deletable": obj.custom,
            "fields": [
                {
                    "name": f.name,
                    "label": f.label or f.name,
                    "type": f.type,
                    "custom": f.custom,
                    "nillable": f.nillable,
                    "createable": f.createable,
                    "updateable": f.updateable,
                    "referenceTo": list(f.reference_to),
                    "relationshipName": f.relationship_name,
                }
                for f in self.fields(obj.name)
            ],
        }
