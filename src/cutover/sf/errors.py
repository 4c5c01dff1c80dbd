"""What can go wrong when cutover runs `sf`, by meaning, decided from the exit code and the JSON envelope.

sf-cli-contract §9: a document with `result` means the command completed (its `status` may still say Failed: a
failed deploy is a *result*, exit 1); a document with `name` and no `result` is a thrown error (branch on `name`,
never on `code`, whose type changed across versions). Typed `SfCli` methods raise the subclasses below and keep
the parsed result on the exception, so callers can report what failed without another call.

Wait timeouts: with sf 2.146.3, `deploy start --wait 1` against a slow org exited 1 with a ClientTimeoutError
envelope and `data.id` (measured against orgsim), not 69 as the docs table says; both mean StillRunning here.

`returncode` is the sf process's exit code; `exit_code` (from CutoverError) is the one *cutover* exits with.
Messages are one line and redacted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self

from cutover.errors import CutoverError, EnvironmentProblem, ExitCode, Failure, UsageError
from cutover.redact import redact, redact_obj

if TYPE_CHECKING:
    from cutover.sf.process import SfResult
    from cutover.sf.results import DeployResult, RetrieveResult, TestRunResult

MAX_MESSAGE = 400
HINT_SETUP = "run 'make setup' or set CUTOVER_SF to the sf binary"


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """Collapse whitespace/newlines (sf messages embed `\\n\\t`) and cap the length."""
    flat = " ".join(redact(text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class SfError(CutoverError):
    """`sf` did not give cutover what it asked for. Carries the (redacted) call so it can be logged as evidence."""

    def __init__(
        self,
        message: str,
        *,
        argv: tuple[str, ...] | list[str] = (),
        returncode: int | None = None,
        name: str | None = None,
        data: Any = None,
        stdout: str = "",
        stderr: str = "",
        hint: str | None = None,
    ) -> None:
        super().__init__(one_line(message), hint=one_line(hint) if hint else None)
        self.argv = tuple(redact(a) for a in argv)
        self.returncode = returncode
        self.name = name
        self.data = redact_obj(data) if data is not None else None
        self.stdout = redact(stdout)
        self.stderr = redact(stderr)

    @classmethod
    def from_result(cls, call: SfResult, message: str | None = None, /, **extra: Any) -> Self:
        env = call.envelope if isinstance(call.envelope, Mapping) else {}
        return cls(
            message or str(env.get("message") or f"sf exited with {call.exit_code}"),
            argv=call.argv,
            returncode=call.exit_code,
            name=str(env["name"]) if env.get("name") else None,
            data=env.get("data"),
            stdout=call.stdout,
            stderr=call.stderr,
            **extra,
        )


# -- the environment: cutover cannot use sf at all (exit 6) -----------------------------------------------------------
class SfNotFound(SfError, EnvironmentProblem):
    """No `sf` binary where we looked (argument, CUTOVER_SF, PATH), or it could not be started."""


class SfCrashed(SfError, EnvironmentProblem):
    """The CLI died without a JSON answer: Node crash, TypeError (exit 10), killed by a signal."""


class SfBadOutput(SfError, EnvironmentProblem):
    """The CLI exited 0 but stdout held no JSON document."""


class SfMalformedOutput(SfError, Failure):
    """sf answered with a document that cannot be true: an infinite, negative or fractional count, a boolean where
    a number belongs, an exit status of 3.5. Raised by the parsers in `results_*`; the step that asked fails."""


# -- the user can fix it (exit 2) ------------------------------------------------------------------------------------
class OrgNotFound(SfError, UsageError):
    """The alias/username has no authorization in this HOME (NamedOrgNotFoundError, NoOrgFound)."""


class SfUsageError(SfError, UsageError):
    """sf rejected the flags (oclif exit 2): a bad value such as a malformed job id."""


# -- the answer is "not yet" or "no" (exit 1) ------------------------------------------------------------------------
class SfTimeout(SfError, Failure):
    """cutover's own deadline passed; the process group was killed. The org-side job may still be running."""


class StillRunning(SfError, Failure):
    """sf stopped waiting but the job goes on (exit 69, or exit 1 ClientTimeoutError). `job_id` says what to poll."""

    def __init__(self, message: str, *, job_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.job_id = job_id


class SfInterrupted(SfError):
    """sf was interrupted (SIGINT/SIGTERM, exit 130)."""

    exit_code = ExitCode.INTERRUPTED


class DeployFailed(SfError, Failure):
    """A deploy (or quick deploy) completed with status Failed/Canceled. `result` holds the parsed document."""

    def __init__(
        self, message: str, *, result: DeployResult | None = None, deploy_id: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.result = result
        self.deploy_id = deploy_id or (result.id if result else None)


class ValidationFailed(DeployFailed):
    """A check-only deploy failed: FailedValidationError (data.deployId), or a Failed dry-run document."""


class TestsFailed(SfError, Failure):
    """`apex run test` finished with failures (exit 100). `run` holds the parsed test run."""

    __test__ = False

    def __init__(self, message: str, *, run: TestRunResult | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.run = run


class RetrieveFailed(SfError, Failure):
    """A retrieve completed but failed (the CLI exits 0 for this in JSON mode). `result` holds the document."""

    def __init__(self, message: str, *, result: RetrieveResult | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.result = result


class ApexExecutionFailed(SfError, Failure):
    """Anonymous Apex did not compile or threw."""


class SfApiError(SfError, Failure):
    """Salesforce answered with an API error (MALFORMED_QUERY, INVALID_SESSION_ID, ...) or a GACK (exit 20)."""

    @property
    def error_code(self) -> str | None:
        return self.name


class SfCommandFailed(SfError, Failure):
    """Any other thrown sf error (NothingToDeploy, CannotQuickDeployError, ...), named by `name`."""


ORG_NOT_FOUND_NAMES = frozenset(
    {"NamedOrgNotFoundError", "NamedOrgNotFound", "NoOrgFound", "NoDefaultEnvError", "AuthInfoCreationError"}
)
_API_ERROR_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
_CRASH_TEXT = re.compile(r"TypeError|ReferenceError|SyntaxError|node:internal|FATAL ERROR|Segmentation fault")


def job_id_from(data: Any, result: Any = None) -> str | None:
    """The deploy/retrieve/test-run id an error or partial answer carries (data.id, data.deployId, result.id)."""
    for source in (data, result):
        if isinstance(source, Mapping):
            for key in ("deployId", "id", "testRunId", "jobId"):
                value = source.get(key)
                if isinstance(value, str) and value:
                    return value
    return None


def error_for(result: SfResult) -> SfError | None:
    """The error a finished call represents regardless of command, or None when it produced a result document.

    Result documents that report failure (a Failed deploy, exit 100 tests) are left to the typed commands, which
    know how to read them.
    """
    code = result.exit_code
    env = result.envelope
    if result.timed_out:
        return SfTimeout.from_result(
            result,
            f"sf did not finish within {result.duration_s:.0f}s and was stopped: {' '.join(result.argv[1:4])}",
            hint="the org-side job may still be running; check it with 'sf project deploy report'",
        )
    if env is None:
        return _error_without_json(result)
    if not isinstance(env, Mapping):
        if code == 0:
            return None
        return SfBadOutput.from_result(result, f"sf exited {code} with an unexpected JSON document")
    if code == 130 or env.get("status") == 130:
        return SfInterrupted.from_result(result, "sf was interrupted")
    if result.is_error_envelope:
        return _error_from_envelope(result, env)
    if code == 69:
        return StillRunning.from_result(
            result, "the request is still in progress", job_id=job_id_from(None, env.get("result"))
        )
    return None


def _error_without_json(result: SfResult) -> SfError:
    code = result.exit_code
    detail = (
        one_line((result.stderr.strip() or result.stdout.strip()).splitlines()[0])
        if (result.stderr.strip() or result.stdout.strip())
        else "no output"
    )
    if code == 127:
        return SfNotFound.from_result(result, f"sf could not start: {detail}", hint=HINT_SETUP)
    if code in (130, -2, -15):
        return SfInterrupted.from_result(result, "sf was interrupted")
    if code == 0:
        return SfBadOutput.from_result(result, f"sf printed no JSON document (stdout: {detail})")
    crash = "TypeError (a CLI bug)" if code == 10 else "a crash"
    if code != 10 and _CRASH_TEXT.search(result.stderr + result.stdout):
        crash = "a Node crash"
    return SfCrashed.from_result(result, f"sf exited {code} without a JSON answer ({crash}): {detail}")


def _error_from_envelope(result: SfResult, env: Mapping[str, Any]) -> SfError:
    name = str(env.get("name") or "")
    message = str(env.get("message") or name or "sf failed")
    data = env.get("data")
    code = result.exit_code
    if name in ORG_NOT_FOUND_NAMES:
        return OrgNotFound.from_result(result, message, hint="log in with 'sf org login ...' or fix the alias")
    if name == "ClientTimeoutError" or code == 69 or (name == "MetadataTransferError" and "timed out" in message):
        return StillRunning.from_result(result, message, job_id=job_id_from(data, env.get("result")))
    if name == "FailedValidationError":
        deploy_id = job_id_from(data)
        return ValidationFailed.from_result(result, message, deploy_id=deploy_id)
    if code == 2:
        return SfUsageError.from_result(result, message)
    if code == 10:
        return SfCrashed.from_result(result, message)
    if code == 20 or _API_ERROR_NAME.match(name):
        hint = None
        if name == "INVALID_SESSION_ID":
            hint = "the session expired or was revoked; log in to the org again"
        return SfApiError.from_result(result, message, hint=hint)
    return SfCommandFailed.from_result(result, message)


__all__ = [
    "ORG_NOT_FOUND_NAMES",
    "ApexExecutionFailed",
    "DeployFailed",
    "OrgNotFound",
    "RetrieveFailed",
    "SfApiError",
    "SfBadOutput",
    "SfCommandFailed",
    "SfCrashed",
    "SfError",
    "SfInterrupted",
    "SfMalformedOutput",
    "SfNotFound",
    "SfTimeout",
    "SfUsageError",
    "StillRunning",
    "TestsFailed",
    "ValidationFailed",
    "error_for",
    "job_id_from",
    "one_line",
]
