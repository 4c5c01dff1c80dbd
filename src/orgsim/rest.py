"""REST API endpoints: identity, versions, limits, SOQL queries and sobject create/read/update/delete."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import quote

from orgsim import soql_bridge
from orgsim.store import format_datetime, parse_datetime
from orgsim.wire import Request, Response, SalesforceApiError, json_response, not_found

QUERY_BATCH_SIZE = 2000
# Open query cursors kept (Salesforce keeps 10 per user and drops the oldest); unread pages must not pile up.
MAX_OPEN_QUERY_CURSORS = 10
FIRST_VERSION = 31

# Objects whose rows Salesforce itself maintains: the REST API refuses to insert, update or delete them.
SYSTEM_MANAGED = frozenset(
    name.lower()
    for name in (
        "Organization",
        "CronTrigger",
        "CronJobDetail",
        "AsyncApexJob",
        "ApexLog",
        "ApexTestRunResult",
        "ApexTestQueueItem",
        "ApexTestResult",
        "ApexCodeCoverage",
        "ApexCodeCoverageAggregate",
        "ApexOrgWideCoverage",
        "SetupAuditTrail",
    )
)

_RELEASE_NAMES = {
    62: "Winter '25",
    63: "Spring '25",
    64: "Summer '25",
    65: "Winter '26",
    61: "Summer '24",
    60: "Spring '24",
}


def _instance_url(request: Request) -> str:
    host = request.headers.get("host", "127.0.0.1")
    return f"http://{host}"


# -- identity and discovery ------------------------------------------------------------------------------------
def userinfo(request: Request) -> Response:
    org = request.org
    identity = org.scenario.org
    base = _instance_url(request)
    first, _, last = identity.user_name.rpartition(" ")
    return json_response(
        {
            "sub": f"{base}/id/{identity.org_id}/{identity.user_id}",
            "user_id": identity.user_id,
            "organization_id": identity.org_id,
            "preferred_username": identity.username,
            "nickname": identity.username.split("@")[0],
            "name": identity.user_name,
            "given_name": first,
            "family_name": last,
            "email": identity.user_email,
            "email_verified": True,
            "zoneinfo": "America/New_York",
            "locale": "en_US",
            "language": "en_US",
            "active": True,
            "user_type": "STANDARD",
            "is_app_installed": True,
            "utcOffset": -18000000,
            "updated_at": org.now_text(),
            "urls": {
                "rest": f"{base}/services/data/v{{version}}/",
                "sobjects": f"{base}/services/data/v{{version}}/sobjects/",
                "query": f"{base}/services/data/v{{version}}/query/",
                "metadata": f"{base}/services/Soap/m/{{version}}/{identity.org_id[:15]}",
                "profile": f"{base}/{identity.user_id}",
            },
        }
    )


def single_access(request: Request) -> Response:
    """`sf org open --url-only`: a one-time frontdoor link (never the access token itself)."""
    otp = uuid.uuid4().hex
    redirect = request.arg("redirect_uri")
    uri = f"{_instance_url(request)}/secur/frontdoor.jsp?otp={otp}"
    if redirect:
        uri += f"&startURL={quote(redirect, safe='')}"
    return json_response({"frontdoor_uri": uri})


def frontdoor(request: Request) -> Response:
    """What a browser sees at the frontdoor link: orgsim has no UI, so say so plainly."""
    identity = request.org.scenario.org
    page = (
        "<!DOCTYPE html><html><head><title>orgsim</title></head><body>"
        f"<h1>{escape(identity.org_name)}</h1><p>orgsim emulates this org's APIs for the sf CLI; it has no web UI.</p>"
        f"<p>Org id {escape(identity.org_id)}, user {escape(identity.username)}.</p></body></html>"
    )
    return Response(status=200, body=page.encode(), content_type="text/html;charset=UTF-8")


def versions(request: Request) -> Response:
    highest = int(float(request.org.api_version))
    return json_response(
        [
            {
                "label": _RELEASE_NAMES.get(major, f"API {major}"),
                "url": f"/services/data/v{major}.0",
                "version": f"{major}.0",
            }
            for major in range(FIRST_VERSION, highest + 1)
        ]
    )


def resources(request: Request) -> Response:
    prefix = f"/services/data/v{request.api_version}"
    names = ("sobjects", "query", "queryAll", "tooling", "limits", "metadata", "analytics", "connect", "search")
    return json_response({name: f"{prefix}/{name}" for name in names})


def limits(request: Request) -> Response:
    return json_response(request.org.limits())


# -- queries ---------------------------------------------------------------------------------------------------
def _run_query(request: Request, *, api: str, all_rows: bool = False) -> Response:
    soql = request.arg("q") or request.arg("query")
    if not soql:
        raise SalesforceApiError(400, "MALFORMED_QUERY", "The query string parameter q is required")
    org = request.org
    if request.arg("columns", "").lower() == "true":
        return json_response(soql_bridge.column_metadata(soql, org, api=api))
    result = soql_bridge.execute(soql, org, api=api, all_rows=all_rows)
    return json_response(_page(request, result, api=api))


def _page(request: Request, result: dict[str, Any], *, api: str) -> dict[str, Any]:
    """Cut a result into QUERY_BATCH_SIZE pages; the rest waits under a `nextRecordsUrl` locator."""
    records = result.get("records", [])
    if len(records) <= QUERY_BATCH_SIZE:
        return result
    locator = f"01g{uuid.uuid4().hex[:15]}"
    cursors = request.org.query_cursors
    base = f"/services/data/v{request.api_version}/{'tooling/' if api == 'tooling' else ''}query"
    with request.org.lock:
        for start in range(QUERY_BATCH_SIZE, len(records), QUERY_BATCH_SIZE):
            page_records = records[start : start + QUERY_BATCH_SIZE]
            done = start + QUERY_BATCH_SIZE >= len(records)
            page: dict[str, Any] = {"totalSize": result["totalSize"], "done": done, "records": page_records}
            if not done:
                page["nextRecordsUrl"] = f"{base}/{locator}-{start + QUERY_BATCH_SIZE}"
            cursors[f"{locator}-{start}"] = page
        open_locators = list(dict.fromkeys(key.rsplit("-", 1)[0] for key in cursors))  # oldest first
        for stale in open_locators[:-MAX_OPEN_QUERY_CURSORS]:
            for key in [key for key in cursors if key.startswith(stale + "-")]:
                del cursors[key]
    first = {**result, "done": False, "records": records[:QUERY_BATCH_SIZE]}
    first["nextRecordsUrl"] = f"{base}/{locator}-{QUERY_BATCH_SIZE}"
    return first


def query(request: Request) -> Response:
    return _run_query(request, api="rest")


def query_all(request: Request) -> Response:
    return _run_query(request, api="rest", all_rows=True)


def query_more(request: Request) -> Response:
    with request.org.lock:
        page = request.org.query_cursors.pop(request.params["locator"], None)
    if page is None:
        raise SalesforceApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    return json_response(page)


# -- sobjects --------------------------------------------------------------------------------------------------
def _canonical_object(request: Request, name: str, api: str) -> str:
    schema = request.org.schema
    if schema is None:
        return name
    canonical = schema.get_object(name, api)
    if canonical is None:
        raise not_found()
    return canonical.name


def describe_global(request: Request, *, api: str = "rest") -> Response:
    schema = request.org.schema
    names = schema.object_names(api) if schema is not None else request.org.store.sobjects()
    sobjects = []
    for name in names:
        prefix = schema.key_prefix(name) if schema is not None else None
        sobjects.append(
            {
                "name": name,
                "label": name,
                "keyPrefix": prefix,
                "custom": name.endswith("__c"),
                "queryable": True,
                "createable": name.lower() not in SYSTEM_MANAGED,
                "deletable": name.lower() not in SYSTEM_MANAGED,
                "urls": {"sobject": f"/services/data/v{request.api_version}/sobjects/{name}"},
            }
        )
    return json_response({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects})


def describe(request: Request, *, api: str = "rest") -> Response:
    name = _canonical_object(request, request.params["sobject"], api)
    schema = request.org.schema
    if schema is None:
        return json_response({"name": name, "fields": [], "custom": name.endswith("__c")})
    return json_response(schema.describe(name))


def _coerce(request: Request, sobject: str, values: dict[str, Any]) -> dict[str, Any]:
    """Check field names against the schema and convert values to the field's type, as the API does."""
    schema = request.org.schema
    if not isinstance(values, dict):
        raise SalesforceApiError(400, "JSON_PARSER_ERROR", "Expected a JSON object of field values")
    coerced: dict[str, Any] = {}
    for name, value in values.items():
        if name == "attributes":
            continue
        field = schema.field(sobject, name) if schema is not None else None
        if schema is not None and field is None:
            raise SalesforceApiError(
                400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject}", fields=[name]
            )
        if field is None:
            coerced[name] = value
            continue
        if name.lower() in ("id", "createddate", "lastmodifieddate", "systemmodstamp", "createdbyid"):
            raise SalesforceApiError(
                400, "INVALID_FIELD_FOR_INSERT_UPDATE", f"Unable to create/update fields: {field.name}.", fields=[name]
            )
        coerced[field.name] = _convert(field.type, field.name, value)
    return coerced


def _convert(field_type: str, name: str, value: Any) -> Any:
    if value is None or value == "":
        return None
    try:
        if field_type == "boolean":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "false"):
                return str(value).lower() == "true"
            raise ValueError(value)
        if field_type in ("int", "long"):
            return int(float(value))
        if field_type in ("double", "currency", "percent"):
            number = float(value)
            return int(number) if number.is_integer() and not isinstance(value, float) else number
        if field_type == "datetime":
            return format_datetime(parse_datetime(str(value)))
        if field_type == "date":
            return datetime.fromisoformat(str(value)[:10]).date().isoformat()
    except (TypeError, ValueError):
        raise SalesforceApiError(
            400, "INVALID_TYPE_ON_FIELD_IN_RECORD", f"{name}: value not of required type: {value}", fields=[name]
        ) from None
    return value


def _with_attributes(
    request: Request, sobject: str, record: dict[str, Any], *, tooling: bool = False
) -> dict[str, Any]:
    base = f"/services/data/v{request.api_version}/{'tooling/' if tooling else ''}sobjects/{sobject}/{record['Id']}"
    return {"attributes": {"type": sobject, "url": base}, **record}


def sobject_root(request: Request, *, api: str = "rest") -> Response:
    sobject = _canonical_object(request, request.params["sobject"], api)
    if request.method == "GET":
        recent = request.org.store.list(sobject)[-10:]
        return json_response(
            {
                "objectDescribe": {"name": sobject, "custom": sobject.endswith("__c")},
                "recentItems": [_with_attributes(request, sobject, r, tooling=api == "tooling") for r in recent],
            }
        )
    if sobject.lower() in SYSTEM_MANAGED:
        raise SalesforceApiError(400, "INVALID_TYPE_FOR_OPERATION", f"entity type {sobject} does not support insert")
    values = _coerce(request, sobject, request.json())
    if sobject == "User" or "OwnerId" in _field_names(request, sobject):
        values.setdefault("OwnerId", request.org.user_id)
    if "Name" in _field_names(request, sobject) and sobject.endswith("__c"):
        values.setdefault("Name", _auto_name(request, sobject))
    record_id = request.org.store.insert(sobject, values)
    return json_response({"id": record_id, "success": True, "errors": []}, 201)


def _field_names(request: Request, sobject: str) -> set[str]:
    schema = request.org.schema
    if schema is None:
        return set()
    try:
        return {field.name for field in schema.fields(sobject)}
    except KeyError:
        return set()


def _auto_name(request: Request, sobject: str) -> str:
    return f"{sobject.removesuffix('__c').replace('_', ' ')} {request.org.store.count(sobject) + 1}"


def record(request: Request, *, api: str = "rest") -> Response:
    sobject = _canonical_object(request, request.params["sobject"], api)
    record_id = request.params["record_id"]
    store = request.org.store
    found = store.get(record_id) if re.fullmatch(r"[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?", record_id) else None
    if found is None or found[0].lower() != sobject.lower():
        raise not_found(f"Provided external ID field does not exist or is not accessible: {record_id}")
    _, fields = found
    if request.method == "GET":
        wanted = request.arg("fields")
        if wanted:
            names = [name.strip() for name in wanted.split(",") if name.strip()]
            fields = {name: fields.get(name) for name in ["Id", *names]}
        return json_response(_with_attributes(request, sobject, fields, tooling=api == "tooling"))
    if sobject.lower() in SYSTEM_MANAGED:
        verb = "delete" if request.method == "DELETE" else "update"
        raise SalesforceApiError(400, "INVALID_TYPE_FOR_OPERATION", f"entity type {sobject} does not support {verb}")
    if request.method == "DELETE":
        store.delete(record_id)
        return Response(status=204)
    store.update(record_id, _coerce(request, sobject, request.json()))
    return Response(status=204)
