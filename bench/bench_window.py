"""The deployment window, measured in one run (issue 8.5): the seed runbook's literal `sf` path against `cutover run`
(org guard through verification), each on its own orgsim production org started from the same scenario (v1 of a
generated project of 200 Apex test classes, one scheduled job) with the same timings, driven by the real sf CLI.

`python -m bench window [--quick] [--model per-unit|fixed] [--keep DIR]` prints both windows, the ratio, the sf call
counts (a counting wrapper stands in for sf) and cutover's own overhead (window time with no sf process running).
Two releases: the full release with RunLocalTests, and a delta release of 3 changed classes with relevant tests
(`project.delta.enabled`, `sf.relevant_tests`). Figures only; nothing is asserted on time.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.window.cutover_path import moment, run_cutover_path, step_seconds
from bench.window.project import write_project
from bench.window.report import Window, busy_seconds, call_breakdown, comparison_line, window_line
from bench.window.seed_path import run_seed_path
from bench.window.steps import sent
from bench.window.timings import FULL, QUICK, Model, OrgClock, Timings
from bench.window.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
FULL_TARGET, OVERHEAD_TARGET, DELTA_TARGET = 0.70, 0.02, 0.25
DELTA_OVERRIDES = {"project.delta.enabled": True, "sf.relevant_tests": True}


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench window", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50 test classes and shorter org times (~3 min)")
    parser.add_argument("--model", choices=("per-unit", "fixed"), default="per-unit", help="orgsim timing model")
    parser.add_argument("--only", choices=("full", "delta"), action="append", help="scenario(s) to run (default both)")
    parser.add_argument("--keep", type=Path, help="keep the orgs, repositories and sf logs in this folder")
    return parser.parse_args(argv or [])


def _sf_binary() -> Path:
    configured = os.environ.get("CUTOVER_SF")
    return Path(configured) if configured else REPO / ".tools" / "bin" / "sf"


def _head() -> str:
    """The commit the bench measures, and how many files under src/ differ from it (others' work in progress)."""
    done = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%h %s"], capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--", "src"], capture_output=True, text=True
    ).stdout.splitlines()
    changed = f" (+ {len(dirty)} uncommitted file(s) under src/)" if dirty else ""
    return (done.stdout.strip()[:70] or "unknown") + changed


def _dominant(steps: list[dict[str, Any]], window: Window) -> str:
    ranked = sorted(steps, key=step_seconds, reverse=True)[:4]
    return ", ".join(
        f"{s['id']} {step_seconds(s):.1f}s ({step_seconds(s) / window.seconds * 100:.0f} %)" for s in ranked
    )


def _gaps(steps: list[dict[str, Any]], window: Window) -> float:
    """Window time covered by no step (the runner between steps)."""
    spans = [(moment(s["started"]), moment(s["finished"])) for s in steps if s.get("started") and s.get("finished")]
    return window.seconds - busy_seconds(spans, window.start, window.end)


def _delta_missing() -> str | None:
    """Why a delta release with relevant tests cannot run on this tree, or None."""
    if importlib.util.find_spec("cutover.delta") is None:
        return "cutover.delta is not in this tree"
    import cutover.delta as delta

    if not hasattr(delta, "compute_delta"):
        return "cutover.delta has no compute_delta yet"
    if importlib.util.find_spec("cutover.testsel") is None:
        return "cutover.testsel is not in this tree"
    import cutover.testsel as testsel

    if not hasattr(testsel, "select_tests"):
        return "cutover.testsel has no select_tests yet"
    return None


def _print_path(window: Window, floor: str, load: float, steps: list[dict[str, Any]] | None = None) -> None:
    print(f"  {window_line(window)}")
    print(f"    sf: {call_breakdown(window)}")
    if window.note:
        print(f"    {window.note}")
    if steps:
        print(f"    sent: {sent(steps).describe()}")
        print(f"    longest steps: {_dominant(steps, window)}; between steps {_gaps(steps, window):.1f}s")
    print(f"    {floor}; load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")


def _seed_floor(clock: OrgClock) -> str:
    parts = (clock.retrieve(clock.components), 2 * clock.deploy(clock.components, clock.test_classes))
    total = sum(parts) + clock.test_run(clock.test_classes)
    return (
        f"org clock floor {total:.1f}s (retrieve {parts[0]:.1f} + validate and deploy with tests {parts[1]:.1f} "
        f"+ apex run test {clock.test_run(clock.test_classes):.1f})"
    )


def _cutover_floor(clock: OrgClock, steps: list[dict[str, Any]]) -> str:
    what = sent(steps)
    if what.validated_components is None or what.validated_test_classes is None or what.verified_test_classes is None:
        return "org clock floor: unknown (the step details changed shape)"
    validation = clock.deploy(what.validated_components, what.validated_test_classes)
    quick = clock.quick_deploy(what.validated_components)
    tests = clock.test_run(what.verified_test_classes)
    return (
        f"org clock floor {validation + quick + tests:.1f}s (validate {validation:.1f} + quick deploy {quick:.1f} "
        f"+ apex run test {tests:.1f}; the backup can overlap the validation)"
    )


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    timings: Timings = QUICK if args.quick else FULL
    classes = 50 if args.quick else 200
    model: Model = args.model
    scenarios = args.only or ["full", "delta"]
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-window-"))
    folder.mkdir(parents=True, exist_ok=True)
    sf = _sf_binary()
    probe = write_project(folder / "probe", classes)
    components, tests = probe.components, len(probe.test_classes)
    shutil.rmtree(probe.root)
    durations = timings.durations(model, components, tests)
    clock = OrgClock(timings, model, components, tests)
    print(
        f"project: {classes} Apex classes + {tests} test classes + a trigger, a custom object with a field and a "
        f"permission set ({components} components); the release changes {', '.join(probe.changed)}"
    )
    for line in timings.describe(model, components, tests):
        print(f"timings: {line}")
    print(f"durations (scenario keys): {durations}")
    if args.quick:
        print("--quick: the org clock is short, so sf process start-up (1-5 s each here) dominates the windows;")
        print("  the targets are meant for the full run (tests dominate, as in a large production org)")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start; cutover at {_head()}")
    started = time.monotonic()

    def workspace(name: str) -> Workspace:
        return Workspace(folder / name, sf, classes, durations)

    loads: list[float] = []

    def measured(name: str, body: Callable[[Workspace], Any]) -> Any:
        space = workspace(name)
        loads.append(os.getloadavg()[0])
        try:
            return body(space)
        finally:
            space.close()

    seed = measured("seed", run_seed_path)
    print("seed's literal path (org display, retrieve + tar, validate and deploy with RunLocalTests, apex run test,")
    print("  the ApexLog and CronTrigger queries):")
    _print_path(seed, _seed_floor(clock), loads[-1])

    if "full" in scenarios:
        window, steps = measured("full", lambda s: run_cutover_path(s, "cutover run", {}))
        print("full release, RunLocalTests (cutover run --until verify; preflight and sign-offs before the window):")
        _print_path(window, _cutover_floor(clock, steps), loads[-1], steps)
        print(f"    {comparison_line(window, seed, FULL_TARGET, OVERHEAD_TARGET)}")

    if "delta" in scenarios:
        print("delta release of 3 classes with relevant tests (project.delta.enabled, sf.relevant_tests):")
        missing = _delta_missing()
        if missing:
            print(f"  not available: {missing}")
        else:
            try:
                window, steps = measured("delta", lambda s: run_cutover_path(s, "cutover run (delta)", DELTA_OVERRIDES))
            except RuntimeError as error:
                print(f"  not available: the delta run failed: {str(error).splitlines()[0]}")
                for line in str(error).splitlines()[1:6]:
                    print(f"    {line}")
            else:
                validated = sent(steps).validated_components
                if validated is not None and validated >= components:
                    print(f"  not available: the validation still sent all {validated} components (delta not applied)")
                _print_path(window, _cutover_floor(clock, steps), loads[-1], steps)
                print(f"    {comparison_line(window, seed, DELTA_TARGET)} (the seed's path has no delta: same window)")
    busiest = max(loads, default=0.0)
    if busiest > 2 * (os.cpu_count() or 1):
        print(f"note: the machine was busy (load average up to {busiest:.1f} on {os.cpu_count()} cores): each sf")
        print("  process then takes seconds longer, so a ratio moves with the load each path met")
    print(f"bench wall time {time.monotonic() - started:.0f}s; files in {folder}")
    if args.keep is None:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
