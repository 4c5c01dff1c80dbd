"""The real sf CLI batching post-deploy queries into one REST Composite call (`sf api request rest`, beta in sf 2.146).

One sf process answers four queries, one of them invalid: the invalid one gets its error in its own subresponse,
the others their records, and orgsim counts one API call.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest

from orgsim.testing import OrgsimServer, run_sf

pytestmark = pytest.mark.integration

QUERIES = {
    "jobs": "SELECT CronJobDetail.Name, State FROM CronTrigger WHERE CronJobDetail.Name LIKE 'Elaro%'",
    "assignments": "SELECT Assignee.Name FROM PermissionSetAssignment WHERE PermissionSet.Name = 'Elaro_Admin'",
    "apexlog": "SELECT Id, Message FROM ApexLog WHERE StartTime = TODAY",  # Message is not a field of ApexLog
    "logs": "SELECT Id, Status FROM ApexLog WHERE Status != 'Success' AND StartTime = TODAY",
}


def test_four_queries_in_one_sf_call(production_org: OrgsimServer, sf_bin: Path, sf_home: Path) -> None:
    body = {
        "allOrNone": False,
        "compositeRequest": [
            {"method": "GET", "url": f"/services/data/v62.0/query?q={quote(soql)}", "referenceId": ref}
            for ref, soql in QUERIES.items()
        ],
    }
    request_file = sf_home / "composite.json"
    request_file.write_text(json.dumps(body))
    before = production_org.org.call_counts()
    run = run_sf(
        sf_bin,
        [
            "api",
            "request",
            "rest",
            "/services/data/v62.0/composite",
            "--method",
            "POST",
            "--body",
            f"@{request_file}",
            "--target-org",
            "production",
        ],
        sf_home,
        json_output=False,  # the command has no --json: stdout is the response body itself
    )
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    subs = {sub["referenceId"]: sub for sub in answer["compositeResponse"]}
    assert list(subs) == list(QUERIES)
    assert {ref: sub["httpStatusCode"] for ref, sub in subs.items()} == {
        "jobs": 200,
        "assignments": 200,
        "apexlog": 400,
        "logs": 200,
    }
    assert subs["apexlog"]["body"][0]["errorCode"] == "INVALID_FIELD"
    assert "No such column 'Message' on entity 'ApexLog'" in subs["apexlog"]["body"][0]["message"]
    assert subs["jobs"]["body"]["totalSize"] == 3
    assert [r["Assignee"]["Name"] for r in subs["assignments"]["body"]["records"]] == ["Release Manager"]
    assert subs["logs"]["body"]["done"] is True
    after = production_org.org.call_counts()
    assert after.get("composite", 0) == before.get("composite", 0) + 1
    assert after.get("query", 0) == before.get("query", 0)  # the subrequests are not separate API calls
