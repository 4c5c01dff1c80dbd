"""The release branch and tag a run created (and pushed), read back from its audit trail, and their removal by
`cutover abort`.

`git.release` records `created: ["branch", "tag"]` (only what did not exist before: a ref reused because it already
pointed at HEAD is not the run's) and `git.release` / `git.push_release` record `pushed_refs` (only what the remote did
not have). `remove_release_refs` deletes exactly those, and only while they still point at the commit the run gave
them; a run that deployed keeps them (they name what production runs).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cutover.engine.model import StepStatus
from cutover.engine.store import Store

RELEASE_ACTIONS = frozenset({"git.release", "git.push_release"})
DEPLOY_ACTIONS = frozenset({"sf.quick_deploy"})


@dataclass(frozen=True)
class CreatedRef:
    kind: str  # "branch" | "tag"
    name: str
    commit: str
    remote: str | None = None  # set: pushed to this remote by the run (else: created locally)

    @property
    def ref(self) -> str:
        return f"refs/heads/{self.name}" if self.kind == "branch" else f"refs/tags/{self.name}"


def release_refs(store: Store, run_id: str) -> list[CreatedRef]:
    """Every branch/tag the run created locally and pushed, from its `step.finished` events (in order, no repeats)."""
    steps = {r.id for r in store.steps(run_id) if r.spec.action in RELEASE_ACTIONS}
    out: list[CreatedRef] = []
    for event in store.events(run_id):
        if event.type != "step.finished" or event.step_id not in steps or event.payload.get("status") != "passed":
            continue
        data = event.payload.get("data") or {}
        commit = str(data.get("commit") or "")
        names = {"branch": str(data.get("branch") or ""), "tag": str(data.get("tag") or "")}
        for kind in data.get("created") or ():
            if names.get(kind):
                out.append(CreatedRef(kind, names[kind], commit))
        pushed = data.get("pushed_refs")
        for kind in pushed if isinstance(pushed, list) else ():
            if names.get(kind):
                out.append(CreatedRef(kind, names[kind], commit, str(data.get("remote") or "origin")))
    return list(dict.fromkeys(out))


def created_refs(store: Store, run_id: str) -> dict[str, list[str]]:
    """kind -> names the run created locally."""
    found: dict[str, list[str]] = {}
    for item in release_refs(store, run_id):
        if item.remote is None:
            found.setdefault(item.kind, []).append(item.name)
    return found


def deployed(store: Store, run_id: str) -> bool:
    """True when the run's deploy passed or may have happened (it is running or was interrupted)."""
    return any(
        r.spec.action in DEPLOY_ACTIONS and r.status in (StepStatus.PASSED, StepStatus.RUNNING)
        for r in store.steps(run_id)
    )


def _git(project_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Never waits for a credentials prompt nobody will answer."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    return subprocess.run(
        ["git", *args], cwd=project_dir, capture_output=True, text=True, timeout=300, check=False, env=env
    )


def _points_at(project_dir: Path, item: CreatedRef) -> str | None:
    done = _git(project_dir, "rev-parse", "--verify", "--quiet", f"{item.ref}^{{commit}}")
    return done.stdout.strip() or None if done.returncode == 0 else None


def _why(done: subprocess.CompletedProcess[str]) -> str:
    lines = (done.stderr.strip() or done.stdout.strip()).splitlines()
    return lines[-1] if lines else f"exit {done.returncode}"


def remove_release_refs(project_dir: Path, store: Store, run_id: str) -> list[str]:
    """Remove what the run created (local branch and tag; on the remote what it pushed). One line per ref."""
    refs = release_refs(store, run_id)
    if not refs:
        return []
    if deployed(store, run_id):
        return [
            f"kept {item.kind} {item.name}{f' on {item.remote}' if item.remote else ''}: run {run_id} deployed it"
            for item in refs
        ]
    lines: list[str] = []
    for item in refs:
        if item.remote is not None:
            done = _git(project_dir, "push", item.remote, "--delete", item.ref)
            lines.append(
                f"removed {item.kind} {item.name} from {item.remote}"
                if done.returncode == 0
                else f"could not remove {item.kind} {item.name} from {item.remote}: {_why(done)}"
            )
            continue
        at = _points_at(project_dir, item)
        if at is None:
            lines.append(f"local {item.kind} {item.name} already gone")
        elif item.commit and at != item.commit:
            lines.append(
                f"kept local {item.kind} {item.name}: it now points at {at[:12]}, not at {item.commit[:12]} "
                "where the run created it"
            )
        else:
            args = ("branch", "-D", item.name) if item.kind == "branch" else ("tag", "-d", item.name)
            done = _git(project_dir, *args)
            lines.append(
                f"removed local {item.kind} {item.name}"
                if done.returncode == 0
                else f"could not remove local {item.kind} {item.name}: {_why(done)}"
            )
    return lines
