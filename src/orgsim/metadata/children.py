"""Child components that travel inside their parent's file in metadata format (fields, list views, record types...
inside `objects/X.object`; labels inside `labels/CustomLabels.labels`; workflow rules inside `workflows/X.workflow`).

Salesforce treats them as components of their own: a deploy upserts the children it names and keeps the ones it does
not mention, a destructive change removes one child, and a retrieve of `CustomField: X.F` returns `objects/X.object`
holding only that field. orgsim stores the parent file and edits its child elements here.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from orgsim.metadata import types as mdtypes
from orgsim.metadata.xml import local

MD_NS = "http://soap.sforce.com/2006/04/metadata"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


@dataclass(frozen=True)
class ChildRef:
    type: str  # CustomField
    parent_type: str  # CustomObject
    parent: str  # Account
    name: str  # Account.Rating__c (the child's fullName as package.xml spells it)
    element: str  # fields
    key: str  # Rating__c (the value of the child's id element)


def child_ref(type_name: str, member: str) -> ChildRef | None:
    """The child component `member` of child type `type_name`, split into parent and key."""
    kind = mdtypes.child(type_name)
    if kind is None:
        return None
    parent, _, key = member.partition(".")
    if kind.parent == "CustomLabels":
        # CustomLabel members are the label names; they all live in labels/CustomLabels.labels
        parent, key = "CustomLabels", member
    if not parent or not key:
        return None
    return ChildRef(type_name, kind.parent, parent, member, kind.element, key)


def parse(content: bytes) -> ET.Element | None:
    try:
        return ET.fromstring(content)
    except ET.ParseError:
        return None


def _id_of(element: ET.Element, id_element: str) -> str | None:
    for part in element:
        if local(part.tag) == id_element:
            return (part.text or "").strip()
    return None


def _kinds_by_element(parent_type: str) -> dict[str, mdtypes.ChildType]:
    metadata_type = mdtypes.get(parent_type)
    return {kid.element: kid for kid in metadata_type.children} if metadata_type else {}


def children_of(parent_type: str, parent: str, content: bytes) -> list[ChildRef]:
    """Every child component in a parent file, in file order."""
    root = parse(content)
    if root is None:
        return []
    kinds = _kinds_by_element(parent_type)
    found = []
    for element in root:
        kind = kinds.get(local(element.tag))
        if kind is None:
            continue
        key = _id_of(element, kind.id_element)
        if not key:
            continue
        name = key if parent_type == "CustomLabels" else f"{parent}.{key}"
        found.append(ChildRef(kind.name, parent_type, parent, name, kind.element, key))
    return found


def has_child(content: bytes, ref: ChildRef) -> bool:
    return any(c.type == ref.type and c.key == ref.key for c in children_of(ref.parent_type, ref.parent, content))


def _find(root: ET.Element, parent_type: str, element: str, key: str) -> ET.Element | None:
    kind = _kinds_by_element(parent_type).get(element)
    if kind is None:
        return None
    for candidate in root:
        if local(candidate.tag) == element and _id_of(candidate, kind.id_element) == key:
            return candidate
    return None


def _insert(root: ET.Element, new: ET.Element) -> None:
    """Put `new` after the last sibling with its tag, else before the first sibling whose tag sorts after it
    (Salesforce writes metadata elements in alphabetical order)."""
    tag = local(new.tag)
    position = None
    for index, existing in enumerate(root):
        if local(existing.tag) == tag:
            position = index + 1
    if position is None:
        position = next((i for i, existing in enumerate(root) if local(existing.tag) > tag), len(root))
    root.insert(position, new)


def _serialise(root: ET.Element) -> bytes:
    ET.register_namespace("", MD_NS)
    for element in root.iter():  # re-indent from scratch: the merged elements come from different files
        if len(element):
            element.text = None
        element.tail = None
    ET.indent(root, space="    ")
    return XML_DECLARATION + ET.tostring(root, encoding="unicode").encode() + b"\n"


def empty_parent(parent_type: str) -> bytes:
    return XML_DECLARATION + f'<{parent_type} xmlns="{MD_NS}">\n</{parent_type}>\n'.encode()


def merge(existing: bytes | None, new: bytes, parent_type: str, *, whole: bool, names: set[tuple[str, str]]) -> bytes:
    """The parent file after a deploy.

    whole: the parent itself is deployed, so its own elements come from `new`; children the org has and `new` lacks
    are kept (a deploy never deletes a child). Otherwise only the children in `names` ((element, key) pairs) are
    upserted into what the org has (an empty parent when it has nothing).
    """
    if existing is None and whole:
        return new
    new_root = parse(new)
    old_root = parse(existing) if existing is not None else None
    if new_root is None:
        return new if whole else (existing or empty_parent(parent_type))
    if whole:
        if old_root is None:
            return new
        kept = [
            c
            for c in children_of(parent_type, "", existing or b"")
            if _find(new_root, parent_type, c.element, c.key) is None
        ]
        if not kept:
            return new  # nothing to add: keep the deployed bytes exactly
        for ref in kept:
            element = _find(old_root, parent_type, ref.element, ref.key)
            if element is not None:
                _insert(new_root, element)
        return _serialise(new_root)
    root = old_root if old_root is not None else parse(empty_parent(parent_type))
    assert root is not None
    for element_name, key in sorted(names):
        incoming = _find(new_root, parent_type, element_name, key)
        if incoming is None:
            continue
        current = _find(root, parent_type, element_name, key)
        if current is not None:
            index = list(root).index(current)
            root.remove(current)
            root.insert(index, incoming)
        else:
            _insert(root, incoming)
    return _serialise(root)


def is_empty(content: bytes) -> bool:
    root = parse(content)
    return root is not None and len(root) == 0


def remove(content: bytes, ref: ChildRef) -> bytes | None:
    """The parent file without child `ref` (None when the file does not hold it)."""
    root = parse(content)
    if root is None:
        return None
    element = _find(root, ref.parent_type, ref.element, ref.key)
    if element is None:
        return None
    root.remove(element)
    return _serialise(root)


def only(content: bytes, parent_type: str, wanted: set[tuple[str, str]]) -> bytes:
    """The parent file holding only the children in `wanted` ((element, key) pairs), as a retrieve of explicit
    child members returns it."""
    root = parse(content)
    if root is None:
        return content
    kinds = _kinds_by_element(parent_type)
    for element in list(root):
        kind = kinds.get(local(element.tag))
        if kind is None or (kind.element, _id_of(element, kind.id_element) or "") not in wanted:
            root.remove(element)
    return _serialise(root)
