"""The verify, monitor and post_deploy stages."""

from __future__ import annotations

from cutover.runbook.models import (
    Runbook,
    parse_duration,
)
from cutover.runbook.plan._common import (
    ORG_LIMIT_THRESHOLD,
    PlanStep,
    checklist_step,
    pct,
    sf_line,
)


def _job_filter(runbook: Runbook) -> str:
    names = [job.name for job in runbook.scheduled_jobs]
    return " OR ".join(f"CronJobDetail.Name LIKE '{name}%'" for name in names)


def verify_steps(runbook: Runbook) -> list[PlanStep]:
    rb = runbook
    verify = rb.verify
    steps: list[PlanStep] = []
    on_failure = " (a failure triggers the rollback)" if rb.rollback.automatic_on_verification_failure else ""
    for group in rb.checklists.smoke_tests:
        steps.append(
            PlanStep(
                id=f"verify.smoke-{group.id}",
                stage="verify",
                title=f"Smoke tests: {group.title}",
                kind="signoff",
                action="signoff",
                checks=list(group.items),
                sf_command=f"sf org open --target-org {rb.target.alias}",
                params={"signoff_id": f"smoke-{group.id}", "role": group.role, "evidence_required": False},
                blocking=group.blocking,
                role=group.role,
                source="Deployment Steps > Step 3: Post-Deployment Verification > 3.1 Smoke Tests",
            )
        )
    if verify.run_tests and rb.project.has_apex:
        steps.append(
            PlanStep(
                id="verify.apex-tests",
                stage="verify",
                title="Run post-deployment verification tests" + on_failure,
                kind="automated",
                action="sf.verify_tests",
                checks=[
                    "All tests pass",
                    f"Code coverage ≥ {pct(rb.thresholds.apex_coverage)}",
                ],
                sf_command=sf_line(
                    rb, "apex", "run", "test", "--test-level", verify.test_level, "--code-coverage", wait=True
                ),
                params={"test_level": verify.test_level, "apex_coverage": rb.thresholds.apex_coverage},
                source="Deployment Steps > Step 3: Post-Deployment Verification > 3.2 Automated Verification",
            )
        )
    steps.append(
        PlanStep(
            id="verify.apex-logs",
            stage="verify",
            title=f"Check Debug Logs (first {verify.log_watch})" + on_failure,
            kind="automated",
            action="sf.verify_logs",
            # ApexLog has no severity column: a transaction that ended in an unhandled exception is a log with
            # Status = 'Failure', which is what the seed's query counts.
            checks=[
                "No new debug logs with ERROR severity (failed transactions in ApexLog)",
                "No new exceptions in exception logs",
                f"No new failure logs related to deployment (at most {verify.max_failure_logs} ApexLog rows with "
                "Status = 'Failure')",
            ],
            sf_command=sf_line(rb, "data", "query", "--query", verify.apex_log_query),
            params={
                "query": verify.apex_log_query,
                "watch_seconds": int(parse_duration(verify.log_watch).total_seconds()),
                "max_failure_logs": verify.max_failure_logs,
            },
            source="Deployment Steps > Step 3: Post-Deployment Verification > 3.3 Monitor for Errors",
        )
    )
    if rb.scheduled_jobs:
        query = (
            "SELECT Id, CronJobDetail.Name, State, NextFireTime, PreviousFireTime FROM CronTrigger "
            f"WHERE {_job_filter(rb)} ORDER BY NextFireTime"
        )
        steps.append(
            PlanStep(
                id="verify.scheduled-jobs",
                stage="verify",
                title="Check Scheduled Jobs" + on_failure,
                kind="automated",
                action="sf.verify_jobs",
                checks=[
                    f"{job.name} ({job.frequency}, {len(job.crons)} CronTrigger{'s' if len(job.crons) > 1 else ''}) "
                    f"in {job.expected_state} state with valid NextFireTime: {job.purpose}"
                    + (f"; {job.verification.replace('`', '')}" if job.verification else "")
                    for job in rb.scheduled_jobs
                ],
                sf_command=sf_line(rb, "data", "query", "--query", query),
                params={
                    "query": query,
                    "jobs": [job.model_dump(by_alias=True) for job in rb.scheduled_jobs],
                },
                source="Scheduled Jobs Verification",
            )
        )
    if verify.permission_set_query:
        steps.append(
            PlanStep(
                id="verify.permission-sets",
                stage="verify",
                title="Check Permission Set Assignments",
                kind="automated",
                action="sf.verify_permission_sets",
                checks=[
                    f"At least {verify.min_permission_set_assignments} permission set assignment(s) match "
                    f"verify.permission_set_query"
                ],
                sf_command=sf_line(rb, "data", "query", "--query", verify.permission_set_query),
                params={"query": verify.permission_set_query, "minimum": verify.min_permission_set_assignments},
                source="Appendix A: Useful Commands > Check Permission Set Assignments",
            )
        )
    # The seed's "Immediate (Within 1 Hour)" checklist belongs right after verification, before the 24 h of
    # monitoring, so it closes this stage rather than opening post_deploy.
    steps.append(_announce(rb))
    steps.append(
        checklist_step(
            rb,
            step_id="verify.checklist-1h",
            stage="verify",
            title="Post-deployment checklist: Immediate (Within 1 Hour)",
            items=rb.checklists.post_deploy.within_1h,
            blocking=True,
        )
    )
    return steps


def _announce(runbook: Runbook) -> PlanStep:
    return PlanStep(
        id="verify.announce",
        stage="verify",
        title="Deployment announcement sent to stakeholders",
        kind="automated",
        action="notify",
        checks=[
            "Deployment announcement sent to stakeholders on: "
            + (
                ", ".join(f"{c.type} {c.target}" for c in runbook.alerts.channels)
                or "no alert channel yet (alerts.channels): recorded in the run's outbox only"
            )
        ],
        params={"event": "deployment_succeeded", "severity": "LOW"},
        source="Post-Deployment Checklist > Immediate (Within 1 Hour)",
    )


def monitor_steps(runbook: Runbook) -> list[PlanStep]:
    rb = runbook
    mon = rb.monitoring
    limits = rb.thresholds.limits
    automated = [m for m in mon.metrics if m.check != "manual"]
    manual = [m for m in mon.metrics if m.check == "manual"]
    checks = []
    for metric in automated:
        if metric.check == "limit" and metric.limit:
            threshold = getattr(limits, metric.limit)
            checks.append(f"{metric.group}: {metric.title} < {pct(threshold)} of limit ({metric.severity})")
        else:
            checks.append(f"{metric.group}: {metric.title} ({metric.severity})")
    escalation = [
        f"{row.severity}: respond within {row.response_time}, " + " → ".join(rb.roles[r].title for r in row.path)
        for row in rb.alerts.escalation
    ]
    channels = [f"{c.type.capitalize()}: {c.target} ({c.min_severity} and above)" for c in rb.alerts.channels]
    return [
        PlanStep(
            id="monitor.alert-routing",
            stage="monitor",
            title="Announce monitoring on every alert channel (proves alert routing)",
            kind="automated",
            action="notify",
            checks=[*channels, *(f"Escalation Path {line}" for line in escalation)],
            params={
                "event": "monitoring_started",
                "severity": "LOW",
                # Never the url: apprise URLs carry tokens, and params are stored with the run.
                "channels": [c.model_dump(exclude={"url"}) for c in rb.alerts.channels],
                "escalation": [e.model_dump() for e in rb.alerts.escalation],
            },
            source="Monitoring & Alerts (First 24 Hours) > Alert Channels, Escalation Path",
        ),
        PlanStep(
            id="monitor.limits",
            stage="monitor",
            title=f"Monitor critical metrics every {mon.interval} for {mon.duration}",
            kind="automated",
            action="monitor.limits",
            checks=[
                f"Org limits (sf org list limits) below {pct(ORG_LIMIT_THRESHOLD)} ({mon.breach_severity})",
                "No failed Apex transactions (ApexLog) since the window started (CRITICAL)",
                *(
                    [f"Scheduled jobs still scheduled: {', '.join(job.name for job in rb.scheduled_jobs)} (HIGH)"]
                    if rb.scheduled_jobs
                    else []
                ),
                *(["Governor-limit snapshots (monitoring.limits_query)"] if mon.limits_query else []),
                *checks,
                f"A breach alerts the channels and follows the Escalation Path ({mon.breach_severity})",
            ],
            sf_command=sf_line(rb, "org", "list", "limits"),
            params={
                "duration_seconds": mon.duration_seconds,
                "interval_seconds": mon.interval_seconds,
                "limits_query": mon.limits_query,
                "jobs": [job.model_dump(by_alias=True) for job in rb.scheduled_jobs],
                "snapshot_names": dict(mon.snapshot_names),
                "thresholds": limits.model_dump(),
                "metrics": [m.model_dump() for m in automated],
                "breach_severity": mon.breach_severity,
                "escalation": [e.model_dump() for e in rb.alerts.escalation],
            },
            source="Monitoring & Alerts (First 24 Hours) > Critical Metrics to Monitor",
        ),
        checklist_step(
            rb,
            step_id="monitor.checklist-24h",
            stage="monitor",
            title="Post-deployment checklist: First 24 Hours",
            items=rb.checklists.post_deploy.first_24h,
            blocking=True,
            extra=[f"{m.group}: {m.title}" for m in manual],
        ),
    ]


def post_deploy_steps(runbook: Runbook) -> list[PlanStep]:
    return [
        checklist_step(
            runbook,
            step_id="post_deploy.checklist-1w",
            stage="post_deploy",
            title="Post-deployment checklist: First Week",
            items=runbook.checklists.post_deploy.first_week,
            blocking=False,  # a follow-up: the run does not stay open for a week
        ),
    ]
