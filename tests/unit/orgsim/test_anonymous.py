from __future__ import annotations

from pathlib import Path

import pytest

from orgsim.anonymous import execute
from orgsim.org import Org

SCENARIO = {
    "records": {
        "ApexClass": [{"Name": "ElaroAuditTrailPoller", "Status": "Active"}, {"Name": "RetentionEnforcementScheduler"}]
    },
    "scheduled_jobs": [
        {"name": "ElaroAuditTrailPoller", "class_name": "ElaroAuditTrailPoller", "cron": "0 0 * * * ?"},
        {"name": "RetentionEnforcementScheduler", "class_name": "RetentionEnforcementScheduler", "cron": "0 0 2 * * ?"},
    ],
}


@pytest.fixture
def org(tmp_path: Path) -> Org:
    return Org(tmp_path / "org", SCENARIO)


def job_names(org: Org) -> list[str]:
    details = {d["Id"]: d["Name"] for d in org.store.list("CronJobDetail")}
    return sorted(details[t["CronJobDetailId"]] for t in org.store.list("CronTrigger"))


def test_abort_all_and_reschedule_in_one_script(org: Org) -> None:
    old_trigger = org.scheduled_job_named("ElaroAuditTrailPoller")
    script = """
        // re-create the Elaro jobs after a deploy
        for (CronTrigger ct : [SELECT Id FROM CronTrigger WHERE CronJobDetail.Name LIKE 'Elaro%']) {
            System.abortJob(ct.Id);
        }
        String hourly = '0 0 * * * ?';
        String jobId = System.schedule('ElaroAuditTrailPoller', hourly, new ElaroAuditTrailPoller());
        System.debug('scheduled ' + jobId);
    """
    result = execute(org, script)
    assert result.compiled and result.success, result
    assert job_names(org) == ["ElaroAuditTrailPoller", "RetentionEnforcementScheduler"]
    new_trigger = org.scheduled_job_named("ElaroAuditTrailPoller")
    assert new_trigger is not None and new_trigger["Id"] != old_trigger["Id"]
    assert new_trigger["CronExpression"] == "0 0 * * * ?" and new_trigger["State"] == "WAITING"
    old_job = org.store.find("AsyncApexJob", CronTriggerId=old_trigger["Id"])[0]
    assert old_job["Status"] == "Aborted"
    assert result.debug_lines == [f"[8]|DEBUG|scheduled {new_trigger['Id']}"]


def test_scheduling_an_existing_name_is_an_async_exception(org: Org) -> None:
    result = execute(org, "System.schedule('ElaroAuditTrailPoller', '0 0 * * * ?', new ElaroAuditTrailPoller());")
    assert result.compiled and not result.success
    assert result.exception_message == (
        'System.AsyncException: The Apex job named "ElaroAuditTrailPoller" is already scheduled for execution.'
    )
    assert result.exception_stack_trace == "AnonymousBlock: line 1, column 1"


def test_unknown_class_does_not_compile_and_changes_nothing(org: Org) -> None:
    before = job_names(org)
    script = (
        "System.abortJob([SELECT Id FROM CronTrigger][0].Id);\nSystem.schedule('X', '0 0 * * * ?', new NoSuchClass());"
    )
    result = execute(org, script)
    assert not result.compiled and not result.success
    assert result.compile_problem == "Invalid type: NoSuchClass"
    assert (result.line, result.column) == (2, 41)
    # Apex is all-or-nothing: the abort on line 1 was rolled back.
    assert job_names(org) == before


def test_unsupported_statements_are_reported_not_ignored(org: Org) -> None:
    result = execute(org, "Database.executeBatch(new RetentionEnforcementScheduler());")
    assert not result.compiled
    assert "orgsim cannot simulate the method Database.executeBatch()" in (result.compile_problem or "")
    result = execute(org, "insert new Account(Name='x');")
    assert not result.compiled and "cannot simulate this anonymous Apex statement" in (result.compile_problem or "")
    assert job_names(org) == ["ElaroAuditTrailPoller", "RetentionEnforcementScheduler"]


def test_bad_cron_and_bad_abort_are_runtime_errors(org: Org) -> None:
    result = execute(org, "System.schedule('Nightly', '0 0 25 * * ?', new RetentionEnforcementScheduler());")
    assert result.compiled and not result.success and "out of range" in (result.exception_message or "")
    result = execute(org, "System.abortJob('not-an-id');")
    assert not result.success and result.exception_message == "System.StringException: Invalid id: not-an-id"
    # A well-formed id of a job that is already gone: nothing to do, no error (clean-up scripts can be re-run).
    assert execute(org, "System.abortJob('08e000000000000AAA');").success


def test_static_constants_of_deployed_classes(tmp_path: Path) -> None:
    body = "public class ElaroAuditTrailPoller implements Schedulable {\n"
    body += "  public static final String JOB_NAME = 'ElaroAuditTrailPoller';\n  public static final Integer N = 4;\n}"
    org = Org(tmp_path / "org", {"records": {"ApexClass": [{"Name": "ElaroAuditTrailPoller", "Body": body}]}})
    script = "System.schedule(ElaroAuditTrailPoller.JOB_NAME + ' ' + ElaroAuditTrailPoller.N, '0 0 * * * ?', "
    script += "new ElaroAuditTrailPoller());"
    result = execute(org, script)
    assert result.success, result
    assert job_names(org) == ["ElaroAuditTrailPoller 4"]
    missing = execute(org, "System.debug(ElaroAuditTrailPoller.NOPE);")
    assert not missing.compiled and "ElaroAuditTrailPoller.NOPE is not one" in (missing.compile_problem or "")


def test_syntax_errors_point_at_the_token(org: Org) -> None:
    result = execute(org, "System.debug('unterminated);")
    assert not result.compiled and result.line == 1
    result = execute(org, "String x = 'a'\nSystem.debug(x);")
    assert not result.compiled and result.compile_problem == "Unexpected token 'System'." and result.line == 2
