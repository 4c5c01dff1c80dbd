"""REST Composite queries through `sf api request rest` (recorded Salesforce shapes), and async test submission."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from cutover.sf import SfError
from cutover.sf.composite import chunks, composite_body, parse_composite

# The documented shape (REST API guide, "Composite Response Body" / "Composite Subrequest Result"), as orgsim and
# Salesforce answer a query that worked and one with an unknown column.
ANSWER = {
    "compositeResponse": [
        {
            "body": {
                "totalSize": 1,
                "done": True,
                "records": [{"attributes": {"type": "CronTrigger"}, "Id": "08e1", "State": "WAITING"}],
            },
            "httpHeaders": {},
            "httpStatusCode": 200,
            "referenceId": "q0",
        },
        {
            "body": [{"errorCode": "INVALID_FIELD", "message": "No such column 'Message' on entity 'ApexLog'"}],
            "httpHeaders": {},
            "httpStatusCode": 400,
            "referenceId": "q1",
        },
    ]
}


def test_the_body_is_one_get_query_subrequest_per_reference_never_all_or_none() -> None:
    body = composite_body({"q0": "SELECT Id FROM ApexLog WHERE Status != 'Success'"}, "v62.0")
    assert body["allOrNone"] is False
    (sub,) = body["compositeRequest"]
    assert sub["method"] == "GET" and sub["referenceId"] == "q0"
    url = urlsplit(sub["url"])
    assert url.path == "/services/data/v62.0/query"
    assert parse_qs(url.query)["q"] == ["SELECT Id FROM ApexLog WHERE Status != 'Success'"]


def test_more_than_five_queries_are_split_over_several_requests() -> None:
    parts = chunks({f"q{i}": "SELECT Id FROM User" for i in range(7)})
    assert [list(p) for p in parts] == [["q0", "q1", "q2", "q3", "q4"], ["q5", "q6"]]


def test_each_reference_gets_its_rows_or_its_error() -> None:
    answers = parse_composite(ANSWER, ["q0", "q1", "q2"])
    assert answers["q0"].ok and answers["q0"].result is not None
    assert answers["q0"].result.rows() == [{"Id": "08e1", "State": "WAITING"}]
    assert not answers["q1"].ok and answers["q1"].status == 400
    assert answers["q1"].error == "INVALID_FIELD: No such column 'Message' on entity 'ApexLog'"
    assert answers["q2"].error == "missing from the composite response"
    paged = {"compositeResponse": [{"body": {"done": False, "records": []}, "httpStatusCode": 200, "referenceId": "a"}]}
    assert not parse_composite(paged, ["a"])["a"].ok
    with pytest.raises(ValueError, match="not a composite response"):
        parse_composite([{"errorCode": "NOT_FOUND"}], ["q0"])


def test_the_cli_call_posts_the_body_without_json_flag(fake_sf, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fake_sf.plan({"json": ANSWER})
    answers = fake_sf.cli().composite_query(
        "prod",
        {"q0": "SELECT Id FROM CronTrigger", "q1": "SELECT Message FROM ApexLog"},
        api_version="62.0",
        workdir=tmp_path,
    )
    assert answers["q0"].ok and not answers["q1"].ok
    (call,) = fake_sf.calls()
    argv = call["argv"]
    assert argv[:4] == ["api", "request", "rest", "/services/data/v62.0/composite"]
    assert "--json" not in argv and argv[argv.index("--method") + 1] == "POST"
    body = json.loads(Path(argv[argv.index("--body") + 1].lstrip("@")).read_text())
    assert [s["referenceId"] for s in body["compositeRequest"]] == ["q0", "q1"]


def test_a_composite_call_that_fails_as_a_whole_raises(fake_sf, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fake_sf.plan({"stdout": "", "stderr": "Error (1): The requested resource does not exist\n", "exit": 1})
    with pytest.raises(SfError):
        fake_sf.cli().composite_query("prod", {"q0": "SELECT Id FROM User"}, api_version="62.0", workdir=tmp_path)
    fake_sf.plan({"json": [{"errorCode": "NOT_FOUND", "message": "nope"}]})
    with pytest.raises(SfError, match="not a composite response"):
        fake_sf.cli().composite_query("prod", {"q0": "SELECT Id FROM User"}, api_version="62.0", workdir=tmp_path)


def test_tests_are_submitted_without_wait_and_the_run_id_comes_back(fake_sf) -> None:  # type: ignore[no-untyped-def]
    fake_sf.plan({"json": {"status": 0, "result": {"testRunId": "7071x00000ABCDE"}, "warnings": []}})
    assert fake_sf.cli().apex_submit_tests("prod", tests=["A.t1", "B"]) == "7071x00000ABCDE"
    argv = fake_sf.calls()[0]["argv"]
    assert "--wait" not in argv and "--code-coverage" in argv
    assert argv.count("--tests") == 2 and "--test-level" not in argv
    fake_sf.plan({"json": {"status": 0, "result": {}, "warnings": []}})
    with pytest.raises(SfError, match="no testRunId"):
        fake_sf.cli().apex_submit_tests("prod", test_level="RunLocalTests")
