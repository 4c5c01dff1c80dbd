"""Issue 11 for cutover.yaml: bounded reading (size, aliases, list lengths, depth, regular files only), clear
messages (UTF-8 by line, tags, directories/FIFOs/broken links), out-of-range values and types that mean what they say.
Each case failed (hung, crashed with another exception, or was accepted) before the loader and models were bounded."""

from __future__ import annotations

import os
import time
import tracemalloc
from pathlib import Path

import pytest

from cutover.cli import main
from cutover.runbook import RunbookError, find_runbook, load_runbook, parse_runbook
from cutover.runbook.bounded_yaml import MAX_BYTES, MAX_ITEMS, MAX_NODES
from cutover.runbook.models import parse_duration

BASE = "target: {alias: production}\n"


def _error(text: str) -> str:
    with pytest.raises(RunbookError) as info:
        parse_runbook(text, "cutover.yaml")
    message = str(info.value)
    assert "\n" not in message and message.startswith("cutover.yaml")
    return message


def _laughs(levels: int) -> str:
    """The issue's file: nine-item lists of aliases, each level nine times the one before."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


# --- YAML bounds ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("levels", [8, 9])
def test_billion_laughs_is_refused_at_once_with_little_memory(levels: int) -> None:
    text = BASE + _laughs(levels)
    assert len(_laughs(8)) < 420  # the issue's 399-byte file
    tracemalloc.start()
    started = time.perf_counter()
    message = _error(text)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert f"more than {MAX_NODES:,} YAML nodes" in message and "(the limit" in message
    assert elapsed < 0.5 and peak < 20 * 1024 * 1024


def test_aliases_under_known_keys_are_counted_in_full() -> None:
    # 9 x 9 x 9 x 9 x 9 x 9 strings = 531,441 once expanded, though the text has 6 short lines.
    text = BASE + "security:\n  scan_paths: &p [" + ", ".join(["x"] * 9) + "]\n"
    text += "".join(f"x{i}: &p{i} [" + ", ".join([f"*p{'' if i == 1 else i - 1}"] * 9) + "]\n" for i in range(1, 6))
    assert "YAML nodes" in _error(text)


def test_alias_under_an_unknown_key_is_rejected_as_unknown_before_anything_is_expanded() -> None:
    text = BASE + "x-defaults: &d [a, b]\nsecurity: {scan_paths: *d}\n"
    message = _error(text)
    assert "x-defaults: unknown key" in message and ":2:" in message


def test_small_aliases_under_known_keys_still_work() -> None:
    text = BASE + "security: {scan_paths: &dirs [force-app, other]}\nproject: {extra_source_dirs: *dirs}\n"
    assert parse_runbook(text).project.extra_source_dirs == ["force-app", "other"]


def test_recursive_alias_is_refused() -> None:
    assert "recursive alias" in _error("target: &t {alias: x, expect: *t}\n")


def test_a_list_longer_than_the_limit_is_refused_quickly_and_named() -> None:
    items = "".join(f"  - {{id: i{i}, title: t, symptom: s, workaround: w}}\n" for i in range(MAX_ITEMS + 1))
    started = time.perf_counter()
    message = _error(BASE + "known_issues:\n" + items)
    assert time.perf_counter() - started < 5
    assert "known_issues:" in message and f"more than {MAX_ITEMS:,} items" in message


def test_the_issues_100k_known_issues_file_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "cutover.yaml"
    items = "".join(f"  - {{id: i{i}, title: t, symptom: s, workaround: w}}\n" for i in range(100_000))
    path.write_text(BASE + "known_issues:\n" + items)
    started = time.perf_counter()
    with pytest.raises(RunbookError, match=f"limit for cutover.yaml is {MAX_BYTES:,} bytes"):
        load_runbook(path)
    assert time.perf_counter() - started < 0.5


def test_deep_nesting_is_refused_with_the_limit() -> None:
    assert "nest more than 50 levels" in _error(BASE + "name: " + "[" * 200 + "]" * 200 + "\n")


@pytest.mark.parametrize("tag", ["!!python/object:os.system", "!foo", "!!binary", "!!set"])
def test_yaml_tags_give_a_clear_message(tag: str) -> None:
    message = _error(f"target: {{alias: {tag} production}}\n")
    assert "YAML tag" in message and "not allowed" in message and "TaggedScalar" not in message
    assert message.startswith("cutover.yaml:1: target.alias:")


def test_control_characters_are_reported_by_line_and_escaped() -> None:
    message = _error(BASE + "name: a\x01b\n")
    assert message.startswith("cutover.yaml:2:") and "U+0001" in message


def test_keys_with_newlines_are_printed_on_one_line() -> None:
    message = _error(BASE + '"bad\\nkey": 1\n')
    assert "bad\\nkey" in message


# --- files --------------------------------------------------------------------------------------------------------


def test_dev_zero_and_a_fifo_are_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    for path in (Path("/dev/zero"), fifo):
        started = time.perf_counter()
        with pytest.raises(RunbookError, match="not a regular file"):
            load_runbook(path)
        assert time.perf_counter() - started < 0.5


def test_plan_with_runbook_dev_zero_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(tmp_path), "plan", "--runbook", "/dev/zero"]) == 2
    assert "character device" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["directory", "fifo", "broken link"])
def test_a_cutover_yaml_that_is_not_a_file_is_named_precisely(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "cutover.yaml"
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to(tmp_path / "elsewhere.yaml")
    with pytest.raises(RunbookError) as info:
        find_runbook(tmp_path)
    message = str(info.value)
    assert "no cutover.yaml" not in message
    assert {"directory": "a directory", "fifo": "named pipe (FIFO)", "broken link": "broken symbolic link"}[kind] in (
        message
    )


def test_a_file_over_the_size_limit_is_refused_naming_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "cutover.yaml"
    path.write_text(BASE + "# " + "x" * MAX_BYTES + "\n")
    with pytest.raises(RunbookError, match="1,048,576 bytes"):
        load_runbook(path)
    assert "limit" in _error(BASE + "# " + "x" * MAX_BYTES + "\n")


def test_invalid_utf8_is_reported_by_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "cutover.yaml"
    path.write_bytes(b"target: {alias: x}\nname: caf\xe9\n")
    with pytest.raises(RunbookError) as info:
        load_runbook(path)
    assert str(info.value).endswith("cutover.yaml:2: not valid UTF-8 (byte 0xe9 in column 10): save the file as UTF-8")


# --- numbers, durations, types ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("snippet", "line", "key"),
    [
        ("monitoring: {duration: 99999999999w}", 2, "monitoring.duration"),
        ("custom_steps: [{id: a, after: deploy, run: x, timeout: 99999999999w}]", 2, "custom_steps[0].timeout"),
        ("custom_steps: [{id: a, after: deploy, run: x, timeout: 99999999999999999999}]", 2, "custom_steps[0].timeout"),
        ("verify: {log_watch: 99999999999w}", 2, "verify.log_watch"),
        (
            "alerts: {escalation: [{severity: LOW, response_time: 99999999999w, path: [deployment_lead]}]}",
            2,
            "alerts.escalation[0].response_time",
        ),
    ],
)
def test_huge_durations_are_out_of_range_not_overflow(snippet: str, line: int, key: str) -> None:
    message = _error(BASE + snippet + "\n")
    assert message.startswith(f"cutover.yaml:{line}: {key}: ") and "maximum duration (366d)" in message


def test_parse_duration_never_overflows() -> None:
    with pytest.raises(ValueError, match="maximum"):
        parse_duration("99999999999w")
    with pytest.raises(ValueError):
        parse_duration("9" * 5000 + "s")
    assert parse_duration("366d").days == 366


@pytest.mark.parametrize(
    "snippet",
    [
        "thresholds: {apex_coverage: true}",
        "thresholds: {lwc_coverage: false}",
        "thresholds: {test_pass_rate: true}",
        "thresholds: {limits: {cpu: true}}",
        "window: {duration_hours: true}",
        "reviews: {min_approvals: true}",
        "sf: {wait_minutes: true}",
        "verify: {max_failure_logs: true}",
        "verify: {min_permission_set_assignments: false}",
    ],
)
def test_booleans_are_not_numbers(snippet: str) -> None:
    assert "expected a number, not " in _error(BASE + snippet + "\n")


def test_version_true_is_not_version_1() -> None:
    assert _error("version: true\n" + BASE).startswith("cutover.yaml:1: version: expected a number")


@pytest.mark.parametrize("number", ["1e400", "-1e400", ".nan", ".inf"])
def test_out_of_range_floats_are_refused(number: str) -> None:
    message = _error(BASE + f"thresholds: {{apex_coverage: {number}}}\n")
    assert message.startswith("cutover.yaml:2: thresholds.apex_coverage: ")


@pytest.mark.parametrize(
    "cron",
    [
        "0 61 * * * ?",
        "60 0 * * * ?",
        "0 0 24 * * ?",
        "0 0 2 32 * ?",
        "0 0 2 ? 13 *",
        "0 0 2 ? * 8",
        "0 0 2 * * *",  # neither day field is '?'
        "0 0 2 ? * ?",  # both are
        "0 0 2 ? * MON#6",
        "0 0 2 ? * * 1969",
        "0 0/0 * * * ?",
        "0 0 ? * * ?",
        "0 0 2 LW-3 * ?",
        "0 0 2 * * ? * 2030",
        "a b c d e f",
    ],
)
def test_invalid_crons_are_refused(cron: str) -> None:
    text = BASE + f"scheduled_jobs: [{{name: job, frequency: x, crons: ['{cron}']}}]\n"
    message = _error(text)
    assert message.startswith("cutover.yaml:2: scheduled_jobs[0].crons[0]: ") and "cron" in message


@pytest.mark.parametrize(
    "cron",
    [
        "0 0 2 * * ?",
        "0 15,45 * * * ?",
        "0 0/15 8-18 ? * MON-FRI",
        "0 0 13 ? * 6L",
        "0 0 1 L * ?",
        "0 0 1 LW * ?",
        "0 0 1 15W * ?",
        "0 0 9 ? * 2#1",
        "0 0 9 ? * FRI#3 2027",
        "0 0 0 1 JAN ? 2026-2030",
        "0 */5 * * * ?",
        "0 0 12 ? * L",
    ],
)
def test_valid_salesforce_crons_are_accepted(cron: str) -> None:
    text = BASE + f"scheduled_jobs: [{{name: job, frequency: x, crons: ['{cron}']}}]\n"
    assert parse_runbook(text).scheduled_jobs[0].crons == [cron]


def test_duplicate_days_are_refused() -> None:
    message = _error(BASE + "window: {days: [friday, Friday]}\n")
    assert message.startswith("cutover.yaml:2: window.days[1]: friday is listed twice")


def test_a_standard_tag_on_a_value_of_another_type_is_refused_not_a_crash() -> None:
    # Found by the campaign: `!!bool force-app` raised KeyError inside the YAML library (exit 3).
    assert "'force-app' is not a !!bool value" in _error("target: {alias: !!bool force-app}\n")
    assert "'two' is not a !!int value" in _error(BASE + "reviews: {min_approvals: !!int two}\n")
    assert parse_runbook(BASE + "name: !!str 12\n").name == "12"


def test_a_huge_hex_number_or_an_impossible_time_is_one_located_error() -> None:
    # `0x` + 5000 digits became an int that no message could print (ValueError, exit 3).
    assert _error(BASE + "name: 0x" + "f" * 5000 + "\n").startswith("cutover.yaml:2: name: expected a text value")
    assert _error(BASE + "name: 2026-01-01 25:00:00\n").startswith("cutover.yaml:2: YAML error: 2026-01-01 25:00:00")


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("project", "manifest", "../../etc/package.xml"),
        ("project", "backup_dir", "/var/backups"),
        ("project", "source_dir", "force-app/../../elsewhere"),
        ("project", "lwc_coverage_summary", "~/coverage.json"),
        ("security", "scan_paths", "[force-app, ../other-project]"),
    ],
)
def test_a_path_in_the_runbook_stays_inside_the_project(section: str, key: str, value: str) -> None:
    message = _error(f"{BASE}{section}:\n  {key}: {value}\n")
    assert f"{section}.{key}" in message and ("leaves the project" in message or "relative to the project" in message)


def test_relative_paths_inside_the_project_are_accepted() -> None:
    text = f"{BASE}project:\n  manifest: manifest/package.xml\n  source_dir: ./force-app\n  backup_dir: .backups\n"
    runbook = parse_runbook(text, "cutover.yaml")
    assert runbook.project.manifest == "manifest/package.xml" and runbook.project.backup_dir == ".backups"
