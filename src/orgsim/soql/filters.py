"""WHERE/HAVING comparisons: literals checked and converted against the field type, scalar and date-range
tests, LIKE matching, IN/INCLUDES/EXCLUDES and semi-joins."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, time
from typing import Any

from orgsim.soql.bound import _Ctx
from orgsim.soql.dates import date_range
from orgsim.soql.errors import SoqlError, malformed, positioned
from orgsim.soql.nodes import Comparison, Literal, SemiJoin
from orgsim.soql.values import _category

_ID_RE = re.compile(r"[A-Za-z0-9]{15}([A-Za-z0-9]{3})?")
_UNFILTERABLE = frozenset({"complexvalue", "base64", "anyType"})
_TYPE_WORDS = {"boolean": "boolean", "number": "double", "date": "date", "datetime": "dateTime", "time": "time"}


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


def _comparison_test(
    ctx: _Ctx,
    cmp: Comparison,
    f_type: str,
    f_name: str,
    *,
    semi_join_ids: Callable[[_Ctx, SemiJoin], set[str]],
) -> Callable[[Any], bool]:
    """A predicate over the *normalised* value of the left side. `semi_join_ids` evaluates an
    `IN (SELECT ...)` sub-select (the plan module's, passed in to keep the modules acyclic)."""
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
        ids = semi_join_ids(ctx, cmp.right)
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
