"""Damaged run state: what `.cutover/` holds that no cutover writes, refused with exit 6 (`StateDamaged`) and a hint
that works on that state (`cutover audit verify` reads whatever survives, read-only: `cutover.engine.salvage`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cutover.errors import EnvironmentProblem

#: What every message about damaged state suggests (`cutover audit verify` reads whatever survives, read-only).
RECOVERY_HINT = "restore `.cutover/` from backup, or `cutover audit verify` to see what survives"


class StateDamaged(EnvironmentProblem):
    """`.cutover/state.db` holds something no cutover writes (a dropped table, an unknown state, unparseable JSON):
    exit 6 with what is wrong and how to recover, never a traceback."""

    def __init__(self, message: str, *, hint: str | None = RECOVERY_HINT) -> None:
        super().__init__(message, hint=hint)


def damaged(exc: BaseException, where: str = "state.db") -> StateDamaged:
    """The StateDamaged for an exception raised while reading or writing the state."""
    if isinstance(exc, StateDamaged):
        return exc
    text = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return StateDamaged(f"the run state .cutover/{where} is damaged: {text}")


def is_damage(exc: sqlite3.DatabaseError) -> bool:
    """A missing table/column or a corrupt file, not a busy/locked database or a constraint (those are not damage)."""
    if isinstance(exc, sqlite3.IntegrityError):
        return False
    text = str(exc).lower()
    return not any(word in text for word in ("locked", "busy", "readonly", "read-only", "disk i/o"))


def state_reader(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a damaged table or row into StateDamaged (exit 6) instead of a traceback."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
            raise damaged(exc) from None
        except (ValueError, TypeError, KeyError, RecursionError) as exc:
            raise damaged(exc) from None

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


def refuse_lost_state(cutover_dir: Path) -> None:
    """A missing or 0-byte state.db next to existing run folders is lost state, not a new project: re-initialising it
    would hide every run (its evidence and HEAD anchors stay behind). Refuse."""
    path = cutover_dir / "state.db"
    try:
        if path.exists() and (not path.is_file() or path.stat().st_size > 0):
            if not path.is_file():
                raise StateDamaged(f"{path} is not a file", hint="restore `.cutover/` from backup")
            return
        runs_dir = cutover_dir / "runs"
        runs = [p.name for p in runs_dir.iterdir() if p.is_dir()] if runs_dir.is_dir() else []
    except OSError as exc:
        raise StateDamaged(f"cannot read the run state under {cutover_dir}: {exc}") from None
    if runs:
        what = "is empty (0 bytes)" if path.exists() else "is missing"
        raise StateDamaged(
            f"{path} {what} but .cutover/runs/ holds {len(runs)} run(s) ({', '.join(sorted(runs)[:3])}"
            f"{', ...' if len(runs) > 3 else ''}): refusing to start over and hide them",
        )


#: The tables every migrated state.db has.
REQUIRED_TABLES = ("runs", "steps", "evidence", "signoffs", "waivers", "events")


def check_tables(db: sqlite3.Connection, path: Path) -> None:
    """A dropped table is damage: say which (every command but `audit verify` stops here)."""
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing = [t for t in REQUIRED_TABLES if t not in tables]
    if missing:
        raise StateDamaged(f"{path}: the {', '.join(missing)} table(s) are missing (dropped)")


def check_migrations(db: sqlite3.Connection, applied: set[str], path: Path) -> None:
    """An emptied (or partly emptied) `schema_migrations` next to existing tables is damage, not an old database."""
    if "m001_initial" in applied:
        return
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if tables & {"runs", "steps", "events"}:
        raise StateDamaged(
            f"{path}: the schema_migrations table lists no migration but the run tables exist (it was emptied)"
        )
