"""Done means: `cutover init` + `cutover plan` in an empty folder cover the whole seed runbook.

The seed markdown is parsed here (checkboxes, tables, headings, bullets) and every item is looked up in the plan
output or the runbook model. Nothing below lists the seed's items by hand: if the seed gains a checkbox the plan
does not cover, a test fails.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cutover.runbook import load_runbook, parse_duration

from .conftest import SEED, SHARED_SEED


def _clean(text: str) -> str:
    text = text.replace("**", "").replace("`", "")
    return re.sub(r"\s+", " ", text).strip()


def _core(item: str) -> str:
    """The phrase of a checklist item the plan must contain: without the trailing `: `cmd`` or `(...)` detail."""
    item = re.sub(r":\s*`(npm|sf|git)[^`]*`", "", item)
    item = re.split(r" \(", item, maxsplit=1)[0]
    return _clean(item).rstrip(".").lower()


def _sections(seed: str) -> list[tuple[str, str]]:
    """(heading path, body) for every ##/###/#### section."""
    found: list[tuple[str, str]] = []
    path: list[str] = []
    for block in re.split(r"(?m)^(?=#{2,4} )", seed):
        match = re.match(r"(#{2,4}) (.+)", block)
        if not match:
            continue
        level = len(match[1]) - 2
        title = match[2].replace("✅", "").strip()
        path = [*path[:level], title]
        found.append((" > ".join(path), block))
    return found


def _checkboxes(seed: str) -> list[tuple[str, str]]:
    return [(heading, m[1]) for heading, body in _sections(seed) for m in re.finditer(r"(?m)^\s*- \[ \] (.+)$", body)]


def _table(seed: str, heading: str) -> list[dict[str, str]]:
    body = next(body for path, body in _sections(seed) if path.split(" > ")[-1] == heading)
    rows = [line for line in body.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    return [dict(zip(header, (c.strip() for c in row.strip("|").split("|")), strict=True)) for row in rows[2:]]


@pytest.fixture
def planned(project: Path, cli) -> dict:
    code, _, err = cli("init", "--template", "elaro")
    assert code == 0, err
    code, out, err = cli("plan", "--format", "json")
    assert code == 0, err
    return json.loads(out)


def _corpus(plan: dict) -> str:
    steps = plan["steps"] + plan["rollback"]
    return _clean(" | ".join([s["title"] for s in steps] + [c for s in steps for c in s["checks"]])).lower()


def test_the_test_copy_of_the_seed_is_current() -> None:
    if not SHARED_SEED.exists():
        pytest.skip("no shared seed on this machine (clean clone)")
    assert SEED.read_text(encoding="utf-8") == SHARED_SEED.read_text(encoding="utf-8")


def test_every_seed_checkbox_is_a_step_or_check(seed_text: str, planned: dict) -> None:
    boxes = _checkboxes(seed_text)
    assert len(boxes) >= 80  # the parser found the seed's checklists
    corpus = _corpus(planned)
    missing = [f"{heading}: {item}" for heading, item in boxes if _core(item) not in corpus]
    assert missing == []


def test_every_seed_section_is_implemented_by_a_step_or_modelled(seed_text: str, planned: dict, project: Path) -> None:
    runbook = load_runbook(project / "cutover.yaml")
    sources = " | ".join(s["source"] for s in planned["steps"] + planned["rollback"])
    commands = " | ".join(
        " ".join(filter(None, [s["sf_command"], s["command"], json.dumps(s["params"])]))
        for s in planned["steps"] + planned["rollback"]
    )
    # Sections that are reference material rather than steps, and where the runbook model holds them.
    modelled = {
        "Team Roles": bool(runbook.roles),
        "Deployment Contacts": bool(runbook.roles),
        "Known Issues & Workarounds": bool(runbook.known_issues),
        "Appendix B: Emergency Contacts": "1-800-NO-SOFTWARE" in runbook.rollback.destructive_option.contact,
        "Check Deployment Status": "sf project deploy report" in commands,
        "Query Recent Errors": "FROM ApexLog" in commands,
        "View Governor Limits": "Governor_Limit_Snapshot__c" in commands,
    }
    skipped = {"Overview", "Change Log"}  # about the document itself
    uncovered = []
    for path, _ in _sections(seed_text):
        leaf = path.split(" > ")[-1]
        if leaf in skipped or leaf.startswith("Issue #"):
            continue
        if leaf in sources or modelled.get(leaf):
            continue
        # a parent heading (e.g. "Deployment Steps") is covered when one of its children is
        if any(
            other.startswith(path + " > ") and other.split(" > ")[-1] in sources for other, _ in _sections(seed_text)
        ):
            continue
        uncovered.append(path)
    assert uncovered == []


def test_scheduled_jobs_table_is_the_model_and_the_verify_step(seed_text: str, planned: dict, project: Path) -> None:
    runbook = load_runbook(project / "cutover.yaml")
    rows = _table(seed_text, "Scheduled Jobs Verification")
    assert len(rows) == 5
    jobs = {job.name: job for job in runbook.scheduled_jobs}
    verify = next(s for s in planned["steps"] if s["id"] == "verify.scheduled-jobs")
    for row in rows:
        job = jobs[row["Job Name"]]
        assert (job.frequency, job.purpose, job.verification) == (
            row["Frequency"],
            row["Purpose"],
            row["Verification Query"],
        )
        assert row["Job Name"] in verify["sf_command"]
        assert any(check.startswith(row["Job Name"]) and row["Purpose"] in check for check in verify["checks"])
    assert len(jobs["ElaroAuditTrailPoller"].crons) == 4  # every 15 min = four hourly CronTriggers


def test_escalation_table_is_the_model_and_the_alert_step(seed_text: str, planned: dict, project: Path) -> None:
    runbook = load_runbook(project / "cutover.yaml")
    titles = {role.title: role_id for role_id, role in runbook.roles.items()}
    titles["Support Team"] = titles["Customer Support"]  # the seed's name for the same role in this table
    rows = _table(seed_text, "Escalation Path")
    assert [r["Severity"] for r in rows] == [e.severity for e in runbook.alerts.escalation]
    alert_step = next(s for s in planned["steps"] if s["id"] == "monitor.alert-routing")
    for row, esc in zip(rows, runbook.alerts.escalation, strict=True):
        amount, unit = row["Response Time"].split()
        assert parse_duration(esc.response_time) == parse_duration(amount + unit[0])
        assert esc.path == [titles[name.strip()] for name in row["Escalation"].split("→")]
        path = " → ".join(runbook.roles[r].title for r in esc.path)
        assert any(row["Severity"] in c and path in c for c in alert_step["checks"])


def test_roles_tables_are_roles(seed_text: str, planned: dict, project: Path) -> None:
    runbook = load_runbook(project / "cutover.yaml")
    titles = {role.title: role for role in runbook.roles.values()}
    for row in _table(seed_text, "Team Roles"):
        assert titles[row["Role"]].responsibility == row["Responsibility"]
        assert titles[row["Role"]].required
    for row in _table(seed_text, "Deployment Contacts"):
        assert row["Role"] in titles
    internal = re.search(r"Internal Escalation\*\*:\n((?:\d+\. .+\n)+)", seed_text)[1]
    expected = [line.split(". ", 1)[1] for line in internal.strip().splitlines()]
    assert [runbook.roles[r].title for r in runbook.alerts.internal_escalation] == expected


def test_alert_channels_triggers_and_known_issues(seed_text: str, planned: dict, project: Path) -> None:
    runbook = load_runbook(project / "cutover.yaml")
    channels = dict(re.findall(r"(?m)^- \*\*(Email|Slack|PagerDuty)\*\*: (.+)$", seed_text))
    assert len(channels) == 3
    corpus = _corpus(planned)
    for kind, target in channels.items():
        assert target.lower() in corpus
        assert any(c.type == kind.lower() and c.target.lower() == target.lower() for c in runbook.alerts.channels)

    criteria = re.search(r"\*\*Trigger Criteria\*\*:\n((?:- .+\n)+)", seed_text)[1]
    for line in criteria.strip().splitlines():
        assert f"trigger criteria: {line[2:].lower()}" in corpus

    issues = re.findall(
        r"### Issue #\d+: (.+)\n\n\*\*Symptom\*\*: (.+)\n\*\*Workaround\*\*: (.+)\n\*\*Permanent Fix\*\*: (.+)",
        seed_text,
    )
    assert len(issues) == 2
    assert [(i.title, i.symptom, i.workaround, i.permanent_fix) for i in runbook.known_issues] == issues


def test_every_seed_sf_command_has_an_equivalent_in_the_plan(seed_text: str, planned: dict) -> None:
    """Each kind of `sf` command the seed runs appears in the plan (with our flags), except the interactive ones."""
    seed_commands = {" ".join(m.split()[:3]) for m in re.findall(r"(?m)^\s*(sf [a-z]+ [a-z]+(?: [a-z]+)?)", seed_text)}
    plan_commands = " | ".join(
        filter(
            None,
            [s["sf_command"] for s in planned["steps"] + planned["rollback"]]
            + [s["params"].get("progress_command") for s in planned["steps"]],
        )
    )
    # `sf org list` and `sf org open --url-only` only test the connection, which `sf org display` also does.
    interactive = {"sf org list"}
    missing = [c for c in sorted(seed_commands - interactive) if c not in plan_commands]
    assert missing == []
