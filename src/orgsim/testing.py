"""Helpers to run orgsim and the real `sf` CLI in tests (ours and users' CI).

with OrgsimServer(tmp_path / "org", builtin_scenario_path("production")) as server:
    home = tmp_path / "home"
    login(sf_bin, home, server.url, server.token, alias="production")
    run = run_sf(sf_bin, ["org", "display", "--target-org", "production"], home)
    assert run.json["result"]["id"] == server.org.org_id
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orgsim.org import Org
from orgsim.scenario import Scenario
from orgsim.server import OrgsimHTTPServer, serve_in_thread
from orgsim.wire import redact_tokens

PROXY_VARIABLES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


class OrgsimServer:
    """An orgsim server on a background thread of this process (fast start, direct access to `.org`)."""

    def __init__(
        self, state_dir: Path | str, scenario: Scenario | Path | str | dict[str, Any] | None = None, port: int = 0
    ) -> None:
        self.org = Org(Path(state_dir), scenario)
        self._server = OrgsimHTTPServer(self.org, port=port)
        self._thread = serve_in_thread(self._server)
        self._stopped = False

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def token(self) -> str:
        return self.org.access_token

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self.org.close()

    def __enter__(self) -> OrgsimServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def sf_env(home: Path | str, sf_bin: Path | str | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a non-interactive `sf` run with its own HOME, no proxies and no colour codes."""
    env = {key: value for key, value in os.environ.items() if key not in PROXY_VARIABLES and key != "FORCE_COLOR"}
    for key in list(env):
        # Never inherit another org, token or config from the caller's environment.
        if key.startswith(("SF_", "SFDX_")):
            del env[key]
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "SF_DISABLE_TELEMETRY": "true",
            "SF_SKIP_NEW_VERSION_CHECK": "true",
            "SF_DISABLE_AUTOUPDATE": "true",
            "SF_AUTOUPDATE_DISABLE": "true",
            "SF_USE_GENERIC_UNIX_KEYCHAIN": "true",
            "SF_DISABLE_DNS_CHECK": "true",
            "SF_LOG_LEVEL": "fatal",
            "NODE_NO_WARNINGS": "1",
        }
    )
    if sf_bin is not None:
        # The pinned CLI's launcher finds its Node next to it; keep that bin folder first on PATH.
        env["PATH"] = f"{Path(sf_bin).resolve().parent}{os.pathsep}{env.get('PATH', '')}"
    if extra:
        env.update(extra)
    return env


@dataclass
class SfRun:
    args: list[str]
    returncode: int
    json: dict[str, Any] | None
    stdout: str
    stderr: str

    def __str__(self) -> str:
        command = f"sf {' '.join(self.args)} -> exit {self.returncode}"
        # Shown in test failures; `org login`/`org display` answers carry the access token.
        return redact_tokens(f"{command}\nstdout: {self.stdout[-2000:]}\nstderr: {self.stderr[-2000:]}")


def parse_sf_json(stdout: str) -> dict[str, Any] | None:
    """The JSON document sf printed (tolerating stray lines before it), or None."""
    text = stdout.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        start = text.find("\n{")
        if start >= 0:
            try:
                return json.loads(text[start + 1 :])
            except ValueError:
                return None
    return None


def run_sf(
    sf_bin: Path | str,
    args: list[str],
    home: Path | str,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | str | None = None,
    timeout: float = 180,
    input_text: str | None = None,
    json_output: bool = True,
) -> SfRun:
    """Run `sf ARGS --json` with an isolated HOME and return the exit code and parsed JSON."""
    full_args = [*args, "--json"] if json_output and "--json" not in args else list(args)
    process = subprocess.run(
        [str(sf_bin), *full_args],
        env=sf_env(home, sf_bin, env),
        cwd=str(cwd) if cwd else str(home),
        input=input_text,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return SfRun(full_args, process.returncode, parse_sf_json(process.stdout), process.stdout, process.stderr)


def login(
    sf_bin: Path | str, home: Path | str, url: str, token: str, alias: str, *, set_default: bool = False
) -> SfRun:
    """`sf org login access-token` against an orgsim URL; raises RuntimeError if the CLI refuses."""
    args = ["org", "login", "access-token", "--instance-url", url, "--no-prompt", "--alias", alias]
    if set_default:
        args.append("--set-default")
    run = run_sf(sf_bin, args, home, env={"SF_ACCESS_TOKEN": token})
    if run.returncode != 0:
        message = run.json.get("message") if run.json else run.stderr.strip()[-500:]
        raise RuntimeError(f"sf org login access-token failed (exit {run.returncode}): {message}")
    return run
