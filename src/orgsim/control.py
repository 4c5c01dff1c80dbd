"""The control plane (like moto's `/moto-api`): reset, clock, state, call counters. Loopback only, no token needed.

`POST /__orgsim/reset`                 reload the scenario into an empty store
`POST /__orgsim/clock?advance=SECONDS` move the org's clock forward (test runs, deploys and limits follow it)
`GET  /__orgsim/state`                 org identity (no token), clock, call counters and record counts
"""

from __future__ import annotations

from orgsim.wire import Request, Response, SalesforceApiError, json_response, not_found


def handle(request: Request) -> Response:
    org = request.org
    action = request.params["action"]
    if action == "reset" and request.method == "POST":
        org.reset()
        return json_response({"reset": True, "now": org.now_text()})
    if action == "clock":
        if request.method == "POST":
            raw = request.arg("advance")
            if raw is None and request.body:
                data = request.json()
                raw = str(data.get("advance", "")) if isinstance(data, dict) else ""
            try:
                seconds = float(raw or "")
            except ValueError:
                raise SalesforceApiError(400, "INVALID_INPUT", "advance must be a number of seconds") from None
            try:
                org.advance_clock(seconds)
            except ValueError as error:  # a move the org's calendar cannot hold
                raise SalesforceApiError(400, "INVALID_INPUT", str(error)) from None
            org.tick()
        return json_response({"now": org.now_text()})
    if action == "state" and request.method == "GET":
        return json_response(
            {
                "org_id": org.org_id,
                "username": org.username,
                "sandbox": org.scenario.org.sandbox,
                "scenario": org.scenario.name,
                "now": org.now_text(),
                "calls": org.call_counts(),
                "records": {name: org.store.count(name) for name in org.store.sobjects()},
            }
        )
    raise not_found(f"Unknown orgsim control action {action!r}")
