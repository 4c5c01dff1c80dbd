"""An invalid cutover.yaml gives one `file:line: key: message` error and exit 2, through the real CLI."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from cutover.errors import UsageError
from cutover.runbook import RunbookError, find_runbook, load_runbook

# (case id, file text, expected "file:line: key:" prefix, a word the message must contain)
INVALID = [
    (
        "yaml-syntax",
        "target:\n  alias: production\nwindow:\n  days: [friday\n  start: '18:00'\n",
        "cutover.yaml:5:",
        "YAML syntax error",
    ),
    ("duplicate-yaml-key", "target:\n  alias: production\ntarget:\n  alias: other\n", "cutover.yaml:3:", "duplicate"),
    (
        "unknown-key",
        "target:\n  alias: production\nthresholds:\n  apex_coverage: 85\n  apex_coverag: 90\n",
        "cutover.yaml:5: thresholds.apex_coverag:",
        "did you mean 'apex_coverage'",
    ),
    (
        "unknown-key-in-list",
        "target: {alias: production}\nsignoffs:\n  - {id: a, title: A, rol: qa_lead}\n",
        "cutover.yaml:3: signoffs[0].rol:",
        "did you mean 'role'",
    ),
    (
        "unknown-key-in-role",
        "target: {alias: production}\nroles:\n  qa_lead:\n    title: QA\n    mail: x@y.z\n",
        "cutover.yaml:5: roles.qa_lead.mail:",
        "did you mean 'email'",
    ),
    (
        "unknown-top-level-key",
        "target:\n  alias: production\nthreshold: {}\n",
        "cutover.yaml:3: threshold:",
        "unknown key",
    ),
    (
        "wrong-type",
        "target:\n  alias: production\nreviews:\n  min_approvals: two\n",
        "cutover.yaml:4: reviews.min_approvals:",
        "whole number",
    ),
    ("wrong-type-section", "target:\n  alias: production\nthresholds: 85\n", "cutover.yaml:3: thresholds:", "mapping"),
    (
        "bad-time-zone",
        "target:\n  alias: production\nwindow:\n  timezone: America/Gotham\n",
        "cutover.yaml:4: window.timezone:",
        "unknown time zone",
    ),
    (
        "bad-window-time",
        "target:\n  alias: production\nwindow:\n  start: '18:00'\n  end: '25:00'\n",
        "cutover.yaml:5: window.end:",
        "HH:MM",
    ),
    (
        "bad-weekday",
        "target:\n  alias: production\nwindow:\n  days: [friday, fryday]\n",
        "cutover.yaml:4: window.days[1]:",
        "friday",
    ),
    (
        "threshold-over-100",
        "target:\n  alias: production\nthresholds:\n  apex_coverage: 185\n",
        "cutover.yaml:4: thresholds.apex_coverage:",
        "at most 100",
    ),
    (
        "limit-over-100",
        "target:\n  alias: production\nthresholds:\n  limits:\n    heap: 170\n",
        "cutover.yaml:5: thresholds.limits.heap:",
        "at most 100",
    ),
    (
        "duplicate-step-ids",
        textwrap.dedent("""\
        target:
          alias: production
        custom_steps:
          - id: migrate
            after: deploy
            run: echo one
          - id: migrate
            after: verify
            run: echo two
        """),
        "cutover.yaml:7: custom_steps[1].id:",
        "duplicate id 'migrate'",
    ),
    (
        "duplicate-signoff-ids",
        textwrap.dedent("""\
        target:
          alias: production
        signoffs:
          - {id: review, title: Review, role: qa_lead}
          - {id: review, title: Again, role: qa_lead}
        """),
        "cutover.yaml:5: signoffs[1].id:",
        "duplicate id",
    ),
    (
        "signoff-unknown-role",
        textwrap.dedent("""\
        target:
          alias: production
        signoffs:
          - id: review
            title: Review
            role: qa_lead
          - id: load
            title: Load test
            role: load_tester
        """),
        "cutover.yaml:9: signoffs[1].role:",
        "unknown role 'load_tester'",
    ),
    (
        "separation-unknown-role",
        textwrap.dedent("""\
        target:
          alias: production
        separation_of_duties:
          exclusive:
            - [developer, security_reviewer]
            - [developer,
               auditor]
        """),
        "cutover.yaml:7: separation_of_duties.exclusive[1][1]:",
        "unknown role 'auditor'",
    ),
    ("missing-target", "name: test\nthresholds:\n  apex_coverage: 85\n", "cutover.yaml:1: target:", "missing"),
    ("missing-alias", "name: test\ntarget:\n  expect: {sandbox: false}\n", "cutover.yaml:2: target.alias:", "missing"),
    (
        "bad-org-id",
        "target:\n  alias: production\n  expect:\n    org_id: 12345\n",
        "cutover.yaml:4: target.expect.org_id:",
        None,
    ),
    (
        "custom-step-after-missing-stage",
        textwrap.dedent("""\
        target:
          alias: production
        stages: [preflight, guard]
        custom_steps:
          - {id: hook, after: deploy, run: "echo hi"}
        """),
        "cutover.yaml:5: custom_steps[0].after:",
        "not in `stages`",
    ),
    (
        "stages-out-of-order",
        "target:\n  alias: production\nstages: [deploy, preflight]\n",
        "cutover.yaml:3: stages:",
        "order",
    ),
    (
        "bad-duration",
        "target:\n  alias: production\nmonitoring:\n  duration: 24 hours\n",
        "cutover.yaml:4: monitoring.duration:",
        "not a duration",
    ),
    (
        "bad-cron",
        "target:\n  alias: production\nscheduled_jobs:\n  - name: X\n    frequency: x\n    crons: ['* *']\n",
        "cutover.yaml:6: scheduled_jobs[0].crons[0]:",
        "cron",
    ),
    (
        "escalation-unknown-role",
        textwrap.dedent("""\
        target:
          alias: production
        alerts:
          escalation:
            - {severity: CRITICAL, response_time: 15m, path: [deployment_lead, ceo]}
        """),
        "cutover.yaml:5: alerts.escalation[0].path[1]:",
        "unknown role 'ceo'",
    ),
    ("alias-with-space", "target:\n  alias: my prod\n", "cutover.yaml:2: target.alias:", "no spaces"),
    ("empty-file", "# nothing yet\n", "cutover.yaml:1:", "empty"),
    ("not-a-mapping", "- a\n- b\n", "cutover.yaml:1:", "mapping"),
]


@pytest.mark.parametrize(("text", "prefix", "word"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_runbook_gives_one_clear_line_and_exit_2(
    project: Path, cli, text: str, prefix: str, word: str | None
) -> None:
    (project / "cutover.yaml").write_text(text, encoding="utf-8")
    code, out, err = cli("plan")
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    message = lines[0].removeprefix("cutover: error: ")
    assert message.startswith(prefix), message
    if word:
        assert word.lower() in message.lower(), message
    assert not (project / ".cutover").exists()


def test_error_names_the_file_as_given_with_C(tmp_path: Path, cli) -> None:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "cutover.yaml").write_text("target:\n  alias: production\nthresholds:\n  cpu: 1\n")
    code, _, err = cli("-C", str(folder), "plan")
    assert code == 2
    assert "cutover.yaml:4: thresholds.cpu: unknown key" in err
    assert str(folder / "cutover.yaml") in err or "elsewhere/cutover.yaml" in err


def test_several_errors_report_the_first_and_count_the_rest(project: Path) -> None:
    path = project / "cutover.yaml"
    path.write_text("target:\n  alias: production\nthresholds:\n  apex_coverage: 101\n  lwc_coverage: 101\n")
    with pytest.raises(RunbookError) as info:
        load_runbook(path)
    assert (
        str(info.value)
        == "cutover.yaml:4: thresholds.apex_coverage: must be at most 100 (got 101) (and 1 more problem)"
    )
    assert info.value.line == 4 and info.value.key == "thresholds.apex_coverage"
    assert isinstance(info.value, UsageError) and info.value.exit_code == 2


def test_missing_runbook_hints_init(project: Path, cli) -> None:
    code, _, err = cli("plan")
    assert code == 2
    assert "no cutover.yaml" in err and "cutover init" in err
    with pytest.raises(RunbookError):
        find_runbook(project)


def test_minimal_runbook_is_valid(project: Path) -> None:
    path = project / "cutover.yaml"
    path.write_text("target:\n  alias: uat\n")
    runbook = load_runbook(path)
    assert runbook.target.alias == "uat"
    assert runbook.thresholds.apex_coverage == 75  # the generic default: the platform's own minimum


def test_friendly_spellings_are_accepted(project: Path) -> None:
    path = project / "cutover.yaml"
    path.write_text(
        "target: {alias: production}\nwindow: {days: Friday}\nthresholds: {apex_coverage: '90%'}\n"
        "custom_steps:\n  - {id: hook, after: deploy, run: [echo, hi], timeout: 90}\n"
    )
    runbook = load_runbook(path)
    assert runbook.window.days == ["friday"]
    assert runbook.thresholds.apex_coverage == 90
    assert runbook.custom_steps[0].timeout_seconds == 90


def test_error_in_a_default_section_points_at_roles(project: Path) -> None:
    """Replacing `roles` without the seed's qa_lead breaks the default sign-offs: say so, at the `roles` line."""
    path = project / "cutover.yaml"
    path.write_text("target: {alias: production}\nname: small team\nroles:\n  deployment_lead: {title: Lead}\n")
    with pytest.raises(RunbookError) as info:
        load_runbook(path)
    message = str(info.value)
    assert message.startswith("cutover.yaml:3: signoffs[0].role: unknown role 'security_reviewer'")
    assert "default `signoffs`" in message
