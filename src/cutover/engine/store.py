"""The run state store: `.cutover/state.db` (SQLite, WAL) plus the event log's HEAD anchors.

Migrations (`cutover.engine.migrations`) are registered in order with `@migration` and each is applied in the same
transaction as its `schema_migrations` row (as sqlite-utils does), so a crash never leaves a half-migrated database.
Writes go through `with store.transaction() as tx:` (BEGIN IMMEDIATE: one writer at a time across processes), and
every state change appends its event in that same transaction with `tx.append_event(...)`, so the log and the state
never disagree. Damaged state is refused with exit 6 (`cutover.engine.damage`).
Everything stored here is redacted first: params, details, payloads.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cutover.engine.chain import GENESIS, event_hash
from cutover.engine.damage import (
    RECOVERY_HINT,
    REQUIRED_TABLES,
    StateDamaged,
    check_migrations,
    check_tables,
    damaged,
    is_damage,
    refuse_lost_state,
    state_reader,
)
from cutover.engine.migrations import _MIGRATIONS, migration
from cutover.engine.model import (
    EventRecord,
    RunInfo,
    RunState,
    SignoffRecord,
    StepRecord,
    StepSpec,
    StepStatus,
    WaiverRecord,
)
from cutover.engine.replay import replay
from cutover.engine.rows import run_from_row, step_from_row
from cutover.errors import AuditBroken, EnvironmentProblem, UsageError
from cutover.redact import redact, redact_obj

STATE_DIR = ".cutover"


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """An advisory lock between processes (POSIX flock); a no-op where flock does not exist."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with lock_path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


class Tx:
    """A write transaction. Append events here, in the same transaction as the state change they record."""

    def __init__(self, db: sqlite3.Connection, store: Store) -> None:
        self.db = db
        self.store = store
        self.heads: dict[str, tuple[int, str]] = {}

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> sqlite3.Cursor:
        return self.db.execute(sql, params)

    def append_event(
        self, run_id: str, type_: str, step_id: str | None = None, payload: Mapping[str, Any] | None = None
    ) -> EventRecord:
        clean = redact_obj(json.loads(json.dumps(dict(payload or {}), default=str)))
        row = self.db.execute(
            "SELECT seq, hash FROM events WHERE run_id = ? ORDER BY id DESC LIMIT 1", (run_id,)
        ).fetchone()
        seq, prev_hash = (row[0] + 1, row[1]) if row else (1, GENESIS)
        anchored = self.store.usable_head(run_id, seq)
        if anchored is not None and anchored[0] >= seq:
            # The HEAD anchor names an event the log no longer has: appending would paper over the truncation.
            raise AuditBroken(
                f"the event log of run {run_id} was truncated: HEAD anchors event #{anchored[0]} but the log ends at "
                f"#{seq - 1}; refusing to record more events",
                hint=f"investigate with: cutover audit verify {run_id}",
            )
        at = utc_now()
        digest = event_hash(seq, run_id, at, type_, step_id, clean, prev_hash)
        self.db.execute(
            "INSERT INTO events (run_id, seq, at, type, step_id, payload, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)",
            (run_id, seq, at, type_, step_id, json.dumps(clean, sort_keys=True), prev_hash, digest),
        )
        self.heads[run_id] = (seq, digest)
        return EventRecord(run_id, seq, at, type_, step_id, clean, prev_hash, digest)


class Store:
    """Rows of `.cutover/state.db`. Open with `Store.open(project_dir)`."""

    def __init__(self, cutover_dir: Path, db: sqlite3.Connection) -> None:
        self.cutover_dir = cutover_dir
        self.db = db
        self._tx: Tx | None = None

    # -- opening -------------------------------------------------------------------------------------------------
    @classmethod
    def open(cls, project_dir: Path) -> Store:
        cutover_dir = Path(project_dir) / STATE_DIR
        path = cutover_dir / "state.db"
        refuse_lost_state(cutover_dir)
        try:
            cutover_dir.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
            db.execute("PRAGMA busy_timeout = 30000")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
            store = cls(cutover_dir, db)
            store._migrate()
        except StateDamaged:
            db.close()
            raise
        except (sqlite3.DatabaseError, OSError) as exc:
            raise StateDamaged(f"cannot open the run state {path}: {exc}") from None
        return store

    def close(self) -> None:
        self.db.close()

    def _migrate(self) -> None:
        self.db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
        known = {name for name, _ in _MIGRATIONS}
        applied = {row[0] for row in self.db.execute("SELECT name FROM schema_migrations")}
        check_migrations(self.db, applied, self.cutover_dir / "state.db")
        if applied - known:
            raise EnvironmentProblem(
                f"{self.cutover_dir / 'state.db'} was written by a newer cutover "
                f"(unknown migrations: {', '.join(sorted(applied - known))})",
                hint="upgrade cutover to continue these runs",
            )
        for name, func in _MIGRATIONS:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                done = self.db.execute("SELECT 1 FROM schema_migrations WHERE name = ?", (name,)).fetchone()
                if not done:
                    func(self.db)
                    self.db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (name, utc_now()))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        check_tables(self.db, self.cutover_dir / "state.db")

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One write transaction; nested calls join the outer one. HEAD anchors are updated after COMMIT."""
        if self._tx is not None:
            yield self._tx
            return
        self.db.execute("BEGIN IMMEDIATE")
        tx = Tx(self.db, self)
        self._tx = tx
        try:
            yield tx
        except BaseException as exc:
            self._tx = None
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.DatabaseError) and is_damage(exc):
                raise damaged(exc) from None
            raise
        self._tx = None
        self.db.execute("COMMIT")
        for run_id, head in tx.heads.items():
            self.write_head(run_id, head)

    # -- HEAD anchors ----------------------------------------------------------------------------------------------
    def run_dir(self, run_id: str) -> Path:
        return self.cutover_dir / "runs" / run_id

    def write_head(self, run_id: str, head: tuple[int, str]) -> None:
        """Move the run's HEAD anchor forward to `head` (never backwards, even with several writing processes)."""
        path = self.run_dir(run_id) / "HEAD"
        path.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive(path.with_name(".HEAD.lock")):
            current = self.read_head(run_id)
            if current and current[0] >= head[0]:  # another process already anchored this or a later event
                return
            tmp = path.with_name(f".HEAD.{os.getpid()}.tmp")
            tmp.write_text(f"{head[0]} {head[1]}\n", encoding="utf-8")
            os.replace(tmp, path)

    def usable_head(self, run_id: str, next_seq: int) -> tuple[int, str] | None:
        """The HEAD anchor before appending event `next_seq`. Appending after an anchor that is missing (past the
        first event), a folder or garbage would paper over tampering: refused (AuditBroken)."""
        from cutover.engine.integrity import read_anchor

        anchor, problem = read_anchor(self.run_dir(run_id))
        path = self.run_dir(run_id) / "HEAD"
        if problem is None or (next_seq <= 2 and not path.exists() and not path.is_symlink()):
            return anchor  # a new run (or one whose first anchor a crash kept from being written)
        raise AuditBroken(f"{problem}; refusing to record more events", hint=f"cutover audit verify {run_id}")

    def read_head(self, run_id: str) -> tuple[int, str] | None:
        """The run's HEAD anchor (seq, hash), or None when it is missing or unusable (`integrity.read_anchor`)."""
        from cutover.engine.integrity import read_anchor

        return read_anchor(self.run_dir(run_id))[0]

    # -- runs ------------------------------------------------------------------------------------------------------
    def create_run(
        self,
        tx: Tx,
        *,
        target_org: str,
        specs: Sequence[StepSpec],
        runbook_path: str | None,
        runbook_sha256: str | None,
        git_head: str | None,
        state: RunState = RunState.PLANNED,
    ) -> str:
        ids = [spec.id for spec in specs]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise UsageError(f"duplicate step ids in the plan: {', '.join(duplicates)}")
        run_id = new_run_id()
        while tx.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
            run_id = new_run_id()
        now = utc_now()
        tx.execute(
            "INSERT INTO runs (id, target_org, state, runbook_path, runbook_sha256, git_head, created, updated) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (run_id, target_org, state.value, runbook_path, runbook_sha256, git_head, now, now),
        )
        for position, spec in enumerate(specs):
            self.insert_step(tx, run_id, position, spec)
        tx.append_event(
            run_id,
            "run.created",
            payload={
                "target_org": target_org,
                "runbook": runbook_path,
                "runbook_sha256": runbook_sha256,
                "git_head": git_head,
                "steps": [
                    {"id": s.id, "stage": s.stage, "action": s.action, "kind": s.kind}
                    | ({"contingency": True} if s.contingency else {})
                    for s in specs
                ],
            },
        )
        return run_id

    def set_runbook(self, tx: Tx, run_id: str, *, runbook_sha256: str | None, runbook_path: str | None) -> None:
        tx.execute(
            "UPDATE runs SET runbook_sha256 = ?, runbook_path = COALESCE(?, runbook_path), updated = ? WHERE id = ?",
            (runbook_sha256, runbook_path, utc_now(), run_id),
        )

    def set_run_state(
        self, tx: Tx, run_id: str, state: RunState, *, pid: int | None = None, host: str | None = None, note: str = ""
    ) -> None:
        tx.execute(
            "UPDATE runs SET state = ?, updated = ?, pid = ?, host = ?, note = ? WHERE id = ?",
            (state.value, utc_now(), pid, host, redact(note) or None, run_id),
        )

    @state_reader
    def get_run(self, run_id: str) -> RunInfo | None:
        row = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return run_from_row(self.db, row) if row else None

    @state_reader
    def list_runs(self, target_org: str | None = None) -> list[RunInfo]:
        sql, params = "SELECT * FROM runs", ()
        if target_org is not None:
            sql, params = sql + " WHERE target_org = ?", (target_org,)
        rows = self.db.execute(sql + " ORDER BY created, id", params).fetchall()
        return [run_from_row(self.db, row) for row in rows]

    # -- steps -----------------------------------------------------------------------------------------------------
    @state_reader
    def steps(self, run_id: str) -> list[StepRecord]:
        cur = self.db.execute("SELECT * FROM steps WHERE run_id = ? ORDER BY position", (run_id,))
        return [step_from_row(cur, row) for row in cur.fetchall()]

    @state_reader
    def step(self, run_id: str, step_id: str) -> StepRecord | None:
        cur = self.db.execute("SELECT * FROM steps WHERE run_id = ? AND step_id = ?", (run_id, step_id))
        row = cur.fetchone()
        return step_from_row(cur, row) if row else None

    def insert_step(
        self, tx: Tx, run_id: str, position: int, spec: StepSpec, status: StepStatus = StepStatus.PENDING
    ) -> None:
        tx.execute(
            "INSERT INTO steps (run_id, position, step_id, stage, title, kind, action, blocking, params, "
            "signoff_rule, status, contingency, on_failure) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                run_id,
                position,
                spec.id,
                spec.stage,
                redact(spec.title),
                spec.kind,
                spec.action,
                int(spec.blocking),
                json.dumps(redact_obj(dict(spec.params)), sort_keys=True, default=str),
                json.dumps(spec.signoff.to_json()) if spec.signoff else None,
                StepStatus(status).value,
                int(spec.contingency),
                spec.on_failure,
            ),
        )

    def replace_step_spec(self, tx: Tx, run_id: str, spec: StepSpec) -> None:
        """A re-planned step's new definition (its state is changed separately with update_step)."""
        tx.execute(
            "UPDATE steps SET stage = ?, title = ?, kind = ?, action = ?, blocking = ?, params = ?, signoff_rule = ?, "
            "contingency = ?, on_failure = ? WHERE run_id = ? AND step_id = ?",
            (
                spec.stage,
                redact(spec.title),
                spec.kind,
                spec.action,
                int(spec.blocking),
                json.dumps(redact_obj(dict(spec.params)), sort_keys=True, default=str),
                json.dumps(spec.signoff.to_json()) if spec.signoff else None,
                int(spec.contingency),
                spec.on_failure,
                run_id,
                spec.id,
            ),
        )

    def delete_step(self, tx: Tx, run_id: str, step_id: str) -> None:
        tx.execute("DELETE FROM steps WHERE run_id = ? AND step_id = ?", (run_id, step_id))

    def set_positions(self, tx: Tx, run_id: str, step_ids: Sequence[str]) -> None:
        for position, step_id in enumerate(step_ids):
            tx.execute("UPDATE steps SET position = ? WHERE run_id = ? AND step_id = ?", (position, run_id, step_id))

    def drop_signoffs_and_waivers(self, tx: Tx, run_id: str, step_id: str) -> None:
        """Sign-offs and waivers given for a step definition that no longer exists (the audit log keeps them)."""
        tx.execute("DELETE FROM signoffs WHERE run_id = ? AND step_id = ?", (run_id, step_id))
        tx.execute("DELETE FROM waivers WHERE run_id = ? AND step_id = ?", (run_id, step_id))

    def update_step(self, tx: Tx, run_id: str, step_id: str, **fields: Any) -> None:
        allowed = {"status", "started", "finished", "attempt", "detail", "external_ids"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"cannot update step fields {sorted(unknown)}")
        values: dict[str, Any] = {}
        for key, value in fields.items():
            if key == "external_ids":
                value = json.dumps(redact_obj(dict(value)), sort_keys=True, default=str)
            elif key == "detail":
                value = redact(value or "")
            elif key == "status":
                value = StepStatus(value).value
            values[key] = value
        assignments = ", ".join(f"{key} = :{key}" for key in values)
        tx.execute(
            f"UPDATE steps SET {assignments} WHERE run_id = :run_id AND step_id = :step_id",
            {**values, "run_id": run_id, "step_id": step_id},
        )
        tx.execute("UPDATE runs SET updated = ? WHERE id = ?", (utc_now(), run_id))

    # -- evidence, sign-offs, waivers --------------------------------------------------------------------------------
    def add_evidence(self, tx: Tx, run_id: str, step_id: str, name: str, relpath: str, sha256: str, size: int) -> None:
        tx.execute(
            "INSERT INTO evidence (run_id, step_id, name, relpath, sha256, size, created) VALUES (?,?,?,?,?,?,?)",
            (run_id, step_id, name, relpath, sha256, size, utc_now()),
        )

    @state_reader
    def evidence(self, run_id: str, step_id: str | None = None, *, raw: bool = False) -> list[dict[str, Any]]:
        """The evidence rows of a run (of one step). A relpath that leaves `.cutover/` is refused (StateDamaged)
        unless `raw` (the audit commands, which report it without following it)."""
        sql, params = "SELECT * FROM evidence WHERE run_id = ?", [run_id]
        if step_id is not None:
            sql += " AND step_id = ?"
            params.append(step_id)
        cur = self.db.execute(sql + " ORDER BY id", params)
        names = [c[0] for c in cur.description]
        rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        if not raw:
            from cutover.engine.integrity import inside

            outside = next((r for r in rows if inside(self.cutover_dir, r.get("relpath")) is None), None)
            if outside is not None:
                raise StateDamaged(
                    f"evidence {str(outside.get('relpath'))[:200]!r} of step {outside.get('step_id')} in "
                    ".cutover/state.db points outside .cutover/: refusing to read it"
                )
        return rows

    def add_signoff(self, tx: Tx, record: SignoffRecord) -> None:
        tx.execute(
            "INSERT INTO signoffs (run_id, step_id, by, role, note, evidence, at, definition_sha256) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (
                record.run_id,
                record.step_id,
                redact(record.by),
                record.role,
                redact(record.note) if record.note else None,
                redact(record.evidence) if record.evidence else None,
                record.at,
                record.definition,
            ),
        )

    @state_reader
    def signoffs(self, run_id: str, step_id: str | None = None) -> list[SignoffRecord]:
        sql = "SELECT run_id, step_id, by, role, note, evidence, at, definition_sha256 FROM signoffs WHERE run_id = ?"
        params = [run_id]
        if step_id is not None:
            sql += " AND step_id = ?"
            params.append(step_id)
        return [SignoffRecord(*row) for row in self.db.execute(sql + " ORDER BY id", params).fetchall()]

    def logged_waivers(self, run_id: str) -> list[WaiverRecord]:
        """The waivers as the hash-chained log tells them (what `status` and the release record show)."""
        return replay(self.events(run_id)).waiver_records

    def logged_signoffs(self, run_id: str, step_id: str | None = None) -> list[SignoffRecord]:
        """The sign-offs as the hash-chained log tells them (what separation-of-duties decisions read: a row deleted
        from or forged into the signoffs table changes nothing here)."""
        records = replay(self.events(run_id)).signoff_records
        return [s for s in records if step_id is None or s.step_id == step_id]

    def add_waiver(self, tx: Tx, record: WaiverRecord) -> None:
        tx.execute(
            "INSERT INTO waivers (run_id, step_id, reason, approver, at, definition_sha256) VALUES (?,?,?,?,?,?)",
            (
                record.run_id,
                record.step_id,
                redact(record.reason),
                redact(record.approver),
                record.at,
                record.definition,
            ),
        )

    @state_reader
    def waivers(self, run_id: str, step_id: str | None = None) -> list[WaiverRecord]:
        sql = "SELECT run_id, step_id, reason, approver, at, definition_sha256 FROM waivers WHERE run_id = ?"
        params = [run_id]
        if step_id is not None:
            sql += " AND step_id = ?"
            params.append(step_id)
        return [WaiverRecord(*row) for row in self.db.execute(sql + " ORDER BY id", params).fetchall()]

    # -- events ----------------------------------------------------------------------------------------------------
    @state_reader
    def events(self, run_id: str) -> list[EventRecord]:
        rows = self.db.execute(
            "SELECT run_id, seq, at, type, step_id, payload, prev_hash, hash FROM events WHERE run_id = ? ORDER BY id",
            (run_id,),
        ).fetchall()
        out = []
        for run, seq, at, type_, step_id, payload, prev_hash, digest in rows:
            try:
                data = json.loads(payload)
            except (ValueError, RecursionError):
                data = {"unparseable": payload[:1000]}
            out.append(EventRecord(run, seq, at, type_, step_id, data, prev_hash, digest))
        return out


def pick_id(ids: Sequence[str], run_id: str | None) -> str:
    """The run id named by `run_id` (a unique prefix is enough), else the latest of `ids`."""
    if run_id:
        matches = [i for i in ids if i == run_id] or [i for i in ids if i.startswith(run_id)]
        if len(matches) != 1:
            what = "no run" if not matches else f"{len(matches)} runs"
            raise UsageError(f"{what} matching {run_id!r}", hint="list runs with: cutover runs")
        return matches[0]
    if not ids:
        raise UsageError("no runs yet in this project", hint="start one with: cutover run")
    return ids[-1]


def pick_run(runs: Sequence[RunInfo], run_id: str | None) -> RunInfo:
    """The run named by `run_id` (a unique prefix is enough), else the latest of `runs`."""
    chosen = pick_id([r.id for r in runs], run_id)
    return next(r for r in runs if r.id == chosen)


__all__ = [
    "RECOVERY_HINT",
    "REQUIRED_TABLES",
    "STATE_DIR",
    "StateDamaged",
    "Store",
    "Tx",
    "check_migrations",
    "check_tables",
    "damaged",
    "migration",
    "pick_id",
    "pick_run",
    "refuse_lost_state",
    "utc_now",
]
