"""Where Temporal is (flag, environment, the embedded server's address file) and the one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from cutover.cli import main
from cutover.errors import UsageError
from cutover.temporal.connect import address_file, resolve


def test_the_flag_wins_then_the_environment_then_the_address_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CUTOVER_TEMPORAL", raising=False)
    monkeypatch.delenv("CUTOVER_TEMPORAL_NAMESPACE", raising=False)
    with pytest.raises(UsageError, match="no Temporal to connect to"):
        resolve(tmp_path)
    address_file(tmp_path).parent.mkdir(parents=True)
    address_file(tmp_path).write_text("127.0.0.1:7999\n")
    found = resolve(tmp_path)
    assert (found.address, found.namespace, found.source) == ("127.0.0.1:7999", "default", "cutover server")
    monkeypatch.setenv("CUTOVER_TEMPORAL", "temporal.example.com:7233")
    monkeypatch.setenv("CUTOVER_TEMPORAL_NAMESPACE", "releases")
    assert resolve(tmp_path).address == "temporal.example.com:7233" and resolve(tmp_path).namespace == "releases"
    flag = resolve(tmp_path, "10.0.0.5:7233", "ns2")
    assert (flag.address, flag.namespace, flag.source) == ("10.0.0.5:7233", "ns2", "--temporal")
    with pytest.raises(UsageError, match="not HOST:PORT"):
        resolve(tmp_path, "http://nope")


def test_an_unreachable_temporal_is_exit_6_and_a_missing_one_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CUTOVER_TEMPORAL", raising=False)
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("name: x\norgs: [{alias: a, org_id: 00D5g00000FLT01}]\nwaves: [{name: all}]\n")
    assert main(["-C", str(tmp_path), "fleet", "status", str(fleet)]) == 2
    assert "no Temporal to connect to" in capsys.readouterr().err
    assert main(["-C", str(tmp_path), "fleet", "status", str(fleet), "--temporal", "127.0.0.1:1"]) == 6
    err = capsys.readouterr().err
    assert "cannot reach Temporal at 127.0.0.1:1" in err and "connection refused" in err


def test_the_local_run_asks_temporal_only_when_one_is_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cutover.errors import EnvironmentProblem
    from cutover.temporal.lock import refuse_if_held

    monkeypatch.delenv("CUTOVER_TEMPORAL", raising=False)
    refuse_if_held(tmp_path, "00D5g00000FLT01")  # nothing configured: nothing asked
    refuse_if_held(tmp_path, None)  # no org id pinned: nothing to ask about
    address_file(tmp_path).parent.mkdir(parents=True)
    address_file(tmp_path).write_text("127.0.0.1:1\n")
    refuse_if_held(tmp_path, "00D5g00000FLT01")  # a stale address file: the embedded server is not running
    monkeypatch.setenv("CUTOVER_TEMPORAL", "127.0.0.1:1")
    with pytest.raises(EnvironmentProblem, match=r"cannot reach Temporal at 127\.0\.0\.1:1"):
        refuse_if_held(tmp_path, "00D5g00000FLT01")  # asked for explicitly: unreachable is exit 6
