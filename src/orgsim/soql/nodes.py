"""The syntax tree of a parsed SOQL query (names as written; the engine resolves them against the schema)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldPath:
    """`Name`, `CronJobDetail.Name`, `Owner.Profile.Name`: relationship names, then a field name."""

    parts: tuple[str, ...]
    pos: int
    alias: str | None = None  # only in the SELECT list of an aggregate query
    function: str | None = None  # a date function applied to the field: CALENDAR_YEAR, DAY_ONLY, ...

    @property
    def text(self) -> str:
        path = ".".join(self.parts)
        return f"{self.function}({path})" if self.function else path


@dataclass(frozen=True)
class Aggregate:
    """`COUNT()`, `COUNT(Id)`, `COUNT_DISTINCT(x)`, `MIN/MAX/SUM/AVG(x)`, with an optional alias."""

    function: str  # upper case
    argument: FieldPath | None
    alias: str | None
    pos: int

    @property
    def text(self) -> str:
        return f"{self.function}({self.argument.text if self.argument else ''})"


@dataclass(frozen=True)
class FieldsFunction:
    """`FIELDS(ALL)`, `FIELDS(STANDARD)`, `FIELDS(CUSTOM)`."""

    which: str
    pos: int


@dataclass(frozen=True)
class ChildQuery:
    """`(SELECT Assignee.Name FROM Assignments WHERE ...)` in a SELECT list: `query.sobject` names a child
    relationship of the outer object, not an sobject."""

    query: Query
    pos: int


SelectItem = FieldPath | Aggregate | FieldsFunction | ChildQuery


@dataclass(frozen=True)
class Literal:
    """kind: string | number | boolean | null | date | datetime | date_literal (`TODAY`, `LAST_N_DAYS:n`)."""

    kind: str
    value: object
    pos: int
    text: str = ""  # raw text; for strings the undecoded content (LIKE needs the escapes)
    n: int | None = None  # the `:n` of N-date literals


@dataclass(frozen=True)
class SemiJoin:
    """`Id IN (SELECT CronJobDetailId FROM CronTrigger WHERE ...)`: one id or reference field, one level deep."""

    query: Query
    pos: int


@dataclass(frozen=True)
class Comparison:
    """`left op right`. op: = != < > <= >= LIKE IN NOT_IN INCLUDES EXCLUDES. IN-like ops carry a tuple of
    literals, or a SemiJoin."""

    left: FieldPath | Aggregate
    op: str
    right: Literal | tuple[Literal, ...] | SemiJoin
    pos: int


@dataclass(frozen=True)
class BoolOp:
    op: str  # AND | OR
    operands: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    operand: Condition


Condition = Comparison | BoolOp | Not


@dataclass(frozen=True)
class OrderItem:
    key: FieldPath | Aggregate
    descending: bool
    nulls_last: bool  # resolved default: ASC → NULLS FIRST, DESC → NULLS LAST


@dataclass
class Query:
    select: list[SelectItem]
    sobject: str
    sobject_pos: int
    alias: str | None = None
    where: Condition | None = None
    group_by: list[FieldPath] = field(default_factory=list)
    having: Condition | None = None
    order_by: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None
    with_clause: str | None = None  # SECURITY_ENFORCED / USER_MODE / SYSTEM_MODE: accepted, not enforced

    @property
    def count_only(self) -> bool:
        """`SELECT COUNT() FROM ...`: Salesforce answers with totalSize and no records."""
        return (
            len(self.select) == 1
            and isinstance(self.select[0], Aggregate)
            and self.select[0].function == "COUNT"
            and self.select[0].argument is None
        )

    @property
    def is_aggregate(self) -> bool:
        return not self.count_only and (bool(self.group_by) or any(isinstance(s, Aggregate) for s in self.select))
