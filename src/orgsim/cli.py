"""orgsim command line: serve an emulated org, log the real sf CLI into it, validate scenarios, reset state."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from orgsim.scenario import ScenarioError, builtin_scenario_path, load_scenario, resolve_scenario
from orgsim.wire import redact_tokens

SERVER_INFO = "server.json"


class RedactingFormatter(logging.Formatter):
    """Messages and tracebacks can quote request text (a SOAP header, a query); no access token may reach the log."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_tokens(super().format(record))


def _scenario_arg(value: str | None) -> Path | None:
    """A scenario path, or the name of a built-in one ('production', 'sandbox')."""
    if value is None:
        return None
    path = Path(value)
    if not path.exists() and builtin_scenario_path(value).exists():
        return builtin_scenario_path(value)
    return path


def _serve(args: argparse.Namespace) -> int:
    from orgsim.org import Org
    from orgsim.server import OrgsimHTTPServer

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s orgsim %(message)s"))
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, handlers=[handler])
    state = Path(args.state)
    scenario_path = _scenario_arg(args.scenario)
    try:
        org = Org(state, load_scenario(scenario_path) if scenario_path else None)
    except ScenarioError as error:
        print(f"orgsim: error: {error}", file=sys.stderr)
        return 2
    except ValueError as error:  # seeding problems (bad @id reference, metadata seed folder, state of another org)
        print(f"orgsim: error: {error}", file=sys.stderr)
        return 2
    try:
        server = OrgsimHTTPServer(org, port=args.port)
    except OSError as error:
        print(f"orgsim: error: cannot listen on 127.0.0.1:{args.port}: {error.strerror}", file=sys.stderr)
        return 6
    info = {
        "url": server.url,
        "pid": os.getpid(),
        "org_id": org.org_id,
        "username": org.username,
        "scenario": str(scenario_path.resolve()) if scenario_path else None,
    }
    (state / SERVER_INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    kind = "sandbox" if org.scenario.org.sandbox else "production"
    print(
        f"orgsim: {org.scenario.org.org_name} ({kind}, {org.org_id}, {org.username}) at {server.url}; state in {state}",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        org.close()
        (state / SERVER_INFO).unlink(missing_ok=True)
    return 0


def _find_sf(explicit: str | None) -> str:
    for candidate in (explicit, os.environ.get("CUTOVER_SF")):
        if candidate:
            return candidate
    repo_sf = Path(__file__).resolve().parents[2] / ".tools" / "bin" / "sf"
    if repo_sf.exists():
        return str(repo_sf)
    found = shutil.which("sf")
    if found is None:
        raise SystemExit("orgsim: error: the sf CLI was not found (pass --sf PATH or set CUTOVER_SF)")
    return found


def _login(args: argparse.Namespace) -> int:
    from orgsim.testing import login

    url, scenario_path = args.url, _scenario_arg(args.scenario)
    if args.state:
        info_path = Path(args.state) / SERVER_INFO
        if not info_path.exists():
            print(
                f"orgsim: error: no running orgsim found for state {args.state} ({info_path} missing)", file=sys.stderr
            )
            return 6
        info = json.loads(info_path.read_text(encoding="utf-8"))
        url = url or info["url"]
        if scenario_path is None and info.get("scenario"):
            scenario_path = Path(info["scenario"])
    if not url:
        print("orgsim: error: give --url URL or --state DIR of a running orgsim", file=sys.stderr)
        return 2
    try:
        scenario = resolve_scenario(scenario_path)
    except ScenarioError as error:
        print(f"orgsim: error: {error}", file=sys.stderr)
        return 2
    token = args.token or scenario.org.access_token
    if args.home:
        home = Path(args.home).expanduser()
    elif args.state:
        home = Path(args.state) / "sf-home"
    else:
        home = Path(tempfile.mkdtemp(prefix="orgsim-sf-home-"))
    try:
        run = login(_find_sf(args.sf), home, url.rstrip("/"), token, args.alias, set_default=args.set_default)
    except RuntimeError as error:
        print(f"orgsim: error: {error}", file=sys.stderr)
        return 1
    result = (run.json or {}).get("result", {})
    print(f"logged in to {url} as {result.get('username')} (org {result.get('orgId')}), alias {args.alias}")
    print(f"sf state is in HOME={home}; use: HOME={home} sf org display --target-org {args.alias}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    try:
        scenario = load_scenario(_scenario_arg(args.file) or Path(args.file))
    except ScenarioError as error:
        print(f"orgsim: error: {error}", file=sys.stderr)
        return 2
    counts = {sobject: len(rows) for sobject, rows in scenario.records.items()}
    print(
        f"{args.file}: ok ({scenario.org.org_name}, {'sandbox' if scenario.org.sandbox else 'production'}, "
        f"{len(scenario.scheduled_jobs)} scheduled jobs, records {counts or 'none'})"
    )
    return 0


def _control(url: str, action: str, query: str = "") -> dict:
    request = urllib.request.Request(f"{url.rstrip('/')}/__orgsim/{action}{query}", method="POST", data=b"")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as response:
        return json.loads(response.read())


def _reset(args: argparse.Namespace) -> int:
    if args.url:
        try:
            answer = _control(args.url, "reset")
        except (urllib.error.URLError, OSError) as error:
            print(f"orgsim: error: cannot reach {args.url}: {error}", file=sys.stderr)
            return 6
        print(f"reset {args.url} (org clock {answer['now']})")
        return 0
    state = Path(args.state)
    if (state / SERVER_INFO).exists():
        print(f"orgsim: error: an orgsim is serving {state}; use --url to reset it live", file=sys.stderr)
        return 5
    removed = [path.name for path in state.glob("org.db*")]
    for name in removed:
        (state / name).unlink()
    print(f"reset {state} ({'removed ' + ', '.join(removed) if removed else 'nothing to remove'})")
    return 0


def _clock(args: argparse.Namespace) -> int:
    try:
        answer = _control(args.url, "clock", f"?advance={float(args.advance)}")
    except (urllib.error.URLError, OSError) as error:
        print(f"orgsim: error: cannot reach {args.url}: {error}", file=sys.stderr)
        return 6
    print(f"org clock is now {answer['now']}")
    return 0


def _org_id(args: argparse.Namespace) -> int:
    from orgsim.ids import complete_id

    try:
        print(complete_id(args.id))
    except ValueError as error:
        print(f"orgsim: error: {error}", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orgsim", description="A local Salesforce org emulator for the real sf CLI.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve one emulated org on 127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    serve.add_argument("--state", required=True, help="folder for the org's SQLite state (kept across restarts)")
    serve.add_argument("--scenario", help="scenario YAML, or a built-in name: production, sandbox, empty")
    serve.add_argument("--quiet", action="store_true", help="log warnings only, not every request")
    serve.set_defaults(func=_serve)

    login = commands.add_parser("login", help="run `sf org login access-token` against a running orgsim")
    login.add_argument("--url", help="orgsim URL (default: read from --state)")
    login.add_argument("--state", help="state folder of a running `orgsim serve`")
    login.add_argument("--alias", required=True)
    login.add_argument("--scenario", help="scenario the server runs (to know its token); default: the server's")
    login.add_argument("--token", help="access token (default: the scenario's)")
    login.add_argument("--home", help="HOME for sf (default: <state>/sf-home, else a new temporary folder)")
    login.add_argument("--sf", help="sf binary (default: $CUTOVER_SF, the repo's .tools/bin/sf, or sf on PATH)")
    login.add_argument("--set-default", action="store_true", help="make it sf's default target org")
    login.set_defaults(func=_login)

    scenario = commands.add_parser("scenario", help="scenario files")
    scenario_commands = scenario.add_subparsers(dest="scenario_command", required=True)
    validate = scenario_commands.add_parser("validate", help="check a scenario file")
    validate.add_argument("file")
    validate.set_defaults(func=_validate)

    reset = commands.add_parser("reset", help="forget all state and re-seed the scenario")
    target = reset.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="reset a running server")
    target.add_argument("--state", help="delete the state of a stopped server")
    reset.set_defaults(func=_reset)

    org_id = commands.add_parser(
        "org-id", help="print the 18-character form (with its checksum suffix) of a 15-character id"
    )
    org_id.add_argument("id", help="15 characters, e.g. 00D5g000004SLb1 (an org id) or 0055g00000EMPTY (a user id)")
    org_id.set_defaults(func=_org_id)

    clock = commands.add_parser("clock", help="advance a running org's clock")
    clock.add_argument("--url", required=True)
    clock.add_argument("--advance", required=True, help="seconds to move forward")
    clock.set_defaults(func=_clock)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    raise SystemExit(args.func(args))
