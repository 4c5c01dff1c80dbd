"""Helpers for the release-record tests: a small runbook file and a full run driven through the engine API, whose
steps record evidence in the shapes the real step modules write (backup.json, deploy/validation results with the
`sf` envelope, org-identity.json, release.json). A uniquely named module (not conftest.py) so imports never clash."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cutover.engine import Engine, RoleRules, StepContext, StepOutcome, StepSpec, StepStatus
from cutover.engine.model import SignoffRule
from cutover.engine.signoffs import evaluate
from cutover.notify.alerts import acknowledge, load_alerts

TOKEN = "00D000000000001AAA!AQ8.fake.reporttoken"
SCRIPT = "<script>alert('x')</script>"
ORG = {"org_id": "00D000000000001AAA", "username": "admin@elaro.example", "instance_url": "https://elaro.example"}

RUNBOOK = """\
name: Elaro report test
release: {version: "3.0.7"}
target:
  alias: prod
  production: false
  expect: {org_id: 00D000000000001AAA, username: admin@elaro.example, instance_url: "https://elaro.example"}
roles:
  deployment_lead: {title: Deployment Lead, name: Dana Lead, email: dana@example.com, phone: "555-0100"}
  security_reviewer: {title: Security Reviewer}
  developer: {title: Developer}
  qa_lead: {title: QA Lead}
  customer_support: {title: Customer Support}
  engineering_manager: {title: Engineering Manager}
  security_lead: {title: Security Lead}
  vp_engineering: {title: VP of Engineering}
  cto: {title: CTO}
stages: [post_deploy]
signoffs: []
separation_of_duties: {exclusive: [[developer, security_reviewer], [deployment_lead, security_reviewer]]}
thresholds: {apex_coverage: 85}
alerts:
  channels:
    - {id: email, type: email, target: ops-team@solentra.com}
    - {id: slack, type: slack, target: "#elaro-production-alerts"}
  escalation:
    - {severity: CRITICAL, response_time: 15m, path: [deployment_lead, cto]}
    - {severity: HIGH, response_time: 1h, path: [deployment_lead, engineering_manager]}
known_issues:
  - {id: pdf, title: PDF Generation Timeout, symptom: PDF export fails for reports >100 pages,
     workaround: Split report into smaller date ranges}
custom_steps: []
"""

RULES = RoleRules(
    exclusive=(("deployment_lead", "security_reviewer"),),
    waiver_roles=("deployment_lead",),
    role_holders={"deployment_lead": ("Dana Lead",)},
)


def write_runbook(project: Path, text: str = RUNBOOK) -> str:
    (project / "cutover.yaml").write_text(text, encoding="utf-8")
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Scripted:
    """A step executor running `behaviour(ctx)`."""

    behaviour: Callable[[StepContext], StepOutcome]
    idempotent: bool = True

    def run(self, ctx: StepContext) -> StepOutcome:
        return self.behaviour(ctx)


def signed(ctx: StepContext) -> StepOutcome:
    rule = ctx.step.signoff
    assert rule is not None
    state = evaluate(rule, ctx.signoffs_for())
    if not state.satisfied:
        return StepOutcome.waiting_signoff(f"waiting for sign-off: {ctx.step.title}")
    return StepOutcome.passed("signed by " + ", ".join(state.signers))


def envelope(result: dict[str, Any]) -> dict[str, Any]:
    """What the sf adapter records: `SfResult.to_evidence()`."""
    return {"argv": ["sf", "project", "deploy", "report"], "exit_code": 0, "envelope": {"status": 0, "result": result}}


def deploy_result(job_id: str, *, check_only: bool, problem: str = "") -> dict[str, Any]:
    return {
        "id": job_id,
        "status": "Succeeded",
        "success": True,
        "done": True,
        "checkOnly": check_only,
        "numberComponentsTotal": 3,
        "numberComponentsDeployed": 3,
        "numberTestsTotal": 4,
        "numberTestsCompleted": 4,
        "completedDate": "2026-11-27T18:00:00.000Z",
        "details": {
            "componentFailures": [
                {
                    "componentType": "ApexClass",
                    "fullName": "ElaroLogger",
                    "fileName": "classes/ElaroLogger.cls",
                    "lineNumber": 7,
                    "problem": problem,
                    "success": False,
                }
            ]
            if problem
            else [],
            "runTestResult": {
                "numTestsRun": 4,
                "numFailures": 0,
                "codeCoverage": [
                    {"name": "ElaroLogger", "type": "Class", "numLocations": 20, "numLocationsNotCovered": 1},
                    {"name": "ComplianceDashboardController", "numLocations": 10, "numLocationsNotCovered": 4},
                ],
            },
        },
    }


def full_specs() -> list[StepSpec]:
    return [
        StepSpec("preflight.lint", "preflight", "Lint checks pass", "gate.command"),
        StepSpec("preflight.docs", "preflight", "CHANGELOG.md updated", "gate.docs"),
        StepSpec(
            "signoff.security-review",
            "preflight",
            "Security review completed",
            "signoff",
            kind="signoff",
            signoff=SignoffRule(roles=("security_reviewer",), evidence_required=True),
        ),
        StepSpec("guard.org-identity", "guard", "Verify the org identity", "sf.guard"),
        StepSpec("backup.retrieve", "backup", "Backup current production state", "sf.backup"),
        StepSpec("release.branch-tag", "release", "Create release branch and tag", "git.release"),
        StepSpec("validate.dry-run", "validate", "Validate deployment (dry run)", "sf.validate"),
        StepSpec("deploy.quick", "deploy", "Quick deploy the validated package", "sf.quick_deploy"),
        StepSpec("verify.apex-tests", "verify", "Post-deployment Apex tests", "sf.verify_tests"),
        StepSpec("monitor.limits", "monitor", "Monitor governor limits", "monitor.limits", blocking=False),
        StepSpec("rollback.redeploy-backup", "rollback", "Redeploy the backup", "sf.rollback", contingency=True),
    ]


def full_executors(project: Path) -> dict[str, Scripted]:
    def lint(ctx: StepContext) -> StepOutcome:
        ctx.record_evidence("lint.stdout.txt", "0 problems\n")
        return StepOutcome.passed("npm run lint: exit 0")

    def guard(ctx: StepContext) -> StepOutcome:
        ctx.record_evidence(
            "org-identity.json",
            {
                "alias": "prod",
                "expected": ORG,
                "actual": {**ORG, "sandbox": False, "name": f"Elaro {SCRIPT} {TOKEN}"},
                "mismatches": [],
                "not_pinned": [],
            },
            redact=False,
        )
        return StepOutcome.passed("admin@elaro.example (00D000000000001AAA): matches target.expect")

    def backup(ctx: StepContext) -> StepOutcome:
        archive = project / "backups" / "production-backup-1.tar.gz"
        archive.parent.mkdir(exist_ok=True)
        archive.write_bytes(b"not really a tarball")
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        ctx.record_evidence(
            "backup.json",
            {
                "verified": True,
                "folder": "backups/production-backup-1",
                "archive": "backups/production-backup-1.tar.gz",
                "sha256": digest,
                "components": [{"type": "ApexClass", "name": "ElaroLogger"}],
                "added_by_release": [{"type": "ApexClass", "name": "ComplianceDashboardController"}],
                "redeploy_command": "sf project deploy start --metadata-dir backups/production-backup-1",
            },
        )
        return StepOutcome.passed(f"backups/production-backup-1.tar.gz sha256 {digest[:12]}…")

    def release(ctx: StepContext) -> StepOutcome:
        ctx.record_evidence("release.json", {"commit": "c0ffee", "branch": "release/v3.0.7", "tag": "v3.0.7"})
        return StepOutcome.passed("v3.0.7 at c0ffee")

    def validate(ctx: StepContext) -> StepOutcome:
        ctx.set_external_id("validation_id", "0Af000000000VAL")
        ctx.record_evidence("validation-result.json", envelope(deploy_result("0Af000000000VAL", check_only=True)))
        ctx.record_evidence(
            "validation-criteria.json",
            {
                "job_id": "0Af000000000VAL",
                "criteria": [{"name": "Status", "expected": "Succeeded", "actual": "Succeeded", "ok": True}],
            },
        )
        return StepOutcome.passed("Succeeded: 3/3 components, 4/4 tests, coverage 83.3% < 85%")

    def deploy(ctx: StepContext) -> StepOutcome:
        ctx.set_external_id("deploy_id", "0Af000000000DEP")
        ctx.set_external_id("validation_id", "0Af000000000VAL")
        # Raw (unredacted) evidence: the report must redact and escape it on its own.
        doc = envelope(deploy_result("0Af000000000DEP", check_only=False, problem=f"{SCRIPT} token {TOKEN}"))
        ctx.record_evidence("deploy-result.json", doc, redact=False)
        return StepOutcome.passed("Succeeded: 3/3 components (deploy 0Af000000000DEP)", deploy_id="0Af000000000DEP")

    def verify(ctx: StepContext) -> StepOutcome:
        return StepOutcome.passed(f"4/4 tests passed, org-wide coverage 91% {SCRIPT}", org_wide_coverage=91.0)

    def monitor(ctx: StepContext) -> StepOutcome:
        # The shapes `monitor.limits` and `cutover.notify.alerts` record: alert events, outcome data, timeseries.
        policy = {
            "severity": "HIGH",
            "response_seconds": 3600,
            "path": [{"role": "deployment_lead", "title": "Deployment Lead", "name": "Dana Lead"}],
        }
        ctx.event(
            "alert.raised",
            alert_id="al-c0ffee",
            key="w1/cpu",
            severity="HIGH",
            title="CPU time 80% on prod",
            body="CPU time at 80% of limit",
            raised_at="2026-11-27T18:10:00Z",
            policy=policy,
            data={},
        )
        ctx.event("alert.notified", alert_id="al-c0ffee", level=0)
        window = {"id": "w1", "start": "2026-11-27T18:00:00Z", "end": "2026-11-28T18:00:00Z", "interval_seconds": 900}
        ctx.record_evidence("limits-timeseries.json", {"window": window, "thresholds": {"cpu": 75}, "samples": []})
        return StepOutcome.failed(
            "threshold crossed in 96 sample(s): HIGH cpu 80% ≥ 75%; alerts al-c0ffee",
            window=window,
            samples=96,
            max_percent={"soql": 12.5, "dml": 3.0, "cpu": 80.0, "heap": 20.0, "org:DailyApiRequests": 55.0},
            breaches=1,
            worst_severity="HIGH",
            alerts=[{"id": "al-c0ffee", "severity": "HIGH", "title": "CPU time 80% on prod"}],
            gaps=[],
        )

    behaviours: dict[str, Callable[[StepContext], StepOutcome]] = {
        "preflight.lint": lint,
        "preflight.docs": lambda ctx: StepOutcome.failed("CHANGELOG.md does not mention 3.0.7"),
        "signoff.security-review": signed,
        "guard.org-identity": guard,
        "backup.retrieve": backup,
        "release.branch-tag": release,
        "validate.dry-run": validate,
        "deploy.quick": deploy,
        "verify.apex-tests": verify,
        "monitor.limits": monitor,
        "rollback.redeploy-backup": lambda ctx: StepOutcome.passed("restored"),
    }
    return {step_id: Scripted(func) for step_id, func in behaviours.items()}


def full_run(project: Path) -> str:
    """A finished run of every stage: a waived gate, a sign-off with evidence, a non-blocking monitoring failure."""
    sha = write_runbook(project)
    engine = Engine(project)
    try:
        run = engine.create_run(
            "prod", full_specs(), runbook_path="cutover.yaml", runbook_sha256=sha, git_head="c0ffee"
        )
        engine.signoff(
            run.id,
            "signoff.security-review",
            by="Sam Secure",
            role="security_reviewer",
            note="reviewed <b>all</b> classes",
            evidence="https://tickets.example/SEC-1",
            rules=RULES,
        )
        engine.waive(run.id, "preflight.docs", reason="CHANGELOG follows in 3.0.8", approver="Dana Lead", rules=RULES)
        result = engine.execute(run.id, full_executors(project))
        assert result.state.value == "succeeded", result
        [alert] = load_alerts(engine.store, run.id)
        acknowledge(engine.store, alert, by="Dana Lead")
        return run.id
    finally:
        engine.close()


def db(project: Path) -> sqlite3.Connection:
    return sqlite3.connect(project / ".cutover" / "state.db")


__all__ = ["ORG", "RULES", "SCRIPT", "TOKEN", "StepStatus", "db", "full_run", "write_runbook"]
