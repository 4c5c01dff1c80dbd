"""`cutover run` from the org guard through the verification steps, as a release manager drives it: `cutover init
--target-org` (only people filled in, plus the opt-ins a scenario names), the preflight gates and every sign-off
given before the window, then `cutover run --until verify`. The window is read from the run's own step timestamps:
the guard step's start to the last verification step's end (the preflight is not part of it)."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping
from typing import Any

from ruamel.yaml import YAML

from bench.window.report import Window
from bench.window.workspace import ALIAS, Workspace

CUTOVER_STAGES = ("guard", "backup", "release", "validate", "deploy", "verify")
SIGNED_STAGES = ("preflight", *CUTOVER_STAGES)
PEOPLE = ("Avery Stone", "Blair Okafor", "Casey Lindqvist", "Devon Mbeki", "Emery Tanaka", "Finley Roussel")
# A Wednesday evening inside the generated runbook's window (Tuesday-Thursday 18:00-22:00 UTC); preflight checks the
# window for the scheduled start (`--at`), so the bench runs on any day.
WINDOW_AT = "2026-12-09T19:00:00+00:00"


def _set(doc: Any, dotted: str, value: object) -> None:
    *parents, leaf = dotted.split(".")
    node = doc
    for key in parents:
        if node.get(key) is None:
            node[key] = {}
        node = node[key]
    node[leaf] = value


def prepare_runbook(space: Workspace, overrides: Mapping[str, object]) -> dict[str, str]:
    """`cutover init --target-org`, people filled in (one distinct person per role), the overrides; committed and
    pushed. Returns role id -> person."""
    space.run([str(space.cutover), "-C", str(space.work), "init", "--target-org", ALIAS])
    path = space.work / "cutover.yaml"
    yaml = YAML()
    doc = yaml.load(path.read_text())
    people: dict[str, str] = {}
    for index, (role_id, role) in enumerate((doc.get("roles") or {}).items()):
        person = PEOPLE[index % len(PEOPLE)]
        people[role_id] = person
        role["name"] = person
        role["email"] = person.lower().replace(" ", ".") + "@harbor.example.com"
        role["phone"] = "+1 555 0100"
    for dotted, value in overrides.items():
        _set(doc, dotted, value)
    with path.open("w") as handle:
        yaml.dump(doc, handle)
    space.commit("Release runbook: people and the production org")
    space.git("push", "-q", "origin", "main")
    return people


def cutover(space: Workspace, *args: str, expect: tuple[int, ...] = (0,)) -> str:
    done = space.run([str(space.cutover), "-C", str(space.work), *args], check=False)
    if done.returncode not in expect:
        tail = "\n".join((done.stderr.strip() + "\n" + done.stdout.strip()).strip().splitlines()[-15:])
        raise RuntimeError(f"cutover {' '.join(args[:3])} -> exit {done.returncode}\n{tail}")
    return done.stdout


def status(space: Workspace) -> dict[str, Any]:
    return json.loads(cutover(space, "status", "--format", "json"))


def sign_in_advance(space: Workspace, people: Mapping[str, str]) -> int:
    """Give every sign-off of the preflight and of the window's stages before the run; returns how many."""
    signed = 0
    for step in status(space)["steps"]:
        if step["kind"] != "signoff" or step["stage"] not in SIGNED_STAGES or step["status"] == "passed":
            continue
        roles = (step.get("signoff") or {}).get("roles") or []
        role = next((r for r in roles if r in people), None)
        if role is None:
            raise RuntimeError(f"sign-off {step['id']} wants roles {roles}, none of them a runbook role")
        evidence = f"https://wiki.harbor.example.com/bench/{step['id']}"
        cutover(space, "signoff", step["id"], "--by", people[role], "--role", role, "--evidence", evidence)
        signed += 1
    return signed


def moment(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def run_window(steps: list[dict[str, Any]]) -> tuple[float, float]:
    """The guard step's start and the last verification step's end, from the run's step records."""
    inside = [s for s in steps if s["stage"] in CUTOVER_STAGES]
    unfinished = [s["id"] for s in inside if s["status"] not in ("passed", "skipped") or not s.get("finished")]
    if unfinished:
        raise RuntimeError(f"the run did not finish the window's steps: {', '.join(unfinished)}")
    guard = [s for s in inside if s["stage"] == "guard" and s.get("started")]
    if not guard:
        raise RuntimeError("the run has no guard step")
    start = min(moment(s["started"]) for s in guard)
    end = max(moment(s["finished"]) for s in inside if s["stage"] == "verify")
    return start, end


def run_cutover_path(
    space: Workspace, label: str, overrides: Mapping[str, object]
) -> tuple[Window, list[dict[str, Any]]]:
    """Prepare, preflight and sign, then `cutover run --until verify`. Returns the window and the window's steps."""
    people = prepare_runbook(space, overrides)
    cutover(space, "preflight", "--at", WINDOW_AT, expect=(0, 4))
    sign_in_advance(space, people)
    cutover(space, "preflight", "--at", WINDOW_AT)
    began = time.time()
    cutover(space, "--yes", "run", "--until", "verify")
    process = time.time() - began
    steps = status(space)["steps"]
    start, end = run_window(steps)
    inside = [s for s in steps if s["stage"] in CUTOVER_STAGES]
    note = (
        f"the `cutover run` process: {process:.1f}s wall, {process - (end - start):.1f}s of it outside the window "
        "(start-up, plan, lock, the audit head's publication)"
    )
    return Window(label, start, end, space.calls(), note), inside


def step_seconds(step: dict[str, Any]) -> float:
    if not step.get("started") or not step.get("finished"):
        return 0.0
    return moment(step["finished"]) - moment(step["started"])
