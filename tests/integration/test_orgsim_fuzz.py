"""Fuzz orgsim over HTTP on loopback: random methods, paths, headers and bodies never kill the server and never
leak a Python traceback; every answer is a valid one or a Salesforce-shaped error. Then the real sf CLI still
queries the org (rows, column metadata and SOQL errors end to end).

Bounded: ORGSIM_FUZZ_COUNT requests (default 1000) or ORGSIM_FUZZ_SECONDS (default 60), whichever ends first;
ORGSIM_FUZZ_SEED picks the sequence (default fixed, so a failure is reproducible). The `/__orgsim/*` control
endpoints are left out: they exist to inject faults and reset state on purpose.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import string
import time
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import pytest

from orgsim.testing import OrgsimServer, login, run_sf

FUZZ_COUNT = int(os.environ.get("ORGSIM_FUZZ_COUNT", "1000"))
FUZZ_SECONDS = float(os.environ.get("ORGSIM_FUZZ_SECONDS", "60"))
FUZZ_SEED = int(os.environ.get("ORGSIM_FUZZ_SEED", "20261127"))

RUNBOOK_JOBS_QUERY = (
    "SELECT Id, CronJobDetail.Name, State, NextFireTime FROM CronTrigger "
    "WHERE CronJobDetail.Name LIKE 'Elaro%' ORDER BY NextFireTime"
)
METHODS = ["GET", "GET", "GET", "POST", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "FROB"]
PREFIXES = [
    "/",
    "/services",
    "/services/data",
    "/services/data/v62.0",
    "/services/data/v51.0",
    "/services/data/v99.9",
    "/services/data/vX",
    "/services/data/v62.0/query",
    "/services/data/v62.0/queryAll",
    "/services/data/v62.0/query/01gdeadbeef-2000",
    "/services/data/v62.0/tooling/query",
    "/services/data/v62.0/limits",
    "/services/data/v62.0/sobjects",
    "/services/data/v62.0/sobjects/User",
    "/services/data/v62.0/sobjects/User/describe",
    "/services/data/v62.0/sobjects/Account/001000000000001AAA",
    "/services/data/v62.0/sobjects/Elaro_Audit_Log__c",
    "/services/data/v62.0/tooling/sobjects/ApexClass",
    "/services/data/v62.0/tooling/sobjects/SourceMember/describe",
    "/services/data/v62.0/tooling/runTestsAsynchronous",
    "/services/data/v62.0/tooling/executeAnonymous",
    "/services/data/v62.0/metadata/deployRequest",
    "/services/data/v62.0/metadata/deployRequest/0Af000000000001AAA",
    "/services/Soap/m/62.0",
    "/services/Soap/u/62.0",
    "/services/oauth2/userinfo",
    "/services/oauth2/token",
    "/cometd/62.0",
    "//services//data/v62.0//query",
]
SOQL_WORDS = [
    "SELECT", "Id", "Name", ",", "FROM", "CronTrigger", "User", "Organization", "ApexLog", "WHERE", "=", "'x'",
    "LIKE", "'Elaro%'", "AND", "OR", "(", ")", "ORDER BY", "LIMIT", "5", "TODAY", "COUNT()", "CronJobDetail.Name",
    "Governor_Limit_Snapshot__c", "Value__c", ">", "NULL", "IN", "'\\'", "\u00e9", "%", ":x", "2026-11-27T00:00:00Z",
]  # fmt: skip
CONTENT_TYPES = [
    None,
    "application/json",
    "text/xml; charset=utf-8",
    "multipart/form-data; boundary=xyz",
    "application/x-www-form-urlencoded",
    "text/plain",
    "application/octet-stream",
    "garbage/;;;",
]


@dataclass
class Answer:
    method: str
    path: str
    status: int
    content_type: str
    body: bytes

    def __str__(self) -> str:
        return f"{self.method} {self.path[:160]} -> {self.status} {self.content_type} {self.body[:300]!r}"


def _random_text(rnd: random.Random, max_len: int) -> str:
    alphabet = string.printable + "\u00e9\u4e2d\U0001f600\x00"
    return "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, max_len)))


def _random_soql(rnd: random.Random) -> str:
    if rnd.random() < 0.2:
        return _random_text(rnd, 60)
    return " ".join(rnd.choice(SOQL_WORDS) for _ in range(rnd.randint(1, 14)))


def _random_path(rnd: random.Random) -> str:
    path = rnd.choice(PREFIXES)
    for _ in range(rnd.choice([0, 0, 0, 1, 2])):
        segment = rnd.choice(["describe", "..", "%00", "%2e%2e", "x" * rnd.randint(1, 300), _random_text(rnd, 12)])
        path = path.rstrip("/") + "/" + urllib.parse.quote(segment, safe="%.")
    params: list[tuple[str, str]] = []
    if "query" in path or rnd.random() < 0.2:
        if rnd.random() < 0.85:
            params.append((rnd.choice(["q", "q", "query", "Q"]), _random_soql(rnd)))
        if rnd.random() < 0.3:
            params.append(("columns", rnd.choice(["true", "false", "TRUE", ""])))
    if rnd.random() < 0.1:
        params.append((_random_text(rnd, 5), _random_text(rnd, 20)))
    if params:
        path += "?" + urllib.parse.urlencode(params)
    return path


def _random_json(rnd: random.Random, depth: int = 0) -> object:
    choice = rnd.randint(0, 6 if depth < 3 else 3)
    if choice == 0:
        return rnd.choice([None, True, False])
    if choice == 1:
        return rnd.choice([0, -1, 2**70, 1.5, float("1e308")])
    if choice in (2, 3):
        return rnd.choice(["RunLocalTests", "707000000000001AAA", "", _random_text(rnd, 20)])
    if choice == 4:
        return [_random_json(rnd, depth + 1) for _ in range(rnd.randint(0, 4))]
    keys = ["testLevel", "classNames", "tests", "suiteNames", "skipCodeCoverage", "deployOptions", "Name", "Id"]
    return {rnd.choice(keys): _random_json(rnd, depth + 1) for _ in range(rnd.randint(0, 4))}


def _random_body(rnd: random.Random) -> bytes | None:
    kind = rnd.randint(0, 6)
    if kind == 0:
        return None
    if kind == 1:
        return bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 2048)))
    if kind == 2:
        return json.dumps(_random_json(rnd)).encode()
    if kind == 3:
        text = json.dumps(_random_json(rnd))
        return text[: rnd.randint(0, len(text))].encode()
    if kind == 4:
        inner = rnd.choice(
            [
                "<met:deploy><met:ZipFile>bm90IGEgemlw</met:ZipFile></met:deploy>",
                "<met:checkDeployStatus><met:asyncProcessId>0Af000000000001AAA</met:asyncProcessId></met:checkDeployStatus>",
                "<met:retrieve><met:request><met:apiVersion>62.0</met:apiVersion></met:request></met:retrieve>",
                "<met:cancelDeploy><met:String>nope</met:String></met:cancelDeploy>",
                "<unclosed>",
                _random_text(rnd, 40),
            ]
        )
        session = rnd.choice(["", "<met:SessionHeader><met:sessionId>bad</met:sessionId></met:SessionHeader>"])
        return (
            '<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            f'xmlns:met="http://soap.sforce.com/2006/04/metadata"><soapenv:Header>{session}</soapenv:Header>'
            f"<soapenv:Body>{inner}</soapenv:Body></soapenv:Envelope>"
        ).encode()
    if kind == 5:
        return b'--xyz\r\nContent-Disposition: form-data; name="file"\r\n\r\nPK\x03\x04garbage\r\n--xyz--'
    return _random_text(rnd, 300).encode("utf-8", "surrogatepass")


def _random_headers(rnd: random.Random, token: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    auth = rnd.choice(
        [f"Bearer {token}", f"Bearer {token}", f"OAuth {token}", "Bearer nope", "Basic Zm9vOmJhcg==", None]
    )
    if auth:
        headers["Authorization"] = auth
    content_type = rnd.choice(CONTENT_TYPES)
    if content_type:
        headers["Content-Type"] = content_type
    if rnd.random() < 0.3:
        headers["SOAPAction"] = rnd.choice(['""', "deploy", "x"])
    if rnd.random() < 0.1:
        headers["Accept"] = rnd.choice(["application/xml", "*/*", "text/html"])
    if rnd.random() < 0.05:
        headers["Sforce-Query-Options"] = rnd.choice(["batchSize=200", "batchSize=-5", "garbage"])
    return headers


def _request(port: int, method: str, path: str, headers: dict[str, str], body: bytes | None) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        return Answer(method, path, response.status, response.getheader("Content-Type") or "", data)
    finally:
        conn.close()


def _shape_problem(answer: Answer) -> str | None:
    """Why this answer is not something Salesforce could have sent, or None if it is fine."""
    body = answer.body
    if b"Traceback (most recent call last)" in body or b'File "/' in body:
        return "a Python traceback leaked into the body"
    if answer.status >= 500 and b"orgsim internal error" in body:
        return "an unhandled exception inside orgsim (500 internal error)"
    if answer.method == "HEAD" or not body:
        return None
    if "xml" in answer.content_type:
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return "the XML body does not parse"
        if answer.status >= 400 and "Fault" not in ET.tostring(root, encoding="unicode"):
            return "an XML error without a SOAP Fault"
        return None
    if "json" in answer.content_type:
        try:
            document = json.loads(body)
        except ValueError:
            return "the JSON body does not parse"
        if answer.status < 400:
            return None
        if (
            isinstance(document, list)
            and document
            and all(isinstance(e, dict) and isinstance(e.get("errorCode"), str) and "message" in e for e in document)
        ):
            return None
        if isinstance(document, dict) and "error" in document:  # the OAuth endpoints' error shape
            return None
        if (
            answer.path.startswith("/cometd")
            and isinstance(document, list)
            and all(isinstance(m, dict) and "channel" in m and m.get("successful") is False for m in document)
        ):
            return None  # Bayeux reports errors as unsuccessful channel messages
        return "a JSON error that is not [{message, errorCode}]"
    if answer.status >= 400:
        return f"an error body of type {answer.content_type!r}"
    return None


def _assert_alive(server: OrgsimServer) -> None:
    query = urllib.parse.urlencode({"q": "SELECT Id, Name FROM Organization"})
    answer = _request(
        server.port, "GET", f"/services/data/v62.0/query?{query}", {"Authorization": f"Bearer {server.token}"}, None
    )
    assert answer.status == 200, f"orgsim stopped answering a valid query: {answer}"
    assert json.loads(answer.body)["totalSize"] == 1


def _raw_socket_garbage(port: int, payload: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        try:
            while sock.recv(4096):
                pass
        except (TimeoutError, ConnectionResetError):
            pass


def _summary(problems: list[tuple[str, str]], sent: int) -> str:
    by_kind: dict[str, list[str]] = {}
    for kind, detail in problems:
        by_kind.setdefault(kind, []).append(detail)
    lines = [f"{len(problems)} bad answers out of {sent} requests (ORGSIM_FUZZ_SEED={FUZZ_SEED}):"]
    for kind, details in sorted(by_kind.items(), key=lambda item: -len(item[1])):
        lines.append(f"* {len(details)} x {kind}, e.g.")
        lines.extend(f"    {d}" for d in details[:3])
    return "\n".join(lines)


@pytest.mark.integration
def test_random_http_traffic_never_kills_orgsim_or_leaks_tracebacks(orgsim_factory) -> None:
    server: OrgsimServer = orgsim_factory("production")
    rnd = random.Random(FUZZ_SEED)
    problems: list[tuple[str, str]] = []
    deadline = time.monotonic() + FUZZ_SECONDS
    sent = 0
    for sent in range(1, FUZZ_COUNT + 1):
        if time.monotonic() > deadline:
            break
        method = rnd.choice(METHODS)
        path = _random_path(rnd)
        headers = _random_headers(rnd, server.token)
        body = None if method in ("GET", "HEAD") and rnd.random() < 0.8 else _random_body(rnd)
        try:
            answer = _request(server.port, method, path, headers, body)
        except (OSError, http.client.HTTPException) as exc:
            problems.append(("the connection failed", f"{method} {path[:160]}: {exc!r}"))
            _assert_alive(server)
            continue
        problem = _shape_problem(answer)
        if problem:
            problems.append((problem, str(answer)))
        if sent % 50 == 0:
            _assert_alive(server)
    for payload in (
        b"GARBAGE\r\n\r\n",
        b"GET /services/data HTTP/1.1\r\nHost: x\r\nContent-Length: 99999\r\n\r\nshort",
        b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
        b"GET /services/data HTTP/1.1\r\n" + b"X-Big: " + b"b" * 70000 + b"\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello on the plain port
        b"POST /services/data/v62.0/query HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n",
    ):
        _raw_socket_garbage(server.port, payload)
    _assert_alive(server)
    assert sent > 0
    assert not problems, _summary(problems, sent)


@pytest.mark.integration
def test_real_sf_cli_queries_survive_and_see_soql_errors(orgsim_factory, sf_bin, sf_home) -> None:
    server: OrgsimServer = orgsim_factory("production")
    login(sf_bin, sf_home, server.url, server.token, alias="production")

    jobs = run_sf(sf_bin, ["data", "query", "--target-org", "production", "--query", RUNBOOK_JOBS_QUERY], sf_home)
    assert jobs.returncode == 0, jobs
    records = jobs.json["result"]["records"]
    assert records and all(r["CronJobDetail"]["Name"].startswith("Elaro") for r in records)
    fire_times = [r["NextFireTime"] for r in records]
    assert fire_times == sorted(fire_times)

    coverage = run_sf(
        sf_bin,
        [
            "data",
            "query",
            "--target-org",
            "production",
            "--use-tooling-api",
            "--query",
            "SELECT Id, Name FROM ApexClass",
        ],
        sf_home,
    )
    assert coverage.returncode == 0, coverage
    assert coverage.json["result"]["totalSize"] == len(coverage.json["result"]["records"]) > 0

    bad = run_sf(sf_bin, ["data", "query", "--target-org", "production", "--query", "SELECT Id FROM"], sf_home)
    assert bad.returncode == 1
    assert bad.json["name"] == "MALFORMED_QUERY"
    assert "unexpected token: <EOF>" in bad.json["message"]

    unknown = run_sf(sf_bin, ["data", "query", "--target-org", "production", "--query", "SELECT Id FROM Foo"], sf_home)
    assert unknown.returncode == 1 and unknown.json["name"] == "INVALID_TYPE"
