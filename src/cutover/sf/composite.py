"""Several SOQL queries in one `sf` process: the REST Composite resource through `sf api request rest`.

`POST /services/data/vNN.0/composite` with `{"allOrNone": false, "compositeRequest": [{"method": "GET", "url":
"/services/data/vNN.0/query?q=...", "referenceId": "q0"}, ...]}` answers `{"compositeResponse": [{"body",
"httpHeaders", "httpStatusCode", "referenceId"}, ...]}`, one entry per subrequest (Salesforce REST API guide,
"Composite" and "Composite Subrequest Result"). A failed query answers its own error list (`[{"errorCode",
"message"}]`) with a 4xx status and does not fail the others (`allOrNone: false`). Salesforce takes at most 25
subrequests, of which at most 5 queries, per composite request: more queries are split over several calls.

`sf api request rest` (beta in sf 2.146) has no `--json`: its stdout is the response body itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from cutover.sf.results import QueryResult, parse_query_result

#: Salesforce: at most 5 query subrequests in one composite request.
MAX_QUERIES_PER_REQUEST = 5


def api_path(api_version: str) -> str:
    """`/services/data/v62.0` for "62.0" or "v62.0"."""
    version = api_version.strip().lstrip("v")
    return f"/services/data/v{version}"


def composite_body(queries: Mapping[str, str], api_version: str) -> dict[str, Any]:
    """The request body for `queries` (reference id -> SOQL), in order; never all-or-none (reads only)."""
    base = api_path(api_version)
    return {
        "allOrNone": False,
        "compositeRequest": [
            {"method": "GET", "url": f"{base}/query?q={quote(soql, safe='')}", "referenceId": ref}
            for ref, soql in queries.items()
        ],
    }


def chunks(queries: Mapping[str, str], size: int = MAX_QUERIES_PER_REQUEST) -> list[dict[str, str]]:
    items = list(queries.items())
    return [dict(items[i : i + size]) for i in range(0, len(items), size)]


@dataclass(frozen=True)
class SubAnswer:
    """One query's answer inside a composite response: its rows, or why it has none."""

    ref: str
    status: int
    body: Any
    result: QueryResult | None  # None: the subrequest failed or the answer is incomplete (see `error`)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.result is not None


def _error_text(body: Any) -> str:
    items = body if isinstance(body, Sequence) and not isinstance(body, str) else [body]
    texts = []
    for item in items:
        if isinstance(item, Mapping):
            texts.append(f"{item.get('errorCode') or 'ERROR'}: {item.get('message') or ''}".strip())
        elif item is not None:
            texts.append(str(item))
    return "; ".join(texts) or "no answer"


def parse_composite(doc: Any, refs: Sequence[str]) -> dict[str, SubAnswer]:
    """Each reference id's answer. Raises ValueError when `doc` is not a composite response at all."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("compositeResponse"), list):
        raise ValueError("not a composite response (no compositeResponse list)")
    out: dict[str, SubAnswer] = {}
    for item in doc["compositeResponse"]:
        if not isinstance(item, Mapping):
            continue
        ref = str(item.get("referenceId") or item.get("referenceID") or "")
        status = int(item.get("httpStatusCode") or 0)
        body = item.get("body")
        if status != 200 or not isinstance(body, Mapping):
            out[ref] = SubAnswer(ref, status, body, None, _error_text(body))
        elif body.get("done") is False:  # more pages: the caller asks `sf data query`, which follows them
            out[ref] = SubAnswer(ref, status, body, None, "the answer has more pages than the composite returned")
        else:
            out[ref] = SubAnswer(ref, status, body, parse_query_result(body))
    for ref in refs:
        out.setdefault(ref, SubAnswer(ref, 0, None, None, "missing from the composite response"))
    return out
