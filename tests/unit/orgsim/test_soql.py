"""SOQL subset: parsing, evaluation, result shapes and Salesforce-shaped errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orgsim.schema import Schema
from orgsim.soql import SoqlError, StaticSource, column_metadata, execute, parse

NOW = datetime(2026, 11, 27, 17, 5, tzinfo=UTC)  # a Friday


@pytest.fixture()
def org() -> StaticSource:
    schema = Schema()
    schema.add_custom_object("Governor_Limit_Snapshot__c", {"Value__c": "Number", "Metric__c": "Text"})
    schema.add_custom_object("Compliance_Gap__c", {"Severity__c": "Picklist", "Detected__c": "DateTime"})
    schema.add_custom_object("Elaro_Audit_Log__c", {"Event__c": "Text", "Tags__c": "MultiselectPicklist"})
    src = StaticSource(schema, now=NOW)
    src.add("User", {"Id": "005000000000001AAA", "Name": "Ada Admin", "Username": "ada@elaro.test"})
    src.add("User", {"Id": "005000000000002AAA", "FirstName": "Bob", "LastName": "Ops", "Username": "bob@elaro.test"})
    src.add("PermissionSet", {"Id": "0PS000000000001AAA", "Name": "Elaro_Admin", "Label": "Elaro Admin"})
    src.add("PermissionSet", {"Id": "0PS000000000002AAA", "Name": "Other_Perms", "Label": "Other"})
    for i, (user, perm) in enumerate([(1, 1), (2, 1), (2, 2)], start=1):
        src.add(
            "PermissionSetAssignment",
            {
                "Id": f"0Pa00000000000{i}AAA",
                "AssigneeId": f"00500000000000{user}AAA",
                "PermissionSetId": f"0PS00000000000{perm}AAA",
            },
        )
    jobs = [
        ("ElaroAuditTrailPoller", "2026-11-27T17:15:00.000+0000", "WAITING"),
        ("ElaroCCPASLAMonitorScheduler", "2026-11-27T18:00:00.000+0000", "WAITING"),
        ("RetentionEnforcementScheduler", "2026-11-28T02:00:00.000+0000", "WAITING"),
        ("elaroLowercase", None, "PAUSED"),
    ]
    for i, (name, next_fire, state) in enumerate(jobs, start=1):
        src.add("CronJobDetail", {"Id": f"08a00000000000{i}AAA", "Name": name, "JobType": "7"})
        src.add(
            "CronTrigger",
            {
                "Id": f"08e00000000000{i}AAA",
                "CronJobDetailId": f"08a00000000000{i}AAA",
                "State": state,
                "NextFireTime": next_fire,
                "PreviousFireTime": "2026-11-27T17:00:00.000+0000",
                "TimesTriggered": i * 10,
            },
        )
    src.add("CronTrigger", {"Id": "08e000000000009AAA", "CronJobDetailId": None, "State": "DELETED"})
    logs = [
        ("07L000000000001AAA", "Success", "2026-11-27T09:00:00.000+0000", 120),
        ("07L000000000002AAA", "Attempt to de-reference a null object", "2026-11-27T10:00:00.000+0000", 900),
        ("07L000000000003AAA", "System.LimitException: Too many SOQL queries: 101", "2026-11-26T23:59:59.000+0000", 50),
    ]
    for log_id, status, start, duration in logs:
        src.add(
            "ApexLog",
            {
                "Id": log_id,
                "Request": "API",
                "Operation": "/services/data/v62.0/tooling/executeAnonymous",
                "Status": status,
                "StartTime": start,
                "DurationMilliseconds": duration,
                "LogUserId": "005000000000001AAA",
            },
        )
    snapshots = [
        ("a00000000000001AAA", "SOQL Queries", 42.0, "2026-11-27T08:00:00.000+0000"),
        ("a00000000000002AAA", "CPU Time", 71.5, "2026-11-27T16:00:00.000+0000"),
        ("a00000000000003AAA", "Heap Size", 12.0, "2026-11-26T16:00:00.000+0000"),
    ]
    for snap_id, name, value, created in snapshots:
        src.add("Governor_Limit_Snapshot__c", {"Id": snap_id, "Name": name, "Value__c": value, "CreatedDate": created})
    src.add("Compliance_Gap__c", {"Id": "a01000000000001AAA", "Name": "GAP-1", "Severity__c": "High"})
    src.add("Compliance_Gap__c", {"Id": "a01000000000002AAA", "Name": "GAP-2", "Severity__c": "Low", "IsDeleted": True})
    src.add(
        "Elaro_Audit_Log__c",
        {"Id": "a02000000000001AAA", "Name": "AL-1", "Event__c": "100% done_ok", "Tags__c": "gdpr;ccpa"},
    )
    src.add(
        "Elaro_Audit_Log__c", {"Id": "a02000000000002AAA", "Name": "AL-2", "Event__c": "100 done", "Tags__c": "sox"}
    )
    return src


def names(result: dict) -> list[str]:
    return [r["Name"] for r in result["records"]]


def error_of(soql: str, source: StaticSource, api: str = "rest") -> SoqlError:
    with pytest.raises(SoqlError) as info:
        execute(soql, source, api)
    return info.value


# --- parsing -----------------------------------------------------------------------------------------------
def test_parse_builds_tree_with_relationship_paths_and_clauses():
    query = parse(
        "select Id, CronJobDetail.Name from CronTrigger where State = 'WAITING' "
        "order by NextFireTime desc limit 5 offset 1"
    )
    assert query.sobject == "CronTrigger"
    assert [p.parts for p in query.select] == [("Id",), ("CronJobDetail", "Name")]
    assert query.order_by[0].descending and query.order_by[0].nulls_last
    assert (query.limit, query.offset) == (5, 1)


def test_keywords_are_case_insensitive_and_whitespace_free_form(org):
    result = execute("sElEcT\n  Name\tFrOm   PERMISSIONSET\nwHeRe   NAME = 'elaro_admin'", org)
    assert names(result) == ["Elaro_Admin"]


def test_string_escapes_are_decoded():
    query = parse(r"SELECT Id FROM Account WHERE Name = 'O\'Brien \\ \n'")
    assert query.where.right.value == "O'Brien \\ \n"


def test_invalid_escape_is_malformed(org):
    err = error_of(r"SELECT Id FROM Account WHERE Name = 'a\qb'", org)
    assert err.error_code == "MALFORMED_QUERY"
    assert "Illegal escape sequence" in err.message


def test_unexpected_token_uses_salesforce_layout(org):
    err = error_of("SELECT Id FROM", org)
    assert err.error_code == "MALFORMED_QUERY"
    assert err.message == "\nSELECT Id FROM\n              ^\nERROR at Row:1:Column:15\nunexpected token: <EOF>"


def test_error_position_on_second_row(org):
    err = error_of("SELECT Id\nFROM Account\nWHERE Name = = 'x'", org)
    assert "ERROR at Row:3:Column:14" in err.message
    assert "\nWHERE Name = = 'x'\n             ^\n" in err.message


def test_mixing_and_or_without_parentheses_is_rejected(org):
    err = error_of("SELECT Id FROM CronTrigger WHERE State = 'A' AND State = 'B' OR State = 'C'", org)
    assert err.error_code == "MALFORMED_QUERY"
    assert err.message.endswith("unexpected token: 'OR'")


def test_trailing_garbage_is_rejected(org):
    assert error_of("SELECT Id FROM Account LIMIT 5 banana", org).error_code == "MALFORMED_QUERY"


def test_bind_variables_are_apex_only(org):
    err = error_of("SELECT Id FROM Account WHERE Name = :name", org)
    assert "Bind variables only allowed in Apex code" in err.message


def test_nested_child_subqueries_are_rejected(org):
    err = error_of("SELECT Id, (SELECT Id, (SELECT Id FROM X) FROM Contacts) FROM Account", org)
    assert err.error_code == "MALFORMED_QUERY"


def test_unknown_character_is_malformed(org):
    err = error_of('SELECT Id FROM Account WHERE Name = "x"', org)
    assert "no viable alternative at character '\"'" in err.message


def test_invalid_date_literal_value_is_malformed(org):
    assert error_of("SELECT Id FROM Account WHERE CreatedDate > 2026-02-30T00:00:00Z", org).error_code == (
        "MALFORMED_QUERY"
    )


def test_n_date_literal_requires_a_number(org):
    assert error_of("SELECT Id FROM ApexLog WHERE StartTime = LAST_N_DAYS", org).error_code == "MALFORMED_QUERY"


# --- schema errors -----------------------------------------------------------------------------------------
def test_unknown_object_is_invalid_type_with_salesforce_message(org):
    err = error_of("SELECT Id FROM Foo", org)
    assert err.error_code == "INVALID_TYPE"
    assert err.message.endswith(
        "sObject type 'Foo' is not supported. If you are attempting to use a custom object, be sure to append the "
        "'__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."
    )
    assert "ERROR at Row:1:Column:16" in err.message


def test_unknown_field_is_invalid_field(org):
    err = error_of("SELECT Id, Nmae FROM PermissionSet", org)
    assert err.error_code == "INVALID_FIELD"
    assert "No such column 'Nmae' on entity 'PermissionSet'." in err.message
    assert "ERROR at Row:1:Column:12" in err.message


def test_unknown_relationship_is_invalid_field(org):
    err = error_of("SELECT Id, Bogus.Name FROM CronTrigger", org)
    assert err.error_code == "INVALID_FIELD"
    assert "Didn't understand relationship 'Bogus' in field path." in err.message


def test_unknown_field_behind_relationship_names_target_entity(org):
    err = error_of("SELECT CronJobDetail.Nope FROM CronTrigger", org)
    assert "No such column 'Nope' on entity 'CronJobDetail'" in err.message


def test_tooling_only_object_is_invalid_type_over_rest(org):
    assert error_of("SELECT PercentCovered FROM ApexOrgWideCoverage", org, "rest").error_code == "INVALID_TYPE"
    assert execute("SELECT PercentCovered FROM ApexOrgWideCoverage", org, "tooling")["totalSize"] == 0


def test_rest_only_object_is_invalid_type_over_tooling(org):
    assert error_of("SELECT Id FROM CronTrigger", org, "tooling").error_code == "INVALID_TYPE"


def test_quoted_value_on_datetime_field_is_rejected(org):
    err = error_of("SELECT Id FROM CronTrigger WHERE NextFireTime = '2026-11-27'", org)
    assert err.error_code == "INVALID_FIELD"
    assert "value of filter criterion for field 'NextFireTime' must be of type dateTime" in err.message


def test_plain_date_on_datetime_field_is_rejected(org):
    assert error_of("SELECT Id FROM CronTrigger WHERE NextFireTime > 2026-11-27", org).error_code == "INVALID_FIELD"


def test_unquoted_number_on_text_field_is_rejected(org):
    err = error_of("SELECT Id FROM PermissionSet WHERE Name = 5", org)
    assert "must be of type string and should be enclosed in quotes" in err.message


def test_malformed_id_literal(org):
    err = error_of("SELECT Id FROM User WHERE Id = 'not-an-id'", org)
    assert (err.error_code, err.message) == ("INVALID_QUERY_FILTER_OPERATOR", "invalid ID field: not-an-id")


def test_non_grouped_field_in_aggregate_query(org):
    err = error_of("SELECT Name, COUNT(Id) FROM PermissionSet", org)
    assert "Field must be grouped or aggregated: Name" in err.message


def test_duplicate_field_is_rejected(org):
    assert "duplicate field selected" in error_of("SELECT Id, id FROM User", org).message


def test_offset_above_2000(org):
    assert error_of("SELECT Id FROM User OFFSET 2001", org).error_code == "NUMBER_OUTSIDE_VALID_RANGE"


def test_fields_all_needs_a_small_limit(org):
    assert "LIMIT of at most 200" in error_of("SELECT FIELDS(ALL) FROM User", org).message
    result = execute("SELECT FIELDS(ALL) FROM User LIMIT 1", org)
    assert {"Id", "Username", "CreatedDate"} <= set(result["records"][0])


# --- evaluation --------------------------------------------------------------------------------------------
def test_like_is_case_insensitive_with_percent(org):
    result = execute("SELECT CronJobDetail.Name FROM CronTrigger WHERE CronJobDetail.Name LIKE 'ELARO%'", org)
    assert sorted(r["CronJobDetail"]["Name"] for r in result["records"]) == [
        "ElaroAuditTrailPoller",
        "ElaroCCPASLAMonitorScheduler",
        "elaroLowercase",
    ]


def test_like_underscore_and_escaped_wildcards(org):
    assert names(execute("SELECT Name FROM Elaro_Audit_Log__c WHERE Event__c LIKE '100\\% done\\_%'", org)) == ["AL-1"]
    assert names(execute("SELECT Name FROM Elaro_Audit_Log__c WHERE Name LIKE 'AL-_'", org)) == ["AL-1", "AL-2"]


def test_equality_on_text_is_case_insensitive(org):
    assert names(execute("SELECT Name FROM PermissionSet WHERE Name = 'ELARO_ADMIN'", org)) == ["Elaro_Admin"]


def test_not_equal_matches_nulls_and_comparison_skips_them(org):
    all_triggers = execute("SELECT Id FROM CronTrigger WHERE NextFireTime != 2026-11-27T17:15:00Z", org)
    assert all_triggers["totalSize"] == 4  # three others, two of them with null NextFireTime
    later = execute("SELECT Id FROM CronTrigger WHERE NextFireTime > 2026-11-27T17:15:00Z", org)
    assert later["totalSize"] == 2


def test_null_tests(org):
    assert execute("SELECT Id FROM CronTrigger WHERE CronJobDetailId = null", org)["totalSize"] == 1
    assert execute("SELECT Id FROM CronTrigger WHERE CronJobDetailId != null", org)["totalSize"] == 4


def test_in_and_not_in_with_15_and_18_character_ids(org):
    soql = "SELECT Name FROM PermissionSet WHERE Id IN ('0PS000000000001', '0PS000000000009AAA')"
    assert names(execute(soql, org)) == ["Elaro_Admin"]
    assert names(execute("SELECT Name FROM PermissionSet WHERE Id NOT IN ('0PS000000000001AAA')", org)) == [
        "Other_Perms"
    ]


def test_and_or_not_and_parentheses(org):
    soql = (
        "SELECT CronJobDetail.Name FROM CronTrigger WHERE (State = 'WAITING' OR State = 'PAUSED') "
        "AND NOT (CronJobDetail.Name LIKE 'Retention%') AND TimesTriggered >= 20"
    )
    result = execute(soql, org)
    assert sorted(r["CronJobDetail"]["Name"] for r in result["records"]) == [
        "ElaroCCPASLAMonitorScheduler",
        "elaroLowercase",
    ]


def test_numbers_compare_numerically(org):
    assert names(execute("SELECT Name FROM Governor_Limit_Snapshot__c WHERE Value__c > 40.5", org)) == [
        "SOQL Queries",
        "CPU Time",
    ]


def test_today_on_datetime_field_means_within_utc_day(org):
    soql = "SELECT Id, Status FROM ApexLog WHERE StartTime = TODAY"
    assert [r["Id"] for r in execute(soql, org)["records"]] == ["07L000000000001AAA", "07L000000000002AAA"]
    assert execute("SELECT Id FROM ApexLog WHERE StartTime < TODAY", org)["totalSize"] == 1
    assert execute("SELECT Id FROM ApexLog WHERE StartTime = YESTERDAY", org)["totalSize"] == 1


def test_last_n_days_and_this_week(org):
    assert execute("SELECT Id FROM ApexLog WHERE StartTime = LAST_N_DAYS:1", org)["totalSize"] == 3
    assert execute("SELECT Id FROM ApexLog WHERE StartTime = THIS_WEEK", org)["totalSize"] == 3
    assert execute("SELECT Id FROM ApexLog WHERE StartTime = NEXT_N_DAYS:3", org)["totalSize"] == 0


def test_datetime_literal_with_offset(org):
    # 11:00+01:00 is 10:00Z: exactly the second log's start.
    soql = "SELECT Id FROM ApexLog WHERE StartTime = 2026-11-27T11:00:00+01:00"
    assert [r["Id"] for r in execute(soql, org)["records"]] == ["07L000000000002AAA"]


def test_order_by_multiple_keys_and_nulls(org):
    soql = (
        "SELECT CronJobDetail.Name, NextFireTime FROM CronTrigger WHERE CronJobDetailId != null ORDER BY NextFireTime"
    )
    firsts = [r["CronJobDetail"]["Name"] for r in execute(soql, org)["records"]]
    assert firsts[0] == "elaroLowercase"  # ASC puts nulls first
    desc = execute(soql.replace("ORDER BY NextFireTime", "ORDER BY NextFireTime DESC"), org)["records"]
    assert desc[-1]["CronJobDetail"]["Name"] == "elaroLowercase"  # DESC puts nulls last
    nulls_first = execute(soql.replace("ORDER BY NextFireTime", "ORDER BY NextFireTime DESC NULLS FIRST"), org)
    assert nulls_first["records"][0]["CronJobDetail"]["Name"] == "elaroLowercase"
    two_keys = execute("SELECT Name, Label FROM PermissionSet ORDER BY Label DESC, Name", org)
    assert names(two_keys) == ["Other_Perms", "Elaro_Admin"]


def test_order_by_relationship_field_case_insensitively(org):
    soql = "SELECT CronJobDetail.Name FROM CronTrigger WHERE CronJobDetailId != null ORDER BY CronJobDetail.Name"
    got = [r["CronJobDetail"]["Name"] for r in execute(soql, org)["records"]]
    assert got == sorted(got, key=str.casefold)


def test_limit_and_offset(org):
    all_names = names(execute("SELECT Name FROM Governor_Limit_Snapshot__c ORDER BY Name", org))
    page = execute("SELECT Name FROM Governor_Limit_Snapshot__c ORDER BY Name LIMIT 1 OFFSET 1", org)
    assert names(page) == all_names[1:2]
    assert page["totalSize"] == 1


def test_results_use_canonical_casing_and_attributes(org):
    result = execute("select id, cronjobdetail.name, state from crontrigger where cronjobdetailid != null limit 1", org)
    record = result["records"][0]
    assert list(record) == ["attributes", "Id", "CronJobDetail", "State"]
    assert record["attributes"] == {
        "type": "CronTrigger",
        "url": f"/services/data/v62.0/sobjects/CronTrigger/{record['Id']}",
    }
    assert record["CronJobDetail"]["attributes"]["type"] == "CronJobDetail"
    assert result["done"] is True


def test_null_relationship_is_null(org):
    result = execute("SELECT Id, CronJobDetail.Name FROM CronTrigger WHERE State = 'DELETED'", org)
    assert result["records"][0]["CronJobDetail"] is None


def test_two_fields_of_one_relationship_share_one_object(org):
    result = execute("SELECT Assignee.Name, Assignee.Username, PermissionSet.Name FROM PermissionSetAssignment", org)
    first = result["records"][0]
    assert list(first) == ["attributes", "Assignee", "PermissionSet"]
    assert first["Assignee"]["Name"] == "Ada Admin"
    assert first["Assignee"]["Username"] == "ada@elaro.test"


def test_multi_level_relationship(org):
    result = execute("SELECT Id, Assignee.CreatedBy.Name FROM PermissionSetAssignment LIMIT 1", org)
    assert result["records"][0]["Assignee"]["CreatedBy"] is None


def test_user_name_is_derived_from_first_and_last_name(org):
    soql = "SELECT Assignee.Name FROM PermissionSetAssignment WHERE Assignee.Name = 'bob ops'"
    assert execute(soql, org)["totalSize"] == 2


def test_tooling_urls_carry_tooling(org):
    org.add("ApexClass", {"Id": "01p000000000001AAA", "Name": "ElaroSecurityUtils"})
    record = execute("SELECT Id, Name FROM ApexClass", org, "tooling")["records"][0]
    assert record["attributes"]["url"] == "/services/data/v62.0/tooling/sobjects/ApexClass/01p000000000001AAA"


def test_deleted_records_are_hidden_unless_query_all(org):
    assert names(execute("SELECT Name FROM Compliance_Gap__c", org)) == ["GAP-1"]
    assert names(execute("SELECT Name FROM Compliance_Gap__c", org, include_deleted=True)) == ["GAP-1", "GAP-2"]


def test_includes_on_multipicklist(org):
    assert names(execute("SELECT Name FROM Elaro_Audit_Log__c WHERE Tags__c INCLUDES ('ccpa')", org)) == ["AL-1"]
    assert names(execute("SELECT Name FROM Elaro_Audit_Log__c WHERE Tags__c EXCLUDES ('ccpa')", org)) == ["AL-2"]


def test_with_security_enforced_and_user_mode_are_accepted(org):
    for mode in ("SECURITY_ENFORCED", "USER_MODE"):
        assert execute(f"SELECT Name FROM PermissionSet WITH {mode} ORDER BY Name", org)["totalSize"] == 2


def test_from_alias_prefix(org):
    assert names(execute("SELECT p.Name FROM PermissionSet p WHERE p.Name = 'Other_Perms'", org)) == ["Other_Perms"]


# --- counting and aggregates -------------------------------------------------------------------------------
def test_count_returns_total_size_and_no_records(org):
    assert execute("SELECT COUNT() FROM CronTrigger WHERE State = 'WAITING'", org) == {
        "totalSize": 3,
        "done": True,
        "records": [],
    }


def test_count_id_is_aggregate_result_expr0(org):
    result = execute("SELECT COUNT(Id) FROM CronTrigger", org)
    assert result["records"] == [{"attributes": {"type": "AggregateResult"}, "expr0": 5}]


def test_count_over_no_rows_is_one_row_of_zero(org):
    assert execute("SELECT COUNT(Id) FROM Account", org)["records"][0]["expr0"] == 0


def test_group_by_with_alias_having_and_order(org):
    soql = (
        "SELECT PermissionSet.Name, COUNT(Id) holders, COUNT(AssigneeId) FROM PermissionSetAssignment "
        "GROUP BY PermissionSet.Name HAVING COUNT(Id) > 0 ORDER BY COUNT(Id) DESC"
    )
    rows = execute(soql, org)["records"]
    assert rows == [
        {"attributes": {"type": "AggregateResult"}, "Name": "Elaro_Admin", "holders": 2, "expr0": 2},
        {"attributes": {"type": "AggregateResult"}, "Name": "Other_Perms", "holders": 1, "expr0": 1},
    ]


def test_min_max_sum_avg(org):
    soql = "SELECT MIN(Value__c), MAX(Value__c), SUM(Value__c), AVG(Value__c) FROM Governor_Limit_Snapshot__c"
    row = execute(soql, org)["records"][0]
    assert (row["expr0"], row["expr1"], row["expr2"]) == (12.0, 71.5, 125.5)
    assert row["expr3"] == pytest.approx(125.5 / 3)


# --- column metadata ---------------------------------------------------------------------------------------
def test_column_metadata_nests_relationship_columns(org):
    meta = column_metadata("SELECT Id, ApexClass.Id, ApexClass.Name, Outcome FROM ApexTestResult", org, "tooling")
    assert meta["entityName"] == "ApexTestResult"
    assert meta["idSelected"] is True and meta["groupBy"] is False and meta["keyPrefix"] == "07M"
    columns = meta["columnMetadata"]
    assert [c["columnName"] for c in columns] == ["Id", "ApexClass", "Outcome"]
    assert [j["displayName"] for j in columns[1]["joinColumns"]] == ["ApexClass.Id", "ApexClass.Name"]
    assert all(c["aggregate"] is False for c in columns)


def test_column_metadata_for_aggregates_matches_what_the_cli_reads(org):
    meta = column_metadata("SELECT State, COUNT(Id) n, COUNT(CronJobDetailId) FROM CronTrigger GROUP BY State", org)
    columns = meta["columnMetadata"]
    assert [(c["columnName"], c["displayName"], c["aggregate"]) for c in columns] == [
        ("State", "State", False),
        ("n", "COUNT(Id)", True),
        ("expr0", "COUNT(CronJobDetailId)", True),
    ]
    assert meta["groupBy"] is True


def test_column_metadata_errors_like_execute(org):
    with pytest.raises(SoqlError) as info:
        column_metadata("SELECT Nope FROM User", org)
    assert info.value.error_code == "INVALID_FIELD"


def test_count_only_has_no_columns(org):
    assert column_metadata("SELECT COUNT() FROM User", org)["columnMetadata"] == []


# --- robustness --------------------------------------------------------------------------------------------
def test_deep_nesting_is_a_soql_error_not_a_crash(org):
    soql = "SELECT Id FROM User WHERE " + "(" * 5000 + "Name = 'x'" + ")" * 5000
    assert error_of(soql, org).error_code == "MALFORMED_QUERY"


def test_failing_store_becomes_malformed_query():
    class Broken(StaticSource):
        def list(self, sobject):
            raise RuntimeError("disk on fire")

    err = error_of("SELECT Id FROM User", Broken())
    assert err.error_code == "MALFORMED_QUERY"
    assert "disk on fire" not in err.message


def test_non_string_query_is_a_soql_error(org):
    with pytest.raises(SoqlError):
        execute(None, org)  # type: ignore[arg-type]


def test_to_json_is_the_rest_error_body():
    assert SoqlError("INVALID_TYPE", "m").to_json() == [{"message": "m", "errorCode": "INVALID_TYPE"}]


# --- semi-joins ----------------------------------------------------------------------------------------------
def test_semi_join_and_anti_join_on_reference_fields(org):
    soql = (
        "SELECT CronJobDetail.Name FROM CronTrigger WHERE CronJobDetailId IN "
        "(SELECT Id FROM CronJobDetail WHERE Name LIKE 'Elaro%') ORDER BY CronJobDetail.Name"
    )
    assert [r["CronJobDetail"]["Name"] for r in execute(soql, org)["records"]] == [
        "ElaroAuditTrailPoller",
        "ElaroCCPASLAMonitorScheduler",
        "elaroLowercase",
    ]
    anti = "SELECT Name FROM PermissionSet WHERE Id NOT IN (SELECT PermissionSetId FROM PermissionSetAssignment)"
    assert execute(anti, org)["totalSize"] == 0


@pytest.mark.parametrize(
    ("soql", "expected"),
    [
        ("SELECT Id FROM CronTrigger WHERE State IN (SELECT Id FROM CronJobDetail)", "only allowed on id"),
        ("SELECT Id FROM CronTrigger WHERE CronJobDetailId IN (SELECT Name FROM CronJobDetail)", "must be an id"),
        (
            "SELECT Id FROM User WHERE Id IN (SELECT AssigneeId FROM PermissionSetAssignment WHERE "
            "PermissionSetId IN (SELECT Id FROM PermissionSet))",
            "Nesting of semi join sub-selects is not supported",
        ),
        ("SELECT Id FROM User WHERE Id IN (SELECT Id FROM Nope__c)", "sObject type 'Nope__c' is not supported"),
    ],
)
def test_semi_join_errors(org, soql, expected):
    assert expected in error_of(soql, org).message


def test_grouped_field_aliases_and_duplicate_flat_names(org):
    soql = (
        "SELECT Assignee.Name who, PermissionSet.Name perm, COUNT(Id) FROM PermissionSetAssignment "
        "GROUP BY Assignee.Name, PermissionSet.Name ORDER BY PermissionSet.Name, Assignee.Name"
    )
    rows = execute(soql, org)["records"]
    assert [(r["who"], r["perm"], r["expr0"]) for r in rows] == [
        ("Ada Admin", "Elaro_Admin", 1),
        ("Bob Ops", "Elaro_Admin", 1),
        ("Bob Ops", "Other_Perms", 1),
    ]
    assert [c["columnName"] for c in column_metadata(soql, org)["columnMetadata"]] == ["who", "perm", "expr0"]
    unaliased = soql.replace(" who,", ",").replace(" perm,", ",")
    assert "duplicate alias: Name" in error_of(unaliased, org).message
    assert error_of("SELECT Name n FROM User", org).error_code == "MALFORMED_QUERY"


# --- date functions ------------------------------------------------------------------------------------------
def test_date_functions_group_filter_and_order(org):
    soql = (
        "SELECT HOUR_IN_DAY(StartTime) hour, COUNT(Id) logs FROM ApexLog WHERE StartTime = LAST_N_DAYS:1 "
        "GROUP BY HOUR_IN_DAY(StartTime) ORDER BY HOUR_IN_DAY(StartTime) DESC"
    )
    rows = execute(soql, org)["records"]
    assert [(r["hour"], r["logs"]) for r in rows] == [(23, 1), (10, 1), (9, 1)]
    column = column_metadata(soql, org)["columnMetadata"][0]
    assert (column["columnName"], column["displayName"], column["aggregate"]) == (
        "hour",
        "HOUR_IN_DAY(StartTime)",
        True,
    )
    by_day = execute("SELECT DAY_ONLY(StartTime), COUNT(Id) FROM ApexLog GROUP BY DAY_ONLY(StartTime)", org)
    assert sorted((r["expr0"], r["expr1"]) for r in by_day["records"]) == [("2026-11-26", 1), ("2026-11-27", 2)]
    assert execute("SELECT Id FROM ApexLog WHERE DAY_IN_WEEK(StartTime) = 6", org)["totalSize"] == 2  # Friday
    assert execute("SELECT Id FROM ApexLog WHERE CALENDAR_YEAR(StartTime) = 2026", org)["totalSize"] == 3


def test_date_function_errors(org):
    assert error_of("SELECT Id FROM ApexLog WHERE HOUR_IN_DAY(Status) = 1", org).error_code == "INVALID_FIELD"
    assert "needs a GROUP BY" in error_of("SELECT CALENDAR_YEAR(StartTime) FROM ApexLog", org).message
    err = error_of("SELECT Id FROM ApexLog WHERE CALENDAR_MONTH(StartTime) = '11'", org)
    assert "must be of type integer" in err.message


def test_hostile_like_pattern_does_not_backtrack(org):
    # A backtracking regex needs ages for this; the wildcard matcher is linear in pattern x text.
    org.add("Elaro_Audit_Log__c", {"Id": "a02000000000009AAA", "Name": "AL-9", "Event__c": "a" * 3000})
    soql = "SELECT Name FROM Elaro_Audit_Log__c WHERE Event__c LIKE '" + "%a" * 40 + "%b'"
    assert execute(soql, org)["totalSize"] == 0
    assert names(execute("SELECT Name FROM Elaro_Audit_Log__c WHERE Event__c LIKE '%a%a%'", org)) == ["AL-9"]


def test_enormous_number_literal_is_malformed_not_internal(org):
    err = error_of("SELECT Id FROM CronTrigger WHERE TimesTriggered = " + "9" * 5000, org)
    assert "number literal out of range" in err.message


# --- child relationship subqueries ---------------------------------------------------------------------------
def test_child_subquery_nests_children_per_parent(org):
    soql = (
        "SELECT Name, (SELECT Assignee.Name FROM Assignments ORDER BY Assignee.Name DESC) FROM PermissionSet "
        "ORDER BY Name"
    )
    records = execute(soql, org)["records"]
    admin, other = records
    assert list(admin) == ["attributes", "Name", "Assignments"]
    assert admin["Assignments"]["totalSize"] == 2 and admin["Assignments"]["done"] is True
    assert [r["Assignee"]["Name"] for r in admin["Assignments"]["records"]] == ["Bob Ops", "Ada Admin"]
    assert admin["Assignments"]["records"][0]["attributes"]["type"] == "PermissionSetAssignment"
    assert [r["Assignee"]["Name"] for r in other["Assignments"]["records"]] == ["Bob Ops"]
    filtered = execute(
        "SELECT Name, (SELECT Id FROM Assignments WHERE Assignee.Name = 'nobody') FROM PermissionSet", org
    )
    assert [r["Assignments"] for r in filtered["records"]] == [None, None]  # no children: null, as Salesforce


def test_child_subquery_column_metadata_is_an_aggregate_column_with_join_columns(org):
    meta = column_metadata("SELECT Name, (SELECT Id, Assignee.Name FROM Assignments) FROM PermissionSet", org)
    child = meta["columnMetadata"][1]
    assert (child["columnName"], child["aggregate"]) == ("Assignments", True)
    assert [c["columnName"] for c in child["joinColumns"]] == ["Id", "Assignee"]


def test_child_subquery_errors(org):
    err = error_of("SELECT Name, (SELECT Id FROM Nope) FROM PermissionSet", org)
    assert err.error_code == "INVALID_TYPE" and "Didn't understand relationship 'Nope'" in err.message
    assert error_of("SELECT Name, (SELECT Nope FROM Assignments) FROM PermissionSet", org).error_code == "INVALID_FIELD"
    assert "not allowed" in error_of("SELECT Name, (SELECT COUNT() FROM Assignments) FROM PermissionSet", org).message
