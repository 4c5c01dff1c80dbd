"""A minimal Bayeux (CometD) endpoint so `sf apex get test` can hand-shake, subscribe and connect.

The only topic with events is `/systemTopic/TestResult`: a `/meta/connect` from a client subscribed to it waits
(long-poll, up to CONNECT_WAIT_SECONDS) for a Tooling test run to complete and then delivers
`{"sobject": {"Id": "707..."}}`, which makes the CLI read the results at once instead of after its 60 s poll.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from orgsim.store import format_datetime
from orgsim.wire import Request, Response, json_response

if TYPE_CHECKING:
    from orgsim.org import Org

CONNECT_WAIT_SECONDS = 5.0
TEST_RESULT_TOPIC = "/systemTopic/TestResult"


class _Clients:
    """Per-client subscriptions and the test runs already announced to each client."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.subscriptions: dict[str, set[str]] = {}
        self.announced: dict[str, set[str]] = {}


def _clients(org: Org) -> _Clients:
    with org.lock:
        clients = getattr(org, "_cometd_clients", None)
        if clients is None:
            clients = _Clients()
            org._cometd_clients = clients  # type: ignore[attr-defined]
        return clients


def _completed_runs(org: Org) -> list[str]:
    return [
        job["Id"]
        for job in org.store.list("AsyncApexJob")
        if job.get("JobType") == "TestRequest" and job.get("Status") in ("Completed", "Failed", "Aborted")
    ]


def _test_result_events(org: Org, client_id: str) -> list[dict[str, Any]]:
    """Wait briefly for test runs this client has not heard about to finish; one event per finished run."""
    clients = _clients(org)
    with clients.lock:
        if TEST_RESULT_TOPIC not in clients.subscriptions.get(client_id, set()):
            return []
    deadline = time.monotonic() + CONNECT_WAIT_SECONDS
    while True:
        org.tick()
        with clients.lock:
            announced = clients.announced.setdefault(client_id, set())
            fresh = [run_id for run_id in _completed_runs(org) if run_id not in announced]
            announced.update(fresh)
        if fresh or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    return [
        {
            "channel": TEST_RESULT_TOPIC,
            "clientId": client_id,
            "data": {
                "event": {"type": "updated", "createdDate": format_datetime(org.now())},
                "sobject": {"Id": run_id},
            },
        }
        for run_id in fresh
    ]


def _messages(request: Request) -> list[dict[str, Any]]:
    if not request.body:
        return []
    try:
        data = json.loads(request.body)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        return []
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):  # a JSON scalar is no Bayeux message at all
        return []
    return [message for message in data if isinstance(message, dict)]


def _reply(message: dict[str, Any], client_id: str, **extra: Any) -> dict[str, Any]:
    reply: dict[str, Any] = {"channel": message.get("channel"), "successful": True, "clientId": client_id}
    if "id" in message:
        reply["id"] = message["id"]
    reply.update(extra)
    return reply


def handle(request: Request) -> Response:
    if request.method == "GET":
        return json_response([])
    replies = []
    waited = False
    for message in _messages(request):
        channel = message.get("channel", "")
        client_id = message.get("clientId") or uuid.uuid4().hex[:24]
        if channel == "/meta/handshake":
            replies.append(
                _reply(
                    message,
                    client_id,
                    version="1.0",
                    minimumVersion="1.0",
                    supportedConnectionTypes=["long-polling"],
                    advice={"interval": 0, "timeout": 110000, "reconnect": "retry"},
                )
            )
        elif channel == "/meta/connect":
            events = _test_result_events(request.org, client_id)
            if not events and not waited:
                time.sleep(0.5)  # an idle long-poll: do not let the client spin (once per request, however many)
                waited = True
            replies.append(_reply(message, client_id, advice={"interval": 0, "timeout": 110000, "reconnect": "retry"}))
            replies.extend(events)
        elif channel == "/meta/subscribe":
            clients = _clients(request.org)
            with clients.lock:
                subscribed = clients.subscriptions.setdefault(client_id, set())
                subscribed.add(str(message.get("subscription")))
            replies.append(_reply(message, client_id, subscription=message.get("subscription")))
        elif channel in ("/meta/unsubscribe", "/meta/disconnect"):
            if channel == "/meta/disconnect":  # every `sf apex run test --wait` is a new client: forget this one
                clients = _clients(request.org)
                with clients.lock:
                    clients.subscriptions.pop(client_id, None)
                    clients.announced.pop(client_id, None)
            replies.append(_reply(message, client_id))
        else:
            replies.append(_reply(message, client_id, successful=False, error="403::Unknown channel"))
    return json_response(replies)


def unauthorized(request: Request) -> Response:
    """Bayeux reports a bad session inside a 200 reply, as Salesforce's streaming API does."""
    replies = [
        {
            "channel": message.get("channel"),
            "successful": False,
            "error": "401::Authentication invalid",
            "advice": {"reconnect": "none"},
            **({"id": message["id"]} if "id" in message else {}),
        }
        for message in _messages(request)
    ] or [{"channel": "/meta/handshake", "successful": False, "error": "401::Authentication invalid"}]
    return json_response(replies, 401)
