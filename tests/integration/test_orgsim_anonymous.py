"""`sf apex run --file x.apex`: re-creating a scheduled job after a deploy aborted it."""

from __future__ import annotations

from pathlib import Path

from orgsim.testing import OrgsimServer, run_sf

RESCHEDULE = """\
// Re-create ElaroAuditTrailPoller after the deploy (abort whatever is left, then schedule again).
for (CronTrigger ct : [SELECT Id FROM CronTrigger WHERE CronJobDetail.Name = 'ElaroAuditTrailPoller']) {
    System.abortJob(ct.Id);
}
String jobId = System.schedule('ElaroAuditTrailPoller', '0 0,15,30,45 * * * ?', new ElaroAuditTrailPoller());
System.debug('scheduled ' + jobId);
"""

JOB_QUERY = (
    "SELECT Id, CronJobDetail.Name, State, CronExpression FROM CronTrigger "
    "WHERE CronJobDetail.Name = 'ElaroAuditTrailPoller'"
)


def test_reschedule_a_job_with_anonymous_apex(production_org: OrgsimServer, sf_bin: Path, sf_home: Path) -> None:
    org = production_org.org
    before = org.scheduled_job_named("ElaroAuditTrailPoller")
    org.abort_scheduled_jobs("ElaroAuditTrail")  # what a deploy with abort_scheduled_jobs_on_deploy does
    assert org.scheduled_job_named("ElaroAuditTrailPoller") is None
    script = sf_home / "reschedule.apex"
    script.write_text(RESCHEDULE)
    run = run_sf(sf_bin, ["apex", "run", "--file", str(script), "--target-org", "production"], sf_home)
    assert run.returncode == 0, run
    assert run.json["result"]["success"] is True and run.json["result"]["compiled"] is True
    assert "USER_DEBUG" in run.json["result"]["logs"] and "scheduled 08e" in run.json["result"]["logs"]
    query = run_sf(sf_bin, ["data", "query", "--query", JOB_QUERY, "--target-org", "production"], sf_home)
    records = query.json["result"]["records"]
    assert len(records) == 1
    assert records[0]["State"] == "WAITING" and records[0]["CronExpression"] == "0 0,15,30,45 * * * ?"
    assert records[0]["Id"] != before["Id"]


def test_scheduling_twice_reports_the_apex_exception(production_org: OrgsimServer, sf_bin: Path, sf_home: Path) -> None:
    script = sf_home / "twice.apex"
    script.write_text(
        "System.schedule('ElaroCCPASLAMonitorScheduler', '0 0 * * * ?', new ElaroCCPASLAMonitorScheduler());\n"
    )
    run = run_sf(sf_bin, ["apex", "run", "--file", str(script), "--target-org", "production"], sf_home)
    assert run.returncode == 1, run
    assert "is already scheduled for execution" in run.stdout
