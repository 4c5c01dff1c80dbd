"""Reading `.cutover/` for the release record and `cutover audit verify` without changing it.

The state database is opened read-only (`mode=ro`, no migration, no journal-mode change). Evidence rows are checked
once against their recorded SHA-256, and a relpath that escapes `.cutover/` is never followed.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from cutover.engine.integrity import evidence_state, inside
from cutover.engine.model import RunInfo
from cutover.engine.salvage import connect_readonly
from cutover.engine.store import (
    STATE_DIR,
    StateDamaged,
    Store,
    check_migrations,
    check_tables,
    pick_run,
    refuse_lost_state,
)
from cutover.errors import EnvironmentProblem, UsageError

# ---------------------------------------------------------------------------------------------------------------------
# Opening the state read-only
# ---------------------------------------------------------------------------------------------------------------------


def open_readonly(project_dir: Path) -> Store:
    """The project's run state, opened so that nothing can be written (no migration, no journal-mode change).
    Damaged state (a dropped table, an emptied schema_migrations, a 0-byte file next to run folders) is exit 6."""
    cutover_dir = Path(project_dir) / STATE_DIR
    path = cutover_dir / "state.db"
    refuse_lost_state(cutover_dir)
    if not path.is_file() or path.stat().st_size == 0:
        raise UsageError(f"no runs yet in {project_dir} (no {STATE_DIR}/state.db)", hint="start one with: cutover run")
    try:
        db = connect_readonly(path)
    except sqlite3.DatabaseError as exc:
        raise StateDamaged(f"cannot read the run state {path}: {exc}") from None
    try:
        applied = {row[0] for row in db.execute("SELECT name FROM schema_migrations")}
        check_migrations(db, applied, path)
        if "m002_contingency_steps" not in applied:
            raise EnvironmentProblem(
                f"{path} was written by an older cutover and is not migrated yet",
                hint="run `cutover status` once (it migrates the state), then render the report again",
            )
        check_tables(db, path)
    except sqlite3.DatabaseError as exc:
        db.close()
        raise StateDamaged(f"cannot read the run state {path}: {exc}") from None
    except BaseException:
        db.close()
        raise
    return Store(cutover_dir, db)


def resolve_run(store: Store, run_id: str | None) -> RunInfo:
    """The run named by `run_id` (a unique prefix is enough), else the latest run."""
    return pick_run(store.list_runs(), run_id)


# ---------------------------------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------------------------------


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def seconds_between(start: str | None, end: str | None) -> float | None:
    a, b = parse_time(start), parse_time(end)
    if a is None or b is None:
        return None
    return round(max(0.0, (b - a).total_seconds()), 3)


def pct(value: Any) -> float | None:
    try:
        return None if value is None else round(float(value), 2)
    except (TypeError, ValueError):
        return None


class EvidenceRows:
    """The run's evidence rows, each checked once against its recorded SHA-256; JSON documents read on demand."""

    def __init__(self, store: Store, run_id: str) -> None:
        self.cutover_dir = store.cutover_dir
        self.rows: list[dict[str, Any]] = []
        for item in store.evidence(run_id, raw=True):
            self.rows.append({**item, "state": evidence_state(self.cutover_dir, item)})
        self.unreadable: list[str] = []

    def of(self, step_id: str) -> list[dict[str, Any]]:
        return [row for row in self.rows if row["step_id"] == step_id]

    def json_doc(self, step_ids: Iterable[str], prefix: str) -> tuple[dict[str, Any] | None, str | None]:
        """The newest intact `<prefix>*.json` evidence of these steps: (document, its relpath)."""
        wanted = set(step_ids)
        for row in reversed(self.rows):
            name = str(row["name"])
            if row["step_id"] not in wanted or not name.startswith(prefix) or not name.endswith(".json"):
                continue
            if row["state"] != "ok":
                self.unreadable.append(f".cutover/{row['relpath']} ({row['state']}): not used for the record")
                continue
            path = inside(self.cutover_dir, row["relpath"])
            if path is None:
                continue
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError, RecursionError):
                continue
            if isinstance(doc, dict):
                return doc, f".cutover/{row['relpath']}"
        return None, None
