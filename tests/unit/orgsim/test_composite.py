"""REST Composite (`/composite`, `/composite/batch`): Salesforce's shapes, errors per subrequest, allOrNone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orgsim.org import Org
from orgsim.server import dispatch

V = "/services/data/v62.0"


@pytest.fixture
def org(tmp_path: Path) -> Org:
    return Org(tmp_path / "org", {"records": {"Account": [{"Name": "Acme"}, {"Name": "Globex"}]}})


def post(org: Org, path: str, payload: Any) -> tuple[int, Any]:
    headers = {"authorization": f"Bearer {org.access_token}"}
    response = dispatch(org, "POST", V + path, headers, json.dumps(payload).encode())
    return response.status, json.loads(response.body)


def query(ref: str, soql: str) -> dict[str, str]:
    return {"method": "GET", "url": f"{V}/query?q={soql.replace(' ', '+')}", "referenceId": ref}


def test_queries_answer_in_order_with_errors_in_their_own_subresponse(org: Org) -> None:
    calls_before = sum(org.call_counts().values())
    status, answer = post(
        org,
        "/composite",
        {
            "allOrNone": False,
            "compositeRequest": [
                query("accounts", "SELECT Name FROM Account ORDER BY Name"),
                query("broken", "SELECT Nope__c FROM Account"),
                query("count", "SELECT COUNT() FROM Account"),
            ],
        },
    )
    assert status == 200
    subs = answer["compositeResponse"]
    assert [s["referenceId"] for s in subs] == ["accounts", "broken", "count"]
    assert [s["httpStatusCode"] for s in subs] == [200, 400, 200]
    assert set(subs[0]) == {"body", "httpHeaders", "httpStatusCode", "referenceId"} and subs[0]["httpHeaders"] == {}
    assert [r["Name"] for r in subs[0]["body"]["records"]] == ["Acme", "Globex"]
    assert subs[1]["body"][0]["errorCode"] == "INVALID_FIELD"
    assert subs[2]["body"]["totalSize"] == 2
    assert sum(org.call_counts().values()) == calls_before + 1  # one API call, as Salesforce counts it


def test_all_or_none_rolls_back_and_halts_the_others(org: Org) -> None:
    status, answer = post(
        org,
        "/composite",
        {
            "allOrNone": True,
            "compositeRequest": [
                {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "created", "body": {"Name": "New"}},
                query("broken", "SELECT Nope__c FROM Account"),
                query("after", "SELECT Id FROM Account"),
            ],
        },
    )
    assert status == 200
    subs = answer["compositeResponse"]
    assert [s["httpStatusCode"] for s in subs] == [400, 400, 400]
    assert subs[0]["body"][0]["errorCode"] == "PROCESSING_HALTED" and subs[2]["body"][0]["errorCode"] == (
        "PROCESSING_HALTED"
    )
    assert subs[1]["body"][0]["errorCode"] == "INVALID_FIELD"
    assert sorted(r["Name"] for r in org.store.list("Account")) == ["Acme", "Globex"]  # the insert was undone


def test_references_read_earlier_results(org: Org) -> None:
    _, answer = post(
        org,
        "/composite",
        {
            "compositeRequest": [
                query("first", "SELECT Id FROM Account WHERE Name = 'Globex'"),
                {"method": "GET", "url": f"{V}/sobjects/Account/@{{first.records[0].Id}}", "referenceId": "record"},
                {"method": "GET", "url": f"{V}/sobjects/Account/@{{first.records[5].Id}}", "referenceId": "missing"},
            ]
        },
    )
    subs = answer["compositeResponse"]
    assert subs[1]["httpStatusCode"] == 200 and subs[1]["body"]["Name"] == "Globex"
    assert subs[2]["httpStatusCode"] == 400 and subs[2]["body"][0]["errorCode"] == "PROCESSING_HALTED"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"compositeRequest": "x"}, "JSON_PARSER_ERROR"),
        ({"compositeRequest": [query("q", "SELECT Id FROM Account")] * 2}, "INVALID_INPUT"),  # duplicate referenceId
        ({"compositeRequest": [query(f"q{i}", "SELECT Id FROM Account") for i in range(6)]}, "LIMIT_EXCEEDED"),
        ({"compositeRequest": [{"method": "GET", "url": "/elsewhere", "referenceId": "x"}]}, "INVALID_INPUT"),
        (
            {"compositeRequest": [query("t", "SELECT Id FROM ApexClass") | {"url": f"{V}/tooling/query?q=x"}]},
            "INVALID_INPUT",
        ),
    ],
)
def test_bad_composite_requests_are_refused_whole(org: Org, payload: dict[str, Any], code: str) -> None:
    status, answer = post(org, "/composite", payload)
    assert status == 400 and answer[0]["errorCode"] == code


def test_batch_answers_each_and_halts_on_error_when_asked(org: Org) -> None:
    requests = [
        {"method": "GET", "url": "v62.0/query?q=SELECT+Name+FROM+Account"},
        {"method": "GET", "url": "v62.0/query?q=SELECT+Nope+FROM+Account"},
        {"method": "GET", "url": "v62.0/limits"},
    ]
    status, answer = post(org, "/composite/batch", {"batchRequests": requests})
    assert status == 200 and answer["hasErrors"] is True
    assert [r["statusCode"] for r in answer["results"]] == [200, 400, 200]
    _, halted = post(org, "/composite/batch", {"batchRequests": requests, "haltOnError": True})
    assert [r["statusCode"] for r in halted["results"]] == [200, 400, 412]
    assert halted["results"][2]["result"][0]["errorCode"] == "BATCH_PROCESSING_HALTED"


def test_tooling_composite_answers_tooling_queries(org: Org) -> None:
    sub = {
        "method": "GET",
        "url": f"{V}/tooling/query?q=SELECT+PercentCovered+FROM+ApexOrgWideCoverage",
        "referenceId": "cov",
    }
    status, answer = post(org, "/tooling/composite", {"compositeRequest": [sub]})
    assert status == 200 and answer["compositeResponse"][0]["httpStatusCode"] == 200
    assert answer["compositeResponse"][0]["body"]["done"] is True
    status, refused = post(org, "/tooling/composite", {"compositeRequest": [query("q", "SELECT Id FROM Account")]})
    assert status == 400 and refused[0]["errorCode"] == "INVALID_INPUT"
