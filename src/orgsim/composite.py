"""REST Composite resources: several REST calls in one HTTP request (one `sf api request rest` instead of several).

* `POST /services/data/vNN.0/composite` takes `{"allOrNone": bool, "compositeRequest": [{"method", "url",
  "referenceId", "body"?, "httpHeaders"?}]}` and answers 200 with `{"compositeResponse": [{"body", "httpHeaders",
  "httpStatusCode", "referenceId"}]}`, one entry per subrequest in order. A failed subrequest carries Salesforce's
  error list as its body. With `allOrNone: true` the first failure rolls every change back and every other
  subrequest answers 400 `PROCESSING_HALTED`. `@{ref.path}` in a later url or body reads an earlier result
  (`@{gaps.records[0].Id}`); a reference to a failed subrequest is `PROCESSING_HALTED` too.
* `POST /services/data/vNN.0/tooling/composite`: the same for Tooling API urls (`…/tooling/query?q=…`); each of
  the two refuses the other API's urls, as Salesforce does.
* `POST /services/data/vNN.0/composite/batch` takes `{"haltOnError": bool, "batchRequests": [{"method", "url"}]}`
  (urls relative to `/services/data/`, such as `v62.0/query?q=...`) and answers `{"hasErrors", "results":
  [{"statusCode", "result"}]}`; after a failure with `haltOnError` the rest answer 412 `BATCH_PROCESSING_HALTED`.

Limits as on Salesforce: at most 25 subrequests, of which at most 5 queries in a composite request.
The subrequests themselves are answered by the same handlers as direct calls (the server passes a `SubCall`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from orgsim.wire import Request, Response, SalesforceApiError, json_response

SubCall = Callable[[str, str, bytes], Response]  # (method, url with query string, body) -> response

MAX_SUBREQUESTS = 25
MAX_QUERIES = 5
METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE", "HEAD")
HALTED = "The transaction was rolled back since another operation in the same transaction failed."
_REFERENCE = re.compile(r"@\{([A-Za-z0-9_]+)\.([^}]+)\}")
_REFERENCE_ID = re.compile(r"^[A-Za-z0-9_]+$")
_TOOLING_URL = re.compile(r"/services/data/v\d+\.\d/tooling/")
_QUERY_URL = re.compile(r"/services/data/v\d+\.\d/(?:tooling/)?query(?:All)?(?:[/?]|$)")


class _Halt(Exception):
    """A subrequest failed in an allOrNone composite: undo everything."""


def _invalid(message: str, code: str = "INVALID_INPUT") -> SalesforceApiError:
    return SalesforceApiError(400, code, message)


def _body_of(response: Response) -> Any:
    if not response.body:
        return None
    try:
        return json.loads(response.body)
    except ValueError:
        return response.body.decode("utf-8", "replace")


def _walk(value: Any, path: str) -> Any:
    """`records[0].Id` inside a subrequest result; raises KeyError when it is not there."""
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("["):
            index = int(part[1:-1])
            if not isinstance(value, list) or index >= len(value):
                raise KeyError(path)
            value = value[index]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise KeyError(path)
    if isinstance(value, (dict, list)):
        raise KeyError(path)
    return value


def _resolve(text: str, results: dict[str, tuple[int, Any]]) -> str:
    """Replace `@{ref.path}` with earlier results; raises _Unresolved naming the first reference it cannot read."""

    def value(match: re.Match[str]) -> str:
        ref, path = match.group(1), match.group(2)
        status, body = results.get(ref, (0, None))
        if status == 0 or status >= 400:
            raise _Unresolved(f"{ref}.{path}", ref)
        try:
            return str(_walk(body, path))
        except KeyError:
            raise _Unresolved(f"{ref}.{path}", ref) from None

    return _REFERENCE.sub(value, text)


class _Unresolved(Exception):
    def __init__(self, expression: str, ref: str) -> None:
        super().__init__(expression)
        self.message = f"Invalid reference specified. No value for {expression} found in {ref}."


def _subrequests(payload: Any, tooling: bool) -> tuple[list[dict[str, Any]], bool]:
    if not isinstance(payload, dict) or not isinstance(payload.get("compositeRequest"), list):
        raise _invalid("The request body must hold a compositeRequest array", "JSON_PARSER_ERROR")
    subs = payload["compositeRequest"]
    if not subs:
        raise _invalid("compositeRequest needs at least one subrequest")
    if len(subs) > MAX_SUBREQUESTS:
        raise _invalid(f"A composite request can hold at most {MAX_SUBREQUESTS} subrequests", "LIMIT_EXCEEDED")
    seen: set[str] = set()
    queries = 0
    for sub in subs:
        if not isinstance(sub, dict):
            raise _invalid("Each subrequest must be a JSON object", "JSON_PARSER_ERROR")
        method, url, ref = sub.get("method"), sub.get("url"), sub.get("referenceId")
        if not isinstance(method, str) or method.upper() not in METHODS:
            raise _invalid(f"Invalid method for subrequest {ref}: {method}")
        if not isinstance(url, str) or not url.startswith("/services/data/"):
            raise _invalid(f"The url of subrequest {ref} must start with /services/data/: {url}")
        if bool(_TOOLING_URL.match(url)) != tooling:
            api = "the Tooling API's /tooling/composite" if not tooling else "/composite (REST API)"
            raise _invalid(f"The url of subrequest {ref} belongs in {api}: {url}")
        if not isinstance(ref, str) or not _REFERENCE_ID.match(ref):
            raise _invalid(f"Invalid referenceId: {ref} (letters, digits and underscores only)")
        if ref.lower() in seen:
            raise _invalid(f"Duplicate referenceId provided in the request: {ref}")
        seen.add(ref.lower())
        queries += 1 if _QUERY_URL.match(url) else 0
    if queries > MAX_QUERIES:
        raise _invalid(f"A composite request can hold at most {MAX_QUERIES} query subrequests", "LIMIT_EXCEEDED")
    return subs, bool(payload.get("allOrNone"))


def _entry(body: Any, status: int, ref: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {"body": body, "httpHeaders": headers or {}, "httpStatusCode": status, "referenceId": ref}


def _halted(ref: str, message: str = HALTED) -> dict[str, Any]:
    return _entry([{"errorCode": "PROCESSING_HALTED", "message": message}], 400, ref)


def handle(request: Request, call: SubCall, *, tooling: bool = False) -> Response:
    """`POST …/composite` (REST resources only) or `…/tooling/composite` (Tooling resources only)."""
    subs, all_or_none = _subrequests(request.json(), tooling)
    entries: list[dict[str, Any]] = []
    results: dict[str, tuple[int, Any]] = {}

    def run() -> None:
        for sub in subs:
            ref = sub["referenceId"]
            try:
                url = _resolve(sub["url"], results)
                body = _resolve(json.dumps(sub["body"]), results).encode() if sub.get("body") is not None else b""
            except _Unresolved as unresolved:
                entries.append(_halted(ref, unresolved.message))
                results[ref] = (400, None)
                if all_or_none:
                    raise _Halt from None
                continue
            response = call(sub["method"].upper(), url, body)
            answer = _body_of(response)
            headers = {"Location": response.headers["Location"]} if "Location" in response.headers else {}
            entries.append(_entry(answer, response.status, ref, headers))
            results[ref] = (response.status, answer)
            if all_or_none and response.status >= 400:
                raise _Halt

    if not all_or_none:
        run()
        return json_response({"compositeResponse": entries})
    try:
        with request.org.store.transaction():
            run()
    except _Halt:
        failed = entries[-1]
        entries = [
            failed if sub["referenceId"] == failed["referenceId"] else _halted(sub["referenceId"]) for sub in subs
        ]
    return json_response({"compositeResponse": entries})


def handle_batch(request: Request, call: SubCall) -> Response:
    """`POST …/composite/batch`: independent subrequests, no references, no rollback."""
    payload = request.json()
    if not isinstance(payload, dict) or not isinstance(payload.get("batchRequests"), list):
        raise _invalid("The request body must hold a batchRequests array", "JSON_PARSER_ERROR")
    subs = payload["batchRequests"]
    if not subs or len(subs) > MAX_SUBREQUESTS:
        raise _invalid(f"A batch request holds 1 to {MAX_SUBREQUESTS} subrequests", "LIMIT_EXCEEDED")
    halt_on_error = bool(payload.get("haltOnError"))
    results: list[dict[str, Any]] = []
    halted = False
    for sub in subs:
        if not isinstance(sub, dict) or not isinstance(sub.get("url"), str):
            raise _invalid("Each batch subrequest needs a url", "JSON_PARSER_ERROR")
        method = str(sub.get("method") or "GET").upper()
        if method not in METHODS:
            raise _invalid(f"Invalid method in batch subrequest: {method}")
        if halted:
            message = [{"errorCode": "BATCH_PROCESSING_HALTED", "message": "Batch processing halted per request"}]
            results.append({"statusCode": 412, "result": message})
            continue
        url = sub["url"] if sub["url"].startswith("/") else "/services/data/" + sub["url"]
        body = json.dumps(sub["richInput"]).encode() if sub.get("richInput") is not None else b""
        response = call(method, url, body)
        results.append({"statusCode": response.status, "result": _body_of(response)})
        halted = halt_on_error and response.status >= 400
    return json_response({"hasErrors": any(r["statusCode"] >= 400 for r in results), "results": results})
