"""The one adapter around `ssh-keygen -Y` (sign, verify, find-principals): the only code that runs ssh-keygen.

argv only (never a shell), a timeout on every call, the data on stdin, and one-line errors: a missing ssh-keygen is
an `EnvironmentProblem` (exit 6), a key it cannot sign with is a `UsageError` naming the key file.
`CUTOVER_SSH_KEYGEN` names another binary (else `ssh-keygen` on PATH).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cutover.errors import EnvironmentProblem, Failure, UsageError

NAMESPACE = "cutover-signoff"
SIGN_TIMEOUT = 120.0  # a passphrase prompt or a hardware key touch takes a person
VERIFY_TIMEOUT = 30.0


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: str
    stderr: str

    def first_line(self) -> str:
        lines = [line.strip() for line in (self.stderr + "\n" + self.stdout).splitlines() if line.strip()]
        return lines[0] if lines else f"exit {self.returncode}"


def binary() -> str:
    """The ssh-keygen to run, or EnvironmentProblem (exit 6) naming how to get one."""
    given = os.environ.get("CUTOVER_SSH_KEYGEN")
    found = shutil.which(given or "ssh-keygen")
    if not found:
        what = f"CUTOVER_SSH_KEYGEN={given}" if given else "ssh-keygen"
        raise EnvironmentProblem(
            f"{what} not found: signed sign-offs need OpenSSH's ssh-keygen (8.2 or later)",
            hint="install OpenSSH (apt-get install openssh-client, brew install openssh) or set CUTOVER_SSH_KEYGEN",
        )
    return found


def _run(args: list[str], data: bytes, timeout: float) -> Done:
    argv = [binary(), *args]
    try:
        done = subprocess.run(argv, input=data, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise EnvironmentProblem(f"ssh-keygen {args[0]} {args[1]} did not finish within {timeout:.0f} s") from None
    except OSError as exc:
        raise EnvironmentProblem(f"cannot run ssh-keygen: {exc.strerror or exc}") from None
    result = Done(done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace"))
    if result.returncode != 0 and any(t in result.stderr for t in ("unknown option -- Y", "illegal option -- Y")):
        raise EnvironmentProblem(
            f"{argv[0]} does not know -Y (signatures): signed sign-offs need OpenSSH's ssh-keygen 8.2 or later",
            hint="upgrade OpenSSH, or set CUTOVER_SSH_KEYGEN to a newer ssh-keygen",
        )
    return result


def sign(data: bytes, key: Path) -> str:
    """The armored SSH signature of `data` with the private key `key`, or with the ssh-agent when `key` is a `.pub`
    file whose private half the agent holds (`ssh-add`)."""
    if not key.is_file():
        raise UsageError(f"--key {key}: no such file", hint="name your private key (~/.ssh/id_ed25519) or its .pub")
    done = _run(["-Y", "sign", "-n", NAMESPACE, "-f", str(key)], data, SIGN_TIMEOUT)
    signature = done.stdout
    if done.returncode != 0 or "BEGIN SSH SIGNATURE" not in signature:
        hint = None
        if key.suffix == ".pub":
            hint = "a .pub key signs through the ssh-agent: start one and `ssh-add` the private key (SSH_AUTH_SOCK)"
        raise UsageError(f"ssh-keygen could not sign with {key}: {done.first_line()}", hint=hint)
    return signature


def _with_files(signature: str, allowed_signers: str) -> tuple[tempfile.TemporaryDirectory[str], Path, Path]:
    folder = tempfile.TemporaryDirectory(prefix="cutover-sig-")
    sig_path = Path(folder.name) / "statement.sig"
    signers_path = Path(folder.name) / "allowed_signers"
    sig_path.write_text(signature, encoding="utf-8")
    signers_path.write_text(allowed_signers, encoding="utf-8")
    return folder, sig_path, signers_path


def find_principals(signature: str, allowed_signers: str) -> list[str]:
    """The principals `allowed_signers` lists for the key that made `signature` (empty: the key is not listed).
    This does not check the signature itself: `verify` does."""
    folder, sig_path, signers_path = _with_files(signature, allowed_signers)
    with folder:
        done = _run(["-Y", "find-principals", "-s", str(sig_path), "-f", str(signers_path)], b"", VERIFY_TIMEOUT)
    if done.returncode != 0:
        if "No principal matched" in done.stderr + done.stdout:
            return []
        raise Failure(f"ssh-keygen -Y find-principals failed: {done.first_line()}")
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]


def verify(data: bytes, signature: str, allowed_signers: str, principal: str) -> tuple[bool, str]:
    """Whether `signature` is a good `cutover-signoff` signature of `data` by a key `allowed_signers` lists for
    `principal`; with ssh-keygen's one-line answer."""
    folder, sig_path, signers_path = _with_files(signature, allowed_signers)
    with folder:
        args = ["-Y", "verify", "-f", str(signers_path), "-I", principal, "-n", NAMESPACE, "-s", str(sig_path)]
        done = _run(args, data, VERIFY_TIMEOUT)
    return done.returncode == 0, done.first_line()
