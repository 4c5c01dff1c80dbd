"""`SfCli`: the only way cutover runs the Salesforce CLI.

Each typed method builds an argv list (never a shell string), runs `sf ... --json` through `process.run_process`,
parses the result into a frozen dataclass (`results.py`) and raises the error that matches the outcome
(`errors.py`). Every call, successful or not, is handed to the optional `on_result` hook first, so a caller (the
run engine) can record it as evidence without this module knowing about the engine.
"""

from __future__ import annotations

import logging
import os
import shlex
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from cutover.redact import redact, register_secret
from cutover.sf.errors import (
    HINT_SETUP,
    ApexExecutionFailed,
    DeployFailed,
    RetrieveFailed,
    SfError,
    SfMalformedOutput,
    SfNotFound,
    StillRunning,
    TestsFailed,
    ValidationFailed,
    error_for,
    one_line,
)
from cutover.sf.process import SfResult, build_env, resolve_binary, run_process
from cutover.sf.results import (
    AnonymousApexResult,
    DeployResult,
    OrgInfo,
    OrgLimit,
    QueryResult,
    RetrieveResult,
    TestRunResult,
    parse_anonymous_apex,
    parse_deploy_result,
    parse_limits,
    parse_org_info,
    parse_org_list,
    parse_query_result,
    parse_retrieve_result,
    parse_test_run,
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


def _flag_list(flag: str, values: Sequence[PathLike] | PathLike | None) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str | os.PathLike):
        values = [values]
    out: list[str] = []
    for value in values:
        out += [flag, os.fspath(value)]
    return out


def _opt(flag: str, value: PathLike | int | None) -> list[str]:
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


def _parsed(parser: Callable[[Any], T], result: SfResult) -> T:
    """`parser(result.result)`; a malformed answer (a count of 1e400, -2 or 3.5) fails naming the command."""
    try:
        return parser(result.result)
    except SfMalformedOutput as exc:
        raise SfMalformedOutput.from_result(result, f"{result.command_line}: {exc.message}") from None


def _tests_failed(result: SfResult, run: TestRunResult) -> TestsFailed:
    first = run.failures[0] if run.failures else None
    detail = f"; first: {first.full_name}: {first.message or first.stack_trace or 'failed'}" if first else ""
    message = f"Apex tests failed: {run.failing} of {run.tests_ran} failing{detail}"
    return TestsFailed.from_result(result, message, run=run)


class SfCli:
    """A configured Salesforce CLI.

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
    ) -> SfResult:
        """Run `sf <args> --json` and return what happened; raises only when sf cannot be started (SfNotFound)."""
        argv = [self.binary, *[str(a) for a in args]]
        if "--json" not in argv:
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

    # -------------------------------------------------------------------------------------------------- orgs
    def version(self) -> str:
        """`@salesforce/cli/2.146.3` (from `sf version --json`)."""
        result = self.run_checked(["version"])
        doc = result.result
        if isinstance(doc, Mapping) and doc.get("cliVersion"):
            return str(doc["cliVersion"])
        return result.stdout.strip().splitlines()[0] if result.stdout.strip() else ""

    def org_display(self, alias: str) -> OrgInfo:
        return parse_org_info(self.run_checked(["org", "display", "--target-org", alias]).result)

    def org_list(self, *, check_connection: bool = False) -> tuple[OrgInfo, ...]:
        args = ["org", "list"] + ([] if check_connection else ["--skip-connection-status"])
        return parse_org_list(self.run_checked(args).result)

    def org_list_limits(self, alias: str) -> tuple[OrgLimit, ...]:
        return _parsed(parse_limits, self.run_checked(["org", "list", "limits", "--target-org", alias]))

    def data_query(self, alias: str, soql: str, *, tooling: bool = False, all_rows: bool = False) -> QueryResult:
        args = ["data", "query", "--query", soql, "--target-org", alias]
        if tooling:
            args.append("--use-tooling-api")
        if all_rows:
            args.append("--all-rows")
        return _parsed(parse_query_result, self.run_checked(args))

    def login_access_token(self, instance_url: str, token: str, alias: str, *, set_default: bool = False) -> OrgInfo:
        """Authorize `alias` with an access token. The token travels in `SF_ACCESS_TOKEN`, never in argv, and is
        registered as a secret first so no log, evidence or error can show it."""
        register_secret(token)
        args = ["org", "login", "access-token", "--instance-url", instance_url, "--alias", alias, "--no-prompt"]
        if set_default:
            args.append("--set-default")
        result = self.run_checked(args, extra_env={"SF_ACCESS_TOKEN": token})
        info = parse_org_info(result.result)
        return info if info.alias else OrgInfo(**{**info.__dict__, "alias": alias})

    # ------------------------------------------------------------------------------------------------ deploys
    @staticmethod
    def _selection(
        source_dirs: Sequence[PathLike] | PathLike | None,
        manifest: PathLike | None,
        metadata_dir: PathLike | None,
        metadata: Sequence[str] | None = None,
    ) -> list[str]:
        return (
            _flag_list("--source-dir", source_dirs)
            + _opt("--manifest", manifest)
            + _opt("--metadata-dir", metadata_dir)
            + _flag_list("--metadata", metadata)
        )

    @staticmethod
    def _deploy_options(
        *,
        test_level: str | None,
        tests: Sequence[str] | None,
        pre_destructive: PathLike | None,
        post_destructive: PathLike | None,
        purge_on_delete: bool,
        ignore_warnings: bool,
        async_: bool,
        wait: int | None,
    ) -> list[str]:
        args = _opt("--test-level", test_level) + _flag_list("--tests", tests)
        args += _opt("--pre-destructive-changes", pre_destructive)
        args += _opt("--post-destructive-changes", post_destructive)
        if purge_on_delete:
            args.append("--purge-on-delete")
        if ignore_warnings:
            args.append("--ignore-warnings")
        if async_:
            args.append("--async")
        else:
            args += ["--wait", str(wait if wait is not None else DEFAULT_WAIT_MINUTES)]
        return args

    def deploy_start_args(
        self,
        alias: str,
        *,
        source_dirs: Sequence[PathLike] | PathLike | None = None,
        manifest: PathLike | None = None,
        metadata_dir: PathLike | None = None,
        metadata: Sequence[str] | None = None,
        dry_run: bool = False,
        test_level: str | None = None,
        tests: Sequence[str] | None = None,
        pre_destructive: PathLike | None = None,
        post_destructive: PathLike | None = None,
        purge_on_delete: bool = False,
        ignore_warnings: bool = False,
        async_: bool = False,
        wait: int | None = None,
    ) -> list[str]:
        """The argv of `deploy_start` (without the binary), so `cutover plan` can show exactly what will run."""
        args = ["project", "deploy", "start", "--target-org", alias]
        args += self._selection(source_dirs, manifest, metadata_dir, metadata)
        if dry_run:
            args.append("--dry-run")
        return args + self._deploy_options(
            test_level=test_level,
            tests=tests,
            pre_destructive=pre_destructive,
            post_destructive=post_destructive,
            purge_on_delete=purge_on_delete,
            ignore_warnings=ignore_warnings,
            async_=async_,
            wait=wait,
        )

    def deploy_start(
        self,
        alias: str,
        *,
        source_dirs: Sequence[PathLike] | PathLike | None = None,
        manifest: PathLike | None = None,
        metadata_dir: PathLike | None = None,
        metadata: Sequence[str] | None = None,
        dry_run: bool = False,
        test_level: str | None = None,
        tests: Sequence[str] | None = None,
        pre_destructive: PathLike | None = None,
        post_destructive: PathLike | None = None,
        purge_on_delete: bool = False,
        ignore_warnings: bool = False,
        async_: bool = False,
        wait: int | None = None,
        cwd: PathLike | None = None,
    ) -> DeployResult:
        """Deploy (or, with dry_run=True, validate through `deploy start --dry-run`, which returns the full result).

        Returns the result when it succeeded (or SucceededPartial, exit 68), or when `async_` gave a Queued job.
        Raises DeployFailed / ValidationFailed (dry run) with the parsed result when it failed, StillRunning when
        sf stopped waiting, and the `error_for` errors otherwise.
        """
        args = self.deploy_start_args(
            alias,
            source_dirs=source_dirs,
            manifest=manifest,
            metadata_dir=metadata_dir,
            metadata=metadata,
            dry_run=dry_run,
            test_level=test_level,
            tests=tests,
            pre_destructive=pre_destructive,
            post_destructive=post_destructive,
            purge_on_delete=purge_on_delete,
            ignore_warnings=ignore_warnings,
            async_=async_,
            wait=wait,
        )
        result = self.run_checked(args, timeout=self._wait_timeout(wait or DEFAULT_WAIT_MINUTES, async_), cwd=cwd)
        return self._checked_deploy(result, validation=dry_run, async_=async_)

    def deploy_validate(
        self,
        alias: str,
        *,
        source_dirs: Sequence[PathLike] | PathLike | None = None,
        manifest: PathLike | None = None,
        metadata_dir: PathLike | None = None,
        metadata: Sequence[str] | None = None,
        test_level: str | None = "RunLocalTests",
        tests: Sequence[str] | None = None,
        pre_destructive: PathLike | None = None,
        post_destructive: PathLike | None = None,
        purge_on_delete: bool = False,
        ignore_warnings: bool = False,
        async_: bool = False,
        wait: int | None = None,
        cwd: PathLike | None = None,
        fetch_details: bool = True,
    ) -> DeployResult:
        """`project deploy validate`: a check-only deploy whose id `deploy_quick` can promote.

        A failed validation is an error envelope (FailedValidationError, data.deployId) without details; with
        `fetch_details` one `deploy report` call fills `ValidationFailed.result` so callers can show what failed.
        """
        args = ["project", "deploy", "validate", "--target-org", alias]
        args += self._selection(source_dirs, manifest, metadata_dir, metadata)
        args += self._deploy_options(
            test_level=test_level,
            tests=tests,
            pre_destructive=pre_destructive,
            post_destructive=post_destructive,
            purge_on_delete=purge_on_delete,
            ignore_warnings=ignore_warnings,
            async_=async_,
            wait=wait,
        )
        try:
            result = self.run_checked(args, timeout=self._wait_timeout(wait or DEFAULT_WAIT_MINUTES, async_), cwd=cwd)
        except ValidationFailed as exc:
            if fetch_details and exc.deploy_id and exc.result is None:
                try:
                    exc.result = self.deploy_report(alias, exc.deploy_id)
                except SfError:
                    pass  # the envelope's message already says why; the details are a bonus
                if exc.result is not None:
                    exc.message = describe_deploy_failure(exc.result, what="validation")
                    exc.args = (exc.message,)
            raise
        return self._checked_deploy(result, validation=True, async_=async_)

    def deploy_quick(self, alias: str, job_id: str, *, async_: bool = False, wait: int | None = None) -> DeployResult:
        """Promote a validated job. The returned result has a *new* deploy id."""
        args = ["project", "deploy", "quick", "--job-id", job_id, "--target-org", alias]
        args += ["--async"] if async_ else ["--wait", str(wait or DEFAULT_WAIT_MINUTES)]
        result = self.run_checked(args, timeout=self._wait_timeout(wait or DEFAULT_WAIT_MINUTES, async_))
        return self._checked_deploy(result, validation=False, async_=async_, what="quick deploy")

    def deploy_report(self, alias: str, job_id: str, *, wait: int | None = None) -> DeployResult:
        """The current state of a deploy job, whatever it is (report exits 0 even for a Failed deploy)."""
        args = ["project", "deploy", "report", "--job-id", job_id, "--target-org", alias, *_opt("--wait", wait)]
        result = self.run_checked(args, timeout=self._wait_timeout(wait))
        return _parsed(parse_deploy_result, result)

    def deploy_cancel(self, alias: str, job_id: str, *, wait: int | None = None) -> DeployResult:
        args = ["project", "deploy", "cancel", "--job-id", job_id, "--target-org", alias, *_opt("--wait", wait)]
        result = self.run_checked(args, timeout=self._wait_timeout(wait))
        return _parsed(parse_deploy_result, result)

    def _checked_deploy(
        self, result: SfResult, *, validation: bool, async_: bool, what: str | None = None
    ) -> DeployResult:
        parsed = _parsed(parse_deploy_result, result)
        label = what or ("validation" if validation or parsed.check_only else "deploy")
        if result.exit_code == 1 or parsed.failed:
            error_type = ValidationFailed if (validation or parsed.check_only) else DeployFailed
            raise error_type.from_result(result, describe_deploy_failure(parsed, what=label), result=parsed)
        if not async_ and parsed.id and not parsed.finished:
            raise StillRunning.from_result(
                result, f"{label} {parsed.id} is still {parsed.status or 'running'}", job_id=parsed.id
            )
        return parsed

    # ---------------------------------------------------------------------------------------------- retrieve
    def retrieve_start(
        self,
        alias: str,
        *,
        manifest: PathLike | None = None,
        metadata: Sequence[str] | None = None,
        source_dirs: Sequence[PathLike] | PathLike | None = None,
        output_dir: PathLike | None = None,
        target_metadata_dir: PathLike | None = None,
        unzip: bool = False,
        wait: int | None = None,
        cwd: PathLike | None = None,
    ) -> RetrieveResult:
        """Retrieve metadata. Raises RetrieveFailed (with the result) when the document says it failed, because
        the CLI exits 0 for that in JSON mode."""
        args = ["project", "retrieve", "start", "--target-org", alias]
        args += _opt("--manifest", manifest) + _flag_list("--metadata", metadata)
        args += _flag_list("--source-dir", source_dirs) + _opt("--output-dir", output_dir)
        args += _opt("--target-metadata-dir", target_metadata_dir)
        if unzip:
            args.append("--unzip")
        args += ["--wait", str(wait or DEFAULT_WAIT_MINUTES)]
        result = self.run_checked(args, timeout=self._wait_timeout(wait or DEFAULT_WAIT_MINUTES), cwd=cwd)
        parsed = _parsed(parse_retrieve_result, result)
        if parsed.failed:
            problems = [f"{f.type} {f.full_name}: {f.error}" for f in parsed.failed_files[:2]]
            problems += [f"{m.file_name}: {m.problem}" for m in parsed.messages[:2] if not problems]
            detail = "; ".join(problems) or parsed.status or "failed"
            raise RetrieveFailed.from_result(result, f"retrieve {parsed.id or ''} failed: {detail}", result=parsed)
        return parsed

    # ------------------------------------------------------------------------------------------------- apex
    def apex_run_test(
        self,
        alias: str,
        *,
        test_level: str | None = None,
        class_names: Sequence[str] | None = None,
        tests: Sequence[str] | None = None,
        code_coverage: bool = True,
        wait: int = 10,
    ) -> TestRunResult:
        """Run Apex tests and wait up to `wait` minutes. Raises TestsFailed (exit 100, `run` attached), or
        StillRunning (with the 707 test run id) when the wait ran out before the run finished."""
        if test_level is None and not class_names and not tests:
            test_level = "RunLocalTests"
        args = ["apex", "run", "test", "--target-org", alias, *_opt("--test-level", test_level)]
        args += _flag_list("--class-names", class_names) + _flag_list("--tests", tests)
        if code_coverage:
            args.append("--code-coverage")
        args += ["--wait", str(wait)]
        result = self.run_checked(args, timeout=self._wait_timeout(wait))
        run = _parsed(parse_test_run, result)
        if result.exit_code == 100 or run.failed:
            raise _tests_failed(result, run)
        if not run.completed:
            raise StillRunning.from_result(
                result, f"Apex test run {run.test_run_id} has not finished", job_id=run.test_run_id or None
            )
        return run

    def apex_get_test(self, alias: str, test_run_id: str, *, code_coverage: bool = True) -> TestRunResult:
        """The results of an earlier run (after `apex_run_test` raised StillRunning). Raises TestsFailed (exit 100)."""
        args = ["apex", "get", "test", "--test-run-id", test_run_id, "--target-org", alias]
        if code_coverage:
            args.append("--code-coverage")
        result = self.run_checked(args)
        run = _parsed(parse_test_run, result)
        if result.exit_code == 100 or run.failed:
            raise _tests_failed(result, run)
        return run

    def generate_manifest(
        self,
        *,
        source_dirs: Sequence[PathLike] | PathLike | None = None,
        metadata: Sequence[str] | None = None,
        manifest_type: str | None = None,
        output_dir: PathLike | None = None,
        cwd: PathLike | None = None,
    ) -> Path:
        """`project generate manifest`; manifest_type: package | pre | post | destroy. Returns the written path."""
        args = ["project", "generate", "manifest"]
        args += _flag_list("--source-dir", source_dirs) + _flag_list("--metadata", metadata)
        args += _opt("--type", manifest_type) + _opt("--output-dir", output_dir)
        result = self.run_checked(args, cwd=cwd)
        doc = result.result if isinstance(result.result, Mapping) else {}
        path = Path(str(doc.get("path") or doc.get("name") or "package.xml"))
        base = Path(cwd) if cwd is not None else self.cwd
        return path if path.is_absolute() or base is None else base / path

    def apex_run(self, alias: str, file: PathLike) -> AnonymousApexResult:
        """Execute anonymous Apex from `file`; raises ApexExecutionFailed if it did not compile or threw."""
        result = self.run(["apex", "run", "--file", os.fspath(file), "--target-org", alias])
        doc = result.result if isinstance(result.envelope, Mapping) else None
        if isinstance(doc, Mapping) and ("success" in doc or "compiled" in doc):
            parsed = parse_anonymous_apex(doc)
            if not parsed.success:
                why = parsed.compile_problem or parsed.exception_message or "failed"
                raise ApexExecutionFailed.from_result(result, f"anonymous Apex failed: {why}")
            return parsed
        error = error_for(result)
        if error is not None:
            raise error
        return parse_anonymous_apex(doc)


__all__ = ["DEFAULT_WAIT_MINUTES", "SfCli", "command_line", "describe_deploy_failure"]
