from __future__ import annotations

import json
from pathlib import Path

import pytest

from orgsim.cli import main
from orgsim.org import Org
from orgsim.testing import parse_sf_json, sf_env


def run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return int(exit_info.value.code or 0)


def test_scenario_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["scenario", "validate", "production"]) == 0
    assert "5 scheduled jobs" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("org:\n  sandbox: maybe\n")
    assert run(["scenario", "validate", str(bad)]) == 2
    assert "org.sandbox" in capsys.readouterr().err


def test_reset_state_of_a_stopped_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Org(tmp_path / "state").close()
    assert (tmp_path / "state" / "org.db").exists()
    (tmp_path / "state" / "server.json").write_text("{}")
    assert run(["reset", "--state", str(tmp_path / "state")]) == 5  # refuses while a server claims the folder
    (tmp_path / "state" / "server.json").unlink()
    assert run(["reset", "--state", str(tmp_path / "state")]) == 0
    assert not (tmp_path / "state" / "org.db").exists()


def test_login_without_a_server_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["login", "--state", str(tmp_path), "--alias", "x"]) == 6
    assert "no running orgsim" in capsys.readouterr().err


def test_sf_env_isolates_home_and_drops_proxies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("https_proxy", "http://proxy:3128")
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("SF_TARGET_ORG", "someone-elses-org")
    env = sf_env(tmp_path / "home", "/opt/sf/bin/sf")
    assert env["HOME"] == str(tmp_path / "home") and (tmp_path / "home").is_dir()
    assert "https_proxy" not in env and "FORCE_COLOR" not in env and "SF_TARGET_ORG" not in env
    assert env["SF_DISABLE_TELEMETRY"] == "true" and env["SF_SKIP_NEW_VERSION_CHECK"] == "true"
    assert env["PATH"].startswith("/opt/sf/bin")


def test_parse_sf_json_tolerates_a_leading_warning_line() -> None:
    document = {"status": 0, "result": {"id": "x"}}
    assert parse_sf_json(json.dumps(document)) == document
    assert parse_sf_json("Warning: update available\n" + json.dumps(document, indent=2)) == document
    assert parse_sf_json("") is None and parse_sf_json("not json") is None


def test_serve_refuses_a_bad_scenario_or_another_orgs_state(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("faults: {drop_conection: []}\n")
    assert run(["serve", "--state", str(tmp_path / "a"), "--scenario", str(bad)]) == 2
    assert "faults.drop_conection: unknown key" in capsys.readouterr().err
    Org(tmp_path / "b", "production").close()
    assert run(["serve", "--state", str(tmp_path / "b"), "--scenario", "sandbox"]) == 2
    assert "holds org 00D5g00000ELAROEA5" in capsys.readouterr().err


def test_serve_log_never_shows_an_access_token() -> None:
    import logging
    import sys

    from orgsim.cli import RedactingFormatter

    token = "00D5g00000ELAROAAA!orgsim.secretToken"
    try:
        raise RuntimeError(f"could not handle <sessionId>{token}</sessionId>")
    except RuntimeError:
        record = logging.LogRecord("orgsim.metadata", logging.ERROR, __file__, 1, "failed for %s", (token,), None)
        record.exc_info = sys.exc_info()
    text = RedactingFormatter("%(message)s").format(record)
    assert "RuntimeError" in text and "secretToken" not in text


def test_a_failed_sf_run_in_a_test_report_hides_the_token() -> None:
    from orgsim.testing import SfRun

    answer = '{"result": {"accessToken": "00D5g00000ELAROAAA!orgsim.secretToken"}}'
    shown = str(SfRun(["org", "display"], 1, None, answer, ""))
    assert "accessToken" in shown and "secretToken" not in shown
