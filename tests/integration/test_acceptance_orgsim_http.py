"""Acceptance (issue 3): over a real socket, malformed SOAP, unknown endpoints and bad SOQL get Salesforce-shaped
errors (status, content type, body), never a traceback, and the server keeps serving."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

pytestmark = pytest.mark.integration

V = "/services/data/v62.0"
SOAP = (
    '<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:met="http://soap.sforce.com/2006/04/metadata"><env:Header><met:SessionHeader>'
    "<met:sessionId>{token}</met:sessionId></met:SessionHeader></env:Header>"
    "<env:Body><met:{operation}>{inner}</met:{operation}></env:Body></env:Envelope>"
)


def _call(url: str, token: str, method: str = "GET", body: bytes | None = None, content_type: str = "") -> Any:
    request = urllib.request.Request(url, data=body, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if content_type:
        request.add_header("Content-Type", content_type)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy
    try:
        with opener.open(request, timeout=30) as answer:
            return answer.status, answer.headers.get("Content-Type", ""), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


def test_salesforce_shaped_errors_over_the_wire(orgsim_factory: Any) -> None:
    server = orgsim_factory("production", name="http")
    soap_url = f"{server.url}/services/Soap/m/62.0"
    for body in (b"<notxml", b"<Envelope/>", b"\xff\xfe garbage"):  # no session can be read from these
        status, content_type, payload = _call(soap_url, server.token, "POST", body, "text/xml; charset=utf-8")
        assert status == 500 and "xml" in content_type, (status, content_type)
        assert b"<soapenv:Fault><faultcode>" in payload and b"Traceback" not in payload
    for operation, inner, fault in (
        ("dropEverything", "", b"soapenv:Client"),
        ("deploy", "<ZipFile>!!!not base64!!!</ZipFile>", b"sf:INVALID_ZIP"),
    ):
        envelope = SOAP.format(token=server.token, operation=operation, inner=inner).encode()
        status, content_type, payload = _call(soap_url, server.token, "POST", envelope, "text/xml; charset=utf-8")
        assert status == 500 and "xml" in content_type, (status, content_type)
        assert b"<faultcode>" + fault + b"</faultcode>" in payload and b"Traceback" not in payload, payload

    status, content_type, payload = _call(f"{server.url}{V}/no/such/thing", server.token)
    assert status == 404 and "json" in content_type
    assert json.loads(payload)[0]["errorCode"] == "NOT_FOUND"

    for soql, code in (("SELECT Id FROM", "MALFORMED_QUERY"), ("SELECT Id FROM NoSuchThing__c", "INVALID_TYPE")):
        query = urllib.parse.urlencode({"q": soql})
        status, content_type, payload = _call(f"{server.url}{V}/query?{query}", server.token)
        assert status == 400 and "json" in content_type, (soql, status)
        [error] = json.loads(payload)
        assert error["errorCode"] == code and error["message"] and "Traceback" not in error["message"]

    status, _, payload = _call(f"{server.url}{V}/limits", "00D000000000000!wrong")
    assert status == 401 and json.loads(payload)[0]["errorCode"] == "INVALID_SESSION_ID"

    status, _, payload = _call(f"{server.url}{V}/limits", server.token)  # still serving
    assert status == 200 and "DailyApiRequests" in json.loads(payload)
