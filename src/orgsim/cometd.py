"""A minimal Bayeux (CometD) endpoint so `sf apex get test` can hand-shake, subscribe and connect.

orgsim pushes no streaming events: after the handshake the CLI checks the test run over the Tooling API, and a
`/meta/connect` simply waits a moment and returns an empty reconnect advice.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from orgsim.wire import Request, Response, json_response

CONNECT_WAIT_SECONDS = 1.0


def _messages(request: Request) -> list[dict[str, Any]]:
    if not request.body:
        return []
    try:
        data = json.loads(request.body)
    except ValueError:
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
            time.sleep(CONNECT_WAIT_SECONDS)
            replies.append(_reply(message, client_id, advice={"interval": 0, "timeout": 110000, "reconnect": "retry"}))
        elif channel == "/meta/subscribe":
            replies.append(_reply(message, client_id, subscription=message.get("subscription")))
        elif channel in ("/meta/unsubscribe", "/meta/disconnect"):
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
