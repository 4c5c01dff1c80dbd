"""The ssh-keygen adapter: a missing, too old or hanging ssh-keygen is one clear line, never a traceback or a hang."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cutover.errors import EnvironmentProblem, UsageError
from cutover.signing import sshkeygen


def fake(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "ssh-keygen"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def test_an_ssh_keygen_without_y_is_an_environment_problem(
    tmp_path: Path, keys: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUTOVER_SSH_KEYGEN", str(fake(tmp_path, 'echo "ssh-keygen: unknown option -- Y" >&2; exit 1')))
    with pytest.raises(EnvironmentProblem, match=r"does not know -Y .* 8\.2 or later"):
        sshkeygen.sign(b"data", keys["dana"])


def test_a_hanging_ssh_keygen_times_out(tmp_path: Path, keys: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUTOVER_SSH_KEYGEN", str(fake(tmp_path, "exec sleep 30")))
    monkeypatch.setattr(sshkeygen, "SIGN_TIMEOUT", 0.5)
    with pytest.raises(EnvironmentProblem, match=r"ssh-keygen -Y sign did not finish within"):
        sshkeygen.sign(b"data", keys["dana"])


def test_a_key_ssh_keygen_cannot_use_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    broken = tmp_path / "id_broken"
    broken.write_text("not a key\n")
    with pytest.raises(UsageError, match=re.escape(f"ssh-keygen could not sign with {broken}")):
        sshkeygen.sign(b"data", broken)


def test_the_data_is_passed_on_stdin_and_argv_has_no_shell(
    tmp_path: Path, keys: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "argv"
    script = f'printf "%s\\n" "$@" > {log}; cat > {tmp_path / "stdin"}; echo "-----BEGIN SSH SIGNATURE-----"'
    monkeypatch.setenv("CUTOVER_SSH_KEYGEN", str(fake(tmp_path, script)))
    odd = tmp_path / "key with $(spaces) ;"
    odd.write_text("x")
    sshkeygen.sign(b"statement bytes", odd)
    assert log.read_text().splitlines() == ["-Y", "sign", "-n", "cutover-signoff", "-f", str(odd)]
    assert (tmp_path / "stdin").read_bytes() == b"statement bytes"
