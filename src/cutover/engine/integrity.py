"""One verdict on a run's record, shared by `cutover audit verify`, `cutover report` and `Engine.verify`.

`check_run` walks the hash chain (`chain.verify_events`), requires the HEAD anchor (missing, garbage or a folder is a
failure: without it a truncated log cannot be told from a whole one), replays the events and compares every table
that `status`, `report` and the separation-of-duties checks read (`replay.table_differences`), and checks that
every evidence path stays inside `.cutover/` and still matches its SHA-256. Anything it cannot read (a dropped table,
an unparseable row) is a problem named in the report, never an exception.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cutover.engine.chain import GENESIS, sha256_file, verify_events
from cutover.engine.model import EventRecord, RunInfo
from cutover.engine.replay import table_differences
from cutover.errors import CutoverError

if TYPE_CHECKING:
    from cutover.engine.store import Store


@dataclass(frozen=True)
class AuditReport:
    """The verdict on one run. Duck-compatible with `chain.VerifyReport` (run_id, count, head_hash, problem, ok)."""

    run_id: str
    count: int  # events verified along the chain
    head_hash: str
    events: int = 0
    bad_seq: int | None = None
    anchored: tuple[int, str] | None = None
    chain_problem: str | None = None
    state_problems: tuple[str, ...] = ()
    evidence_problems: tuple[str, ...] = ()
    damaged: tuple[str, ...] = field(default=())  # parts of the state that could not be read at all

    @property
    def problems(self) -> list[str]:
        first = [self.chain_problem] if self.chain_problem else []
        return [*first, *self.damaged, *self.state_problems, *self.evidence_problems]

    @property
    def problem(self) -> str | None:
        problems = self.problems
        if not problems:
            return None
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        return problems[0] + more

    @property
    def ok(self) -> bool:
        return not self.problems


def inside(base: Path, relpath: object) -> Path | None:
    """`base / relpath` resolved, if it stays inside `base` (no `..`, absolute path or symlink out); else None."""
    if not isinstance(relpath, str) or not relpath or "\x00" in relpath:
        return None
    root = base.resolve()
    try:
        path = (root / relpath).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    return path if root in path.parents else None


def evidence_state(cutover_dir: Path, row: Mapping[str, Any]) -> str:
    """`ok`, `missing`, `modified` or `outside` (a relpath that escapes `.cutover/`: never followed)."""
    path = inside(cutover_dir, row.get("relpath"))
    if path is None:
        return "outside"
    try:
        if not path.is_file():
            return "missing"
        return "ok" if sha256_file(path) == row.get("sha256") else "modified"
    except OSError:
        return "missing"


_HEAD_MAX_BYTES = 200  # "<seq> <64 hex>\n" is far shorter


def read_anchor(run_dir: Path) -> tuple[tuple[int, str] | None, str | None]:
    """(the HEAD anchor, or None with the reason it is unusable)."""
    path = run_dir / "HEAD"
    shown = f".cutover/runs/{run_dir.name}/HEAD"
    if path.is_dir():
        return None, f"the HEAD anchor {shown} is a folder, not the anchor file"
    if not path.exists() and not path.is_symlink():
        return None, f"the HEAD anchor {shown} is missing (a truncated log cannot be told from a whole one)"
    if not path.is_file():  # a FIFO, a device, a dangling symlink: never read (it could block or never end)
        return None, f"the HEAD anchor {shown} is not a regular file"
    try:
        with path.open("rb") as handle:
            text = handle.read(_HEAD_MAX_BYTES + 1).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"the HEAD anchor {shown} cannot be read ({type(exc).__name__})"
    if len(text) > _HEAD_MAX_BYTES:
        return None, f"the HEAD anchor {shown} is not '<seq> <sha256>' (too long)"
    parts = text.split()
    if len(parts) != 2 or not parts[0].isdigit() or len(parts[1]) != 64:
        return None, f"the HEAD anchor {shown} is not '<seq> <sha256>' (garbage)"
    return (int(parts[0]), parts[1]), None


def check_run(store: Store, run_id: str, run: RunInfo | None = None, *, files: bool = True) -> AuditReport:
    """Verify one run: chain, HEAD anchor, tables against the replayed log, evidence files (unless `files` is
    False: `cutover status` checks everything but the evidence files' SHA-256, which can be large archives)."""
    damaged: list[str] = []

    def attempt(what: str, read: Any, default: Any) -> Any:
        try:
            return read()
        except (sqlite3.DatabaseError, ValueError, TypeError, KeyError, CutoverError) as exc:
            message = exc.message if isinstance(exc, CutoverError) else f"{type(exc).__name__}: {exc}"
            damaged.append(f"{what} cannot be read: {message}")
            return default

    events: list[EventRecord] = attempt("the events table", lambda: store.events(run_id), [])
    anchored, anchor_problem = read_anchor(store.run_dir(run_id))
    chain = verify_events(run_id, events, cutover_dir=store.cutover_dir, head=anchored, files=files)
    chain_problem = chain.problem
    if chain_problem is None and anchor_problem is not None:
        chain_problem = anchor_problem + (f"; {chain.count} event(s) in the log" if events else "")
    if chain_problem is None and anchored is None and not events:
        chain_problem = f"run {run_id} has no events"
    state_problems: list[str] = []
    evidence_rows: list[dict[str, Any]] = attempt("the evidence table", lambda: store.evidence(run_id, raw=True), [])
    if run is None:
        run = attempt("the runs table", lambda: store.get_run(run_id), None)
        if run is None and not damaged:
            damaged.append(f"run {run_id} is missing from the runs table")
    if chain.ok and run is not None:
        records = attempt("the steps table", lambda: store.steps(run_id), None)
        signoffs = attempt("the signoffs table", lambda: store.signoffs(run_id), None)
        waivers = attempt("the waivers table", lambda: store.waivers(run_id), None)
        if records is not None and signoffs is not None and waivers is not None:
            state_problems = table_differences(
                run, records, events, signoffs=signoffs, waivers=waivers, evidence=evidence_rows
            )
    evidence_problems = _evidence_problems(store.cutover_dir, evidence_rows) if files else []
    return AuditReport(
        run_id=run_id,
        count=chain.count,
        head_hash=chain.head_hash if events else GENESIS,
        events=len(events),
        bad_seq=chain.bad_seq,
        anchored=anchored,
        chain_problem=chain_problem,
        state_problems=tuple(state_problems),
        evidence_problems=tuple(evidence_problems),
        damaged=tuple(damaged),
    )


def _evidence_problems(cutover_dir: Path, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    out = []
    for row in rows:
        state = evidence_state(cutover_dir, row)
        if state == "outside":
            out.append(f"evidence path {str(row.get('relpath'))[:200]!r} in state.db escapes .cutover/ (not followed)")
        elif state != "ok":
            out.append(f"evidence file .cutover/{row.get('relpath')} is {state} (does not match its recorded SHA-256)")
    return out
