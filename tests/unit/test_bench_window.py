"""`python -m bench window`: its report arithmetic (windows, overlapping sf processes, ratio, overhead), the counting
wrapper's log, the timings it gives orgsim and the project it generates (200 test classes). Nothing slow: no org, no
sf process."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.window.cutover_path import run_window  # noqa: E402
from bench.window.project import apply_release, write_project  # noqa: E402
from bench.window.report import Window, busy_seconds, comparison_line, ratio, window_line  # noqa: E402
from bench.window.sfcalls import SfCall, read_calls, write_wrapper  # noqa: E402
from bench.window.steps import sent  # noqa: E402
from bench.window.timings import FULL, OrgClock  # noqa: E402

from orgsim import timing  # noqa: E402
from orgsim.scenario import scenario_from_dict  # noqa: E402


def test_busy_seconds_counts_overlapping_processes_once_and_clips_to_the_window() -> None:
    intervals = [(0.0, 4.0), (2.0, 6.0), (8.0, 9.0), (9.5, 20.0), (-5.0, -1.0)]
    assert busy_seconds(intervals, 0.0, 10.0) == pytest.approx(6.0 + 1.0 + 0.5)
    assert busy_seconds([(1.0, 2.0), (1.2, 1.5)], 0.0, 10.0) == pytest.approx(1.0)
    assert busy_seconds([], 0.0, 10.0) == 0.0


def test_window_overhead_and_ratio() -> None:
    calls = [
        SfCall(99.0, 100.5, 0, "org display"),  # before the window (preflight): not counted
        SfCall(100.0, 130.0, 0, "project deploy start"),
        SfCall(120.0, 140.0, 0, "project retrieve start"),  # overlaps the deploy
        SfCall(141.0, 149.0, 1, "data query"),
    ]
    cutover = Window("cutover run", 100.0, 150.0, calls)
    assert [c.command for c in cutover.window_calls] == ["project deploy start", "project retrieve start", "data query"]
    assert cutover.sf_seconds == pytest.approx(40.0 + 8.0)
    assert cutover.overhead_seconds == pytest.approx(2.0)
    assert cutover.overhead_share == pytest.approx(0.04)
    seed = Window("seed", 0.0, 200.0, [])
    assert ratio(cutover, seed) == pytest.approx(0.25)
    line = comparison_line(cutover, seed, 0.70, 0.02)
    assert "0.25x" in line and "<= 0.70x: met" in line and "4.0 % (target < 2 %: NOT met)" in line
    assert "3 sf calls (1 exited non-zero)" in window_line(cutover)
    assert "NOT met" in comparison_line(Window("slow", 0.0, 150.0), seed, 0.70)


def test_sleeps_between_polls_of_a_deploy_are_waiting_on_the_org_not_overhead() -> None:
    calls = [
        SfCall(0.0, 2.0, 0, "project deploy start"),
        SfCall(3.0, 4.0, 0, "project deploy report"),  # 1 s asleep before it: a poll wait
        SfCall(6.0, 7.0, 0, "project deploy report"),  # 2 s
        SfCall(7.5, 8.0, 0, "data query"),  # 0.5 s before a query: the tool's own time
        SfCall(9.0, 10.0, 0, "project deploy report"),  # after a query: not a poll of the previous call's job
    ]
    window = Window("cutover run", 0.0, 12.0, calls)
    assert window.sf_seconds == pytest.approx(5.5)
    assert window.poll_wait_seconds == pytest.approx(3.0)
    assert window.overhead_seconds == pytest.approx(12.0 - 5.5 - 3.0)
    assert "3.0s between polls (waiting on the org), overhead 3.5s (29.2 %)" in window_line(window)


def test_the_run_window_is_guard_start_to_last_verify_end() -> None:
    def step(ident: str, stage: str, started: str, finished: str) -> dict[str, str]:
        return {"id": ident, "stage": stage, "status": "passed", "started": started, "finished": finished}

    steps = [
        step("preflight.git", "preflight", "2026-12-06T01:00:00Z", "2026-12-06T01:00:05Z"),
        step("guard.org-identity", "guard", "2026-12-06T02:00:00Z", "2026-12-06T02:00:04Z"),
        step("validate.dry-run", "validate", "2026-12-06T02:00:04Z", "2026-12-06T02:01:30Z"),
        step("verify.apex-tests", "verify", "2026-12-06T02:01:31Z", "2026-12-06T02:02:10.500000Z"),
        step("verify.checklist-1h", "verify", "2026-12-06T02:02:10Z", "2026-12-06T02:02:10.100000Z"),
    ]
    start, end = run_window(steps)
    assert end - start == pytest.approx(130.5)
    steps[3]["status"] = "failed"
    with pytest.raises(RuntimeError, match=r"verify\.apex-tests"):
        run_window(steps)


def test_the_counting_wrapper_times_each_call_and_passes_exit_codes(tmp_path: Path) -> None:
    fake = tmp_path / "fake-sf"
    fake.write_text('#!/bin/sh\necho "args: $*"\nexit "${FAKE_EXIT:-0}"\n')
    fake.chmod(0o755)
    log = tmp_path / "calls.log"
    wrapper = write_wrapper(tmp_path / "bin", fake, log)
    done = subprocess.run([str(wrapper), "project", "deploy", "start", "--json"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "args: project deploy start --json"
    failed = subprocess.run([str(wrapper), "data", "query", "--query", "SELECT Id FROM Account"],
                            env={"FAKE_EXIT": "3", "PATH": "/usr/bin:/bin"}, capture_output=True)  # fmt: skip
    assert failed.returncode == 3
    calls = read_calls(log)
    assert [(c.command, c.returncode) for c in calls] == [("project deploy start", 0), ("data query", 3)]
    assert all(0 <= c.seconds < 5 for c in calls)


def test_the_generated_project_has_200_test_classes_and_the_release_changes_3_classes(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", 200)
    classes = sorted((tmp_path / "p" / "force-app" / "main" / "default" / "classes").glob("*.cls"))
    tests = [p for p in classes if p.read_text().startswith("@isTest")]
    assert len(tests) == 200 == len(project.test_classes)
    assert len(classes) == 400 and project.components == 404
    assert len(project.changed) == 3 and set(project.changed) <= set(project.classes)
    before = {path: path.read_text() for path in classes}
    apply_release(project, "1.1.0")
    after = {path: path.read_text() for path in classes}
    assert sorted(p.stem for p in classes if before[p] != after[p]) == sorted(project.changed)
    assert "## 1.1.0" in (tmp_path / "p" / "CHANGELOG.md").read_text()


def test_the_timings_reach_orgsim_as_stated() -> None:
    components, tests = 404, 200
    durations = scenario_from_dict({"durations": FULL.durations("per-unit", components, tests)}).durations
    validation = timing.deploy_timing(durations, check_only=True, components=components, test_class_methods=[2] * tests)
    assert validation.total == pytest.approx(FULL.deploy_seconds(components, tests))
    quick = timing.deploy_timing(durations, check_only=False, components=components)
    assert quick.total == pytest.approx(FULL.deploy_seconds(components, 0))
    assert timing.test_run_seconds(durations, tests) == pytest.approx(FULL.test_run_seconds(tests))
    assert FULL.test_run_seconds(tests) == FULL.test_fixed_seconds + FULL.test_class_seconds * math.ceil(200 / 4)
    fixed = scenario_from_dict({"durations": FULL.durations("fixed", components, tests)}).durations
    # The fixed model (orgsim before issue 8): a quick deploy costs as much as the deploy with tests.
    assert timing.deploy_timing(fixed, check_only=False, components=components).total == pytest.approx(validation.total)


def test_what_a_run_sent_is_read_from_its_step_details() -> None:
    steps = [
        {"id": "backup.retrieve", "detail": "backups/x.tar.gz sha256 ab12…: 3 component(s) in 6 file(s); 0 release"},
        {"id": "validate.dry-run", "detail": "Succeeded: 3/3 components, 6/6 tests, coverage 83.3% ≥ 75%"},
        {"id": "verify.apex-tests", "detail": "400/400 tests passed, org-wide coverage 83%"},
    ]
    what = sent(steps)
    assert (what.backup_components, what.validated_components) == (3, 3)
    assert (what.validated_test_classes, what.verified_test_classes) == (3, 200)
    assert sent([]).describe().startswith("backup ? components")


def test_the_org_clock_charges_quick_deploys_components_only_unless_the_model_is_fixed() -> None:
    clock = OrgClock(FULL, "per-unit", 404, 200)
    assert clock.quick_deploy(404) == pytest.approx(FULL.deploy_fixed_seconds + 404 * FULL.component_seconds)
    assert clock.deploy(3, 3) == pytest.approx(FULL.deploy_fixed_seconds + 3 * FULL.component_seconds + 3 * 0.4)
    fixed = OrgClock(FULL, "fixed", 404, 200)
    assert fixed.quick_deploy(3) == fixed.deploy(3, 3) == pytest.approx(clock.deploy(404, 200))
    assert fixed.test_run(3) == pytest.approx(clock.test_run(200))
