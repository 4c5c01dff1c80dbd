"""The evaluation context and resolved (bound) query columns: field paths, relationship hops, aggregates and
child-relationship subqueries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from orgsim.schema import FieldDef, ObjectDef, Schema
from orgsim.soql.values import _raw

if TYPE_CHECKING:
    from orgsim.soql.plan import _Plan


@dataclass
class _Ctx:
    soql: str
    schema: Schema
    api: str
    api_version: str
    today: date
    get: Callable[[str], tuple[str, dict[str, Any]] | None]
    store: Any = None
    include_deleted: bool = False


# --- resolved field paths -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Hop:
    relationship: str  # canonical relationship name, e.g. "CronJobDetail"
    fk_field: str  # canonical foreign-key field, e.g. "CronJobDetailId"
    targets: tuple[ObjectDef, ...]
    custom: bool


@dataclass(frozen=True)
class BoundField:
    hops: tuple[Hop, ...]
    field: FieldDef
    alias: str | None = None
    function: str | None = None  # date function applied to the field's value

    @property
    def display(self) -> str:
        path = ".".join([h.relationship for h in self.hops] + [self.field.name])
        return f"{self.function}({path})" if self.function else path

    @property
    def type(self) -> str:
        """Describe type of the value this column yields (date functions yield int, DAY_ONLY a date)."""
        if self.function is None:
            return self.field.type
        return "date" if self.function == "DAY_ONLY" else "int"

    @property
    def key(self) -> str:
        return self.display.lower()


@dataclass
class BoundChild:
    """A child-relationship subquery column: its plan over the child object, and the child rows per parent
    id, indexed on first use."""

    relationship: str
    fk_field: str
    plan: _Plan
    by_parent: dict[str, list[dict[str, Any]]] | None = None

    def rows_for(self, parent_id: Any) -> list[dict[str, Any]]:
        if self.by_parent is None:
            self.by_parent = {}
            ctx = self.plan.ctx
            for record in _matching(self.plan, ctx.store, ctx.include_deleted):
                fk = _raw(record, self.fk_field)
                if isinstance(fk, str) and fk:
                    self.by_parent.setdefault(fk[:15], []).append(record)
        if not isinstance(parent_id, str):
            return []
        rows = list(self.by_parent.get(parent_id[:15], []))
        self.plan.sort(rows, lambda r, b: self.plan.value(r, b))
        start = self.plan.q.offset or 0
        return rows[start : None if self.plan.q.limit is None else start + self.plan.q.limit]


@dataclass(frozen=True)
class BoundAggregate:
    function: str
    argument: BoundField | None
    column: str  # alias or exprN
    pos: int

    @property
    def display(self) -> str:
        return f"{self.function}({self.argument.display if self.argument else ''})"

    @property
    def type(self) -> str:
        if self.function in ("COUNT", "COUNT_DISTINCT"):
            return "int"
        if self.function in ("SUM", "AVG"):
            return "double"
        return self.argument.field.type if self.argument else "int"


def _matching(plan: _Plan, store: Any, include_deleted: bool) -> list[dict[str, Any]]:
    records = [r for r in store.list(plan.obj.name) if isinstance(r, dict)]
    if not include_deleted:
        records = [r for r in records if _raw(r, "IsDeleted") is not True]
    if plan.where is not None:
        records = [r for r in records if plan.where(r)]
    return records
