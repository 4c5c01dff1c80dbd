"""Child components that travel inside their parent's file in metadata format (fields, list views, record types...
inside `objects/X.object`; labels inside `labels/CustomLabels.labels`; workflow rules inside `workflows/X.workflow`).

Salesforce treats them as components of their own: a deploy upserts the children it names and keeps the ones it does
not mention, a destructive change removes one child, and a retrieve of `CustomField: X.F` returns `objects/X.object`
holding only that field. orgsim stores the parent file and edits its child elements here.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.parsers import expat

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


@dataclass(frozen=True)
class _Span:
    """One element directly under the root, located in the file's bytes (edits keep every other byte as it is)."""

    tag: str
    lead: int  # where the whitespace before the element starts
    start: int
    end: int
    text: bytes

    def key(self, id_element: str = "fullName") -> str:
        element = parse(self.text)
        if element is None:
            return ""
        return _id_of(element, id_element) or _id_of(element, "name") or ""


def _spans(content: bytes) -> tuple[list[_Span], int] | None:
    """The root's child elements and the offset where the whitespace before the root's closing tag starts."""
    parser = expat.ParserCreate()
    spans: list[_Span] = []
    state = {"depth": 0, "start": 0, "tag": ""}

    def on_start(name: str, _attrs: object) -> None:
        state["depth"] += 1
        if state["depth"] == 2:
            state["start"], state["tag"] = parser.CurrentByteIndex, name.rsplit(":", 1)[-1]

    def on_end(_name: str) -> None:
        if state["depth"] == 2:
            index = parser.CurrentByteIndex
            begin = int(state["start"])
            end = content.index(b"/>", index) + 2 if index == begin else content.index(b">", index) + 1
            lead = begin
            while lead > 0 and content[lead - 1 : lead] in (b" ", b"\t", b"\n", b"\r"):
                lead -= 1
            spans.append(_Span(str(state["tag"]), lead, begin, end, content[begin:end]))
        state["depth"] -= 1

    parser.StartElementHandler = on_start
    parser.EndElementHandler = on_end
    try:
        parser.Parse(content, True)
    except expat.ExpatError:
        return None
    close = content.rindex(b"</") if b"</" in content else len(content)
    while close > 0 and content[close - 1 : close] in (b" ", b"\t", b"\n", b"\r"):
        close -= 1
    return spans, close


def _find_span(spans: list[_Span], parent_type: str, element: str, key: str) -> _Span | None:
    kind = _kinds_by_element(parent_type).get(element)
    if kind is None:
        return None
    return next((span for span in spans if span.tag == element and span.key(kind.id_element) == key), None)


def _insert_at(spans: list[_Span], close: int, tag: str, key: str) -> int:
    """Where a new child goes: among its siblings of the same tag in name order, else before the first element whose
    tag sorts after it (Salesforce writes elements in alphabetical order, children by name)."""
    position = None
    for span in spans:
        if span.tag == tag:
            if span.key() > key:
                return span.lead
            position = span.end
    if position is not None:
        return position
    return next((span.lead for span in spans if span.tag > tag), close)


def _with(content: bytes, segment: bytes, tag: str, key: str) -> bytes:
    found = _spans(content)
    if found is None:
        return content
    position = _insert_at(*found, tag, key)
    return content[:position] + segment + content[position:]


def _segment(content: bytes, span: _Span) -> bytes:
    """The element with the whitespace before it (one line's indent when it had none)."""
    return content[span.lead : span.end] if span.lead < span.start else b"\n    " + span.text


def empty_parent(parent_type: str) -> bytes:
    return XML_DECLARATION + f'<{parent_type} xmlns="{MD_NS}">\n</{parent_type}>\n'.encode()


def merge(existing: bytes | None, new: bytes, parent_type: str, *, whole: bool, names: set[tuple[str, str]]) -> bytes:
    """The parent file after a deploy, edited as text so that every byte not touched stays as it was.

    whole: the parent itself is deployed, so its own elements come from `new`; children the org has and `new` lacks
    are kept (a deploy never deletes a child). Otherwise only the children in `names` ((element, key) pairs) are
    upserted into what the org has (an empty parent when it has nothing).
    """
    if existing is None and whole:
        return new
    new_found = _spans(new)
    if new_found is None:
        return new if whole else (existing or empty_parent(parent_type))
    old_found = _spans(existing) if existing is not None else None
    if whole:
        if old_found is None or existing is None:
            return new
        result = new
        for ref in children_of(parent_type, "", existing):
            if _find_span(new_found[0], parent_type, ref.element, ref.key) is not None:
                continue
            span = _find_span(old_found[0], parent_type, ref.element, ref.key)
            if span is not None:
                result = _with(result, _segment(existing, span), ref.element, ref.key)
        return result
    result = existing if existing is not None and old_found is not None else empty_parent(parent_type)
    for element_name, key in sorted(names):
        incoming = _find_span(new_found[0], parent_type, element_name, key)
        if incoming is None:
            continue
        current_found = _spans(result)
        current = _find_span(current_found[0], parent_type, element_name, key) if current_found else None
        if current is not None:
            result = result[: current.start] + incoming.text + result[current.end :]
        else:
            result = _with(result, _segment(new, incoming), element_name, key)
    return result


def is_empty(content: bytes) -> bool:
    found = _spans(content)
    return found is not None and not found[0]


def remove(content: bytes, ref: ChildRef) -> bytes | None:
    """The parent file without child `ref` (None when the file does not hold it)."""
    found = _spans(content)
    span = _find_span(found[0], ref.parent_type, ref.element, ref.key) if found else None
    if span is None:
        return None
    return content[: span.lead] + content[span.end :]


def only(content: bytes, parent_type: str, wanted: set[tuple[str, str]]) -> bytes:
    """The parent file holding only the children in `wanted` ((element, key) pairs), as a retrieve of explicit
    child members returns it."""
    found = _spans(content)
    if found is None:
        return content
    kinds = _kinds_by_element(parent_type)
    result = content
    for span in reversed(found[0]):
        kind = kinds.get(span.tag)
        if kind is None or (kind.element, span.key(kind.id_element)) not in wanted:
            result = result[: span.lead] + result[span.end :]
    return result
