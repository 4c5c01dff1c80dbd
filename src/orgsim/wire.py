"""Request/response types and Salesforce-shaped errors shared by orgsim's handlers.

Handlers take a `Request` and return a `Response` or raise `SalesforceApiError` / `SoapFault`; the server turns
those into Salesforce's wire shapes (a JSON error list, or a SOAP fault), never a stack trace.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

if TYPE_CHECKING:
    from orgsim.org import Org

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TOKEN_PATTERN = re.compile(r"00D\w{12,15}![.\w]*")


def redact_tokens(text: str) -> str:
    """Hide anything shaped like a Salesforce access token (`00D...!...`)."""
    return TOKEN_PATTERN.sub(lambda match: match.group(0)[:15] + "!***", text)


class SalesforceApiError(Exception):
    """Rendered as HTTP `status` with Salesforce's `[{"message": ..., "errorCode": ...}]` body."""

    def __init__(self, status: int, error_code: str, message: str, *, fields: list[str] | None = None) -> None:
        super().__init__(f"{error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict[str, Any]]:
        entry: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            entry["fields"] = self.fields
        return [entry]


class SoapFault(Exception):
    """Rendered as HTTP 500 with a SOAP fault `sf:<code>`, as Salesforce's SOAP APIs answer errors."""

    def __init__(self, code: str, message: str, *, status: int = 500) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def not_found(message: str = "The requested resource does not exist") -> SalesforceApiError:
    return SalesforceApiError(404, "NOT_FOUND", message)


@dataclass
class Request:
    method: str
    path: str  # slashes collapsed, no query string
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    org: Org
    params: dict[str, str] = field(default_factory=dict)  # named groups of the matched route
    operation: str = ""

    @classmethod
    def parse_query(cls, raw: str) -> dict[str, list[str]]:
        return parse_qs(raw, keep_blank_values=True)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        if not self.body:
            raise SalesforceApiError(400, "JSON_PARSER_ERROR", "The request body is empty")
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError, RecursionError) as error:  # RecursionError: absurdly deep nesting
            raise SalesforceApiError(
                400, "JSON_PARSER_ERROR", f"Unexpected character in the request body: {error}"
            ) from None

    @property
    def api_version(self) -> str:
        return self.params.get("version") or self.org.api_version


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json;charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)
    drop_connection: bool = False  # close the socket without answering (fault injection)


def json_response(data: Any, status: int = 200) -> Response:
    return Response(status=status, body=json.dumps(data).encode("utf-8"))


def error_response(error: SalesforceApiError) -> Response:
    return json_response(error.body(), error.status)


def soap_fault_body(code: str, message: str, *, namespace: str = "urn:fault.partner.soap.sforce.com") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:sf="{namespace}">'
        "<soapenv:Body><soapenv:Fault>"
        f"<faultcode>sf:{escape(code)}</faultcode><faultstring>{escape(code)}: {escape(message)}</faultstring>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    ).encode()


def soap_fault_response(fault: SoapFault) -> Response:
    return Response(
        status=fault.status, body=soap_fault_body(fault.code, fault.message), content_type="text/xml;charset=UTF-8"
    )
