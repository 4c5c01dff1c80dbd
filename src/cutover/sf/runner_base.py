"""The plumbing under `SfCli`: running `sf ... --json` (binary, environment, timeout, the `on_result` hook), argv
helpers, and the one-line descriptions of failed deploys and test runs. The typed commands are in `runner.py`.
"""

from __future__ import annotations

import logging
import os
import shlex
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from cutover.redact import redact
from cutover.sf.errors import (
    HINT_SETUP,
    SfError,
    SfMalformedOutput,
    SfNotFound,
    TestsFailed,
    error_for,
    one_line,
)
from cutover.sf.process import SfResult, build_env, resolve_binary, run_process
from cutover.sf.results import (
    DeployResult,
    TestRunResult,
)

DEFAULT_TIMEOUT_S = 300.0
DEFAULT_WAIT_MINUTES = 33  # the CLI's own default for deploy/retrieve --wait
# sf stops waiting after --wait minutes; give it time to print its answer before we kill it.
WAIT_GRACE_S = 120.0

ResultHook = Callable[[SfResult], None]
T = TypeVar("T")
log = logging.getLogger("cutover.sf")
PathLike = str | os.PathLike[str]


def command_line(args: Sequence[str]) -> str:
    """The `sf ...` line a human would type for `args` (no `--json`), redacted; for `cutover plan` and the audit log."""
    shown = [str(a) for a in args if a != "--json"]
    return redact("sf " + shlex.join(shown)) if shown else "sf"


def flag_list(flag: str, values: Sequence[PathLike] | PathLike | None) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str | os.PathLike):
        values = [values]
    out: list[str] = []
    for value in values:
        out += [flag, os.fspath(value)]
    return out


def opt_flag(flag: str, value: PathLike | int | None) -> list[str]:
    return [] if value is None else [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]


def describe_deploy_failure(result: DeployResult, *, what: str = "deploy") -> str:
    """One line: what failed and the first reasons (component problems first, then test failures, then coverage)."""
    failures = result.failures
    tests = result.test_failures
    parts = [f"{what} {result.id or '(no id)'} {result.status or 'failed'}"]
    counts = []
    if failures:
        counts.append(f"{len(failures)} component error(s)")
    if tests:
        counts.append(f"{len(tests)} test failure(s)")
    if counts:
        parts.append(": " + ", ".join(counts))
    reasons = []
    for comp in failures[:2]:
        where = comp.file or comp.name
        if comp.line is not None:
            where += f":{comp.line}" + (f":{comp.column}" if comp.column is not None else "")
        reasons.append(f"{comp.type} {comp.name} ({where}): {comp.problem or 'failed'}")
    for test in tests[:2]:
        reasons.append(f"{test.full_name}: {test.message or 'failed'}")
    if not reasons and result.tests and result.tests.coverage_warnings:
        reasons.append(result.tests.coverage_warnings[0])
    if not reasons and result.error_message:
        reasons.append(result.error_message)
    if reasons:
        parts.append("; " + "; ".join(reasons))
    return one_line("".join(parts))


def parsed_result(parser: Callable[[Any], T], result: SfResult) -> T:
    """`parser(result.result)`; a malformed answer (a count of 1e400, -2 or 3.5) fails naming the command."""
    try:
        return parser(result.result)
    except SfMalformedOutput as exc:
        raise SfMalformedOutput.from_result(result, f"{result.command_line}: {exc.message}") from None


def tests_failed_error(result: SfResult, run: TestRunResult) -> TestsFailed:
    first = run.failures[0] if run.failures else None
    detail = f"; first: {first.full_name}: {first.message or first.stack_trace or 'failed'}" if first else ""
    message = f"Apex tests failed: {run.failing} of {run.tests_ran} failing{detail}"
    return TestsFailed.from_result(result, message, run=run)


class SfCliBase:
    """A configured Salesforce CLI (the plumbing; `runner.SfCli` adds the typed commands).

    binary: explicit path or name (callers pass the runbook's `sf.binary`); else env `CUTOVER_SF`; else `sf` on PATH.
    home: run with this HOME (sf keeps auth, aliases and the deploy cache under it); None keeps the caller's.
    env: the base environment (default: os.environ) before the non-interactive adjustments.
    on_result: called with every SfResult (redacted) right after the process ends, before any error is raised.
    """

    def __init__(
        self,
        binary: PathLike | None = None,
        *,
        home: Path | None = None,
        env: Mapping[str, str] | None = None,
        default_timeout: float = DEFAULT_TIMEOUT_S,
        cwd: Path | None = None,
        on_result: ResultHook | None = None,
    ) -> None:
        self._binary_arg = binary
        self.home = Path(home) if home is not None else None
        self._env_base = dict(env) if env is not None else None
        self.default_timeout = default_timeout
        self.cwd = Path(cwd) if cwd is not None else None
        self.on_result = on_result
        self._binary: str | None = None

    # ------------------------------------------------------------------------------------------------ plumbing
    @property
    def binary(self) -> str:
        """The resolved executable; raises SfNotFound (exit 6) when there is none."""
        if self._binary is None:
            base = self._env_base if self._env_base is not None else os.environ
            found = resolve_binary(self._binary_arg, base, self.cwd)
            if found is None:
                asked = self._binary_arg or base.get("CUTOVER_SF")
                where = f"'{asked}' does not exist or is not executable" if asked else "no 'sf' on PATH"
                raise SfNotFound(f"Salesforce CLI not found: {where}", hint=HINT_SETUP)
            self._binary = found
        return self._binary

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return build_env(self._env_base, home=self.home, extra=extra)

    def run(
        self,
        args: Sequence[str],
        *,
        timeout: float | None = None,
        cwd: PathLike | None = None,
        extra_env: Mapping[str, str] | None = None,
        json_flag: bool = True,
    ) -> SfResult:
        """Run `sf <args> --json` and return what happened; raises only when sf cannot be started (SfNotFound).
        `json_flag=False` for the few commands without `--json` (`api request rest` prints the response body)."""
        argv = [self.binary, *[str(a) for a in args]]
        if json_flag and "--json" not in argv:
            argv.append("--json")
        workdir = Path(cwd) if cwd is not None else self.cwd
        try:
            result = run_process(
                argv,
                env=self.environment(extra_env),
                timeout=timeout if timeout is not None else self.default_timeout,
                cwd=workdir,
            )
        except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
            if workdir is not None and not workdir.is_dir():
                raise SfError(f"cannot run sf in {workdir}: no such folder", argv=argv) from None
            raise SfNotFound(
                f"cannot start the Salesforce CLI '{self.binary}': {exc.strerror or exc}", argv=argv, hint=HINT_SETUP
            ) from None
        except OSError as exc:
            raise SfNotFound(f"cannot start the Salesforce CLI '{self.binary}': {exc}", argv=argv) from None
        log.debug(
            "%s -> %s in %.1fs",
            result.command_line,
            "timeout" if result.timed_out else f"exit {result.exit_code}",
            result.duration_s,
        )
        if self.on_result is not None:
            self.on_result(result)
        return result

    def run_checked(self, args: Sequence[str], *, timeout: float | None = None, **kwargs: Any) -> SfResult:
        """`run`, then raise the error the answer represents (not-found org, crash, thrown sf error, timeout)."""
        result = self.run(args, timeout=timeout, **kwargs)
        error = error_for(result)
        if error is not None:
            raise error
        return result

    @staticmethod
    def command_line(args: Sequence[str]) -> str:
        return command_line(args)

    @staticmethod
    def _wait_timeout(wait: int | None, async_: bool = False) -> float | None:
        if async_ or wait is None:
            return None
        return wait * 60 + WAIT_GRACE_S
