"""The real sf CLI logs into orgsim: in-process servers, two orgs at once, and the `orgsim serve/login` commands."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from orgsim.testing import OrgsimServer, run_sf, sf_env


def test_login_and_org_display(production_org: OrgsimServer, sf_bin: Path, sf_home: Path) -> None:
    run = run_sf(sf_bin, ["org", "display", "--target-org", "production"], sf_home)
    assert run.returncode == 0, run
    result = run.json["result"]
    assert result["id"] == "00D5g00000ELAROEA5"
    assert result["username"] == "release.manager@elaro.example.com"
    assert result["instanceUrl"].rstrip("/") == production_org.url
    assert result["connectedStatus"] == "Connected"
    assert result["apiVersion"] == "62.0"
    assert production_org.token not in run.stdout
    # Runbook step 2: `sf org open --url-only` gets a one-time frontdoor link, not the session token.
    opened = run_sf(sf_bin, ["org", "open", "--url-only", "--target-org", "production"], sf_home)
    assert opened.returncode == 0, opened
    assert opened.json["result"]["url"].startswith(f"{production_org.url}/secur/frontdoor.jsp?otp=")
    assert production_org.token not in opened.stdout


def test_wrong_token_is_refused(orgsim_factory, sf_bin: Path, sf_home: Path) -> None:
    server = orgsim_factory("production")
    wrong = server.token.split("!")[0] + "!not.the.token"
    args = ["org", "login", "access-token", "--instance-url", server.url, "--no-prompt", "--alias", "x"]
    run = run_sf(sf_bin, args, sf_home, env={"SF_ACCESS_TOKEN": wrong})
    assert run.returncode != 0, run
    assert "INVALID_SESSION_ID" in run.stdout or "Session expired or invalid" in run.stdout


def test_production_and_sandbox_side_by_side(orgsim_factory, sf_bin: Path, sf_home: Path) -> None:
    from orgsim.testing import login

    production = orgsim_factory("production", name="production")
    sandbox = orgsim_factory("sandbox", name="sandbox")
    assert production.url != sandbox.url
    sandbox_login = login(sf_bin, sf_home, sandbox.url, sandbox.token, alias="full")
    assert sandbox_login.json["result"]["isSandbox"] is True
    login(sf_bin, sf_home, production.url, production.token, alias="production")
    listing = run_sf(sf_bin, ["org", "list"], sf_home)
    assert listing.returncode == 0, listing
    orgs = {org["alias"]: org for org in listing.json["result"]["nonScratchOrgs"]}
    assert orgs["production"]["orgId"] == production.org.org_id and orgs["production"]["isSandbox"] is False
    assert orgs["full"]["orgId"] == sandbox.org.org_id and orgs["full"]["isSandbox"] is True
    assert {org["connectedStatus"] for org in orgs.values()} == {"Connected"}


def test_orgsim_serve_and_login_commands(tmp_path: Path, sf_bin: Path, sf_home: Path) -> None:
    state = tmp_path / "state"
    server = subprocess.Popen(
        [sys.executable, "-m", "orgsim", "serve", "--port", "0", "--state", str(state), "--scenario", "sandbox"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (state / "server.json").exists():
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "orgsim serve did not start"
            time.sleep(0.1)
        url = json.loads((state / "server.json").read_text())["url"]
        login = subprocess.run(
            [
                sys.executable,
                "-m",
                "orgsim",
                "login",
                "--state",
                str(state),
                "--alias",
                "rehearsal",
                "--home",
                str(sf_home),
                "--sf",
                str(sf_bin),
            ],
            env=sf_env(tmp_path / "unused-home"),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert login.returncode == 0, login.stderr
        assert "alias rehearsal" in login.stdout
        display = run_sf(sf_bin, ["org", "display", "--target-org", "rehearsal"], sf_home)
        assert display.returncode == 0, display
        assert display.json["result"]["id"] == "00D5g00000SBX01EAH"
        assert display.json["result"]["instanceUrl"].rstrip("/") == url
    finally:
        server.terminate()
        _, log = server.communicate(timeout=10)
    # One line per request, and the token never reaches the log.
    assert "GET /services/oauth2/userinfo -> 200" in log
    assert "!orgsim." not in log
    assert not (state / "server.json").exists()
