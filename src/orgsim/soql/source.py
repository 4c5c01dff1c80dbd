"""What the SOQL engine reads: a record store, a schema and a clock (`RecordSource`), and `StaticSource`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from orgsim.schema import Schema


@runtime_checkable
class RecordStore(Protocol):
    def list(self, sobject: str) -> list[dict[str, Any]]: ...

    def get(self, record_id: str) -> tuple[str, dict[str, Any]] | None: ...


class RecordSource(Protocol):
    """What `execute` needs from an org (`orgsim.org.Org` fits): records, schema and clock."""

    store: RecordStore
    schema: Schema

    def now(self) -> datetime: ...


class StaticSource:
    """An in-memory RecordSource: records per sobject, a fixed clock. For tests and offline tools."""

    def __init__(
        self, schema: Schema | None = None, records: dict[str, list[dict[str, Any]]] | None = None, now: Any = None
    ) -> None:
        self.schema = schema or Schema()
        self.records: dict[str, list[dict[str, Any]]] = {}
        self._clock = now or datetime.now(UTC)
        self.store = self
        for sobject, rows in (records or {}).items():
            for row in rows:
                self.add(sobject, row)

    def add(self, sobject: str, record: dict[str, Any]) -> dict[str, Any]:
        canonical = self.schema.canonical_name(sobject) or sobject
        self.records.setdefault(canonical, []).append(record)
        return record

    def list(self, sobject: str) -> list[dict[str, Any]]:
        for name, rows in self.records.items():
            if name.lower() == sobject.lower():
                return list(rows)
        return []

    def get(self, record_id: str) -> tuple[str, dict[str, Any]] | None:
        for sobject, rows in self.records.items():
            for row in rows:
                rid = row.get("Id")
                if isinstance(rid, str) and rid[:15] == record_id[:15]:
                    return sobject, row
        return None

    def now(self) -> datetime:
        return self._clock
