"""orgsim's SOQL subset: a tokenizer, a recursive-descent parser and an evaluator over the org's records.

Entry points
------------
- `execute(soql, source, api="rest") -> dict`: the REST/Tooling query answer
  `{"totalSize": n, "done": True, "records": [...]}`; records carry `attributes` (`type`, `url`), fields in
  the schema's canonical casing, relationship fields nested as objects (`null` when the reference is empty).
- `column_metadata(soql, source, api="rest") -> dict`: the `&columns=true` answer `sf data query` asks for.
- `parse(soql) -> Query`: the syntax tree only.
- `SoqlError(error_code, message)`: the only exception `execute`/`column_metadata` raise. Codes and messages are
  Salesforce's: MALFORMED_QUERY, INVALID_TYPE, INVALID_FIELD, INVALID_QUERY_FILTER_OPERATOR,
  NUMBER_OUTSIDE_VALID_RANGE, with the `\\n<line>\\n   ^\\nERROR at Row:r:Column:c\\n<text>` layout.

`source` is an `orgsim.org.Org` or anything with `.store` (`list(sobject)`, `get(id)`), `.schema`
(`orgsim.schema.Schema`) and `.now()`; `StaticSource` is an in-memory one for tests.

Grammar (keywords, object and field names are case-insensitive)
--------------------------------------------------------------
    query      := SELECT select_list FROM object [alias] [USING SCOPE word] [WHERE condition]
                  [WITH (SECURITY_ENFORCED | USER_MODE | SYSTEM_MODE)]
                  [GROUP BY expr {, expr} [HAVING condition]] [ORDER BY order {, order}]
                  [LIMIT int] [OFFSET int] [FOR (VIEW | REFERENCE | UPDATE)]
    select_list:= item {, item}
    item       := expr [alias] | aggregate | FIELDS(ALL | STANDARD | CUSTOM)   -- field aliases: aggregate queries
                | ( SELECT ... FROM child_relationship [WHERE] [ORDER BY] [LIMIT] [OFFSET] )   -- one level
    expr       := path | date_function ( path )     -- date functions in SELECT only with GROUP BY
    date_function := CALENDAR_YEAR | CALENDAR_QUARTER | CALENDAR_MONTH | DAY_IN_MONTH | DAY_IN_WEEK | DAY_IN_YEAR
                | DAY_ONLY | HOUR_IN_DAY | WEEK_IN_MONTH | WEEK_IN_YEAR | FISCAL_YEAR | FISCAL_QUARTER | FISCAL_MONTH
    aggregate  := (COUNT | COUNT_DISTINCT | MIN | MAX | SUM | AVG) ( [path] ) [alias]   -- COUNT() alone
    path       := name {. name}          -- relationship names, then a field: CronJobDetail.Name, Owner.Profile.Name
    condition  := unary {AND unary} | unary {OR unary}   -- mixing AND and OR needs parentheses, as in Salesforce
    unary      := NOT unary | ( condition ) | comparison
    comparison := lhs (= | != | <> | < | <= | > | >=) value | lhs LIKE string
                | lhs [NOT] IN ( value {, value} ) | lhs (INCLUDES | EXCLUDES) ( string {, string} )
                | path [NOT] IN ( SELECT path FROM object [WHERE condition] ... )   -- semi-/anti-join, id
                  or reference fields only, one level deep, WHERE only
    lhs        := expr | aggregate (HAVING only)
    value      := 'string' | number | TRUE | FALSE | NULL | 2026-11-27 | 2026-11-27T00:00:00Z (or +hh:mm)
                | date literal: TODAY YESTERDAY TOMORROW {LAST|THIS|NEXT}_{WEEK|MONTH|QUARTER|YEAR}
                  LAST_90_DAYS NEXT_90_DAYS {LAST|NEXT}_N_{DAYS|WEEKS|MONTHS|QUARTERS|YEARS}:n
                  N_{DAYS|WEEKS|MONTHS|QUARTERS|YEARS}_AGO:n (and the _FISCAL_ variants)
    order      := (expr | aggregate) [ASC | DESC] [NULLS (FIRST | LAST)]

Semantics
---------
- Strings: escapes \\' \\" \\\\ \\n \\r \\t \\b \\f \\uXXXX \\% \\_ ; `=`, `!=`, `<`... and LIKE on text are
  case-insensitive; LIKE takes `%` (any run) and `_` (one character), `\\%`/`\\_` match themselves.
- Ids compare on their first 15 characters (15- and 18-character forms are equal); a malformed id literal is
  INVALID_QUERY_FILTER_OPERATOR "invalid ID field: ...".
- Literal types are checked against the field type like Salesforce: a quoted value on a boolean, number, date or
  datetime field, an unquoted one on a text field, or a plain date on a datetime field is INVALID_FIELD
  "value of filter criterion for field 'X' must be of type ...".
- `!=` and NOT IN match null values; `<`, `>`... never match null. `= null` / `!= null` test for absence.
- Date literals are ranges in the org's time zone, which is **UTC**: `CreatedDate = TODAY` means
  "in [today 00:00Z, tomorrow 00:00Z)"; `<` is before the range, `>` after it. Weeks start on Sunday; the
  fiscal year is the calendar year. LAST_N_DAYS:n covers the n previous days and today; NEXT_N_DAYS:n the n
  following days (not today).
- Date functions work in UTC too (DAY_IN_WEEK: 1 = Sunday; DAY_ONLY yields `YYYY-MM-DD`); in aggregate
  results an unaliased date function column is an `exprN`, numbered together with the aggregates.
- ORDER BY defaults to ASC NULLS FIRST; DESC implies NULLS LAST. Text sorts case-insensitively.
- `COUNT()` answers `totalSize` = number of rows and `records: []`. Aggregates (and GROUP BY) answer
  `AggregateResult` records whose unaliased aggregate columns are `expr0`, `expr1`...; without GROUP BY there is
  exactly one row. Grouped relationship fields appear under their last name (`Name`).
- Records with `IsDeleted = true` are skipped unless `include_deleted=True` (queryAll).
- `WITH SECURITY_ENFORCED | USER_MODE | SYSTEM_MODE`, `USING SCOPE` and `FOR VIEW/REFERENCE/UPDATE` are
  accepted and ignored: orgsim has one all-powerful user and no sharing.
- All rows come back in one page (`done: true`, no `nextRecordsUrl`); paging is the HTTP layer's business.

- A child-relationship subquery (`(SELECT Assignee.Name FROM Assignments)`) answers, per parent,
  `{"totalSize", "done", "records"}` or null when the parent has no children; names come from
  `Schema.child_relationships`.

Not supported (MALFORMED_QUERY naming the feature): nested subqueries and semi-joins, TYPEOF, GROUP BY
ROLLUP/CUBE, functions other than the aggregates, date functions and FIELDS (toLabel, FORMAT, convertCurrency,
convertTimezone...), bind variables (`:x`, as over REST), OFFSET above 2000.
Fidelity notes: ApexLog has no CreatedDate/CreatedById (as in real Salesforce; filter on StartTime), so
`... FROM ApexLog WHERE CreatedDate = TODAY` and `SELECT Message, LogCategory FROM ApexLog` are INVALID_FIELD.
ScratchOrgInfo exists only in a Dev Hub org (`Schema(dev_hub=True)`), so the CLI's probe gets INVALID_TYPE.
"""

from orgsim.soql.engine import DEFAULT_API_VERSION, RecordSource, RecordStore, StaticSource, column_metadata, execute
from orgsim.soql.errors import SoqlError
from orgsim.soql.parser import parse

__all__ = [
    "DEFAULT_API_VERSION",
    "RecordSource",
    "RecordStore",
    "SoqlError",
    "StaticSource",
    "column_metadata",
    "execute",
    "parse",
]
