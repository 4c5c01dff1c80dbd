"""SOAP envelopes for the Metadata API: parse requests safely, write responses and faults the way Salesforce does.

jsforce (inside sf) finds the reply with `/:Envelope$/ → /:Body$/ → first child`, so the envelope and body must carry
a prefix; it reads faults from `faultcode` / `faultstring`, and treats `sf:INVALID_SESSION_ID` specially.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
MD_NS = "http://soap.sforce.com/2006/04/metadata"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

# Deploy zips travel base64-encoded inside the envelope; 400 MB of XML is far above the 39 MB zip limit Salesforce has.
MAX_ENVELOPE_BYTES = 400 * 1024 * 1024


class _Nil:
    """Marks a value Salesforce sends as `<name xsi:nil="true"/>` (jsforce turns it into null)."""

    def __repr__(self) -> str:
        return "NIL"


NIL = _Nil()


class SoapFault(Exception):
    """An error the Metadata API reports as a SOAP fault (HTTP 500)."""

    def __init__(self, code: str, message: str, *, status: int = 500, client: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        # Envelope-level problems are the client's fault in SOAP terms; API errors use the sf: code.
        self.client = client


@dataclass
class SoapRequest:
    operation: str
    body: ET.Element
    session_id: str | None
    headers: dict[str, str] = field(default_factory=dict)


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if "}" in tag else tag.split(":")[-1]


def parse_envelope(raw: bytes) -> SoapRequest:
    """Parse a SOAP request; every problem becomes a SoapFault, never an exception of another kind."""
    if len(raw) > MAX_ENVELOPE_BYTES:
        raise SoapFault("sf:EXCEEDED_MAX_SIZE_REQUEST", "The request exceeds the maximum size allowed", client=True)
    head = raw[:4096].lower()
    # No DTDs at all: this rules out entity-expansion and external-entity tricks before the parser sees them.
    if b"<!doctype" in head or b"<!entity" in raw.lower():
        raise SoapFault("soapenv:Client", "Document type declarations are not allowed", client=True)
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as error:
        raise SoapFault("soapenv:Client", f"Unable to parse the SOAP message: {error}", client=True) from None
    if local(root.tag) != "Envelope":
        raise SoapFault("soapenv:Client", "Expected a SOAP Envelope as the document element", client=True)
    body = next((child for child in root if local(child.tag) == "Body"), None)
    if body is None:
        raise SoapFault("soapenv:Client", "The SOAP Envelope has no Body", client=True)
    operation_element = next(iter(body), None)
    if operation_element is None:
        raise SoapFault("soapenv:Client", "The SOAP Body is empty", client=True)
    session_id = None
    header = next((child for child in root if local(child.tag) == "Header"), None)
    if header is not None:
        for element in header.iter():
            if local(element.tag) == "sessionId":
                session_id = (element.text or "").strip()
                break
    return SoapRequest(operation=local(operation_element.tag), body=operation_element, session_id=session_id)


def child(element: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in element if local(c.tag) == name), None)


def children(element: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in element if local(c.tag) == name]


def text(element: ET.Element, name: str, default: str | None = None) -> str | None:
    found = child(element, name)
    if found is None:
        return default
    if found.get(f"{{{XSI}}}nil") == "true":
        return default
    return (found.text or "").strip()


def texts(element: ET.Element, name: str) -> list[str]:
    return [(c.text or "").strip() for c in children(element, name) if (c.text or "").strip()]


def boolean(element: ET.Element, name: str, default: bool = False) -> bool:
    value = text(element, name)
    if value is None or value == "":
        return default
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise SoapFault("sf:INVALID_CROSS_REFERENCE_KEY", f"'{value}' is not a valid value for the type xsd:boolean")


def to_xml(name: str, value: Any) -> str:
    """Serialise dicts (elements), lists (repeated elements), bools, numbers and strings; None is left out."""
    if value is None:
        return ""
    if value is NIL:
        return f'<{name} xsi:nil="true"/>'
    if isinstance(value, list | tuple):
        return "".join(to_xml(name, item) for item in value)
    if isinstance(value, Mapping):
        inner = "".join(to_xml(k, v) for k, v in value.items())
        return f"<{name}>{inner}</{name}>"
    if isinstance(value, bool):
        rendered = "true" if value else "false"
    elif isinstance(value, float):
        rendered = repr(value) if value != int(value) else f"{value:.1f}"
    else:
        rendered = str(value)
    return f"<{name}>{escape(rendered)}</{name}>"


_ENVELOPE_OPEN = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns="{MD_NS}" xmlns:xsi="{XSI}">'
    "<soapenv:Body>"
)
_ENVELOPE_CLOSE = "</soapenv:Body></soapenv:Envelope>"


def response(operation: str, result: Any) -> bytes:
    """`<operationResponse><result>...</result></operationResponse>`; a list result repeats `result`."""
    return (
        _ENVELOPE_OPEN
        + f"<{operation}Response>"
        + to_xml("result", result)
        + f"</{operation}Response>"
        + _ENVELOPE_CLOSE
    ).encode()


_UNSAFE_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def fault(code: str, message: str) -> bytes:
    clean = _UNSAFE_TEXT.sub(" ", message)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:sf="{MD_NS}">'
        "<soapenv:Body><soapenv:Fault>"
        f"<faultcode>{escape(code)}</faultcode><faultstring>{escape(clean)}</faultstring>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    ).encode()
