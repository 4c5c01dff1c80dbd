"""Evaluate a parsed query over an org's records and shape the answer like Salesforce's REST query resource."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Protocol, runtime_checkable

from orgsim.schema import FieldDef, ObjectDef, Schema
from orgsim.soql.dates import date_range
from orgsim.soql.errors import (
    INVALID_RELATIONSHIP_HINT,
    SoqlError,
    invalid_field,
    invalid_relationship,
    invalid_type,
    malformed,
    positioned,
)
from orgsim.soql.nodes import (
    Aggregate,
    BoolOp,
    ChildQuery,
    Comparison,
    Condition,
    FieldPath,
    FieldsFunction,
    Literal,
    Not,
    Query,
    SemiJoin,
)
from orgsim.soql.parser import parse

log = logging.getLogger("orgsim.soql")

DEFAULT_API_VERSION = "62.0"
FIELDS_FUNCTION_MAX_LIMIT = 200
_ID_RE = re.compile(r"[A-Za-z0-9]{15}([A-Za-z0-9]{3})?")
_UNFILTERABLE = frozenset({"complexvalue", "base64", "anyType"})


# --- what the engine reads ----------------------------------------------------------------------------------
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


def _raw(record: dict[str, Any], name: str) -> Any:
    if name in record:
        return record[name]
    lower = name.lower()
    for key, value in record.items():
        if key.lower() == lower:
            return value
    return None


def _field_value(record: dict[str, Any], f: FieldDef) -> Any:
    value = _raw(record, f.name)
    if value is None and f.name == "Name" and ("FirstName" in record or "LastName" in record):
        # Person names: the store may keep only the parts.
        parts = [record.get("FirstName"), record.get("LastName")]
        value = " ".join(p for p in parts if p) or None
    return value


# --- value normalisation for comparison and sorting ---------------------------------------------------------
def _category(f_type: str) -> str:
    if f_type in ("id", "reference"):
        return "id"
    if f_type in ("int", "long", "double", "currency", "percent"):
        return "number"
    if f_type in ("boolean", "date", "datetime", "time"):
        return f_type
    return "text"


def _to_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            if len(value) > 10:
                return _to_datetime(value).date()  # type: ignore[union-attr]
            return date.fromisoformat(value[:10])
        except (ValueError, AttributeError):
            return None
    return None


def _to_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    if not isinstance(value, str) or len(value) < 10:
        return None
    text = value.strip()
    if len(text) == 10:
        day = _to_date(text)
        return datetime.combine(day, time(), tzinfo=UTC) if day else None
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _normalize(value: Any, category: str) -> Any:
    """A stored value in a comparable form for its field category; None when absent or unreadable."""
    if value is None:
        return None
    try:
        if category == "text":
            return (value if isinstance(value, str) else str(value)).casefold()
        if category == "id":
            return str(value)[:15]
        if category == "number":
            if isinstance(value, bool):
                return None
            return float(value)
        if category == "boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            return None
        if category == "date":
            return _to_date(value)
        if category == "datetime":
            return _to_datetime(value)
        return str(value)
    except (TypeError, ValueError, OverflowError):
        return None


_TYPE_WORDS = {"boolean": "boolean", "number": "double", "date": "date", "datetime": "dateTime", "time": "time"}


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


class _Range:
    def __init__(self, low: Any, high: Any) -> None:
        self.low, self.high = low, high


def _literal_value(ctx: _Ctx, lit: Literal, f_type: str, f_name: str, op: str) -> Any:
    """The literal converted to the field's category, or a _Range for date literals; SoqlError on a mismatch."""
    category = _category(f_type)
    if lit.kind == "null":
        return None
    if category in ("text", "id"):
        if lit.kind != "string":
            text = f"value of filter criterion for field '{f_name}' must be of type string and should be enclosed in quotes"  # noqa: E501
            raise SoqlError("INVALID_FIELD", positioned(ctx.soql, lit.pos, text))
        value = str(lit.value)
        if category == "id" and op != "LIKE":
            if value and not _ID_RE.fullmatch(value):
                raise SoqlError("INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {value}")
            return value[:15]
        return value.casefold()
    word = {"int": "integer", "long": "long"}.get(f_type) or _TYPE_WORDS.get(category, category)
    mismatch = SoqlError(
        "INVALID_FIELD",
        positioned(
            ctx.soql,
            lit.pos,
            f"value of filter criterion for field '{f_name}' must be of type {word} "
            "and should not be enclosed in quotes",
        ),
    )
    if category == "number":
        if lit.kind != "number":
            raise mismatch
        return float(lit.value)  # type: ignore[arg-type]
    if category == "boolean":
        if lit.kind != "boolean":
            raise mismatch
        return lit.value
    if category in ("date", "datetime"):
        if lit.kind == "date_literal":
            try:
                low, high = date_range(str(lit.value), lit.n, ctx.today)
            except (ValueError, OverflowError):
                raise malformed(ctx.soql, lit.pos, f"value of date literal {lit.text} is out of range") from None
            if category == "datetime":
                return _Range(datetime.combine(low, time(), UTC), datetime.combine(high, time(), UTC))
            return _Range(low, high)
        if category == "date" and lit.kind == "date":
            return lit.value
        if category == "datetime" and lit.kind == "datetime":
            return lit.value
        raise mismatch
    if lit.kind == "string":
        return str(lit.value)
    raise mismatch


def _scalar_test(op: str, expected: Any) -> Callable[[Any], bool]:
    if isinstance(expected, _Range):
        low, high = expected.low, expected.high
        tests: dict[str, Callable[[Any], bool]] = {
            "=": lambda v: v is not None and low <= v < high,
            "!=": lambda v: v is None or not (low <= v < high),
            "<": lambda v: v is not None and v < low,
            "<=": lambda v: v is not None and v < high,
            ">": lambda v: v is not None and v >= high,
            ">=": lambda v: v is not None and v >= low,
        }
        return tests[op]
    if expected is None:
        if op == "=":
            return lambda v: v is None
        if op == "!=":
            return lambda v: v is not None
        return lambda v: False
    tests = {
        "=": lambda v: v is not None and v == expected,
        "!=": lambda v: v is None or v != expected,
        "<": lambda v: v is not None and v < expected,
        "<=": lambda v: v is not None and v <= expected,
        ">": lambda v: v is not None and v > expected,
        ">=": lambda v: v is not None and v >= expected,
    }
    return tests[op]


_ANY_RUN = object()  # LIKE's %
_ANY_ONE = object()  # LIKE's _


def _like_pattern(raw: str) -> list[Any]:
    """LIKE pattern tokens from the literal's source text: casefolded characters and the two wildcards;
    `\\%` and `\\_` stay literal."""
    tokens: list[Any] = []
    escapes = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            if nxt == "u" and i + 5 < len(raw):
                tokens.extend(chr(int(raw[i + 2 : i + 6], 16)).casefold())
                i += 6
                continue
            tokens.extend(escapes.get(nxt, nxt).casefold())
            i += 2
            continue
        if ch == "%":
            if not tokens or tokens[-1] is not _ANY_RUN:
                tokens.append(_ANY_RUN)
        elif ch == "_":
            tokens.append(_ANY_ONE)
        else:
            tokens.extend(ch.casefold())
        i += 1
    return tokens


def _like_match(tokens: list[Any], text: str) -> bool:
    """Wildcard matching with one backtrack point: O(len(text) x len(tokens)) whatever the pattern, so a
    hostile `%a%a%a...` cannot stall the server the way a backtracking regex would."""
    t = p = 0
    star, mark = -1, 0
    while t < len(text):
        token = tokens[p] if p < len(tokens) else None
        if token is _ANY_RUN:
            star, mark = p, t
            p += 1
        elif token is not None and (token is _ANY_ONE or token == text[t]):
            t += 1
            p += 1
        elif star != -1:
            p = star + 1
            mark += 1
            t = mark
        else:
            return False
    while p < len(tokens) and tokens[p] is _ANY_RUN:
        p += 1
    return p == len(tokens)


def _comparison_test(ctx: _Ctx, cmp: Comparison, f_type: str, f_name: str) -> Callable[[Any], bool]:
    """A predicate over the *normalised* value of the left side."""
    category = _category(f_type)
    if f_type in _UNFILTERABLE:
        text = f"field '{f_name}' can not be filtered in a query call"
        raise SoqlError("INVALID_FIELD", positioned(ctx.soql, cmp.pos, text))
    op = cmp.op
    if op == "LIKE":
        if category == "id":
            raise SoqlError("INVALID_QUERY_FILTER_OPERATOR", "invalid operator on id field")
        if category != "text":
            raise SoqlError("INVALID_QUERY_FILTER_OPERATOR", f"invalid operator on field: {f_name}")
        assert isinstance(cmp.right, Literal)
        if cmp.right.kind != "string":
            _literal_value(ctx, cmp.right, f_type, f_name, op)  # raises the type mismatch
            return lambda v: False
        pattern = _like_pattern(cmp.right.text)
        return lambda v: v is not None and _like_match(pattern, v)
    if op in ("INCLUDES", "EXCLUDES"):
        if f_type != "multipicklist":
            raise SoqlError(
                "INVALID_QUERY_FILTER_OPERATOR", "includes or excludes operator only valid on multipicklist field"
            )
        assert isinstance(cmp.right, tuple)
        wanted = []
        for lit in cmp.right:
            if lit.kind != "string":
                _literal_value(ctx, lit, "boolean", f_name, op)
            wanted.append({p.strip().casefold() for p in str(lit.value).split(";") if p.strip()})

        def includes(v: Any) -> bool:
            have = {p.strip() for p in v.split(";")} if v else set()
            return any(w <= have for w in wanted)

        return includes if op == "INCLUDES" else (lambda v: not includes(v))
    if isinstance(cmp.right, SemiJoin):
        if category != "id":
            text = f"semi join sub-selects are only allowed on id or reference fields, not on {f_name}"
            raise malformed(ctx.soql, cmp.pos, text)
        ids = _semi_join_ids(ctx, cmp.right)
        if op == "IN":
            return lambda v: v is not None and v in ids
        return lambda v: v is None or v not in ids
    if op in ("IN", "NOT_IN"):
        assert isinstance(cmp.right, tuple)
        tests = [_scalar_test("=", _literal_value(ctx, lit, f_type, f_name, op)) for lit in cmp.right]
        if op == "IN":
            return lambda v: any(t(v) for t in tests)
        return lambda v: not any(t(v) for t in tests)
    assert isinstance(cmp.right, Literal)
    return _scalar_test(op, _literal_value(ctx, cmp.right, f_type, f_name, op))


def _semi_join_ids(ctx: _Ctx, semi_join: SemiJoin) -> set[str]:
    """The 15-character ids the sub-select yields, evaluated once per query."""
    sub = semi_join.query
    if len(sub.select) != 1 or not isinstance(sub.select[0], FieldPath) or sub.group_by:
        text = "a semi join sub-select must select exactly one id or reference field"
        raise malformed(ctx.soql, semi_join.pos, text)
    plan = _Plan(sub, ctx)
    bound = plan.columns[0]
    assert isinstance(bound, BoundField)
    if bound.function or _category(bound.field.type) != "id":
        text = f"the field {bound.display} selected in a semi join sub-select must be an id or reference field"
        raise malformed(ctx.soql, semi_join.pos, text)
    records = _matching(plan, ctx.store, ctx.include_deleted)
    start = sub.offset or 0
    stop = None if sub.limit is None else start + sub.limit
    values = (_normalize(plan.value(r, bound), "id") for r in records[start:stop])
    return {v for v in values if v}


def _date_function(function: str, value: Any) -> Any:
    """SOQL date functions, evaluated in UTC (orgsim's org time zone). Weeks start on Sunday."""
    moment = _to_datetime(value)
    if moment is None:
        return None
    day = moment.date()
    if function == "DAY_ONLY":
        return day.isoformat()
    if function == "HOUR_IN_DAY":
        return moment.hour
    year_day = day.timetuple().tm_yday
    results = {
        "CALENDAR_YEAR": day.year,
        "FISCAL_YEAR": day.year,
        "CALENDAR_QUARTER": (day.month - 1) // 3 + 1,
        "FISCAL_QUARTER": (day.month - 1) // 3 + 1,
        "CALENDAR_MONTH": day.month,
        "FISCAL_MONTH": day.month,
        "DAY_IN_MONTH": day.day,
        "DAY_IN_WEEK": (day.weekday() + 1) % 7 + 1,
        "DAY_IN_YEAR": year_day,
        "WEEK_IN_MONTH": (day.day - 1) // 7 + 1,
        "WEEK_IN_YEAR": (year_day - 1) // 7 + 1,
    }
    return results[function]


# --- the compiled query -------------------------------------------------------------------------------------
class _Plan:
    def __init__(self, query: Query, ctx: _Ctx, obj: ObjectDef | None = None) -> None:
        self.q = query
        self.ctx = ctx
        obj = obj or ctx.schema.get_object(query.sobject, ctx.api)
        if obj is None:
            raise invalid_type(ctx.soql, query.sobject_pos, query.sobject)
        self.obj = obj
        self.columns: list[BoundField | BoundAggregate | BoundChild] = []
        self._bind_select()
        self.where = self._compile(query.where, having=False) if query.where else None
        self.group_by = [self.bind(p) for p in query.group_by]
        if query.is_aggregate:
            self._check_grouping()
        self.having = self._compile(query.having, having=True) if query.having else None
        self.order = [(self._bind_order_key(item.key), item.descending, item.nulls_last) for item in query.order_by]

    # binding ------------------------------------------------------------------------------------------------
    def bind(self, path: FieldPath) -> BoundField:
        ctx = self.ctx
        parts = list(path.parts)
        # `SELECT a.Name FROM Account a` and `SELECT Account.Name FROM Account` name the queried object itself.
        prefixes = {self.obj.name.lower()} | ({self.q.alias.lower()} if self.q.alias else set())
        if len(parts) > 1 and parts[0].lower() in prefixes and not self.obj.relationship(parts[0]):
            parts = parts[1:]
        current: tuple[ObjectDef, ...] = (self.obj,)
        hops: list[Hop] = []
        for name in parts[:-1]:
            fk = next((f for f in (o.relationship(name) for o in current) if f is not None), None)
            if fk is None:
                raise invalid_relationship(ctx.soql, path.pos, name)
            targets = tuple(t for t in (ctx.schema.get_object(n) for n in fk.reference_to) if t is not None)
            if not targets:
                raise invalid_relationship(ctx.soql, path.pos, name)
            hops.append(Hop(fk.relationship_name or name, fk.name, targets, fk.custom))
            current = targets
        last = parts[-1]
        found = next((f for f in (o.field(last) for o in current) if f is not None), None)
        if found is None:
            raise invalid_field(ctx.soql, path.pos, last, current[0].name)
        if path.function:
            allowed = ("datetime",) if path.function == "HOUR_IN_DAY" else ("date", "datetime")
            if found.type not in allowed:
                kind = "dateTime" if allowed == ("datetime",) else "date or dateTime"
                text = f"{path.function}() is only valid on a {kind} field, not on {found.name}"
                raise SoqlError("INVALID_FIELD", positioned(ctx.soql, path.pos, text))
        return BoundField(tuple(hops), found, function=path.function)

    def _bind_select(self) -> None:
        seen: set[str] = set()
        expr_index = 0
        q = self.q
        if any(isinstance(s, Aggregate) and s.function == "COUNT" and s.argument is None for s in q.select):
            if not q.count_only:
                item = next(s for s in q.select if isinstance(s, Aggregate) and s.argument is None)
                raise malformed(self.ctx.soql, item.pos, "COUNT() must be the only element in the SELECT list")
            if q.group_by:
                raise malformed(self.ctx.soql, q.select[0].pos, "COUNT() cannot be used with GROUP BY")
            return
        for item in q.select:
            if isinstance(item, ChildQuery):
                child = self._bind_child(item)
                if child.relationship.lower() in seen:
                    raise malformed(self.ctx.soql, item.pos, f"duplicate field selected: {child.relationship}")
                seen.add(child.relationship.lower())
                self.columns.append(child)
                continue
            if isinstance(item, FieldsFunction):
                if item.which != "STANDARD" and (q.limit is None or q.limit > FIELDS_FUNCTION_MAX_LIMIT):
                    text = f"The SOQL FIELDS function must have a LIMIT of at most {FIELDS_FUNCTION_MAX_LIMIT}"
                    raise malformed(self.ctx.soql, item.pos, text)
                for f in self.obj.fields.values():
                    wanted = item.which == "ALL" or (item.which == "CUSTOM") == f.custom
                    if wanted and f.name.lower() not in seen:
                        seen.add(f.name.lower())
                        self.columns.append(BoundField((), f))
                continue
            if isinstance(item, Aggregate):
                argument = self.bind(item.argument) if item.argument else None
                if item.alias:
                    column = item.alias
                else:
                    column = f"expr{expr_index}"
                    expr_index += 1
                if column.lower() in seen:
                    raise malformed(self.ctx.soql, item.pos, f"duplicate alias: {column}")
                seen.add(column.lower())
                bound = BoundAggregate(item.function, argument, column, item.pos)
                if item.function in ("SUM", "AVG") and argument and _category(argument.type) != "number":
                    text = f"field {argument.field.name} does not support aggregate operator {item.function}"
                    raise SoqlError("INVALID_FIELD", positioned(self.ctx.soql, item.pos, text))
                self.columns.append(bound)
                continue
            bound_field = self.bind(item)
            if item.alias and not q.is_aggregate:
                raise malformed(self.ctx.soql, item.pos, f"unexpected token: '{item.alias}'")
            if item.function and not q.is_aggregate:
                text = f"{item.function}() in the SELECT list needs a GROUP BY"
                raise malformed(self.ctx.soql, item.pos, text)
            alias = item.alias
            if item.function and not alias:
                # Date function columns are expressions: numbered together with the aggregates.
                alias = f"expr{expr_index}"
                expr_index += 1
            if alias:
                bound_field = BoundField(bound_field.hops, bound_field.field, alias, bound_field.function)
            if q.is_aggregate:
                # AggregateResult columns are flat: two grouped `X.Name` fields need aliases.
                column = (bound_field.alias or bound_field.field.name).lower()
                if column in seen:
                    raise malformed(
                        self.ctx.soql, item.pos, f"duplicate alias: {bound_field.alias or bound_field.field.name}"
                    )
                seen.add(column)
            elif bound_field.key in seen:
                raise malformed(self.ctx.soql, item.pos, f"duplicate field selected: {bound_field.display}")
            seen.add(bound_field.key)
            self.columns.append(bound_field)

    def _bind_child(self, item: ChildQuery) -> BoundChild:
        ctx, sub = self.ctx, item.query
        if self.q.is_aggregate:
            raise malformed(ctx.soql, item.pos, "child relationship subqueries are not allowed in aggregate queries")
        found = ctx.schema.child_relationships(self.obj.name).get(sub.sobject.lower())
        child_obj = ctx.schema.get_object(found[1]) if found else None
        if found is None or child_obj is None:
            text = (
                f"Didn't understand relationship '{sub.sobject}' in FROM part of query call. "
                f"{INVALID_RELATIONSHIP_HINT}"
            )
            raise SoqlError("INVALID_TYPE", positioned(ctx.soql, sub.sobject_pos, text))
        plan = _Plan(sub, ctx, child_obj)
        if sub.count_only or sub.is_aggregate:
            raise malformed(ctx.soql, item.pos, "aggregate functions are not allowed in a child relationship subquery")
        return BoundChild(found[0], found[2], plan)

    def _check_grouping(self) -> None:
        grouped = {g.key for g in self.group_by}
        for item in self.q.select:
            if isinstance(item, FieldsFunction):
                raise malformed(self.ctx.soql, item.pos, "FIELDS() cannot be used in an aggregate query")
            if isinstance(item, FieldPath):
                bound = self.bind(item)
                if bound.key not in grouped:
                    text = f"Field must be grouped or aggregated: {bound.field.name}"
                    raise malformed(self.ctx.soql, item.pos, text)

    def _bind_order_key(self, key: FieldPath | Aggregate) -> BoundField | BoundAggregate:
        if isinstance(key, Aggregate):
            if not self.q.is_aggregate:
                raise malformed(self.ctx.soql, key.pos, "Aggregate functions are only allowed in aggregate queries")
            return BoundAggregate(key.function, self.bind(key.argument) if key.argument else None, "", key.pos)
        bound = self.bind(key)
        if self.q.is_aggregate and bound.key not in {g.key for g in self.group_by}:
            raise malformed(self.ctx.soql, key.pos, f"Ordered field must be grouped or aggregated: {bound.field.name}")
        return bound

    def _compile(self, cond: Condition, *, having: bool) -> Callable[[Any], bool]:
        if isinstance(cond, BoolOp):
            parts = [self._compile(c, having=having) for c in cond.operands]
            if cond.op == "AND":
                return lambda row: all(p(row) for p in parts)
            return lambda row: any(p(row) for p in parts)
        if isinstance(cond, Not):
            inner = self._compile(cond.operand, having=having)
            return lambda row: not inner(row)
        left = cond.left
        if isinstance(left, Aggregate):
            bound_agg = BoundAggregate(left.function, self.bind(left.argument) if left.argument else None, "", left.pos)
            test = _comparison_test(self.ctx, cond, bound_agg.type, bound_agg.display)
            category = _category(bound_agg.type)
            return lambda group: test(_normalize(self._aggregate(bound_agg, group), category))
        bound = self.bind(left)
        if having and bound.key not in {g.key for g in self.group_by}:
            text = f"Field must be grouped or aggregated: {bound.field.name}"
            raise malformed(self.ctx.soql, left.pos, text)
        test = _comparison_test(self.ctx, cond, bound.type, bound.field.name)
        category = _category(bound.type)
        if having:
            return lambda group: test(_normalize(self.value(group[0], bound), category))
        return lambda record: test(_normalize(self.value(record, bound), category))

    # evaluation ---------------------------------------------------------------------------------------------
    def follow(self, record: dict[str, Any] | None, hops: Iterable[Hop]) -> tuple[str, dict[str, Any]] | None:
        found: tuple[str, dict[str, Any]] | None = (self.obj.name, record) if record is not None else None
        for hop in hops:
            if found is None:
                return None
            fk = _raw(found[1], hop.fk_field)
            if not isinstance(fk, str) or not fk:
                return None
            found = self.ctx.get(fk)
        return found

    def value(self, record: dict[str, Any], bound: BoundField) -> Any:
        target = self.follow(record, bound.hops) if bound.hops else (self.obj.name, record)
        value = None if target is None else _field_value(target[1], bound.field)
        return _date_function(bound.function, value) if bound.function else value

    def _aggregate(self, agg: BoundAggregate, group: list[dict[str, Any]]) -> Any:
        if agg.argument is None:
            return len(group)
        values = [self.value(r, agg.argument) for r in group]
        present = [v for v in values if v is not None]
        if agg.function == "COUNT":
            return len(present)
        category = _category(agg.argument.type)
        if agg.function == "COUNT_DISTINCT":
            return len({_normalize(v, category) for v in present})
        if not present:
            return None
        if agg.function in ("SUM", "AVG"):
            numbers = [n for n in (_normalize(v, "number") for v in present) if n is not None]
            if not numbers:
                return None
            total = sum(numbers)
            return total if agg.function == "SUM" else total / len(numbers)
        keyed = [(k, v) for v, k in ((v, _normalize(v, category)) for v in present) if k is not None]
        if not keyed:
            return None
        try:
            pick = min(keyed, key=lambda kv: kv[0]) if agg.function == "MIN" else max(keyed, key=lambda kv: kv[0])
        except TypeError:
            pick = (
                min(keyed, key=lambda kv: str(kv[0]))
                if agg.function == "MIN"
                else max(keyed, key=lambda kv: str(kv[0]))
            )
        return pick[1]

    def sort(self, rows: list[Any], key_of: Callable[[Any, BoundField | BoundAggregate], Any]) -> list[Any]:
        for bound, descending, nulls_last in reversed(self.order):
            f_type = bound.type
            category = _category(f_type)
            # With reverse=True the null rank is flipped so NULLS FIRST/LAST still holds.
            null_rank = (1 if nulls_last else 0) if not descending else (0 if nulls_last else 1)

            def sort_key(row: Any, bound: Any = bound, category: str = category, null_rank: int = null_rank) -> Any:
                value = _normalize(key_of(row, bound), category)
                return (null_rank, 0) if value is None else (1 - null_rank, value)

            try:
                rows.sort(key=sort_key, reverse=descending)
            except TypeError:
                rows.sort(key=lambda r, k=sort_key: (k(r)[0], str(k(r)[1])), reverse=descending)
        return rows


# --- shaping results ------------------------------------------------------------------------------------------
def _attributes(ctx: _Ctx, sobject: str, record: dict[str, Any]) -> dict[str, Any]:
    attributes: dict[str, Any] = {"type": sobject}
    record_id = _raw(record, "Id")
    if record_id:
        base = "/tooling" if ctx.api == "tooling" else ""
        attributes["url"] = f"/services/data/v{ctx.api_version}{base}/sobjects/{sobject}/{record_id}"
    return attributes


def _tree(columns: Iterable[BoundField | BoundChild]) -> dict[str, Any]:
    """Selected fields as a nested dict: leaf → FieldDef, relationship → (Hop, subtree); select order kept."""
    root: dict[str, Any] = {}
    for bound in columns:
        if isinstance(bound, BoundChild):
            root[bound.relationship] = bound
            continue
        node = root
        for hop in bound.hops:
            entry = node.get(hop.relationship)
            if entry is None:
                entry = (hop, {})
                node[hop.relationship] = entry
            node = entry[1]
        node[bound.field.name] = bound.field
    return root


def _shape(plan: _Plan, sobject: str, record: dict[str, Any], tree: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"attributes": _attributes(plan.ctx, sobject, record)}
    for key, node in tree.items():
        if isinstance(node, FieldDef):
            out[key] = _field_value(record, node)
            continue
        if isinstance(node, BoundChild):
            rows = node.rows_for(_raw(record, "Id"))
            child_tree = _tree(c for c in node.plan.columns if isinstance(c, BoundField | BoundChild))
            shaped = [_shape(node.plan, node.plan.obj.name, row, child_tree) for row in rows]
            # Salesforce answers null, not an empty list, for a parent without children.
            out[key] = {"totalSize": len(shaped), "done": True, "records": shaped} if shaped else None
            continue
        hop, subtree = node
        fk = _raw(record, hop.fk_field)
        target = plan.ctx.get(fk) if isinstance(fk, str) and fk else None
        out[key] = _shape(plan, target[0], target[1], subtree) if target else None
    return out


def _caching_get(store: Any) -> Callable[[str], tuple[str, dict[str, Any]] | None]:
    cache: dict[str, tuple[str, dict[str, Any]] | None] = {}

    def get(record_id: str) -> tuple[str, dict[str, Any]] | None:
        key = record_id[:15]
        if key not in cache:
            cache[key] = store.get(record_id) if len(record_id) in (15, 18) else None
        return cache[key]

    return get


def _context(soql: str, source: Any, api: str, api_version: str, include_deleted: bool) -> tuple[_Ctx, Any]:
    store = getattr(source, "store", None) or source
    schema = getattr(source, "schema", None) or Schema()
    now_fn = getattr(source, "now", None)
    now = now_fn() if callable(now_fn) else datetime.now(UTC)
    if isinstance(now, str):
        now = _to_datetime(now) or datetime.now(UTC)
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    today = now.astimezone(UTC).date()
    ctx = _Ctx(soql, schema, api, api_version, today, _caching_get(store), store, include_deleted)
    return ctx, store


def _plan(soql: str, source: Any, api: str, api_version: str, include_deleted: bool = False) -> tuple[_Plan, Any]:
    api = "tooling" if str(api).lower() == "tooling" else "rest"
    query = parse(soql)
    ctx, store = _context(soql, source, api, api_version, include_deleted)
    return _Plan(query, ctx), store


def _matching(plan: _Plan, store: Any, include_deleted: bool) -> list[dict[str, Any]]:
    records = [r for r in store.list(plan.obj.name) if isinstance(r, dict)]
    if not include_deleted:
        records = [r for r in records if _raw(r, "IsDeleted") is not True]
    if plan.where is not None:
        records = [r for r in records if plan.where(r)]
    return records


def _run(plan: _Plan, store: Any, include_deleted: bool) -> dict[str, Any]:
    q = plan.q
    records = _matching(plan, store, include_deleted)
    start = q.offset or 0
    stop = None if q.limit is None else start + q.limit
    if q.count_only:
        return {"totalSize": len(records[start:stop]), "done": True, "records": []}
    if q.is_aggregate:
        return _run_aggregate(plan, records, start, stop)
    plan.sort(records, lambda r, b: plan.value(r, b))
    tree = _tree(c for c in plan.columns if isinstance(c, BoundField | BoundChild))
    shaped = [_shape(plan, plan.obj.name, r, tree) for r in records[start:stop]]
    return {"totalSize": len(shaped), "done": True, "records": shaped}


def _run_aggregate(plan: _Plan, records: list[dict[str, Any]], start: int, stop: int | None) -> dict[str, Any]:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    if plan.group_by:
        for record in records:
            key = tuple(_normalize(plan.value(record, g), _category(g.type)) for g in plan.group_by)
            groups.setdefault(key, []).append(record)
    else:
        groups[()] = records  # no GROUP BY: one row, even over no records
    rows = [g for g in groups.values() if plan.having is None or (g and plan.having(g))]

    def key_of(group: list[dict[str, Any]], bound: BoundField | BoundAggregate) -> Any:
        if isinstance(bound, BoundAggregate):
            return plan._aggregate(bound, group)
        return plan.value(group[0], bound) if group else None

    plan.sort(rows, key_of)
    shaped = []
    for group in rows[start:stop]:
        row: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
        for column in plan.columns:
            if isinstance(column, BoundAggregate):
                row[column.column] = plan._aggregate(column, group)
            else:
                row[column.alias or column.field.name] = plan.value(group[0], column) if group else None
        shaped.append(row)
    return {"totalSize": len(shaped), "done": True, "records": shaped}


# --- column metadata (the `columns=true` request of `sf data query`) -----------------------------------------
def _column(f: FieldDef, display: str) -> dict[str, Any]:
    return {
        "aggregate": False,
        "apexType": f.apex_type,
        "booleanType": f.type == "boolean",
        "columnName": f.name,
        "custom": f.custom,
        "displayName": display,
        "foreignKeyName": None,
        "insertable": f.createable,
        "joinColumns": [],
        "numberType": f.is_number,
        "textType": f.is_text,
        "updatable": f.updateable,
    }


def _tree_columns(tree: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    columns = []
    for key, node in tree.items():
        display = f"{prefix}{key}"
        if isinstance(node, FieldDef):
            columns.append(_column(node, display))
            continue
        if isinstance(node, BoundChild):
            child_tree = _tree(c for c in node.plan.columns if isinstance(c, BoundField | BoundChild))
            columns.append(
                {
                    "aggregate": True,
                    "apexType": None,
                    "booleanType": False,
                    "columnName": node.relationship,
                    "custom": node.relationship.endswith("__r"),
                    "displayName": display,
                    "foreignKeyName": None,
                    "insertable": False,
                    "joinColumns": _tree_columns(child_tree, ""),
                    "numberType": False,
                    "textType": False,
                    "updatable": False,
                }
            )
            continue
        hop, subtree = node
        columns.append(
            {
                "aggregate": False,
                "apexType": None,
                "booleanType": False,
                "columnName": hop.relationship,
                "custom": hop.custom,
                "displayName": display,
                "foreignKeyName": None,
                "insertable": False,
                "joinColumns": _tree_columns(subtree, f"{display}."),
                "numberType": False,
                "textType": False,
                "updatable": False,
            }
        )
    return columns


def _metadata(plan: _Plan) -> dict[str, Any]:
    q = plan.q
    columns: list[dict[str, Any]] = []
    if q.is_aggregate:
        for column in plan.columns:
            if isinstance(column, BoundAggregate):
                number = _category(column.type) == "number"
                columns.append(
                    {
                        "aggregate": True,
                        "apexType": (
                            column.argument.field.apex_type
                            if column.function in ("MIN", "MAX") and column.argument
                            else {"int": "Integer", "double": "Double"}[column.type]
                        ),
                        "booleanType": False,
                        "columnName": column.column,
                        "custom": False,
                        "displayName": column.display,
                        "foreignKeyName": None,
                        "insertable": False,
                        "joinColumns": [],
                        "numberType": number,
                        "textType": _category(column.type) in ("text", "id"),
                        "updatable": False,
                    }
                )
            else:
                name = column.alias or column.field.name
                flat = {"columnName": name, "displayName": name, "insertable": False, "updatable": False}
                if column.function:
                    # The CLI shows function columns under their expression text and renames exprN to it.
                    flat |= {"aggregate": True, "displayName": column.display, "apexType": "Integer"}
                    flat |= {"numberType": column.type == "int", "textType": False}
                    if column.type == "date":
                        flat["apexType"] = "Date"
                columns.append(_column(column.field, name) | flat)
    elif not q.count_only:
        columns = _tree_columns(_tree(c for c in plan.columns if isinstance(c, BoundField | BoundChild)), "")
    id_selected = any(isinstance(c, BoundField) and not c.hops and c.field.name == "Id" for c in plan.columns)
    return {
        "columnMetadata": columns,
        "entityName": plan.obj.name,
        "groupBy": bool(q.group_by),
        "idSelected": id_selected and not q.is_aggregate,
        "keyPrefix": plan.obj.key_prefix,
    }


# --- public entry points ------------------------------------------------------------------------------------
def _guard(soql: Any, action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return action()
    except SoqlError:
        raise
    except (RecursionError, MemoryError):
        raise SoqlError("MALFORMED_QUERY", "the query is too complex") from None
    except Exception:
        log.exception("SOQL evaluation failed for %r", soql)
        raise SoqlError("MALFORMED_QUERY", "orgsim could not evaluate this query") from None


def execute(
    soql: str,
    source: Any,
    api: str = "rest",
    *,
    api_version: str = DEFAULT_API_VERSION,
    include_deleted: bool = False,
) -> dict[str, Any]:
    """Run `soql` against `source` (an Org or any RecordSource) as the REST (`api="rest"`) or Tooling query
    resource would. Returns `{"totalSize", "done", "records"}`; raises only `SoqlError`."""

    def action() -> dict[str, Any]:
        plan, store = _plan(soql, source, api, api_version, include_deleted)
        return _run(plan, store, include_deleted)

    return _guard(soql, action)


def column_metadata(
    soql: str, source: Any, api: str = "rest", *, api_version: str = DEFAULT_API_VERSION
) -> dict[str, Any]:
    """The answer to `GET .../query?q=...&columns=true`: `{"columnMetadata": [...], "entityName", "groupBy",
    "idSelected", "keyPrefix"}`. Raises only `SoqlError` (the same errors `execute` would)."""

    def action() -> dict[str, Any]:
        plan, _ = _plan(soql, source, api, api_version)
        return _metadata(plan)

    return _guard(soql, action)
