"""SOAP handling: the envelope the sf CLI (jsforce) sends, and malformed input that must become SOAP faults."""

from __future__ import annotations

import base64
import io
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orgsim.metadata import soap
from orgsim.metadata.package import package_xml
from orgsim.org import Org

ENV = "http://schemas.xmlsoap.org/soap/envelope/"


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Org:
    path: Path = tmp_path_factory.mktemp("soap-org")
    return Org(path, {"durations": {"deploy_seconds": 0, "validate_seconds": 0, "retrieve_seconds": 0}})


def envelope(token: str, operation: str, inner: str) -> bytes:
    # Exactly the shape jsforce's SOAP._createEnvelope writes.
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{ENV}" xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        '<soapenv:Header xmlns="http://soap.sforce.com/2006/04/metadata">'
        f"<SessionHeader><sessionId>{token}</sessionId></SessionHeader></soapenv:Header>"
        '<soapenv:Body xmlns="http://soap.sforce.com/2006/04/metadata">'
        f"<{operation}>{inner}</{operation}></soapenv:Body></soapenv:Envelope>"
    ).encode()


def fault_of(status: int, body: bytes) -> tuple[str, str]:
    assert status == 500
    root = ET.fromstring(body)
    fault = root.find(f"{{{ENV}}}Body/{{{ENV}}}Fault")
    assert fault is not None, body
    return fault.findtext("faultcode") or "", fault.findtext("faultstring") or ""


def result_of(status: int, body: bytes, operation: str) -> ET.Element:
    assert status == 200, body
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope')
    root = ET.fromstring(body)
    md = "{http://soap.sforce.com/2006/04/metadata}"
    found = root.find(f"{{{ENV}}}Body/{md}{operation}Response/{md}result")
    assert found is not None, body
    return found


def small_zip() -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("package.xml", package_xml({"ApexClass": ["Hello"]}, "62.0"))
        archive.writestr("classes/Hello.cls", "public class Hello {\n}\n")
        archive.writestr("classes/Hello.cls-meta.xml", "<ApexClass/>")
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.parametrize(
    ("body", "expected_code"),
    [
        (b"", "soapenv:Client"),
        (b"<notxml", "soapenv:Client"),
        (b"\xff\xfe\x00garbage", "soapenv:Client"),
        (b"<Envelope/>", "soapenv:Client"),
        (f'<s:Envelope xmlns:s="{ENV}"><s:Header/></s:Envelope>'.encode(), "soapenv:Client"),
        (f'<s:Envelope xmlns:s="{ENV}"><s:Body/></s:Envelope>'.encode(), "soapenv:Client"),
        (b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY a "aaaa">]><Envelope>&a;</Envelope>', "soapenv:Client"),
    ],
)
def test_malformed_envelopes_become_client_faults(org: Org, body: bytes, expected_code: str) -> None:
    code, message = fault_of(*soap.handle(org, body, {}))
    assert code == expected_code
    assert message and "Traceback" not in message


def test_unknown_operation_and_wrong_session(org: Org) -> None:
    code, message = fault_of(*soap.handle(org, envelope(org.access_token, "dropEverything", ""), {}))
    assert code == "soapenv:Client" and "dropEverything" in message
    code, _ = fault_of(*soap.handle(org, envelope("00Dwrong!token", "describeMetadata", ""), {}))
    assert code == "sf:INVALID_SESSION_ID"


@pytest.mark.parametrize(
    ("inner", "expected_code"),
    [
        ("", "sf:INVALID_ZIP"),
        ("<ZipFile>!!!not base64!!!</ZipFile>", "sf:INVALID_ZIP"),
        (f"<ZipFile>{base64.b64encode(b'plain text').decode()}</ZipFile>", "sf:INVALID_ZIP"),
        ("<ZipFile>UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==</ZipFile>", "sf:INVALID_ZIP"),  # empty zip: no package.xml
        (
            f"<ZipFile>{small_zip()}</ZipFile><DeployOptions><testLevel>RunSomeTests</testLevel></DeployOptions>",
            "sf:INVALID_OPERATION",
        ),
        (
            f"<ZipFile>{small_zip()}</ZipFile><DeployOptions><checkOnly>maybe</checkOnly></DeployOptions>",
            "sf:INVALID_CROSS_REFERENCE_KEY",
        ),
    ],
)
def test_bad_deploy_arguments_become_api_faults(org: Org, inner: str, expected_code: str) -> None:
    code, _ = fault_of(*soap.handle(org, envelope(org.access_token, "deploy", inner), {}))
    assert code == expected_code


def test_deploy_and_check_status_round_trip(org: Org) -> None:
    options = (
        "<DeployOptions><checkOnly>false</checkOnly><rollbackOnError>true</rollbackOnError>"
        "<testLevel>RunLocalTests</testLevel><singlePackage>true</singlePackage></DeployOptions>"
    )
    accepted = result_of(
        *soap.handle(org, envelope(org.access_token, "deploy", f"<ZipFile>{small_zip()}</ZipFile>{options}"), {}),
        "deploy",
    )
    md = "{http://soap.sforce.com/2006/04/metadata}"
    job_id = accepted.findtext(f"{md}id") or ""
    assert re.fullmatch(r"0Af\w{15}", job_id)
    assert accepted.findtext(f"{md}state") == "Queued" and accepted.findtext(f"{md}done") == "false"
    inner = f"<asyncProcessId>{job_id}</asyncProcessId><includeDetails>true</includeDetails>"
    result = result_of(
        *soap.handle(org, envelope(org.access_token, "checkDeployStatus", inner), {}), "checkDeployStatus"
    )
    assert result.findtext(f"{md}status") == "Succeeded"
    successes = result.findall(f"{md}details/{md}componentSuccesses")
    assert [s.findtext(f"{md}fullName") for s in successes] == ["package.xml", "Hello"]
    # No tests in the org: a RunLocalTests deploy still reports an (empty) test result.
    assert result.findtext(f"{md}details/{md}runTestResult/{md}numTestsRun") == "0"


def test_check_status_of_unknown_id_is_invalid_id_field(org: Org) -> None:
    inner = "<asyncProcessId>0Af000000000000AAA</asyncProcessId><includeDetails>true</includeDetails>"
    code, _ = fault_of(*soap.handle(org, envelope(org.access_token, "checkDeployStatus", inner), {}))
    assert code == "sf:INVALID_ID_FIELD"
    code, message = fault_of(
        *soap.handle(
            org,
            envelope(org.access_token, "deployRecentValidation", "<validationId>0Af000000000000AAA</validationId>"),
            {},
        )
    )
    assert code == "sf:INVALID_ID_FIELD" and message.startswith("INVALID_ID_FIELD")


def test_describe_and_list_metadata(org: Org) -> None:
    described = result_of(
        *soap.handle(org, envelope(org.access_token, "describeMetadata", "<asOfVersion>62.0</asOfVersion>"), {}),
        "describeMetadata",
    )
    md = "{http://soap.sforce.com/2006/04/metadata}"
    names = [o.findtext(f"{md}xmlName") for o in described.findall(f"{md}metadataObjects")]
    assert "ApexClass" in names and "CustomObject" in names
    status, body = soap.handle(
        org, envelope(org.access_token, "listMetadata", "<queries><type>ApexClass</type></queries>"), {}
    )
    assert status == 200 and b"listMetadataResponse" in body


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400) | st.text(max_size=300).map(str.encode))
def test_arbitrary_bytes_never_raise(org: Org, body: bytes) -> None:
    status, answer = soap.handle(org, body, {})
    assert status in (200, 500)
    ET.fromstring(answer)  # always well-formed XML


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(sorted(soap.OPERATIONS)), st.text(max_size=200))
def test_known_operations_with_garbage_arguments_never_raise(org: Org, operation: str, inner: str) -> None:
    escaped = inner.replace("&", "&amp;").replace("<", "&lt;")
    status, answer = soap.handle(
        org, envelope(org.access_token, operation, f"<asyncProcessId>{escaped}</asyncProcessId>"), {}
    )
    assert status in (200, 500)
    assert b"UNKNOWN_EXCEPTION" not in answer, answer  # a garbage argument is the client's error, not an orgsim bug
