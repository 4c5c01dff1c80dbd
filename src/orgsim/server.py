"""orgsim's HTTP server: routing, authentication, fault injection and request logging.

One server process (or thread) emulates one org. Requests are matched against `ROUTES`; each route names the
operation that call counters and scenario faults refer to (e.g. `query`, `limits`, `checkDeployStatus`).
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
import traceback
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from orgsim import anonymous, cometd, composite, control, rest, tooling
from orgsim.org import Org
from orgsim.scenario import DropConnectionFault, HttpErrorFault
from orgsim.wire import (
    Request,
    Response,
    SalesforceApiError,
    SoapFault,
    error_response,
    json_response,
    not_found,
    redact_tokens,
    soap_fault_response,
)

log = logging.getLogger("orgsim")

Handler = Callable[[Request], Response]
V = r"/services/data/v(?P<version>\d+\.\d)"


@dataclass(frozen=True)
class Route:
    methods: frozenset[str]
    pattern: re.Pattern[str]
    operation: str
    handler: Handler
    kind: str = "rest"  # "rest" (JSON errors), "soap" (SOAP faults), "public" (no auth), "control"


def _route(methods: str, pattern: str, operation: str, handler: Handler, kind: str = "rest") -> Route:
    return Route(frozenset(methods.split()), re.compile(f"^{pattern}$"), operation, handler, kind)


def _soap_metadata(request: Request) -> Response:
    try:
        from orgsim.metadata import soap
    except ImportError:
        raise SoapFault("UNKNOWN_EXCEPTION", "The Metadata API is not available in this orgsim build") from None
    status, body = soap.handle(request.org, request.body, request.headers)
    return Response(status=status, body=body, content_type="text/xml;charset=UTF-8")


def _rest_metadata(request: Request) -> Response:
    try:
        from orgsim.metadata import rest as metadata_rest
    except ImportError:
        raise not_found() from None
    result = metadata_rest.handle(request.org, request.method, request.path, request.body, request.headers)
    if isinstance(result, Response):
        return result
    status, body, *rest_of = result
    content_type = rest_of[0] if rest_of else "application/json;charset=UTF-8"
    return Response(status=status, body=body, content_type=content_type)


def _subcall(parent: Request) -> composite.SubCall:
    """How a composite subrequest is answered: by the route a direct call would take, with the parent's session.

    Subrequests are not counted as calls (Salesforce counts a composite request as one API call) and scenario
    faults apply to the `composite` / `compositeBatch` call itself."""

    def call(method: str, url: str, body: bytes) -> Response:
        path, raw_query = normalize_path(url)
        route, params, _ = match_route(method, path)
        if (
            route is None
            or route.kind != "rest"
            or route.operation in ("composite", "compositeBatch", "tooling.composite")
        ):
            return error_response(not_found())
        sub = Request(method, path, Request.parse_query(raw_query), parent.headers, body, parent.org, params)
        sub.operation = route.operation
        try:
            return route.handler(sub)
        except SalesforceApiError as error:
            return error_response(error)
        except Exception:
            log.error(
                "orgsim internal error on composite subrequest %s %s:\n%s",
                method,
                redact_tokens(path),
                redact_tokens(traceback.format_exc()),
            )
            return error_response(SalesforceApiError(500, "UNKNOWN_EXCEPTION", "orgsim internal error (see the log)"))

    return call


def _composite(request: Request) -> Response:
    return composite.handle(request, _subcall(request))


def _tooling_composite(request: Request) -> Response:
    return composite.handle(request, _subcall(request), tooling=True)


def _composite_batch(request: Request) -> Response:
    return composite.handle_batch(request, _subcall(request))


def _soap_other(request: Request) -> Response:
    raise SoapFault("UNSUPPORTED_API", "orgsim emulates the Metadata (Soap/m) and Apex (Soap/s) SOAP APIs only")


ROUTES: list[Route] = [
    _route("GET POST", r"/__orgsim/(?P<action>\w+)", "control", control.handle, kind="control"),
    _route("GET POST", r"/services/oauth2/userinfo", "userinfo", rest.userinfo),
    _route("GET", r"/services/oauth2/singleaccess", "singleaccess", rest.single_access),
    _route("GET", r"/secur/frontdoor\.jsp", "frontdoor", rest.frontdoor, kind="public"),
    _route("GET", r"/services/data", "versions", rest.versions, kind="public"),
    _route("GET", V, "resources", rest.resources),
    _route("GET", V + r"/limits", "limits", rest.limits),
    _route("GET", V + r"/query", "query", rest.query),
    _route("POST", V + r"/composite", "composite", _composite),
    _route("POST", V + r"/composite/batch", "compositeBatch", _composite_batch),
    _route("POST", V + r"/tooling/composite", "tooling.composite", _tooling_composite),
    _route("GET", V + r"/queryAll", "queryAll", rest.query_all),
    _route("GET", V + r"/query/(?P<locator>[\w-]+)", "query", rest.query_more),
    _route("GET", V + r"/queryAll/(?P<locator>[\w-]+)", "queryAll", rest.query_more),
    _route("GET", V + r"/sobjects", "describeGlobal", rest.describe_global),
    _route("GET POST", V + r"/sobjects/(?P<sobject>\w+)", "sobject", rest.sobject_root),
    _route("GET", V + r"/sobjects/(?P<sobject>\w+)/describe", "describe", rest.describe),
    _route("GET PATCH DELETE", V + r"/sobjects/(?P<sobject>\w+)/(?P<record_id>\w+)", "record", rest.record),
    _route("GET", V + r"/tooling/query", "tooling.query", tooling.query),
    _route("GET", V + r"/tooling/query/(?P<locator>[\w-]+)", "tooling.query", rest.query_more),
    _route("POST", V + r"/tooling/runTestsAsynchronous", "runTestsAsynchronous", tooling.run_tests_asynchronous),
    _route("GET", V + r"/tooling/executeAnonymous", "executeAnonymous", anonymous.rest_execute),
    _route("GET", V + r"/tooling/sobjects", "tooling.describeGlobal", tooling.describe_global),
    _route("GET POST", V + r"/tooling/sobjects/(?P<sobject>\w+)", "tooling.sobject", tooling.sobject_root),
    _route("GET", V + r"/tooling/sobjects/(?P<sobject>\w+)/describe", "tooling.describe", tooling.describe),
    _route(
        "GET PATCH DELETE",
        V + r"/tooling/sobjects/(?P<sobject>\w+)/(?P<record_id>\w+)",
        "tooling.record",
        tooling.record,
    ),
    _route("GET POST PATCH", V + r"/metadata/deployRequest(?:/(?P<deploy_id>\w+))?", "deployRequest", _rest_metadata),
    _route("POST", r"/services/Soap/m/(?P<version>\d+\.\d)(?:/\w+)?", "metadata", _soap_metadata, kind="soap"),
    _route(
        "POST",
        r"/services/Soap/s/(?P<version>\d+\.\d)(?:/\w+)?",
        "executeAnonymous",
        anonymous.soap_execute,
        kind="soap",
    ),
    _route("POST", r"/services/Soap/[a-z]/(?P<version>\d+\.\d)(?:/\w+)?", "soap", _soap_other, kind="soap"),
    _route(
        "GET POST", r"/cometd/(?P<version>\d+\.\d)(?:/(?P<channel>[\w/]+))?", "cometd", cometd.handle, kind="cometd"
    ),
]

# The largest body read into memory: a 100 MiB deploy zip (metadata.package.MAX_ZIP_BYTES), base64-encoded inside
# its SOAP envelope, fits with room to spare; anything larger is refused before it is read.
MAX_BODY_BYTES = 160 * 1024 * 1024


class _BodyTooLarge(Exception):
    pass


def _too_large_response(path: str) -> Response:
    message = f"Maximum size of request reached. Maximum size of request is {MAX_BODY_BYTES} bytes."
    if path.startswith("/services/Soap/"):
        return soap_fault_response(SoapFault("EXCEEDED_MAX_SIZE_REQUEST", message, status=413))
    return json_response([{"message": message, "errorCode": "EXCEEDED_MAX_SIZE_REQUEST"}], 413)


_SOAP_SESSION = re.compile(rb"<(?:\w+:)?sessionId>([^<]*)</(?:\w+:)?sessionId>")
_SOAP_OPERATION = re.compile(rb"<(?:\w+:)?Body[^>]*>\s*<(?:(\w+):)?(\w+)")
_GACK_MESSAGE = "An unexpected error occurred. Please include this ErrorId if you contact support: {error_id} ({code})"


def normalize_path(raw_path: str) -> tuple[str, str]:
    """(path with repeated slashes collapsed and no trailing slash, raw query string)."""
    # Split by hand: urlsplit would read the CLI's `//services/...` as a network location called "services".
    path, _, query = raw_path.partition("?")
    if "://" in path:
        path = urlsplit(path).path
    path = re.sub(r"/{2,}", "/", path or "/")
    if len(path) > 1:
        path = path.rstrip("/")
    return path, query


def match_route(method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """(route, params, path_known): path_known is True when the path exists but not for this method."""
    path_known = False
    for route in ROUTES:
        found = route.pattern.match(path)
        if found is None:
            continue
        if method in route.methods:
            return route, {k: v for k, v in found.groupdict().items() if v is not None}, True
        path_known = True
    return None, {}, path_known


def _bearer_token(headers: dict[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() in ("bearer", "oauth") and token.strip():
        return token.strip()
    return None


def _soap_operation(body: bytes) -> str | None:
    found = _SOAP_OPERATION.search(body)
    return found.group(2).decode("ascii", "replace") if found else None


def _gack_text(org: Org, call_number: int) -> str:
    """Salesforce's internal-error text; the CLI recognises its `<9+ digits>-<3+ digits> (<7+ digits>)` id shape."""
    seed = zlib.crc32(f"{org.org_id}:{call_number}".encode())
    error_id = f"{1_000_000_000 + seed % 9_000_000_000}-{1000 + call_number % 9000}"
    return _GACK_MESSAGE.format(error_id=error_id, code=-(100_000_000 + seed % 900_000_000))


def _fault_response(route: Route, org: Org, fault: HttpErrorFault, call_number: int) -> Response:
    if fault.status == "gack":
        status, code, message = 500, "UNKNOWN_EXCEPTION", _gack_text(org, call_number)
    else:
        status = int(fault.status)
        code = {503: "SERVER_UNAVAILABLE", 502: "SERVER_UNAVAILABLE"}.get(status, "UNKNOWN_EXCEPTION")
        message = f"orgsim injected HTTP {status} (scenario fault on call {call_number} of {fault.operation})"
    if route.kind == "soap":
        return soap_fault_response(SoapFault(code, message, status=status))
    return json_response([{"message": message, "errorCode": code}], status)


def dispatch(org: Org, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Response:
    """Answer one request. Never raises: unknown paths, bad input and bugs all become Salesforce-shaped errors."""
    path, raw_query = normalize_path(raw_path)
    route, params, path_known = match_route(method, path)
    if route is None:
        if path.startswith("/services/Soap/"):
            return soap_fault_response(SoapFault("UNKNOWN_EXCEPTION", f"No SOAP service at {path}", status=404))
        if path_known:
            return json_response(
                [
                    {
                        "message": f"HTTP Method '{method}' not allowed. Allowed are GET,HEAD",
                        "errorCode": "METHOD_NOT_ALLOWED",
                    }
                ],
                405,
            )
        return error_response(not_found())
    request = Request(method, path, Request.parse_query(raw_query), headers, body, org, params, route.operation)
    try:
        return _authorized_call(route, request)
    except SalesforceApiError as error:
        return error_response(error)
    except SoapFault as fault:
        return soap_fault_response(fault)
    except Exception:
        log.error(
            "orgsim internal error on %s %s:\n%s", method, redact_tokens(path), redact_tokens(traceback.format_exc())
        )
        error = SalesforceApiError(500, "UNKNOWN_EXCEPTION", "orgsim internal error (see the orgsim log)")
        if route.kind == "soap":
            return soap_fault_response(SoapFault(error.error_code, error.message))
        return error_response(error)


def _authorized_call(route: Route, request: Request) -> Response:
    org = request.org
    if route.kind == "soap":
        found = _SOAP_SESSION.search(request.body)
        token = found.group(1).decode("utf-8", "replace").strip() if found else None
        if token != org.access_token:
            raise SoapFault("INVALID_SESSION_ID", "Invalid Session ID found in SessionHeader: Illegal Session")
        request.operation = _soap_operation(request.body) or route.operation
    elif route.kind == "cometd":
        if _bearer_token(request.headers) != org.access_token:
            return cometd.unauthorized(request)
    elif route.kind in ("rest",) and _bearer_token(request.headers) != org.access_token:
        raise SalesforceApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
    if route.kind != "control":
        call_number = org.count_call(request.operation)
        fault = org.fault_for(request.operation, call_number)
        if isinstance(fault, DropConnectionFault):
            log.info("fault: dropping the connection on call %d of %s", call_number, request.operation)
            return Response(status=0, drop_connection=True)
        if isinstance(fault, HttpErrorFault):
            log.info("fault: HTTP %s on call %d of %s", fault.status, call_number, request.operation)
            return _fault_response(route, org, fault, call_number)
        org.tick()
    return route.handler(request)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes; with Nagle on, each answer waited ~40 ms for a delayed ACK.
    disable_nagle_algorithm = True
    # Seconds a socket may stay silent (read by StreamRequestHandler.setup): a stalled upload or an idle keep-alive
    # connection then frees its thread instead of holding it forever.
    timeout = 120
    server: OrgsimHTTPServer

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = do_GET

    def __getattr__(self, name: str) -> Any:
        # Any other verb (OPTIONS, TRACE, made-up ones) goes through dispatch too, which answers a JSON 405/404
        # instead of http.server's HTML 501 page.
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def _read_body(self) -> bytes:
        """The request body; raises _BodyTooLarge before reading (or allocating for) more than MAX_BODY_BYTES."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            total = 0
            while True:
                size_line = self.rfile.readline(1024)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline(1024)
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    raise _BodyTooLarge
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise _BodyTooLarge
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        started = time.monotonic()
        path, _ = normalize_path(self.path)
        try:
            body = self._read_body()
        except _BodyTooLarge:
            self.close_connection = True  # the unread body must not be taken for the next request
            response = _too_large_response(path)
        except (ValueError, OSError):  # a malformed chunk size, a timeout, a client that hung up
            self.close_connection = True
            return
        else:
            headers = {name.lower(): value for name, value in self.headers.items()}
            response = dispatch(self.server.org, self.command, self.path, headers, body)
        elapsed_ms = (time.monotonic() - started) * 1000
        if response.drop_connection:
            log.info("%s %s -> dropped (%.0f ms)", self.command, redact_tokens(path), elapsed_ms)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)
        log.info("%s %s -> %d (%.0f ms)", self.command, redact_tokens(path), response.status, elapsed_ms)

    def log_message(self, format: str, *args: Any) -> None:
        # Our own one-line-per-request log replaces the default, which would print query strings unredacted.
        pass


class OrgsimHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, org: Org, port: int = 0, host: str = "127.0.0.1") -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("orgsim binds to loopback only")
        self.org = org
        super().__init__((host, port), _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-answer is routine (the CLI times out, tests stop); never print a traceback.
        log.debug("connection from %s ended abruptly", client_address, exc_info=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def serve_in_thread(server: OrgsimHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True, name="orgsim")
    thread.start()
    return thread
