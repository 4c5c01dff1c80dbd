"""Evaluate a parsed query over an org's records and shape the answer like Salesforce's REST query resource.

The work is split by stage: `source` (what is read), `values` (normalisation), `bound` (resolved columns),
`filters` (WHERE/HAVING tests), `plan` (the compiled query), `results` (running and shaping). This module
holds the entry points and re-exports the stages' names for existing importers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from orgsim.schema import Schema
from orgsim.soql.bound import BoundAggregate, BoundChild, BoundField, Hop, _Ctx, _matching
from orgsim.soql.errors import SoqlError
from orgsim.soql.filters import _comparison_test, _like_match, _like_pattern, _literal_value, _scalar_test
from orgsim.soql.parser import parse
from orgsim.soql.plan import FIELDS_FUNCTION_MAX_LIMIT, _Plan, _semi_join_ids
from orgsim.soql.results import _metadata, _run, _run_aggregate, _shape, _tree
from orgsim.soql.source import RecordSource, RecordStore, StaticSource
from orgsim.soql.values import _category, _date_function, _field_value, _normalize, _raw, _to_date, _to_datetime

__all__ = [
    "DEFAULT_API_VERSION",
    "FIELDS_FUNCTION_MAX_LIMIT",
    "BoundAggregate",
    "BoundChild",
    "BoundField",
    "Hop",
    "RecordSource",
    "RecordStore",
    "StaticSource",
    "_Ctx",
    "_Plan",
    "_category",
    "_comparison_test",
    "_date_function",
    "_field_value",
    "_like_match",
    "_like_pattern",
    "_literal_value",
    "_matching",
    "_metadata",
    "_normalize",
    "_raw",
    "_run",
    "_run_aggregate",
    "_scalar_test",
    "_semi_join_ids",
    "_shape",
    "_to_date",
    "_to_datetime",
    "_tree",
    "column_metadata",
    "execute",
]

log = logging.getLogger("orgsim.soql")

DEFAULT_API_VERSION = "62.0"


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
