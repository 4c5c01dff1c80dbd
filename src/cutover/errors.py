"""The error taxonomy of cutover, translated into exit codes once, at the CLI edge (cli.py).

A `UsageError` is something the user can fix (a flag, the runbook file); a `Failure` means the tool worked and the
answer is no (a gate failed, a deploy failed, the audit trail does not verify). Messages are one line and must
never contain a secret: build them from already-redacted text.
"""

from __future__ import annotations


class ExitCode:
    """Documented exit codes (README "Exit codes")."""

    OK = 0
    FAILED = 1  # a gate, step, deploy, verification or audit check said no
    USAGE = 2  # bad flags, invalid runbook file, unknown run or step
    INTERNAL = 3  # a bug in cutover: traceback written to .cutover/logs/
    PAUSED = 4  # the run is waiting for a sign-off; the message names the command that unblocks it
    LOCKED = 5  # another run holds the target org's lock
    ENVIRONMENT = 6  # a tool cutover needs is missing or broken (sf, git, node)
    INTERRUPTED = 130


class CutoverError(Exception):
    """Base of every error cutover raises on purpose. `hint` is an optional next step for the user."""

    exit_code: int = ExitCode.FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(CutoverError):
    exit_code = ExitCode.USAGE


class Failure(CutoverError):
    exit_code = ExitCode.FAILED


class GateFailed(Failure):
    """A pre-deployment gate said no."""


class StepFailed(Failure):
    """A run step (deploy, verification, ...) failed."""


class AuditBroken(Failure):
    """The hash-chained event log does not verify."""


class AwaitingSignoff(CutoverError):
    exit_code = ExitCode.PAUSED


class RunLocked(CutoverError):
    exit_code = ExitCode.LOCKED


class EnvironmentProblem(CutoverError):
    exit_code = ExitCode.ENVIRONMENT
