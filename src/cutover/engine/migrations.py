"""The schema of `.cutover/state.db`: migrations registered in order with `@migration`, each applied once (see
`Store._migrate`, which applies each in the same transaction as its `schema_migrations` row)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

_MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = []


def migration(func: Callable[[sqlite3.Connection], None]) -> Callable[[sqlite3.Connection], None]:
    """Register a schema migration; they run in definition order, each once."""
    _MIGRATIONS.append((func.__name__, func))
    return func


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            target_org TEXT NOT NULL,
            state TEXT NOT NULL,
            runbook_path TEXT,
            runbook_sha256 TEXT,
            git_head TEXT,
            created TEXT NOT NULL,
            updated TEXT NOT NULL,
            pid INTEGER,
            host TEXT,
            note TEXT
        )"""
    )
    db.execute(
        """CREATE TABLE steps (
            run_id TEXT NOT NULL REFERENCES runs(id),
            position INTEGER NOT NULL,
            step_id TEXT NOT NULL,
            stage TEXT NOT NULL,
            title TEXT NOT NULL,
            kind TEXT NOT NULL,
            action TEXT NOT NULL,
            blocking INTEGER NOT NULL,
            params TEXT NOT NULL,
            signoff_rule TEXT,
            status TEXT NOT NULL,
            started TEXT,
            finished TEXT,
            attempt INTEGER NOT NULL DEFAULT 0,
            detail TEXT NOT NULL DEFAULT '',
            external_ids TEXT NOT NULL DEFAULT '{}',
            PRIMARY KEY (run_id, step_id)
        )"""
    )
    db.execute(
        """CREATE TABLE evidence (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL,
            step_id TEXT NOT NULL,
            name TEXT NOT NULL,
            relpath TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            created TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE signoffs (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL,
            step_id TEXT NOT NULL,
            by TEXT NOT NULL,
            role TEXT NOT NULL,
            note TEXT,
            evidence TEXT,
            at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE waivers (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL,
            step_id TEXT NOT NULL,
            reason TEXT NOT NULL,
            approver TEXT NOT NULL,
            at TEXT NOT NULL
        )"""
    )
    # `id` keeps insertion order; `seq` is the chained position inside the run (verify reads by id, checks seq).
    db.execute(
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            at TEXT NOT NULL,
            type TEXT NOT NULL,
            step_id TEXT,
            payload TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX events_run ON events(run_id, id)")
    db.execute("CREATE INDEX evidence_run ON evidence(run_id, step_id)")
    db.execute("CREATE INDEX signoffs_run ON signoffs(run_id, step_id)")


@migration
def m002_contingency_steps(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE steps ADD COLUMN contingency INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE steps ADD COLUMN on_failure TEXT NOT NULL DEFAULT 'stop'")


@migration
def m003_definition_hashes(db: sqlite3.Connection) -> None:
    """Each sign-off and waiver is bound to the SHA-256 of the step definition it was given for (see replan)."""
    db.execute("ALTER TABLE signoffs ADD COLUMN definition_sha256 TEXT")
    db.execute("ALTER TABLE waivers ADD COLUMN definition_sha256 TEXT")
