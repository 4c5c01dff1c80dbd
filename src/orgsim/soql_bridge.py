"""The one place the HTTP layer calls the SOQL engine (`orgsim.soql`), turning its errors into API errors."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from orgsim.wire import SalesforceApiError

if TYPE_CHECKING:
    from orgsim.org import Org


def execute(soql: str, org: Org, *, api: str = "rest", all_rows: bool = False) -> dict[str, Any]:
    try:
        from orgsim import soql as engine
    except ImportError:
        return _temporary_fallback(soql, org, api)
    try:
        return engine.execute(soql, org, api=api, api_version=org.api_version, include_deleted=all_rows)
    except engine.SoqlError as error:
        raise SalesforceApiError(400, error.error_code, error.message) from None


def column_metadata(soql: str, org: Org, *, api: str = "rest") -> dict[str, Any]:
    try:
        from orgsim import soql as engine
    except ImportError:
        return {"columnMetadata": [], "entityName": None, "groupBy": False, "idSelected": False, "keyPrefix": None}
    try:
        return engine.column_metadata(soql, org, api=api, api_version=org.api_version)
    except engine.SoqlError as error:
        raise SalesforceApiError(400, error.error_code, error.message) from None


# TEMPORARY: a stand-in until orgsim.soql (helper C) lands; remove it then. Handles `SELECT f, ... FROM X
# [WHERE a = 'b' [AND ...]] [LIMIT n]` only, enough for `sf org login access-token`.
_SIMPLE = re.compile(r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<sobject>\w+)(?P<rest>.*)$", re.I | re.S)


def _temporary_fallback(soql: str, org: Org, api: str) -> dict[str, Any]:
    found = _SIMPLE.match(soql)
    if found is None:
        raise SalesforceApiError(400, "MALFORMED_QUERY", "unexpected token")
    sobject = found.group("sobject")
    schema = org.schema
    if schema is not None and not schema.has_object(sobject, api):
        raise SalesforceApiError(400, "INVALID_TYPE", f"sObject type '{sobject}' is not supported.")
    names = [name.strip() for name in found.group("fields").split(",")]
    records = org.store.list(sobject)
    rest = found.group("rest")
    for field, value in re.findall(r"(\w+)\s*=\s*'([^']*)'", rest):
        records = [record for record in records if str(record.get(field)) == value]
    limit = re.search(r"LIMIT\s+(\d+)", rest, re.I)
    if limit:
        records = records[: int(limit.group(1))]
    rows = [
        {"attributes": {"type": sobject, "url": f"/services/data/v{org.api_version}/sobjects/{sobject}/{r['Id']}"}}
        | {name: r.get(name) for name in names}
        for r in records
    ]
    return {"totalSize": len(rows), "done": True, "records": rows}
