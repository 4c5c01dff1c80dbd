"""Anchoring a run's audit head off the machine, and checking the local chain against those anchors.

The hash chain (`cutover.engine.chain`) detects edits, but not a consistent rewrite: someone who recomputes every
hash and the HEAD file leaves a chain that verifies. So at every pause (a sign-off awaited, a failure, an interrupt)
and at the end of a run, `publish_anchor` writes the head (run id, event seq, head hash, time) where others keep a
copy:

- **git notes** under `refs/notes/cutover` on the release tag once the run created it (before that, on the commit
  the run was gated on), pushed to the release remote (`origin` by default) when there is one. Never `--force`: the
  remote's notes are fetched and merged first (`cat_sort_uniq`: one JSON line per anchor), so several clones and runs
  add to the same ref. A fetch or push failure is a warning in the trail, never a run failure.
- **notifications**: every message `cutover.notify` sends carries the head it was sent at (`Message.audit_head`).

Each publication is an `anchor.published` audit event naming the head and where it went. `verify_remote` (behind
`cutover audit verify --remote`) fetches the anchors from the remote and checks that the local chain still has
every anchored event with the same hash: a consistent rewrite of `state.db` and `HEAD` after an anchor was pushed is
detected.

Git notes are written only where the run owns the repository: the project folder is the work tree's top level, or
the run's plan creates the release tag there (`git.release`).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cutover.engine.model import EventRecord
    from cutover.engine.store import Store

NOTES_REF = "refs/notes/cutover"
#: Where the remote's notes are fetched to (a local copy; the shared ref is only ever fast-forwarded).
REMOTE_COPY_REF = "refs/notes/cutover-remote"
EVENT = "anchor.published"
ANCHOR_KEY = "cutover_anchor"  # marks a notes line as an anchor (format version)
RELEASE_ACTIONS = ("git.release", "git.push_release")
GIT_TIMEOUT = 60


@dataclass(frozen=True)
class Head:
    """An audit head: the last event of a run's chain."""

    run_id: str
    seq: int
    hash: str
    at: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "seq": self.seq, "hash": self.hash, "at": self.at}

    def line(self, **extra: Any) -> str:
        return json.dumps({ANCHOR_KEY: 1, **self.to_json(), **extra}, sort_keys=True, separators=(",", ":"))

    def describe(self) -> str:
        return f"run {self.run_id} event #{self.seq} head {self.hash}"


@dataclass
class Publication:
    """Where one head went (the payload of the `anchor.published` event)."""

    head: Head
    reason: str
    targets: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "head": {"seq": self.head.seq, "hash": self.head.hash},
            "at": self.head.at,
            "reason": self.reason,
            "published": self.targets,
            "warnings": self.warnings,
        }


def last_event_head(store: Store, run_id: str) -> Head | None:
    """The run's current head (its last event) from the log itself."""
    from cutover.engine.store import utc_now

    row = store.db.execute(
        "SELECT seq, hash FROM events WHERE run_id = ? ORDER BY id DESC LIMIT 1", (run_id,)
    ).fetchone()
    return Head(run_id, int(row[0]), str(row[1]), utc_now()) if row else None


# ---------------------------------------------------------------------------------------------------------------------
# git
# ---------------------------------------------------------------------------------------------------------------------


#: git commands that talk to the remote: never wait for a prompt nobody answers (credentials, ssh passphrase).
NETWORK_COMMANDS = frozenset({"fetch", "push"})


def _git(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})}
    try:
        if args[0] in NETWORK_COMMANDS and not (full_env.get("GIT_SSH_COMMAND") or full_env.get("GIT_SSH")):
            # ssh reads a passphrase from the terminal itself; an agent still works in batch mode
            configured = subprocess.run(
                ["git", "config", "core.sshCommand"], cwd=cwd, capture_output=True, text=True, check=False, timeout=30
            )
            if not configured.stdout.strip():
                full_env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"
        return subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=GIT_TIMEOUT, check=False, env=full_env
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(["git", *args], 124, "", f"git {args[0]} timed out after {GIT_TIMEOUT}s")
    except OSError as exc:
        return subprocess.CompletedProcess(["git", *args], 127, "", f"git cannot run: {exc.strerror or exc}")


def _why(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in (done.stderr.strip() or done.stdout.strip()).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("fatal:", "error:", "!"))]
    return (errors or lines or [f"exit {done.returncode}"])[-1].strip()[:300]


def _identity_env(cwd: Path) -> dict[str, str]:
    """A notes commit needs a committer: fall back to `cutover` where git has no identity configured."""
    if _git(cwd, "config", "--get", "user.email").returncode == 0:
        return {}
    return {
        "GIT_AUTHOR_NAME": "cutover",
        "GIT_AUTHOR_EMAIL": "cutover@localhost",
        "GIT_COMMITTER_NAME": "cutover",
        "GIT_COMMITTER_EMAIL": "cutover@localhost",
    }


def _release_facts(events: Iterable[EventRecord]) -> tuple[str | None, str | None]:
    """(release tag, remote) from the run's passed release steps, as its chained log tells them."""
    tag = remote = None
    for event in events:
        if event.type != "step.finished" or event.payload.get("status") != "passed":
            continue
        data = event.payload.get("data")
        if not isinstance(data, Mapping) or not data.get("tag") or "commit" not in data:
            continue
        tag = str(data["tag"])
        remote = str(data.get("remote") or remote or "") or None
    return tag, remote


def _owns_repo(project_dir: Path, store: Store, run_id: str) -> bool:
    top = _git(project_dir, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        return False
    if Path(top.stdout.strip()).resolve() == project_dir.resolve():
        return True
    return any(r.spec.action in RELEASE_ACTIONS for r in store.steps(run_id))


def _has_remote(project_dir: Path, remote: str) -> bool:
    done = _git(project_dir, "remote")
    return done.returncode == 0 and remote in done.stdout.split()


def fetch_remote_notes(project_dir: Path, remote: str) -> tuple[bool, str | None]:
    """Fetch the remote's anchors into REMOTE_COPY_REF: (the remote has them, a problem reaching it or None)."""
    done = _git(project_dir, "fetch", "--quiet", "--no-tags", remote, f"+{NOTES_REF}:{REMOTE_COPY_REF}")
    if done.returncode == 0:
        return True, None
    why = _why(done)
    if "couldn't find remote ref" in why:
        _git(project_dir, "update-ref", "-d", REMOTE_COPY_REF)  # an old copy would not be the remote's any more
        return False, None
    return False, why


def _git_notes(
    project_dir: Path, head: Head, reason: str, tag: str | None, remote: str, git_head: str | None
) -> dict[str, Any]:
    """Append the head to the notes of the release tag (or commit), merge the remote's notes, push. One target."""
    target: dict[str, Any] = {"where": "git-notes", "ref": NOTES_REF}
    obj = None
    if tag and _git(project_dir, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}").returncode == 0:
        obj, target["on"] = f"refs/tags/{tag}", f"tag {tag}"
    else:
        for candidate in (git_head, "HEAD"):
            if (
                candidate
                and _git(project_dir, "rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}").returncode == 0
            ):
                obj, target["on"] = candidate, f"commit {candidate[:12]}" if candidate != "HEAD" else "HEAD"
                break
    if obj is None:
        target["error"] = "no commit to attach the note to"
        return target
    env = _identity_env(project_dir)
    remote_ok = _has_remote(project_dir, remote)
    if remote_ok:
        target["remote"] = remote
        found, problem = fetch_remote_notes(project_dir, remote)
        if problem:
            target["warning"] = f"fetching {NOTES_REF} from {remote} failed: {problem}"
        elif found:
            merged = _git(
                project_dir,
                "notes",
                f"--ref={NOTES_REF}",
                "merge",
                "--quiet",
                "-s",
                "cat_sort_uniq",
                REMOTE_COPY_REF,
                env=env,
            )
            if merged.returncode != 0:
                target["warning"] = f"merging the notes of {remote} failed: {_why(merged)}"
    added = _git(project_dir, "notes", f"--ref={NOTES_REF}", "append", "-m", head.line(reason=reason), obj, env=env)
    if added.returncode != 0:
        target["error"] = f"git notes append failed: {_why(added)}"
        return target
    target["written"] = True
    if not remote_ok:
        target["pushed"] = False
        target.setdefault("warning", f"no remote {remote!r}: the note stays in this clone")
        return target
    pushed = _git(project_dir, "push", "--quiet", remote, f"{NOTES_REF}:{NOTES_REF}")  # never --force
    target["pushed"] = pushed.returncode == 0
    if pushed.returncode != 0:
        target["warning"] = f"git push {remote} {NOTES_REF} failed: {_why(pushed)}"
    return target


# ---------------------------------------------------------------------------------------------------------------------
# publishing
# ---------------------------------------------------------------------------------------------------------------------


def publish_anchor(
    store: Store,
    project_dir: Path,
    run_id: str,
    *,
    reason: str | None = None,
    warn: Callable[[str], None] | None = None,
) -> Publication | None:
    """Publish the run's current audit head (see the module doc) and record an `anchor.published` event.

    Never raises: a failure to publish is a warning (in the event and through `warn`). Returns None when there is
    nowhere to publish (the project is not a git work tree the run owns)."""
    try:
        return _publish(store, Path(project_dir), run_id, reason, warn)
    except (Exception, KeyboardInterrupt) as exc:  # an anchor never changes how a run ends
        if warn is not None:
            warn(f"warning: the audit head could not be anchored ({type(exc).__name__}: {exc})")
        return None


def _publish(
    store: Store, project_dir: Path, run_id: str, reason: str | None, warn: Callable[[str], None] | None
) -> Publication | None:
    run = store.get_run(run_id)
    if run is None or not run.git_head or not _owns_repo(project_dir, store, run_id):
        return None
    head = last_event_head(store, run_id)
    if head is None:
        return None
    events = store.events(run_id)
    tag, remote = _release_facts(events)
    why = reason or run.state.value
    publication = Publication(head, why)
    target = _git_notes(project_dir, head, why, tag, remote or "origin", run.git_head)
    publication.targets.append(target)
    for key in ("warning", "error"):
        if target.get(key):
            publication.warnings.append(str(target[key]))
    with store.transaction() as tx:
        tx.append_event(run_id, EVENT, None, publication.to_json())
    if warn is not None:
        for line in publication.warnings:
            warn(f"warning: audit head not anchored off the machine: {line}")
    return publication


# ---------------------------------------------------------------------------------------------------------------------
# checking (cutover audit verify --remote)
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    """One anchor read back from the notes: a head plus where it was attached."""

    head: Head
    reason: str
    on: str  # the annotated object

    def describe(self) -> str:
        when = f" at {self.head.at}" if self.head.at else ""
        return f"anchor of event #{self.head.seq} (head {self.head.hash[:16]}…, {self.reason}{when})"


def parse_anchor_lines(text: str, on: str = "") -> list[Anchor]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if not isinstance(item, dict) or ANCHOR_KEY not in item:
            continue
        try:
            head = Head(str(item["run_id"]), int(item["seq"]), str(item["hash"]), str(item.get("at") or ""))
        except (KeyError, TypeError, ValueError):
            continue
        out.append(Anchor(head, str(item.get("reason") or ""), on))
    return out


def read_notes(project_dir: Path, ref: str) -> list[Anchor]:
    """Every anchor in the notes of `ref` (all annotated objects)."""
    listed = _git(project_dir, "notes", f"--ref={ref}", "list")
    if listed.returncode != 0:
        return []
    pairs = [line.split() for line in listed.stdout.splitlines() if len(line.split()) == 2]
    if not pairs:
        return []
    batch = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=project_dir,
        input="".join(f"{blob}\n" for blob, _obj in pairs).encode(),
        capture_output=True,
        timeout=GIT_TIMEOUT,
        check=False,
    )
    out: list[Anchor] = []
    data, pos = batch.stdout, 0
    for _blob, obj in pairs:  # each answer: "<oid> blob <size>\n<size bytes>\n"
        newline = data.find(b"\n", pos)
        if newline < 0:
            break
        header = data[pos:newline].split()
        pos = newline + 1
        if len(header) != 3 or not header[2].isdigit():
            continue
        size = int(header[2])
        out += parse_anchor_lines(data[pos : pos + size].decode("utf-8", "replace"), obj)
        pos += size + 1
    return out


@dataclass
class RemoteCheck:
    run_id: str
    remote: str
    anchors: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "remote": self.remote,
            "ref": NOTES_REF,
            "anchors": self.anchors,
            "ok": self.ok,
            "problems": self.problems,
            "notes": self.notes,
        }


class RemoteUnavailable(Exception):
    """The anchors cannot be fetched (no git work tree, no such remote, the remote cannot be reached)."""


def check_against(run_id: str, events: Sequence[EventRecord], anchors: Iterable[Anchor], remote: str) -> RemoteCheck:
    """Does the local chain still contain every anchored head of `run_id` (same seq, same hash)?"""
    check = RemoteCheck(run_id, remote)
    by_seq = {event.seq: event.hash for event in events}
    last = max(by_seq) if by_seq else 0
    mine = sorted({a.head.seq: a for a in anchors if a.head.run_id == run_id}.values(), key=lambda a: a.head.seq)
    seen: set[tuple[int, str]] = set()
    for anchor in mine:
        if (anchor.head.seq, anchor.head.hash) in seen:
            continue
        seen.add((anchor.head.seq, anchor.head.hash))
        check.anchors += 1
        local = by_seq.get(anchor.head.seq)
        where = f"{remote} {NOTES_REF}"
        if local is None:
            check.problems.append(
                f"run {run_id}: {anchor.describe()} on {where}: the local log has no event #{anchor.head.seq} "
                f"(it ends at #{last}): truncated or rewritten after it was anchored"
            )
        elif local != anchor.head.hash:
            check.problems.append(
                f"run {run_id}: {anchor.describe()} on {where}: local event #{anchor.head.seq} has hash "
                f"{local[:16]}…: the log was rewritten after it was anchored"
            )
    pushed = [e for e in events if e.type == EVENT and _pushed_to(e, remote)]
    if not check.anchors and pushed:
        check.problems.append(
            f"run {run_id}: the local log records {len(pushed)} anchor(s) pushed to {remote}, but {remote} has none "
            f"for this run in {NOTES_REF}"
        )
    elif not check.anchors:
        check.notes.append(
            f"run {run_id}: no anchors on {remote} (never published there): only the local chain checked"
        )
    return check


def _pushed_to(event: EventRecord, remote: str) -> bool:
    targets = event.payload.get("published")
    return isinstance(targets, list) and any(
        isinstance(t, Mapping) and t.get("pushed") and t.get("remote") == remote for t in targets
    )


def remote_of(events: Iterable[EventRecord]) -> str:
    return _release_facts(events)[1] or "origin"


def verify_remote(
    project_dir: Path, runs: Mapping[str, Sequence[EventRecord]], remote: str | None = None
) -> list[RemoteCheck]:
    """Fetch the anchors from the remote (default: each run's release remote, else `origin`) and check each run."""
    project_dir = Path(project_dir)
    if _git(project_dir, "rev-parse", "--git-dir").returncode != 0:
        raise RemoteUnavailable(f"{project_dir} is not a git work tree: there are no anchors to fetch")
    fetched: dict[str, list[Anchor]] = {}
    out = []
    for run_id, events in runs.items():
        name = remote or remote_of(events)
        if name not in fetched:
            if not _has_remote(project_dir, name):
                raise RemoteUnavailable(f"no git remote {name!r} in {project_dir}: the anchors cannot be fetched")
            found, problem = fetch_remote_notes(project_dir, name)
            if problem:
                raise RemoteUnavailable(f"cannot fetch {NOTES_REF} from {name}: {problem}")
            fetched[name] = read_notes(project_dir, REMOTE_COPY_REF) if found else []
        out.append(check_against(run_id, events, fetched[name], name))
    return out
