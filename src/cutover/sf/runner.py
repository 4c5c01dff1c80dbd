"""`SfCli`: the only way cutover runs the Salesforce CLI.

Each typed method builds an argv list (never a shell string), runs `sf ... --json` through `process.run_process`,
parses the result into a frozen dataclass (`results.py`) and raises the error that matches the outcome
(`errors.py`). Every call, successful or not, is handed to the optional `on_result` hook first, so a caller (the
run engine) can record it as evidence without this module knowing about the engine.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from cutover.redact import register_secret
from cutover.sf.composite import SubAnswer, api_path, chunks, composite_body, parse_composite
from cutover.sf.errors import (
    ApexExecutionFailed,
    DeployFailed,
    RetrieveFailed,
    SfBadOutput,
    SfError,
    StillRunning,
    ValidationFailed,
    error_for,
)
from cutover.sf.process import SfResult
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
from cutover.sf.runner_base import (
    DEFAULT_WAIT_MINUTES,
    PathLike,
    SfCliBase,
    command_line,
    describe_deploy_failure,
    flag_list,
    opt_flag,
    parsed_result,
    tests_failed_error,
)


class SfCli(SfCliBase):
    """A configured Salesforce CLI with typed commands (see `SfCliBase` for the constructor's arguments)."""

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
        return parsed_result(parse_limits, self.run_checked(["org", "list", "limits", "--target-org", alias]))

    def data_query(self, alias: str, soql: str, *, tooling: bool = False, all_rows: bool = False) -> QueryResult:
        args = ["data", "query", "--query", soql, "--target-org", alias]
        if tooling:
            args.append("--use-tooling-api")
        if all_rows:
            args.append("--all-rows")
        return parsed_result(parse_query_result, self.run_checked(args))

    def composite_query(
        self, alias: str, queries: Mapping[str, str], *, api_version: str, workdir: PathLike
    ) -> dict[str, SubAnswer]:
        """Several SOQL queries in one `sf api request rest` call per 5 (REST Composite). Each reference id gets its
        own answer (a failed query does not fail the others). Raises the SfError of a call that failed as a whole
        (an org or CLI without the resource), SfBadOutput when the answer is not a composite response."""
        out: dict[str, SubAnswer] = {}
        for index, chunk in enumerate(chunks(queries)):
            body_file = Path(workdir) / f"composite-{index + 1}.json"
            body_file.write_text(json.dumps(composite_body(chunk, api_version)), encoding="utf-8")
            args = ["api", "request", "rest", f"{api_path(api_version)}/composite", "--method", "POST"]
            args += ["--body", f"@{body_file}", "--target-org", alias]
            result = self.run_checked(args, json_flag=False)
            try:
                out.update(parse_composite(result.envelope, list(chunk)))
            except ValueError as exc:
                raise SfBadOutput.from_result(result, f"sf api request rest: {exc}") from None
        return out

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
            flag_list("--source-dir", source_dirs)
            + opt_flag("--manifest", manifest)
            + opt_flag("--metadata-dir", metadata_dir)
            + flag_list("--metadata", metadata)
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
        args = opt_flag("--test-level", test_level) + flag_list("--tests", tests)
        args += opt_flag("--pre-destructive-changes", pre_destructive)
        args += opt_flag("--post-destructive-changes", post_destructive)
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
        args = ["project", "deploy", "report", "--job-id", job_id, "--target-org", alias, *opt_flag("--wait", wait)]
        result = self.run_checked(args, timeout=self._wait_timeout(wait))
        return parsed_result(parse_deploy_result, result)

    def deploy_cancel(self, alias: str, job_id: str, *, wait: int | None = None) -> DeployResult:
        args = ["project", "deploy", "cancel", "--job-id", job_id, "--target-org", alias, *opt_flag("--wait", wait)]
        result = self.run_checked(args, timeout=self._wait_timeout(wait))
        return parsed_result(parse_deploy_result, result)

    def _checked_deploy(
        self, result: SfResult, *, validation: bool, async_: bool, what: str | None = None
    ) -> DeployResult:
        parsed = parsed_result(parse_deploy_result, result)
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
        args += opt_flag("--manifest", manifest) + flag_list("--metadata", metadata)
        args += flag_list("--source-dir", source_dirs) + opt_flag("--output-dir", output_dir)
        args += opt_flag("--target-metadata-dir", target_metadata_dir)
        if unzip:
            args.append("--unzip")
        args += ["--wait", str(wait or DEFAULT_WAIT_MINUTES)]
        result = self.run_checked(args, timeout=self._wait_timeout(wait or DEFAULT_WAIT_MINUTES), cwd=cwd)
        parsed = parsed_result(parse_retrieve_result, result)
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
        args = self._test_args(alias, test_level, class_names, tests, code_coverage)
        args += ["--wait", str(wait)]
        result = self.run_checked(args, timeout=self._wait_timeout(wait))
        run = parsed_result(parse_test_run, result)
        if result.exit_code == 100 or run.failed:
            raise tests_failed_error(result, run)
        if not run.completed:
            raise StillRunning.from_result(
                result, f"Apex test run {run.test_run_id} has not finished", job_id=run.test_run_id or None
            )
        return run

    @staticmethod
    def _test_args(
        alias: str,
        test_level: str | None,
        class_names: Sequence[str] | None,
        tests: Sequence[str] | None,
        code_coverage: bool,
    ) -> list[str]:
        if test_level is None and not class_names and not tests:
            test_level = "RunLocalTests"
        args = ["apex", "run", "test", "--target-org", alias, *opt_flag("--test-level", test_level)]
        args += flag_list("--class-names", class_names) + flag_list("--tests", tests)
        return args + (["--code-coverage"] if code_coverage else [])

    def apex_submit_tests(
        self,
        alias: str,
        *,
        test_level: str | None = None,
        class_names: Sequence[str] | None = None,
        tests: Sequence[str] | None = None,
        code_coverage: bool = True,
    ) -> str:
        """Start an Apex test run without waiting (`apex run test` without `--wait` answers `{testRunId}` at once);
        returns the 707 test run id, to be read with `apex_get_test`."""
        args = self._test_args(alias, test_level, class_names, tests, code_coverage)
        result = self.run_checked(args)
        doc = result.result if isinstance(result.result, Mapping) else {}
        run_id = str(doc.get("testRunId") or (doc.get("summary") or {}).get("testRunId") or "")
        if not run_id:
            raise SfBadOutput.from_result(result, "sf apex run test answered no testRunId")
        return run_id

    def apex_get_test(
        self, alias: str, test_run_id: str, *, code_coverage: bool = True, wait: int | None = None
    ) -> TestRunResult:
        """The results of an earlier run (after `apex_submit_tests`, or `apex_run_test` raised StillRunning); sf waits
        for an unfinished run (streaming, else a 60 s poll), so `wait` minutes bound the call. Raises TestsFailed
        (exit 100)."""
        args = ["apex", "get", "test", "--test-run-id", test_run_id, "--target-org", alias]
        if code_coverage:
            args.append("--code-coverage")
        result = self.run_checked(args, timeout=self._wait_timeout(wait))
        run = parsed_result(parse_test_run, result)
        if result.exit_code == 100 or run.failed:
            raise tests_failed_error(result, run)
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
        args += flag_list("--source-dir", source_dirs) + flag_list("--metadata", metadata)
        args += opt_flag("--type", manifest_type) + opt_flag("--output-dir", output_dir)
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
