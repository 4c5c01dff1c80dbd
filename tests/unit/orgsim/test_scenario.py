from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from orgsim.org import Org
from orgsim.scenario import Scenario, ScenarioError, builtin_scenario_path, load_scenario, scenario_from_dict
from orgsim.store import parse_datetime

TOKEN_SHAPE = re.compile(r"^(00D\w{12,15})![.\w]*$")  # what `sf org login access-token` accepts


def test_defaults_make_an_empty_production_org() -> None:
    scenario = Scenario()
    assert scenario.org.sandbox is False
    assert scenario.org.api_version == "62.0"
    assert TOKEN_SHAPE.match(scenario.org.access_token)
    assert scenario.org.access_token.startswith(scenario.org.org_id[:15] + "!")
    assert scenario.durations.test_seconds > 0


@pytest.mark.parametrize("name", ["production", "sandbox"])
def test_builtin_scenarios_load(name: str) -> None:
    scenario = load_scenario(builtin_scenario_path(name))
    assert scenario.name == name
    assert len(scenario.scheduled_jobs) == 5
    assert scenario.seed_dir is not None and scenario.seed_dir.is_dir()
    assert TOKEN_SHAPE.match(scenario.org.access_token)


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("faults:\n  http_errrors: []\n")
    with pytest.raises(ScenarioError, match=r"bad\.yaml: faults\.http_errrors: unknown key"):
        load_scenario(path)


def test_bad_values_name_the_key() -> None:
    with pytest.raises(ScenarioError, match=r"org\.org_id: .*00D"):
        scenario_from_dict({"org": {"org_id": "001000000000001AAA"}})
    with pytest.raises(ScenarioError, match=r"apex\.failing_tests\.0\.test"):
        scenario_from_dict({"apex": {"failing_tests": [{"test": "NoMethodHere"}]}})
    with pytest.raises(ScenarioError, match=r"faults\.http_errors\.0\.status"):
        scenario_from_dict({"faults": {"http_errors": [{"operation": "query", "status": 200}]}})
    with pytest.raises(ScenarioError, match=r"org: .*access_token must start with"):
        scenario_from_dict({"org": {"access_token": "00DXX0000000000!x"}})


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("org:\n  sandbox: false\n  username: [unclosed\n")
    with pytest.raises(ScenarioError, match=r"broken\.yaml:\d+: not valid YAML"):
        load_scenario(path)


def test_missing_file_is_a_scenario_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read scenario"):
        load_scenario(tmp_path / "nope.yaml")


def test_seed_dir_is_relative_to_the_scenario_file(tmp_path: Path) -> None:
    (tmp_path / "meta").mkdir()
    path = tmp_path / "s.yaml"
    path.write_text("metadata:\n  seed_dir: meta\n")
    assert load_scenario(path).seed_dir == (tmp_path / "meta").resolve()


def test_seeding_records_jobs_and_shorthands(tmp_path: Path) -> None:
    org = Org(
        tmp_path / "org",
        {
            "records": {
                "PermissionSet": [{"Name": "Elaro_Admin", "Label": "Elaro Admin"}],
                "PermissionSetAssignment": [
                    {"AssigneeId": "@id:User:Release Manager", "PermissionSetId": "@id:PermissionSet:Elaro_Admin"}
                ],
                "Governor_Limit_Snapshot__c": [{"Name": "SOQL Queries", "Value__c": 30, "CreatedDate": "@now-2h"}],
            },
            "scheduled_jobs": [
                {"name": "ElaroAuditTrailPoller", "class_name": "ElaroAuditTrailPoller", "cron": "0 0 * * * ?"}
            ],
        },
    )
    assignment = org.store.list("PermissionSetAssignment")[0]
    assert assignment["AssigneeId"] == org.user_id
    assert assignment["PermissionSetId"] == org.store.list("PermissionSet")[0]["Id"]
    snapshot = org.store.list("Governor_Limit_Snapshot__c")[0]
    age = org.now() - parse_datetime(snapshot["CreatedDate"])
    assert timedelta(hours=2) <= age < timedelta(hours=2, minutes=1)
    # The custom object is known to the schema (so SOQL can query it) and its ids use the schema's prefix.
    assert org.schema.has_object("Governor_Limit_Snapshot__c")
    assert snapshot["Id"].startswith(org.schema.key_prefix("Governor_Limit_Snapshot__c"))
    trigger = org.scheduled_job_named("ElaroAuditTrailPoller")
    assert trigger is not None and trigger["State"] == "WAITING"
    assert parse_datetime(trigger["NextFireTime"]) > org.now()
    job = org.store.find("AsyncApexJob", CronTriggerId=trigger["Id"])[0]
    assert job["JobType"] == "ScheduledApex" and job["Status"] == "Queued"
    assert org.store.list("Organization")[0]["IsSandbox"] is False
    assert org.store.list("User")[0]["Username"] == org.username


def test_state_survives_a_restart_without_reseeding(tmp_path: Path) -> None:
    scenario = {"records": {"Account": [{"Name": "Acme"}]}}
    first = Org(tmp_path / "org", scenario)
    first.store.insert("Account", {"Name": "Added later"})
    first.close()
    second = Org(tmp_path / "org", scenario)
    assert [r["Name"] for r in second.store.list("Account")] == ["Acme", "Added later"]
    second.reset()
    assert [r["Name"] for r in second.store.list("Account")] == ["Acme"]


def test_unknown_reference_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no PermissionSet named 'Nope'"):
        Org(tmp_path / "org", {"records": {"PermissionSetAssignment": [{"PermissionSetId": "@id:PermissionSet:Nope"}]}})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("records: " + "[" * 3000 + "]" * 3000 + "\n", "nest"),
        ("org:\n  created: 2024-02-30\n", "day is out of range"),
    ],
)
def test_yaml_the_loader_cannot_build_is_a_scenario_error(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=expected):
        load_scenario(path)


def test_builtin_empty_scenario_is_a_production_org_with_only_standard_objects(tmp_path: Path) -> None:
    from orgsim.metadata import store as md

    scenario = load_scenario(builtin_scenario_path("empty"))
    assert scenario.name == "empty" and scenario.org.sandbox is False
    assert scenario.seed_dir is None and scenario.scheduled_jobs == [] and scenario.records == {}
    org = Org(tmp_path / "org", scenario)
    md.ensure_tables(org)
    assert md.list_components(org) == []
    assert org.store.list("CronTrigger") == [] and org.store.list("ApexClass") == []
    assert org.schema.has_object("Account") and org.schema.has_object("Contact")


def test_a_wrong_org_id_checksum_says_how_to_make_a_valid_one() -> None:
    with pytest.raises(ScenarioError) as error:
        scenario_from_dict({"org": {"org_id": "00D5g000004SLb1AAA"}})
    message = str(error.value)
    assert "org.org_id: must be an 18-character org id starting with 00D" in message
    assert "`orgsim org-id 00D5g000004SLb1` prints it: 00D5g000004SLb1EAG" in message
    with pytest.raises(ScenarioError, match="user id starting with 005"):
        scenario_from_dict({"org": {"user_id": "00D5g000004SLb1EAG"}})
