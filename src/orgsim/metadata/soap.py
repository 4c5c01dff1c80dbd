"""`POST /services/Soap/m/<version>`: the Metadata API operations the sf CLI uses.

`handle()` never raises: malformed envelopes, unknown operations and bad arguments all become SOAP faults, like
Salesforce's (`soapenv:Client` for envelope problems, `sf:<CODE>` for API errors).
"""

from __future__ import annotations

import base64
import binascii
import logging
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from orgsim.metadata import attach
from orgsim.metadata import deploy as deploys
from orgsim.metadata import retrieve as retrieves
from orgsim.metadata.xml import SoapFault, SoapRequest, boolean, child, fault, parse_envelope, response, text

log = logging.getLogger("orgsim.metadata")


def _deploy(org: Any, request: SoapRequest) -> Any:
    encoded = text(request.body, "ZipFile")
    if not encoded:
        raise SoapFault("sf:INVALID_ZIP", "INVALID_ZIP: ZipFile is required")
    try:
        zip_bytes = base64.b64decode(encoded, validate=False)
    except (binascii.Error, ValueError):
        raise SoapFault("sf:INVALID_ZIP", "INVALID_ZIP: ZipFile is not valid base64") from None
    options = deploys.DeployOptions.from_element(child(request.body, "DeployOptions"))
    job_id = deploys.submit(org, zip_bytes, options)
    return {"done": False, "id": job_id, "state": "Queued"}


def _check_deploy_status(org: Any, request: SoapRequest) -> Any:
    job_id = text(request.body, "asyncProcessId") or ""
    return deploys.status(org, job_id, boolean(request.body, "includeDetails"))


def _cancel_deploy(org: Any, request: SoapRequest) -> Any:
    return deploys.cancel(org, text(request.body, "id") or "")


def _deploy_recent_validation(org: Any, request: SoapRequest) -> Any:
    return deploys.submit_quick(org, text(request.body, "validationId") or "")


def _retrieve(org: Any, request: SoapRequest) -> Any:
    retrieve_id = retrieves.submit(org, retrieves.parse_request(request.body))
    return {"done": False, "id": retrieve_id, "state": "Queued"}


def _check_retrieve_status(org: Any, request: SoapRequest) -> Any:
    include_zip = (text(request.body, "includeZip") or "true").lower() != "false"
    return retrieves.status(org, text(request.body, "asyncProcessId") or "", include_zip)


def _check_status(org: Any, request: SoapRequest) -> Any:
    job_id = text(request.body, "asyncProcessId") or ""
    if job_id.startswith("09S"):
        result = retrieves.status(org, job_id, include_zip=False)
        return {"done": result["done"], "id": result["id"], "state": "Completed" if result["done"] else "InProgress"}
    result = deploys.status(org, job_id, include_details=False)
    state = {"Pending": "Queued", "InProgress": "InProgress"}.get(result["status"], "Completed")
    if result["status"] in ("Failed", "Canceled"):
        state = "Error"
    return {"done": result["done"], "id": result["id"], "state": state}


def _list_metadata(org: Any, request: SoapRequest) -> Any:
    return retrieves.list_metadata(org, request.body)


def _describe_metadata(org: Any, request: SoapRequest) -> Any:
    return retrieves.describe_metadata(org)


OPERATIONS: dict[str, Callable[[Any, SoapRequest], Any]] = {
    "deploy": _deploy,
    "checkDeployStatus": _check_deploy_status,
    "cancelDeploy": _cancel_deploy,
    "deployRecentValidation": _deploy_recent_validation,
    "retrieve": _retrieve,
    "checkRetrieveStatus": _check_retrieve_status,
    "checkStatus": _check_status,
    "listMetadata": _list_metadata,
    "describeMetadata": _describe_metadata,
}


def handle(org: Any, body: bytes, headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
    """Answer one Metadata API SOAP request: (HTTP status, XML body)."""
    try:
        request = parse_envelope(body or b"")
        if request.session_id is not None and request.session_id != org.access_token:
            raise SoapFault(
                "sf:INVALID_SESSION_ID",
                "INVALID_SESSION_ID: Invalid Session ID found in SessionHeader: Illegal Session",
            )
        operation = OPERATIONS.get(request.operation)
        if operation is None:
            raise SoapFault(
                "soapenv:Client",
                f"No operation available for request {{http://soap.sforce.com/2006/04/metadata}}{request.operation}",
                client=True,
            )
        attach(org)
        # One lock for the whole operation: the server is threaded and the store shares one SQLite connection.
        with org.store.lock:
            result = operation(org, request)
        return 200, response(request.operation, result)
    except SoapFault as error:
        return error.status, fault(error.code, error.message)
    except Exception:
        log.error("orgsim metadata internal error:\n%s", traceback.format_exc())
        return 500, fault("sf:UNKNOWN_EXCEPTION", "UNKNOWN_EXCEPTION: orgsim internal error (see the orgsim log)")
