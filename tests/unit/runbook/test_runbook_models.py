"""The models' defaults are the generic template's; the Elaro template holds the seed's numbers (read from the seed
text, not retyped) and writes every one of them itself; the helpers behave."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from cutover.runbook import Runbook, parse_duration, parse_runbook, template_text
from cutover.runbook.generic import template_text as generic_template
from cutover.runbook.models import LocatedValueError, TargetConfig, WindowConfig, command_argv


def minimal() -> Runbook:
    return Runbook(target=TargetConfig(alias="production"))


def elaro() -> Runbook:
    return parse_runbook(template_text(), "elaro.yaml")


def test_elaro_thresholds_are_the_seed_numbers(seed_text: str) -> None:
    rb = elaro()
    assert rb.thresholds.apex_coverage == float(re.search(r"Apex test coverage ≥ (\d+)%", seed_text)[1])
    assert rb.thresholds.lwc_coverage == float(re.search(r"LWC test coverage ≥ (\d+)%", seed_text)[1])
    limits = rb.thresholds.limits
    assert limits.soql == float(re.search(r"SOQL queries < (\d+)% of limit", seed_text)[1])
    assert limits.dml == float(re.search(r"DML statements < (\d+)% of limit", seed_text)[1])
    assert limits.cpu == float(re.search(r"CPU time < (\d+)% of limit", seed_text)[1])
    assert limits.heap == float(re.search(r"Heap size < (\d+)% of limit", seed_text)[1])
    assert rb.reviews.min_approvals == int(re.search(r"minimum (\d+) reviewers", seed_text)[1])
    # the seed's validation criterion "Code coverage ≥ 85%" must agree with the Apex threshold
    assert {float(n) for n in re.findall(r"Code coverage ≥ (\d+)%", seed_text)} == {rb.thresholds.apex_coverage}


def test_elaro_commands_window_and_monitoring_are_the_seed(seed_text: str) -> None:
    rb = elaro()
    commands = rb.project.commands
    for key, label in (
        ("test_all", "All tests passing locally"),
        ("lint", "Lint checks pass"),
        ("fmt_check", "Format checks pass"),
    ):
        seed_command = re.search(re.escape(label) + r": `([^`]+)`", seed_text)[1]
        assert getattr(commands, key) == seed_command
    assert commands.test_unit == re.search(r"LWC test coverage .*verified with `([^`]+)`", seed_text)[1]

    assert "**Day**: Friday evening" in seed_text and rb.window.days == ["friday"]
    assert "**Time**: 6:00 PM - 10:00 PM EST" in seed_text
    assert (rb.window.start, rb.window.end, rb.window.timezone) == ("18:00", "22:00", "America/New_York")
    low, high = re.search(r"\*\*Duration\*\*: (\d+)-(\d+) hours", seed_text).groups()
    assert rb.window.duration_hours == float(high)
    assert int(low) <= rb.window.length_hours

    assert "Monitoring & Alerts (First 24 Hours)" in seed_text
    assert rb.monitoring.duration_seconds == 24 * 3600
    assert rb.monitoring.interval_seconds == 15 * 60
    assert "Governor_Limit_Snapshot__c" in rb.monitoring.limits_query
    assert rb.verify.log_watch == "30m" and "(First 30 minutes)" in seed_text


def test_generic_template_is_the_defaults_written_out() -> None:
    """`cutover init`'s generic template is exactly what an almost-empty runbook means; they cannot drift apart."""
    assert parse_runbook(generic_template("generic"), "generic.yaml") == minimal()


def test_defaults_name_nothing_of_a_project() -> None:
    rb = minimal()
    assert rb.scheduled_jobs == [] and rb.known_issues == [] and rb.alerts.channels == []
    assert rb.security.crud_guards == [] and rb.security.strip_methods == ["Security.stripInaccessible"]
    assert rb.verify.permission_set_query is None and rb.monitoring.limits_query is None
    assert all(metric.check == "manual" for metric in rb.monitoring.metrics)
    commands = rb.project.commands
    assert (commands.test_all, commands.lint, commands.fmt_check, commands.test_unit) == (None, None, None, None)
    assert rb.project.manifest is None and rb.project.docs.readme is None
    dumped = json.dumps(rb.model_dump(mode="json")).lower()
    for word in ("elaro", "solentra", "npm", "__c", "like '"):
        assert word not in dumped


# Fields the Elaro template may leave to the defaults: they are generic (and the same before and after issue 7).
_GENERIC_FIELDS = {
    "project.extra_source_dirs",
    "project.destructive_changes",
    "project.has_apex",
    "project.has_permission_sets",
    "security.rules",
    "verify.recreate_missing_jobs",
    "separation_of_duties.signatures",  # signed sign-offs (issue 9): optional unless a team opts in
    "separation_of_duties.allowed_signers",
}
#: Per-role fields the template may leave to the defaults: people's signing keys (issue 9) are each team's own.
_GENERIC_ROLE_FIELDS = (".signing_keys", ".people")


def _unwritten(model: type[BaseModel], node: object, where: str) -> list[str]:
    """Model fields with a default that the YAML mapping `node` does not write (recursively)."""
    missing: list[str] = []
    if not isinstance(node, dict):
        return missing
    for name, field in model.model_fields.items():
        key = field.alias or name
        path = f"{where}.{key}" if where else key
        if key not in node:
            generic = path in _GENERIC_FIELDS or (path.startswith("roles.") and path.endswith(_GENERIC_ROLE_FIELDS))
            if not field.is_required() and not generic:
                missing.append(path)
            continue
        inner = field.annotation
        args = [a for a in getattr(inner, "__args__", ()) if isinstance(a, type) and issubclass(a, BaseModel)]
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            missing += _unwritten(inner, node[key], path)
        elif args and isinstance(node[key], list):
            for index, item in enumerate(node[key]):
                missing += _unwritten(args[0], item, f"{path}[{index}]")
        elif args and isinstance(node[key], dict):
            for sub, item in node[key].items():
                missing += _unwritten(args[0], item, f"{path}.{sub}")
    return missing


def test_elaro_template_writes_every_value_itself() -> None:
    """The Elaro runbook never depends on a model default: its behaviour cannot change when the defaults do."""
    document = yaml.safe_load(template_text())
    assert _unwritten(Runbook, document, "") == []
    example = yaml.safe_load((Path(__file__).resolve().parents[3] / "examples/elaro/cutover.yaml").read_text())
    assert _unwritten(Runbook, example, "") == []


def test_template_comments_cite_the_seed() -> None:
    text = template_text()
    citations = re.findall(r"#.*seed: ", text)
    assert len(citations) >= 15


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", timedelta(hours=24)),
        ("15m", timedelta(minutes=15)),
        ("1h30m", timedelta(minutes=90)),
        ("2d", timedelta(days=2)),
        ("45s", timedelta(seconds=45)),
        ("1w", timedelta(weeks=1)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "15", "15 minutes", "m", "1.5h", "-1h"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_window_is_open_on_friday_evening_new_york_time() -> None:
    window = elaro().window
    # Friday 2026-11-27 19:30 in New York (EST, UTC-5) is 00:30 UTC on Saturday.
    assert window.is_open(datetime(2026, 11, 28, 0, 30, tzinfo=UTC))
    assert not window.is_open(datetime(2026, 11, 28, 3, 0, tzinfo=UTC))  # 22:00 New York: closed
    assert not window.is_open(datetime(2026, 11, 26, 23, 30, tzinfo=UTC))  # Thursday 18:30
    # Summer: EDT (UTC-4). Friday 2026-07-03 18:00 New York = 22:00 UTC.
    assert window.is_open(datetime(2026, 7, 3, 22, 0, tzinfo=UTC))
    assert not window.is_open(datetime(2026, 7, 3, 21, 59, tzinfo=UTC))


def test_overnight_window_belongs_to_the_day_it_starts() -> None:
    window = WindowConfig(timezone="UTC", days=["friday"], start="22:00", end="02:00", duration_hours=3)
    assert window.length_hours == 4
    assert window.is_open(datetime(2026, 11, 27, 23, 0, tzinfo=UTC))  # Friday 23:00
    assert window.is_open(datetime(2026, 11, 28, 1, 0, tzinfo=UTC))  # Saturday 01:00, still Friday's window
    assert not window.is_open(datetime(2026, 11, 29, 1, 0, tzinfo=UTC))  # Sunday 01:00


def test_duration_must_fit_the_window() -> None:
    with pytest.raises(ValidationError) as info:
        WindowConfig(start="18:00", end="20:00", duration_hours=4)
    cause = info.value.errors()[0]["ctx"]["error"]
    assert isinstance(cause, LocatedValueError) and cause.loc == ("duration_hours",)


def test_problems_report_tbd_contacts_and_missing_identity() -> None:
    problems = elaro().problems()
    text = "\n".join(problems)
    assert "target.expect" in text and "org_id" in text
    assert "roles.deployment_lead" in text and "TBD" in text
    assert "roles.cto" in text  # not required, but on the CRITICAL escalation path
    assert "roles.vp_engineering" not in text  # neither required nor on an escalation path


def test_problems_disappear_when_filled_in() -> None:
    roles = {
        rid: {"title": rid, "name": "Ann", "email": f"{rid}@example.com", "phone": "TBD"} for rid in minimal().roles
    }
    rb = Runbook.model_validate(
        {
            "target": {
                "alias": "production",
                "expect": {
                    "org_id": "00D000000000001AAA",
                    "username": "ops@example.com",
                    "instance_url": "https://example.my.salesforce.com",
                },
            },
            "roles": roles,
            "alerts": {
                "channels": [
                    {"id": "mail", "type": "email", "target": "ops@example.com", "url": "mailto://ops@example.com"}
                ]
            },
        }
    )
    assert rb.problems() == []


def test_command_argv_splits_without_a_shell() -> None:
    assert command_argv("npm run test:all") == ["npm", "run", "test:all"]
    assert command_argv(["echo", "a b"]) == ["echo", "a b"]
    assert command_argv("sh -c 'echo $HOME; ls'") == ["sh", "-c", "echo $HOME; ls"]


def test_release_names_fill_version_and_date() -> None:
    release = elaro().release.model_copy(update={"branch": "release/v{version}-{date}"})
    when = datetime(2026, 2, 6, 18, 0)
    assert release.branch_name(when) == "release/v3.0.0-20260206"
    assert release.tag_name(when) == "v3.0.0"
    assert release.tag_text(when) == "Production release v3.0.0 - 2026-02-06"


def test_models_are_frozen() -> None:
    rb = minimal()
    with pytest.raises(ValidationError):
        rb.thresholds.apex_coverage = 10  # type: ignore[misc]
