"""`sf data create record` and Salesforce-shaped errors for unknown endpoints, through the real CLI."""

from __future__ import annotations

from pathlib import Path

from orgsim.testing import OrgsimServer, login, run_sf


def test_create_audit_log_record(production_org: OrgsimServer, sf_bin: Path, sf_home: Path) -> None:
    values = "Action__c='Release drill' Source__c=cutover Details__c='v3.0 rehearsal'"
    run = run_sf(
        sf_bin,
        [
            "data",
            "create",
            "record",
            "--sobject",
            "Elaro_Audit_Log__c",
            "--values",
            values,
            "--target-org",
            "production",
        ],
        sf_home,
    )
    assert run.returncode == 0, run
    record_id = run.json["result"]["id"]
    assert run.json["result"]["success"] is True
    sobject, fields = production_org.org.store.get(record_id)  # type: ignore[misc]
    assert sobject == "Elaro_Audit_Log__c"
    assert fields["Action__c"] == "Release drill" and fields["Source__c"] == "cutover"
    query = run_sf(
        sf_bin,
        [
            "data",
            "query",
            "--target-org",
            "production",
            "--query",
            f"SELECT Id, Name, Details__c FROM Elaro_Audit_Log__c WHERE Id = '{record_id}'",
        ],
        sf_home,
    )
    assert query.json["result"]["records"][0]["Details__c"] == "v3.0 rehearsal"


def test_create_record_with_unknown_field_fails(production_org: OrgsimServer, sf_bin: Path, sf_home: Path) -> None:
    run = run_sf(
        sf_bin,
        [
            "data",
            "create",
            "record",
            "--sobject",
            "Elaro_Audit_Log__c",
            "--values",
            "Nope__c=1",
            "--target-org",
            "production",
        ],
        sf_home,
    )
    assert run.returncode == 1, run
    assert "No such column 'Nope__c'" in run.json["message"]


def test_gack_on_create_gives_the_cli_gack_exit_code(orgsim_factory, sf_bin: Path, sf_home: Path) -> None:
    # POSTs are not retried by jsforce, so a GACK on the first create reaches the user.
    server = orgsim_factory({"faults": {"http_errors": [{"operation": "sobject", "on_call": 1, "status": "gack"}]}})
    login(sf_bin, sf_home, server.url, server.token, alias="org")
    args = ["data", "create", "record", "--sobject", "Account", "--values", "Name=Acme", "--target-org", "org"]
    run = run_sf(sf_bin, args, sf_home)
    assert run.returncode == 20, run  # sf's exit code for a Salesforce internal error (GACK)
    assert "Please include this ErrorId if you contact support" in run.json["message"]
    assert server.org.store.list("Account") == []


def test_unknown_endpoint_answers_not_found(production_org: OrgsimServer, sf_bin: Path, sf_home: Path) -> None:
    run = run_sf(
        sf_bin,
        ["api", "request", "rest", "/services/data/v62.0/no/such/resource", "--target-org", "production"],
        sf_home,
        json_output=False,
    )
    assert '"errorCode": "NOT_FOUND"' in run.stdout.replace('":"', '": "') or "NOT_FOUND" in run.stdout, run
    assert "Traceback" not in run.stdout
