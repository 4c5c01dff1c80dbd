"""Schema building blocks: API visibility, describe field types, `FieldDef`, `ObjectDef`, and parsing field
specs and field type names (`normalize_field_type`, `SchemaError`)."""

from __future__ import annotations

from dataclasses import dataclass, field

REST = "rest"
TOOLING = "tooling"
BOTH = frozenset({REST, TOOLING})
REST_ONLY = frozenset({REST})
TOOLING_ONLY = frozenset({TOOLING})

# Describe-API type names we know. Anything that does not map onto one of these is rejected when registering.
FIELD_TYPES = frozenset(
    {
        "id",
        "string",
        "boolean",
        "int",
        "long",
        "double",
        "currency",
        "percent",
        "date",
        "datetime",
        "time",
        "reference",
        "picklist",
        "multipicklist",
        "textarea",
        "email",
        "phone",
        "url",
        "encryptedstring",
        "base64",
        "anyType",
        "complexvalue",
    }
)
TEXT_TYPES = frozenset(
    {"id", "string", "reference", "picklist", "multipicklist", "textarea", "email", "phone", "url", "encryptedstring"}
)
NUMBER_TYPES = frozenset({"int", "long", "double", "currency", "percent"})

# Metadata API `<type>` of a CustomField → describe type. Formula fields and roll-ups report their return type;
# deployers pass that instead of "Formula".
_METADATA_TYPE_TO_API = {
    "text": "string",
    "autonumber": "string",
    "textarea": "textarea",
    "longtextarea": "textarea",
    "html": "textarea",
    "richtextarea": "textarea",
    "number": "double",
    "currency": "currency",
    "percent": "percent",
    "checkbox": "boolean",
    "date": "date",
    "datetime": "datetime",
    "time": "time",
    "picklist": "picklist",
    "multiselectpicklist": "multipicklist",
    "email": "email",
    "phone": "phone",
    "url": "url",
    "encryptedtext": "encryptedstring",
    "lookup": "reference",
    "masterdetail": "reference",
    "externallookup": "reference",
    "hierarchy": "reference",
    "summary": "double",
    "location": "complexvalue",
    "metadatarelationship": "string",
    "file": "base64",
}

_APEX_TYPES = {
    "id": "Id",
    "reference": "Id",
    "boolean": "Boolean",
    "int": "Integer",
    "long": "Long",
    "double": "Double",
    "currency": "Double",
    "percent": "Double",
    "date": "Date",
    "datetime": "Datetime",
    "time": "Time",
    "base64": "Blob",
    "anyType": "Object",
    "complexvalue": "Object",
}


@dataclass(frozen=True)
class FieldDef:
    """One field of an sobject. `reference_to` lists the target objects of a reference (several: polymorphic)."""

    name: str
    type: str
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    custom: bool = False
    createable: bool = False
    updateable: bool = False
    nillable: bool = True
    label: str = ""

    @property
    def apex_type(self) -> str:
        return _APEX_TYPES.get(self.type, "String")

    @property
    def is_text(self) -> bool:
        return self.type in TEXT_TYPES

    @property
    def is_number(self) -> bool:
        return self.type in NUMBER_TYPES


@dataclass
class ObjectDef:
    """One sobject: canonical name, key prefix, which APIs expose it, and its fields (keyed by lower-case name)."""

    name: str
    key_prefix: str | None
    apis: frozenset[str]
    custom: bool = False
    label: str = ""
    fields: dict[str, FieldDef] = field(default_factory=dict)
    # lower-case relationship name → field that carries the foreign key
    relationships: dict[str, FieldDef] = field(default_factory=dict)

    def add_field(self, f: FieldDef) -> None:
        self.fields[f.name.lower()] = f
        if f.relationship_name:
            self.relationships[f.relationship_name.lower()] = f

    def remove_field(self, name: str) -> FieldDef | None:
        f = self.fields.pop(name.lower(), None)
        if f is not None and f.relationship_name:
            self.relationships.pop(f.relationship_name.lower(), None)
        return f

    def field(self, name: str) -> FieldDef | None:
        return self.fields.get(name.lower())

    def relationship(self, name: str) -> FieldDef | None:
        return self.relationships.get(name.lower())


class SchemaError(ValueError):
    """A custom object or field definition that cannot be registered (bad name or type)."""


def normalize_field_type(field_type: str) -> tuple[str, tuple[str, ...]]:
    """Map a describe or metadata type name (optionally `Lookup:Target`) to (describe type, reference targets)."""
    raw = field_type.strip()
    base, sep, target = raw.partition(":")
    if not sep:
        base, sep, target = raw.partition(">")
    key = base.strip()
    targets = tuple(t.strip() for t in target.split("|") if t.strip()) if sep else ()
    if key in FIELD_TYPES:
        api_type = key
    elif key.lower() in {t.lower() for t in FIELD_TYPES}:
        api_type = next(t for t in FIELD_TYPES if t.lower() == key.lower())
    elif key.lower() in _METADATA_TYPE_TO_API:
        api_type = _METADATA_TYPE_TO_API[key.lower()]
    else:
        raise SchemaError(f"unknown field type {field_type!r}")
    if api_type == "reference" and not targets:
        raise SchemaError(f"reference field type {field_type!r} needs a target object, e.g. 'Lookup:Account'")
    return api_type, targets


def _parse_spec(spec: str) -> FieldDef:
    writable = spec.endswith("!")
    spec = spec.rstrip("!")
    name, _, ftype = spec.partition(":")
    targets: tuple[str, ...] = ()
    relationship = None
    if ftype.startswith("reference>"):
        targets = tuple(ftype.removeprefix("reference>").split("|"))
        ftype = "reference"
        relationship = name[:-2] if name.endswith("Id") else None
    return FieldDef(
        name=name,
        type=ftype,
        reference_to=targets,
        relationship_name=relationship,
        createable=writable,
        updateable=writable,
        nillable=True,
        label=name,
    )


def _id_field() -> FieldDef:
    return FieldDef(name="Id", type="id", nillable=False, label="Id")
