"""Routing, authentication, error shapes and fault injection, through `dispatch` and over a real socket."""

from __future__ import annotations

import http.client
import json
import re
from pathlib import Path
from typing import Any

import pytest

from orgsim.org import Org
from orgsim.server import dispatch, normalize_path
from orgsim.testing import OrgsimServer

V = "/services/data/v62.0"
GACK_ID = re.compile(r"\d{9,}-\d{3,} \(-?\d{7,}\)")  # the CLI's gack detector (sf-plugins-core errorHandling)


@pytest.fixture
def org(tmp_path: Path) -> Org:
    return Org(tmp_path / "org", {"records": {"Account": [{"Name": "Acme"}]}})


def call(org: Org, method: str, path: str, body: bytes = b"", token: str | None = "valid", **headers: str) -> Any:
    all_headers = {name.replace("_", "-"): value for name, value in headers.items()}
    if token is not None:
        all_headers["authorization"] = f"Bearer {org.access_token if token == 'valid' else token}"
    response = dispatch(org, method, path, all_headers, body)
    return response


def body_of(response: Any) -> Any:
    return json.loads(response.body)


def test_paths_collapse_repeated_slashes() -> None:
    assert normalize_path("//services/data/v62.0//query/?q=x") == ("/services/data/v62.0/query", "q=x")


def test_missing_or_wrong_token_is_invalid_session(org: Org) -> None:
    for token in (None, "00D000000000000!wrong"):
        response = call(org, "GET", f"{V}/limits", token=token)
        assert response.status == 401
        assert body_of(response) == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def test_soap_calls_get_a_soap_fault_for_a_bad_session(org: Org) -> None:
    envelope = b"<env:Envelope><env:Header><SessionHeader><sessionId>nope</sessionId></SessionHeader></env:Header>"
    envelope += b"<env:Body><checkDeployStatus/></env:Body></env:Envelope>"
    for path in ("/services/Soap/m/62.0", "/services/Soap/s/62.0/00D5g00000ELARO"):
        response = call(org, "POST", path, envelope, token=None)
        assert response.status == 500
        assert b"<faultcode>sf:INVALID_SESSION_ID</faultcode>" in response.body


def test_unknown_endpoints_answer_not_found_in_salesforce_shape(org: Org) -> None:
    for path in ("/nope", f"{V}/no/such/thing", "/services/apexrest/Foo"):
        response = call(org, "GET", path)
        assert response.status == 404
        assert body_of(response) == [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]
    assert call(org, "DELETE", f"{V}/limits").status == 405


def test_versions_and_identity(org: Org) -> None:
    versions = body_of(call(org, "GET", "/services/data", token=None))
    assert versions[-1]["version"] == "62.0"
    info = body_of(call(org, "GET", "/services/oauth2/userinfo"))
    assert info["user_id"] == org.user_id and info["organization_id"] == org.org_id
    user = body_of(call(org, "GET", f"/services/data/v51.0/sobjects/User/{org.user_id}"))
    assert user["Username"] == org.username


def test_frontdoor_link_and_page(org: Org) -> None:
    link = body_of(call(org, "GET", "/services/oauth2/singleaccess?redirect_uri=/lightning/setup", host="127.0.0.1:9"))
    assert link["frontdoor_uri"].startswith("http://127.0.0.1:9/secur/frontdoor.jsp?otp=")
    assert "startURL=%2Flightning%2Fsetup" in link["frontdoor_uri"] and org.access_token not in link["frontdoor_uri"]
    page = call(org, "GET", "/secur/frontdoor.jsp?otp=x", token=None)
    assert page.status == 200 and b"no web UI" in page.body and page.content_type.startswith("text/html")


def test_query_errors_are_salesforce_errors(org: Org) -> None:
    response = call(org, "GET", f"{V}/query?q=SELECT+Id+FROM+ScratchOrgInfo+limit+1")
    assert response.status == 400
    assert body_of(response)[0]["errorCode"] == "INVALID_TYPE"
    response = call(org, "GET", f"{V}/query")
    assert body_of(response)[0]["errorCode"] == "MALFORMED_QUERY"


def test_query_with_columns(org: Org) -> None:
    result = body_of(call(org, "GET", f"{V}/query?q=SELECT+Id,+Name+FROM+Account"))
    assert result["totalSize"] == 1 and result["records"][0]["Name"] == "Acme"
    columns = body_of(call(org, "GET", f"{V}/query?q=SELECT+Id,+Name+FROM+Account&columns=true"))
    assert [c["columnName"] for c in columns["columnMetadata"]] == ["Id", "Name"]


def test_record_create_read_update_delete(org: Org) -> None:
    created = call(org, "POST", f"{V}/sobjects/Account", json.dumps({"Name": "Globex"}).encode())
    assert created.status == 201
    record_id = body_of(created)["id"]
    assert body_of(created) == {"id": record_id, "success": True, "errors": []}
    fetched = body_of(call(org, "GET", f"{V}/sobjects/Account/{record_id}"))
    assert fetched["Name"] == "Globex" and fetched["attributes"]["type"] == "Account"
    assert call(org, "PATCH", f"{V}/sobjects/Account/{record_id}", b'{"Name": "Globex Corp"}').status == 204
    assert org.store.get(record_id)[1]["Name"] == "Globex Corp"  # type: ignore[index]
    assert call(org, "DELETE", f"{V}/sobjects/Account/{record_id}").status == 204
    assert call(org, "GET", f"{V}/sobjects/Account/{record_id}").status == 404


def test_record_validation(org: Org) -> None:
    bad_field = call(org, "POST", f"{V}/sobjects/Account", b'{"Nmae": "typo"}')
    assert bad_field.status == 400 and body_of(bad_field)[0]["errorCode"] == "INVALID_FIELD"
    assert call(org, "POST", f"{V}/sobjects/NoSuchThing__c", b'{"Name": "x"}').status == 404
    not_json = call(org, "POST", f"{V}/sobjects/Account", b"{not json")
    assert not_json.status == 400 and body_of(not_json)[0]["errorCode"] == "JSON_PARSER_ERROR"
    system = call(org, "POST", f"{V}/sobjects/CronTrigger", b"{}")
    assert system.status == 400 and body_of(system)[0]["errorCode"] == "INVALID_TYPE_FOR_OPERATION"


def test_internal_errors_become_unknown_exception_not_a_stack_trace(org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode() -> None:
        raise RuntimeError(f"secret {org.access_token}")

    monkeypatch.setattr(org, "limits", explode)
    response = call(org, "GET", f"{V}/limits")
    assert response.status == 500
    assert body_of(response)[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    assert b"Traceback" not in response.body and org.access_token.encode() not in response.body


def test_http_error_and_gack_on_the_nth_call(tmp_path: Path) -> None:
    org = Org(
        tmp_path / "org",
        {
            "faults": {
                "http_errors": [
                    {"operation": "limits", "on_call": 2},
                    {"operation": "query", "on_call": 1, "status": "gack"},
                ]
            }
        },
    )
    assert call(org, "GET", f"{V}/limits").status == 200
    second = call(org, "GET", f"{V}/limits")
    assert second.status == 500 and body_of(second)[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    assert call(org, "GET", f"{V}/limits").status == 200
    gack = call(org, "GET", f"{V}/query?q=SELECT+Id+FROM+Account")
    assert gack.status == 500 and GACK_ID.search(body_of(gack)[0]["message"])
    assert call(org, "GET", f"{V}/query?q=SELECT+Id+FROM+Account").status == 200
    assert org.call_counts() == {"limits": 3, "query": 2}


def test_soap_faults_are_injected_per_soap_operation(tmp_path: Path) -> None:
    org = Org(tmp_path / "org", {"faults": {"http_errors": [{"operation": "executeAnonymous", "status": "gack"}]}})
    envelope = (
        '<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/">'
        f"<env:Header><SessionHeader><sessionId>{org.access_token}</sessionId></SessionHeader>"
        "</env:Header><env:Body><executeAnonymous><apexcode>System.debug(1);</apexcode></executeAnonymous>"
        "</env:Body></env:Envelope>"
    ).encode()
    fault = call(org, "POST", "/services/Soap/s/62.0", envelope, token=None)
    assert fault.status == 500 and b"sf:UNKNOWN_EXCEPTION" in fault.body and GACK_ID.search(fault.body.decode())
    assert b"<success>true</success>" in call(org, "POST", "/services/Soap/s/62.0", envelope, token=None).body


def _get(server: OrgsimServer, path: str, token: str | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    headers = {"Authorization": f"Bearer {token or server.token}"}
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


def test_socket_server_drops_the_connection_on_the_nth_call_and_keeps_serving(tmp_path: Path) -> None:
    scenario = {"faults": {"drop_connection": [{"operation": "tooling.query", "on_call": 2}]}}
    with OrgsimServer(tmp_path / "org", scenario) as server:
        query = "/services/data/v62.0/tooling/query?q=SELECT+Id+FROM+ApexClass"
        assert _get(server, "//" + query.lstrip("/"))[0] == 200  # the CLI's doubled slash
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            _get(server, query)
        assert _get(server, query)[0] == 200
        assert server.url.startswith("http://127.0.0.1:")


def test_bad_requests_never_kill_the_server(tmp_path: Path) -> None:
    with OrgsimServer(tmp_path / "org") as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.request(
            "POST",
            "/services/data/v62.0/sobjects/Account",
            body=b"\xff\xfe",
            headers={"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"},
        )
        assert connection.getresponse().status == 400
        assert _get(server, "/services/data/v62.0/limits")[0] == 200


def test_control_plane_clock_and_state(org: Org) -> None:
    before = org.now()
    answer = body_of(call(org, "POST", "/__orgsim/clock?advance=3600", token=None))
    assert (
        answer["now"] >= (before.replace(microsecond=0)).strftime("%Y-%m-%dT")
        and (org.now() - before).total_seconds() >= 3600
    )
    state = body_of(call(org, "GET", "/__orgsim/state", token=None))
    assert state["org_id"] == org.org_id and org.access_token not in json.dumps(state)
    assert state["records"]["Account"] == 1
