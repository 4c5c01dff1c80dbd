"""Property tests: whatever text arrives, the SOQL engine answers or raises SoqlError, nothing else."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orgsim.schema import Schema
from orgsim.soql import SoqlError, StaticSource, column_metadata, execute

SOURCE = StaticSource(
    Schema(),
    {
        "User": [{"Id": "005000000000001AAA", "Name": "Ada", "IsActive": True}],
        "CronJobDetail": [{"Id": "08a000000000001AAA", "Name": "ElaroJob"}],
        "CronTrigger": [
            {
                "Id": "08e000000000001AAA",
                "CronJobDetailId": "08a000000000001AAA",
                "State": "WAITING",
                "TimesTriggered": 3,
            }
        ],
    },
    now=datetime(2026, 11, 27, 12, tzinfo=UTC),
)

TOKENS = [
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "LIMIT", "OFFSET", "ORDER", "BY", "GROUP", "HAVING",
    "ASC", "DESC", "NULLS", "FIRST", "LAST", "WITH", "SECURITY_ENFORCED", "COUNT", "COUNT()", "MAX", "FIELDS", "ALL",
    "Id", "Name", "State", "CronJobDetail", "CronJobDetail.Name", "CronTrigger", "User", "IsActive", "NextFireTime",
    "TimesTriggered", "Foo__c", "Nope", "TODAY", "LAST_N_DAYS", ":", "5", "-1", "2.5", "1e400", "2026-11-27",
    "2026-11-27T00:00:00Z", "2026-13-40", "'Elaro%'", "'x\\'y'", "'unterminated", "'\\q'", "null", "true", "(", ")",
    ",", ".", "=", "!=", "<>", "<", ">=", "%", '"', "\\", "\n", "\u00e9", "ORDER BY", "GROUP BY",
    "DAY_ONLY", "HOUR_IN_DAY", "CALENDAR_YEAR", "IN (SELECT Id FROM CronJobDetail)", "n", "COUNT(Id)",
]  # fmt: skip

token_soup = st.lists(st.sampled_from(TOKENS), max_size=25).map(" ".join)
prefixed_soup = st.lists(st.sampled_from(TOKENS), max_size=20).map(lambda ts: "SELECT " + " ".join(ts))
text = st.text(max_size=80)


def _only_soql_errors(soql: str, api: str) -> None:
    for call in (execute, column_metadata):
        try:
            result = call(soql, SOURCE, api)
        except SoqlError as exc:
            assert exc.error_code and isinstance(exc.message, str)
            continue
        assert isinstance(result, dict)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(soql=st.one_of(token_soup, prefixed_soup, text), api=st.sampled_from(["rest", "tooling"]))
def test_random_input_only_raises_soql_error(soql: str, api: str) -> None:
    _only_soql_errors(soql, api)


@settings(max_examples=200, deadline=None)
@given(
    where=st.lists(st.sampled_from(TOKENS[13:]), min_size=1, max_size=12).map(" ".join),
    order=st.sampled_from(["", " ORDER BY Name", " ORDER BY CronJobDetail.Name DESC NULLS FIRST"]),
)
def test_random_where_clauses_on_a_valid_prefix(where: str, order: str) -> None:
    _only_soql_errors(f"SELECT Id, CronJobDetail.Name FROM CronTrigger WHERE {where}{order}", "rest")


FIELDS = [
    "Id", "State", "NextFireTime", "TimesTriggered", "CronJobDetailId", "CronJobDetail.Name", "Nope",
    "HOUR_IN_DAY(NextFireTime)", "DAY_ONLY(NextFireTime)",
]  # fmt: skip
SEMI_JOIN = "(SELECT Id FROM CronJobDetail WHERE Name LIKE 'E%')"
LITERALS = [
    "'WAITING'", "'Elaro%'", "'08e000000000001AAA'", "'bad id'", "3", "2.5", "-1", "true", "null", "TODAY",
    "LAST_N_DAYS:3", "NEXT_N_WEEKS:2", "THIS_YEAR", "2026-11-27", "2026-11-27T12:00:00Z", "2026-11-27T12:00:00+05:30",
]  # fmt: skip
OPERATORS = ["=", "!=", "<", ">=", "LIKE", "IN", "NOT IN"]
KNOWN_CODES = {
    "MALFORMED_QUERY",
    "INVALID_FIELD",
    "INVALID_TYPE",
    "INVALID_QUERY_FILTER_OPERATOR",
    "NUMBER_OUTSIDE_VALID_RANGE",
}


@st.composite
def structured_queries(draw: st.DrawFn) -> str:
    """Well-formed queries (mostly) whose fields, operators and literal types are mixed at random."""
    select = draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=4, unique=True))
    if draw(st.booleans()):
        select = draw(st.sampled_from([["COUNT()"], ["State", "COUNT(Id) n"], ["MAX(NextFireTime)", "COUNT(Id)"]]))
    conditions = []
    for _ in range(draw(st.integers(0, 3))):
        field = draw(st.sampled_from(FIELDS))
        op = draw(st.sampled_from(OPERATORS))
        values = draw(st.lists(st.sampled_from(LITERALS), min_size=1, max_size=3))
        value = f"({', '.join(values)})" if "IN" in op else values[0]
        if "IN" in op and draw(st.integers(0, 3)) == 0:
            value = SEMI_JOIN
        conditions.append(("NOT " if draw(st.booleans()) else "") + f"{field} {op} {value}")
    where = f" WHERE {draw(st.sampled_from([' AND ', ' OR '])).join(conditions)}" if conditions else ""
    group = " GROUP BY State" if "State" in select and any("(" in s for s in select) else ""
    order = ""
    if draw(st.booleans()) and not group:
        order = f" ORDER BY {draw(st.sampled_from(FIELDS))} {draw(st.sampled_from(['', 'DESC', 'ASC NULLS LAST']))}"
    limit = f" LIMIT {draw(st.integers(0, 5))}" if draw(st.booleans()) else ""
    return f"SELECT {', '.join(select)} FROM CronTrigger{where}{group}{order}{limit}"


@settings(max_examples=300, deadline=None)
@given(soql=structured_queries())
def test_structured_queries_answer_consistently_or_fail_with_salesforce_codes(soql: str) -> None:
    try:
        result = execute(soql, SOURCE)
    except SoqlError as exc:
        assert exc.error_code in KNOWN_CODES, (soql, exc)
        assert "could not evaluate" not in exc.message, soql  # an internal failure, not a query error
        return
    assert result["done"] is True
    if "COUNT()" in soql:
        assert result["records"] == []
    else:
        assert result["totalSize"] == len(result["records"])
        assert all("attributes" in record for record in result["records"])


@settings(max_examples=500, deadline=None)
@given(pattern=st.text(alphabet="aB%_\\", max_size=8), text=st.text(alphabet="abB%_", max_size=10))
def test_like_matcher_agrees_with_a_regex_translation(pattern: str, text: str) -> None:
    import re

    from orgsim.soql.engine import _like_match, _like_pattern

    if pattern.endswith("\\") and not pattern.endswith("\\\\"):
        pattern = pattern[:-1]
    regex, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            regex.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        regex.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    expected = re.fullmatch("".join(regex), text, re.IGNORECASE | re.DOTALL) is not None
    assert _like_match(_like_pattern(pattern), text.casefold()) == expected
