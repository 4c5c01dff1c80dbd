"""The preflight stage: the pre-deployment checklist as automated gates and sign-offs, by section."""

from __future__ import annotations

from cutover.runbook.models import (
    Runbook,
    command_argv,
    command_text,
)
from cutover.runbook.plan._common import (
    PREFLIGHT_SECTIONS,
    PlanStep,
    pct,
    signoff_step,
)


def _preflight_gates(runbook: Runbook) -> dict[str, list[PlanStep]]:
    pre = "Pre-Deployment Checklist"
    rb = runbook
    gates: dict[str, list[PlanStep]] = {section: [] for section in PREFLIGHT_SECTIONS}
    commands = rb.project.commands

    def command_gate(key: str, title: str, check: str) -> PlanStep | None:
        command = getattr(commands, key)
        if command is None:
            return None
        text = command_text(command)
        return PlanStep(
            id=f"preflight.{key.replace('_', '-')}",
            stage="preflight",
            title=title,
            kind="automated",
            action="gate.command",
            checks=[f"{check}: {text} exits 0"],
            command=text,
            params={"command_key": key, "argv": command_argv(command)},
            source=f"{pre} > Code Quality",
        )

    code = gates["Code Quality"]
    for key, title, check in (
        ("test_all", "Run all tests locally", "All tests passing locally"),
        ("lint", "Lint", "Lint checks pass"),
        ("fmt_check", "Check formatting", "Format checks pass"),
    ):
        step = command_gate(key, title, check)
        if step:
            code.append(step)
    code.append(
        PlanStep(
            id="preflight.reviews",
            stage="preflight",
            title="Code review",
            kind="automated",
            action="gate.reviews",
            checks=[
                f"Code review completed (minimum {rb.reviews.min_approvals} reviewers)",
                *(["No reviewer approved their own change"] if rb.separation_of_duties.reviewer_not_author else []),
            ],
            params={
                "min_approvals": rb.reviews.min_approvals,
                "reviewer_not_author": rb.separation_of_duties.reviewer_not_author,
                "base_branch": rb.release.base_branch,
            },
            source=f"{pre} > Code Quality",
        )
    )
    base, remote = rb.release.base_branch, rb.release.remote
    code.append(
        PlanStep(
            id="preflight.git",
            stage="preflight",
            title="Git state",
            kind="automated",
            action="gate.git",
            checks=[
                "Working tree is clean (nothing uncommitted)",
                f"{base} is up to date with {remote}/{base}",
                f"No merge conflicts with {base} branch",
            ],
            command=f"git fetch {remote} {base} && git merge-tree --write-tree HEAD {remote}/{base}",
            params={"base_branch": base, "remote": remote},
            source=f"{pre} > Code Quality",
        )
    )

    security = gates["Security Verification"]
    secrets = rb.security.secrets
    security.append(
        PlanStep(
            id="preflight.secrets",
            stage="preflight",
            title="Scan for hardcoded credentials",
            kind="automated",
            action="gate.secrets",
            checks=[
                "No hardcoded credentials in codebase "
                f"(patterns {', '.join(secrets.patterns)}; excluding {', '.join(secrets.exclude_dirs)}"
                + (f"; accepted findings in {secrets.baseline})" if secrets.baseline else ")")
            ],
            # The seed's own check, for people who want to look by hand; the gate uses detect-secrets.
            command=f'grep -rniE "{"|".join(secrets.patterns)}" '
            + " ".join(f"--exclude-dir={d}" for d in secrets.exclude_dirs)
            + " .",
            params=secrets.model_dump(),
            source=f"{pre} > Security Verification",
        )
    )
    sec = rb.security
    enforcement = " or ".join(f"WITH {mode}" for mode in sec.soql_enforcement)
    guards = [*sec.crud_guards, "Schema.sObjectType.X.isCreateable() (and the other describe checks)"]
    strips = " or ".join(m.rsplit(".", 1)[-1] + "()" for m in sec.strip_methods) or "WITH USER_MODE"
    if not rb.project.has_apex:
        security.extend(_permission_set_gate(rb))
        return _other_gates(rb, gates)
    security.append(
        PlanStep(
            id="preflight.apex-security",
            stage="preflight",
            title="Apex security scan",
            kind="automated",
            action="gate.apex_scan",
            checks=[
                f"All SOQL queries use {enforcement}",
                f"CRUD/FLS checks present via {' or '.join(g if g.endswith(')') else g + '()' for g in guards)}",
                f"All @AuraEnabled methods use FLS stripping with {strips}",
            ],
            command=f"cutover scan apex {' '.join(sec.scan_paths)}",
            params=sec.model_dump(exclude={"secrets"}),
            source=f"{pre} > Security Verification",
        )
    )
    security.extend(_permission_set_gate(rb))
    return _other_gates(rb, gates)


def _permission_set_gate(rb: Runbook) -> list[PlanStep]:
    if not rb.project.has_permission_sets:
        return []
    return [
        PlanStep(
            id="preflight.permission-sets",
            stage="preflight",
            title="Permission sets in the release",
            kind="automated",
            action="gate.permission_sets",
            checks=[
                "Permission sets updated: every permission set in the source is valid and listed in the manifest",
            ],
            params={"source_dir": rb.project.source_dir, "manifest": rb.project.manifest},
            source="Pre-Deployment Checklist > Security Verification",
        )
    ]


def _other_gates(rb: Runbook, gates: dict[str, list[PlanStep]]) -> dict[str, list[PlanStep]]:
    pre = "Pre-Deployment Checklist"
    commands = rb.project.commands
    testing = gates["Testing"]
    test_org = rb.sf.test_org
    testing.extend(
        [
            PlanStep(
                id="preflight.apex-coverage",
                stage="preflight",
                title="Apex test coverage",
                kind="automated",
                action="gate.coverage",
                checks=[
                    f"Apex test coverage ≥ {pct(rb.thresholds.apex_coverage)} (org-wide)",
                    *([] if test_org else ["Read from the validation run when no test org is set (sf.test_org)"]),
                ],
                sf_command=(
                    f"sf apex run test --target-org {test_org} --test-level {rb.sf.apex_test_level} --code-coverage "
                    f"--wait {rb.sf.wait_minutes} --json"
                    if test_org
                    else None
                ),
                params={"kind": "apex", "threshold": rb.thresholds.apex_coverage, "test_org": test_org},
                source=f"{pre} > Testing",
            )
        ]
        if rb.project.has_apex
        else []
    )
    if commands.test_unit is not None:
        testing.append(
            PlanStep(
                id="preflight.lwc-coverage",
                stage="preflight",
                title="LWC test coverage",
                kind="automated",
                action="gate.coverage",
                checks=[
                    f"LWC test coverage ≥ {pct(rb.thresholds.lwc_coverage)} "
                    f"(lines, from {rb.project.lwc_coverage_summary})"
                ],
                command=command_text(commands.test_unit),
                params={
                    "kind": "lwc",
                    "threshold": rb.thresholds.lwc_coverage,
                    "argv": command_argv(commands.test_unit),
                    "summary": rb.project.lwc_coverage_summary,
                },
                source=f"{pre} > Testing",
            )
        )

    docs = rb.project.docs
    doc_checks = []
    if docs.readme:
        doc_checks.append(
            f"{docs.readme} updated with current version number ({rb.release.version})"
            if docs.readme_mentions_version
            else f"{docs.readme} exists"
        )
    if docs.changelog:
        doc_checks.append(
            f"{docs.changelog} updated with release notes for {rb.release.version}"
            if docs.changelog_mentions_version
            else f"{docs.changelog} exists"
        )
    if docs.api_docs:
        doc_checks.append(f"API documentation current: {docs.api_docs} changed since the last release")
    doc_checks.append(f"Known issues documented ({len(rb.known_issues)} in the runbook)")
    gates["Documentation"].append(
        PlanStep(
            id="preflight.docs",
            stage="preflight",
            title="Documentation",
            kind="automated",
            action="gate.docs",
            checks=doc_checks,
            params={**docs.model_dump(), "version": rb.release.version, "known_issues": len(rb.known_issues)},
            source=f"{pre} > Documentation",
        )
    )

    window = rb.window
    approvers = ", ".join(rb.roles[r].title for r in window.exception_approvers)
    comms = gates["Stakeholder Communication"]
    comms.append(
        PlanStep(
            id="preflight.window",
            stage="preflight",
            title="Deployment window",
            kind="automated",
            action="gate.window",
            checks=[
                f"Deployment window scheduled and communicated: {window.describe()}",
                f"Now is inside the window (estimated duration {window.duration_hours:g} h); "
                f"an exception needs a sign-off by {approvers}",
            ],
            params=window.model_dump(),
            blocking=window.enforce,
            source="Deployment Timeline > Recommended Deployment Window",
        )
    )
    required = [rid for rid, role in rb.roles.items() if role.required]
    comms.append(
        PlanStep(
            id="preflight.contacts",
            stage="preflight",
            title="Team roles and contacts",
            kind="automated",
            action="gate.contacts",
            checks=[
                "Every required role has a named person with an email or phone (no TBD): "
                + ", ".join(rb.roles[r].title for r in required),
                "Everyone on the escalation path is reachable",
            ],
            params={"required_roles": required},
            source="Deployment Timeline > Team Roles",
        )
    )
    return gates


def preflight_steps(runbook: Runbook) -> list[PlanStep]:
    gates = _preflight_gates(runbook)
    signoffs = [s for s in runbook.signoffs if s.stage == "preflight"]
    steps: list[PlanStep] = []
    placed: set[str] = set()
    for section in PREFLIGHT_SECTIONS:
        steps += gates[section]
        for signoff in signoffs:
            if signoff.source.endswith(section) and signoff.id not in placed:
                steps.append(signoff_step(signoff, runbook))
                placed.add(signoff.id)
    steps += [signoff_step(s, runbook) for s in signoffs if s.id not in placed]
    return steps
