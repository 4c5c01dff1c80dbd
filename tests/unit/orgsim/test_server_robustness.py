"""Hostile or broken requests: each gets a Salesforce-shaped 4xx, never a 500 with a logged traceback, a stuck
server thread or an unbounded read."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import time
from pathlib import Path

import pytest

from orgsim import server as orgsim_server
from orgsim.org import Org
from orgsim.server import dispatch
from orgsim.testing import OrgsimServer

V = "/services/data/v62.0"
DEEP_ARRAY = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


@pytest.fixture
def org(tmp_path: Path) -> Org:
    return Org(tmp_path / "org", {"records": {"Account": [{"Name": "Acme"}]}})


def _auth(org: Org) -> dict[str, str]:
    return {"authorization": f"Bearer {org.access_token}", "content-type": "application/json"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", f"{V}/sobjects/Account", DEEP_OBJECT),
        ("POST", f"{V}/sobjects/Account", DEEP_ARRAY),
        ("POST", f"{V}/tooling/sobjects/ApexClass", DEEP_OBJECT),
        ("POST", f"{V}/tooling/runTestsAsynchronous", DEEP_OBJECT),
        ("POST", f"{V}/metadata/deployRequest", DEEP_OBJECT),
        ("PATCH", f"{V}/metadata/deployRequest/0Af000000000001AAA", DEEP_OBJECT),
        ("POST", "/cometd/62.0/handshake", DEEP_ARRAY),
    ],
)
def test_deeply_nested_json_is_a_client_error(
    org: Org, caplog: pytest.LogCaptureFixture, method: str, path: str, body: bytes
) -> None:
    with caplog.at_level(logging.ERROR, logger="orgsim"):
        response = dispatch(org, method, path, _auth(org), body)
    assert response.status < 500, response.body[:200]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_deeply_nested_anonymous_apex_is_a_compile_problem(org: Org, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="orgsim"):
        response = dispatch(org, "GET", f"{V}/tooling/executeAnonymous?anonymousBody=" + "(" * 5000, _auth(org), b"")
    assert response.status == 200
    answer = json.loads(response.body)
    assert answer["compiled"] is False and answer["compileProblem"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("advance", ["nan", "inf", "-inf", "1e400", "-1e12", "1e15"])
def test_clock_refuses_values_that_would_break_the_org(org: Org, advance: str) -> None:
    response = dispatch(org, "POST", f"/__orgsim/clock?advance={advance}", {}, b"")
    assert response.status == 400 and json.loads(response.body)[0]["errorCode"] == "INVALID_INPUT"
    # The org (and its persisted clock) keeps working.
    assert dispatch(org, "GET", f"{V}/limits", _auth(org), b"").status == 200
    reopened = Org(org.state_dir, org.scenario)
    try:
        assert abs((reopened.now() - org.now()).total_seconds()) < 60
    finally:
        reopened.close()


def _raw(server: OrgsimServer, data: bytes, timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as conn:
        conn.sendall(data)
        chunks = []
        while True:
            try:
                chunk = conn.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def test_oversized_bodies_are_refused_without_reading_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(orgsim_server, "MAX_BODY_BYTES", 1024)
    with OrgsimServer(tmp_path / "org") as server:
        head = f"POST {V}/sobjects/Account HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.token}\r\n"
        declared = _raw(server, (head + "Content-Length: 99999999999\r\n\r\n").encode())
        assert declared.startswith(b"HTTP/1.1 413") and b"EXCEEDED_MAX_SIZE_REQUEST" in declared
        # A chunked body is counted as it arrives; a single huge chunk size is refused before any allocation.
        chunked = _raw(server, (head + "Transfer-Encoding: chunked\r\n\r\nffffffffffff\r\n").encode())
        assert chunked.startswith(b"HTTP/1.1 413")
        soap = _raw(server, b"POST /services/Soap/m/62.0 HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")
        assert soap.startswith(b"HTTP/1.1 413") and b"<faultcode>sf:EXCEEDED_MAX_SIZE_REQUEST</faultcode>" in soap
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.request("GET", f"{V}/limits", headers={"Authorization": f"Bearer {server.token}"})
        assert connection.getresponse().status == 200


def test_a_client_that_stops_sending_does_not_hold_a_thread_forever(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = orgsim_server._RequestHandler.timeout
    assert default is not None and 0 < default <= 600  # idle keep-alive sockets and stalled uploads both end
    monkeypatch.setattr(orgsim_server._RequestHandler, "timeout", 0.5)
    with OrgsimServer(tmp_path / "org") as server:
        started = time.monotonic()
        # Promises 10 bytes, sends 2, then waits: the server must give up and close the connection.
        answer = _raw(server, b"POST /services/data/v62.0/sobjects/Account HTTP/1.1\r\nContent-Length: 10\r\n\r\n{}")
        assert answer == b"" and time.monotonic() - started < 5


def test_unread_query_cursors_do_not_pile_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A client that reads only the first page of big queries, over and over (a monitor polling), must not grow the
    server's memory for ever: like Salesforce, only the most recent cursors stay open."""
    from orgsim import rest

    monkeypatch.setattr(rest, "QUERY_BATCH_SIZE", 2)
    org = Org(tmp_path / "org", {"records": {"Account": [{"Name": f"A{i}"} for i in range(5)]}})
    first_locator = None
    for _ in range(50):
        answer = json.loads(dispatch(org, "GET", f"{V}/query?q=SELECT+Name+FROM+Account", _auth(org), b"").body)
        first_locator = first_locator or answer["nextRecordsUrl"]
    assert len({key.rsplit("-", 1)[0] for key in org.query_cursors}) <= rest.MAX_OPEN_QUERY_CURSORS
    expired = dispatch(org, "GET", first_locator, _auth(org), b"")
    assert expired.status == 400 and json.loads(expired.body)[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
    latest = json.loads(dispatch(org, "GET", answer["nextRecordsUrl"], _auth(org), b"").body)
    assert [r["Name"] for r in latest["records"]] == ["A2", "A3"]


def test_streaming_clients_are_forgotten_when_they_disconnect(org: Org) -> None:
    from orgsim import cometd

    def bayeux(*messages: dict[str, object]) -> list[dict[str, object]]:
        return json.loads(dispatch(org, "POST", "/cometd/62.0", _auth(org), json.dumps(list(messages)).encode()).body)

    for _ in range(20):  # one `sf apex run test --wait` after another
        client_id = bayeux({"channel": "/meta/handshake", "id": "1"})[0]["clientId"]
        bayeux({"channel": "/meta/subscribe", "clientId": client_id, "subscription": "/systemTopic/TestResult"})
        bayeux({"channel": "/meta/disconnect", "clientId": client_id})
    clients = cometd._clients(org)
    assert clients.subscriptions == {} and clients.announced == {}


def test_a_batch_of_idle_connects_answers_promptly(org: Org) -> None:
    started = time.monotonic()
    connects = [{"channel": "/meta/connect", "clientId": "c", "id": str(n)} for n in range(20)]
    answer = dispatch(org, "POST", "/cometd/62.0", _auth(org), json.dumps(connects).encode())
    assert answer.status == 200 and time.monotonic() - started < 3
