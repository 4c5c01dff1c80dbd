"""What survives in a damaged `.cutover/`: the lenient, read-only reading behind `cutover audit verify`.

Every other command refuses damaged state (exit 6, `StateDamaged`) and points here: `audit verify` opens `state.db`
read-only without migrating or checking its schema, finds the runs from whatever still names them (the runs table,
else the events table, else the run folders with a HEAD anchor), verifies each one with `integrity.check_run`, and
says what is damaged. It never writes.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from cutover.engine.integrity import AuditReport, check_run, read_anchor
from cutover.engine.model import RunInfo
from cutover.engine.store import STATE_DIR, StateDamaged, Store, check_migrations, check_tables, pick_id
from cutover.errors import UsageError


def connect_readonly(path: Path) -> sqlite3.Connection:
    """`state.db` opened so that nothing can be written (no migration, no journal-mode change)."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        db = sqlite3.connect(uri, uri=True, timeout=30)
        db.execute("PRAGMA busy_timeout = 30000")
        db.execute("PRAGMA query_only = ON")
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.OperationalError:
        # A copy on read-only media: SQLite cannot create the WAL index there; nothing is writing it anyway.
        db = sqlite3.connect(uri + "&immutable=1", uri=True, timeout=30)
        db.execute("PRAGMA query_only = ON")
        return db


@dataclass
class Survey:
    """The runs found and what is damaged (state-level problems; per-run ones are in each report)."""

    reports: list[AuditReport] = field(default_factory=list)
    damage: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # one line per run whose events are gone with state.db

    @property
    def damaged(self) -> bool:
        return bool(self.damage or self.lost or any(r.damaged for r in self.reports))


def survey(project_dir: Path, run_id: str | None = None, *, all_runs: bool = False) -> Survey:
    """Verify the run named by `run_id` (default: the latest), or every run with `all_runs`, whatever is damaged."""
    cutover_dir = Path(project_dir) / STATE_DIR
    path = cutover_dir / "state.db"
    run_dirs = _run_dirs(cutover_dir)
    out = Survey()
    if not path.is_file() or path.stat().st_size == 0:
        if not run_dirs:
            raise UsageError(
                f"no runs yet in {project_dir} (no {STATE_DIR}/state.db)", hint="start one with: cutover run"
            )
        what = (
            "is not a file"
            if path.exists() and not path.is_file()
            else ("is empty (0 bytes)" if path.exists() else "is missing")
        )
        out.damage.append(f"{path} {what}: the events, sign-offs and states of {len(run_dirs)} run(s) are lost")
        for name in _chosen(sorted(run_dirs), run_id, all_runs):
            out.lost.append(_lost_run(cutover_dir / "runs" / name))
        return out
    try:
        db = connect_readonly(path)
    except sqlite3.DatabaseError as exc:
        raise StateDamaged(f"cannot read the run state {path}: {exc}", hint="restore `.cutover/` from backup") from None
    store = Store(cutover_dir, db)
    _check_schema(db, path, out)
    try:
        known: dict[str, RunInfo] = {}
        try:
            known = {run.id: run for run in store.list_runs()}
            ids = list(known)
        except StateDamaged as exc:
            out.damage.append(exc.message)
            ids = _ids_from_events(db, out) + [d for d in sorted(run_dirs)]
            ids = list(dict.fromkeys(ids))
        if not ids:
            if out.damage:
                return out
            raise UsageError("no runs yet in this project", hint="start one with: cutover run")
        for chosen in _chosen(ids, run_id, all_runs):
            out.reports.append(check_run(store, chosen, known.get(chosen)))
    finally:
        store.close()
    return out


def _check_schema(db: sqlite3.Connection, path: Path, out: Survey) -> None:
    try:
        applied = {str(row[0]) for row in db.execute("SELECT name FROM schema_migrations")}
        check_migrations(db, applied, path)
        check_tables(db, path)
    except StateDamaged as exc:
        out.damage.append(exc.message)
    except sqlite3.DatabaseError as exc:
        out.damage.append(f"{path}: {exc}")


def _chosen(ids: list[str], run_id: str | None, all_runs: bool) -> list[str]:
    return ids if all_runs else [pick_id(ids, run_id)]


def _ids_from_events(db: sqlite3.Connection, out: Survey) -> list[str]:
    try:
        return [str(row[0]) for row in db.execute("SELECT DISTINCT run_id FROM events ORDER BY id").fetchall()]
    except sqlite3.DatabaseError as exc:
        out.damage.append(f"the events table cannot be read: {exc}")
        return []


def _run_dirs(cutover_dir: Path) -> list[str]:
    runs = cutover_dir / "runs"
    try:
        return [p.name for p in runs.iterdir() if p.is_dir()] if runs.is_dir() else []
    except OSError:
        return []


def _lost_run(run_dir: Path) -> str:
    anchor, problem = read_anchor(run_dir)
    evidence = run_dir / "evidence"
    try:
        files = sum(1 for p in evidence.rglob("*") if p.is_file()) if evidence.is_dir() else 0
    except OSError:
        files = 0
    head = f"HEAD anchors event #{anchor[0]} ({anchor[1][:16]})" if anchor else (problem or "no HEAD anchor")
    return f"run {run_dir.name}: {head}; none of its events survive in state.db; {files} evidence file(s) on disk"
