"""SQLite-backed record store of one emulated org.

Every sobject row lives in one generic `records` table (id, sobject, JSON fields) so the SOQL engine, the REST
endpoints and the scenario seeder share one representation. Other parts of orgsim (the Metadata API) create their own
tables on the same database through `conn` and `transaction()`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orgsim.ids import KEY_PREFIXES, new_id

SF_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.{ms}+0000"


def format_datetime(moment: datetime) -> str:
    """A datetime the way Salesforce returns it: `2026-11-27T17:05:00.000+0000` (always UTC)."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def parse_datetime(value: str) -> datetime:
    """Parse a Salesforce datetime (`...000+0000`, `...Z` or ISO with offset) into an aware UTC datetime."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    id15 TEXT NOT NULL,
    sobject TEXT NOT NULL,
    fields TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_by_sobject ON records (sobject);
CREATE INDEX IF NOT EXISTS records_by_id15 ON records (id15);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


class OrgStore:
    """Thread-safe record store; one RLock guards the single connection the threaded server shares."""

    def __init__(self, path: Path, *, clock: Any = None, default_user_id: str | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(_SCHEMA)
        self._depth = 0
        # The clock and the default CreatedById come from the Org; a bare store (unit tests) uses wall time.
        self.clock = clock or (lambda: datetime.now(UTC))
        self.default_user_id = default_user_id
        self.key_prefix_for = lambda sobject: KEY_PREFIXES.get(sobject, "a00")

    # -- transactions -------------------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work; nested calls join the outer transaction."""
        with self.lock:
            outer = self._depth == 0
            if outer:
                self.conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self.conn
            except BaseException:
                self._depth -= 1
                if outer:
                    self.conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self.conn.execute("COMMIT")

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    # -- records ------------------------------------------------------------------------------------------------
    def insert(self, sobject: str, fields: dict[str, Any]) -> str:
        """Insert a record and return its id; audit fields are filled unless the caller gave them."""
        record = dict(fields)
        record_id = record.get("Id") or new_id(self.key_prefix_for(sobject))
        record["Id"] = record_id
        now = format_datetime(self.clock())
        created = record.setdefault("CreatedDate", now)
        record.setdefault("LastModifiedDate", created)
        record.setdefault("SystemModstamp", record["LastModifiedDate"])
        if self.default_user_id:
            record.setdefault("CreatedById", self.default_user_id)
            record.setdefault("LastModifiedById", self.default_user_id)
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO records (id, id15, sobject, fields) VALUES (?, ?, ?, ?)",
                (record_id, record_id[:15], sobject, json.dumps(record)),
            )
        return record_id

    def get(self, record_id: str) -> tuple[str, dict[str, Any]] | None:
        """(sobject, fields) for an 15- or 18-character id, or None."""
        if not record_id:
            return None
        with self.lock:
            row = self.conn.execute(
                "SELECT sobject, fields FROM records WHERE id15 = ? ORDER BY seq LIMIT 1", (record_id[:15],)
            ).fetchone()
        if row is None:
            return None
        return row["sobject"], json.loads(row["fields"])

    def update(self, record_id: str, fields: dict[str, Any]) -> None:
        """Merge `fields` into a record; raises KeyError if it does not exist."""
        with self.transaction() as conn:
            row = conn.execute("SELECT seq, fields FROM records WHERE id15 = ?", (record_id[:15],)).fetchone()
            if row is None:
                raise KeyError(record_id)
            record = json.loads(row["fields"])
            record.update(fields)
            record["Id"] = record.get("Id") or record_id
            now = format_datetime(self.clock())
            if "LastModifiedDate" not in fields:
                record["LastModifiedDate"] = now
            if "SystemModstamp" not in fields:
                record["SystemModstamp"] = now
            conn.execute("UPDATE records SET fields = ? WHERE seq = ?", (json.dumps(record), row["seq"]))

    def delete(self, record_id: str) -> bool:
        """Delete a record; False if there was none."""
        with self.transaction() as conn:
            cursor = conn.execute("DELETE FROM records WHERE id15 = ?", (record_id[:15],))
            return cursor.rowcount > 0

    def list(self, sobject: str) -> list[dict[str, Any]]:
        """Every record of `sobject` in insertion order (case-insensitive sobject name, like SOQL)."""
        if sobject.lower() == "deployrequest":
            return self._deploy_requests()
        with self.lock:
            rows = self.conn.execute(
                "SELECT fields FROM records WHERE sobject = ? COLLATE NOCASE ORDER BY seq", (sobject,)
            ).fetchall()
        return [json.loads(row["fields"]) for row in rows]

    def _deploy_requests(self) -> list[dict[str, Any]]:
        """`DeployRequest` (Tooling API) rows read from the metadata deploy queue (`md_deploys`), made by the user."""
        with self.lock:
            if not self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'md_deploys'").fetchone():
                return []
            rows = self.conn.execute(
                "SELECT id, status, check_only, created, started, completed FROM md_deploys ORDER BY seq"
            ).fetchall()

        def when(value: str | None) -> str | None:
            return format_datetime(datetime.fromisoformat(value.replace("Z", "+00:00"))) if value else None

        return [
            {
                "Id": row["id"],
                "Status": row["status"],
                "CheckOnly": bool(row["check_only"]),
                "StartDate": when(row["started"]),
                "CompletedDate": when(row["completed"]),
                "CreatedDate": when(row["created"]),
                "CreatedById": self.default_user_id,
                "LastModifiedDate": when(row["completed"] or row["started"] or row["created"]),
                "LastModifiedById": self.default_user_id,
                "SystemModstamp": when(row["completed"] or row["started"] or row["created"]),
            }
            for row in rows
        ]

    def sobjects(self) -> list[str]:
        """Names of the sobjects that have at least one record."""
        with self.lock:
            rows = self.conn.execute("SELECT DISTINCT sobject FROM records ORDER BY sobject").fetchall()
        return [row["sobject"] for row in rows]

    def find(self, sobject: str, **equals: Any) -> list[dict[str, Any]]:
        """Records of `sobject` whose fields equal every keyword given (a convenience for handlers)."""
        return [record for record in self.list(sobject) if all(record.get(k) == v for k, v in equals.items())]

    def count(self, sobject: str | None = None) -> int:
        with self.lock:
            if sobject is None:
                return int(self.conn.execute("SELECT COUNT(*) FROM records").fetchone()[0])
            return int(
                self.conn.execute(
                    "SELECT COUNT(*) FROM records WHERE sobject = ? COLLATE NOCASE", (sobject,)
                ).fetchone()[0]
            )

    # -- settings -----------------------------------------------------------------------------------------------
    def get_setting(self, key: str, default: Any = None) -> Any:
        with self.lock:
            row = self.conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row["value"])

    def set_setting(self, key: str, value: Any) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )

    @property
    def settings(self) -> _Settings:
        """Mapping-style access: `store.settings["key"]`, `store.settings.get("key", default)`."""
        return _Settings(self)

    def wipe(self) -> None:
        """Drop every table (ours and any other component's) and recreate the record tables: a factory reset."""
        with self.transaction() as conn:
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
                )
            ]
            for table in tables:
                conn.execute(f'DROP TABLE IF EXISTS "{table}"')
        with self.lock:
            self.conn.executescript(_SCHEMA)


class _Settings:
    def __init__(self, store: OrgStore) -> None:
        self._store = store

    def get(self, key: str, default: Any = None) -> Any:
        return self._store.get_setting(key, default)

    def __getitem__(self, key: str) -> Any:
        missing = object()
        value = self._store.get_setting(key, missing)
        if value is missing:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        self._store.set_setting(key, value)
