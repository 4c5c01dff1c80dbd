"""The error taxonomy: outcome decided from exit code + envelope (sf-cli-contract §9), redacted one-line messages."""

from __future__ import annotations

import pytest

from cutover.errors import ExitCode
from cutover.sf import (
    OrgNotFound,
    SfApiError,
    SfBadOutput,
    SfCommandFailed,
    SfCrashed,
    SfInterrupted,
    SfNotFound,
    SfResult,
    SfTimeout,
    SfUsageError,
    StillRunning,
    ValidationFailed,
    error_for,
)

TOKEN = "00D5g000004ElaRAAS!AQ4AQFakeTokenValue.ForTests_123"


def raw(exit_code, stdout="", stderr="", envelope=None, timed_out=False):
    return SfResult(("sf", "project", "deploy", "start"), exit_code, envelope, stdout, stderr, 2.0, timed_out)


def test_missing_org_is_org_not_found_with_exit_2(sf_result):
    error = error_for(sf_result("org_not_found.json"))
    assert isinstance(error, OrgNotFound)
    assert error.exit_code == ExitCode.USAGE
    assert error.returncode == 2 and error.name == "NamedOrgNotFoundError"
    assert "\n" not in error.message and "No authorization information found for production" in error.message
    assert error.hint


def test_failed_validation_envelope_carries_deploy_id(sf_result):
    error = error_for(sf_result("validate_failed_envelope.json"))
    assert isinstance(error, ValidationFailed)
    assert error.deploy_id == "0Af5g00000ElaVAL4"
    assert error.result is None
    assert error.exit_code == ExitCode.FAILED


def test_client_timeout_exit_1_is_still_running_with_job_id(sf_result):
    error = error_for(sf_result("deploy_timeout_client.json"))
    assert isinstance(error, StillRunning)
    assert error.job_id == "0Af5g00000ElaTMO5"
    assert error.returncode == 1


def test_exit_69_result_is_still_running(sf_result):
    error = error_for(sf_result("deploy_inprogress_exit69.json"))
    assert isinstance(error, StillRunning)
    assert error.job_id == "0Af5g00000ElaRUN6"


def test_exit_69_error_envelope_is_still_running():
    env = {"name": "DeployTimeout", "message": "still in progress", "status": 69, "data": {"deployId": "0Af1"}}
    error = error_for(raw(69, envelope=env))
    assert isinstance(error, StillRunning) and error.job_id == "0Af1"


def test_failed_deploy_document_is_a_result_not_an_error(sf_result):
    assert error_for(sf_result("deploy_failed_components.json")) is None
    assert error_for(sf_result("apex_test_failed.json")) is None  # exit 100 is read by the typed command
    assert error_for(sf_result("retrieve_failed.json")) is None


def test_flag_error_is_usage(sf_result):
    error = error_for(sf_result("flag_error.json"))
    assert isinstance(error, SfUsageError)
    assert error.exit_code == ExitCode.USAGE
    assert error.message == "Nonexistent flag: --bogus See more help with --help"


def test_api_error_names(sf_result):
    error = error_for(sf_result("query_malformed.json"))
    assert isinstance(error, SfApiError)
    assert error.error_code == "MALFORMED_QUERY"
    assert error.data["errorCode"] == "MALFORMED_QUERY"
    session = error_for(raw(1, envelope={"name": "INVALID_SESSION_ID", "message": "Session expired or invalid"}))
    assert isinstance(session, SfApiError) and "log in" in session.hint


def test_gack_exit_20_is_api_error():
    error = error_for(raw(20, envelope={"name": "UnexpectedError", "message": "An unexpected error occurred"}))
    assert isinstance(error, SfApiError)


def test_other_thrown_errors_keep_their_name():
    error = error_for(raw(1, envelope={"name": "NothingToDeploy", "message": "No local changes to deploy."}))
    assert isinstance(error, SfCommandFailed) and error.name == "NothingToDeploy"


@pytest.mark.parametrize(
    ("exit_code", "stdout", "stderr", "expected"),
    [
        (0, "Warning: something\nno json here", "", SfBadOutput),
        (0, "", "", SfBadOutput),
        (10, "", "TypeError: Cannot read properties of undefined (reading 'bind')", SfCrashed),
        (1, "", "node:internal/process/esm_loader:40\n TypeError: x is not a function", SfCrashed),
        (134, "", "FATAL ERROR: Reached heap limit", SfCrashed),
        (127, "", "cutover: the pinned toolchain is not installed; run 'make setup'", SfNotFound),
        (130, "", "", SfInterrupted),
    ],
)
def test_non_json_output(exit_code, stdout, stderr, expected):
    error = error_for(raw(exit_code, stdout=stdout, stderr=stderr))
    assert type(error) is expected
    assert "\n" not in error.message


def test_crash_and_missing_binary_are_environment_problems():
    crash = error_for(raw(10, stderr="TypeError: boom"))
    assert crash.exit_code == ExitCode.ENVIRONMENT
    assert "TypeError" in crash.message
    assert error_for(raw(130)).exit_code == ExitCode.INTERRUPTED


def test_timeout_result_is_sf_timeout():
    error = error_for(raw(None, timed_out=True))
    assert isinstance(error, SfTimeout)
    assert "still be running" in error.hint


def test_success_is_none(sf_result):
    assert error_for(sf_result("validate_success_runlocaltests.json")) is None
    assert error_for(raw(0, envelope={"cliVersion": "@salesforce/cli/2.146.3"})) is None


def test_tokens_never_reach_message_data_or_streams():
    env = {
        "name": "INVALID_SESSION_ID",
        "message": f"Bad session {TOKEN}",
        "data": {"accessToken": TOKEN, "note": f"token={TOKEN}"},
    }
    error = error_for(raw(1, stdout=f'{{"token": "{TOKEN}"}}', stderr=f"Bearer {TOKEN}", envelope=env))
    text = " ".join([error.message, str(error.data), error.stdout, error.stderr, str(error)])
    assert TOKEN not in text
    assert "[REDACTED]" in error.message
