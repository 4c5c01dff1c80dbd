"""`/services/data/vNN.0/metadata/deployRequest`: the REST Metadata deploy (`SF_ORG_METADATA_REST_DEPLOY=true`).

Same deploy queue as SOAP; only the wire format differs: multipart in (`file` = zip, `entity_content` =
`{"deployOptions": {...}}`), Salesforce's JSON out (`{id, validatedDeployRequestId, deployOptions, deployResult}`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from email.parser import BytesParser
from email.policy import HTTP as HTTP_POLICY
from typing import Any

from orgsim.metadata import attach
from orgsim.metadata import deploy as deploys
from orgsim.metadata.xml import NIL, SoapFault

_ID_IN_PATH = re.compile(r"/metadata/deployRequest/(?P<id>\w+)$")
_OPTION_NAMES = {
    "checkOnly": "check_only",
    "ignoreWarnings": "ignore_warnings",
    "rollbackOnError": "rollback_on_error",
    "testLevel": "test_level",
    "runTests": "run_tests",
    "purgeOnDelete": "purge_on_delete",
    "singlePackage": "single_package",
    "allowMissingFiles": "allow_missing_files",
    "autoUpdatePackage": "auto_update_package",
    "performRetrieve": "perform_retrieve",
}


class _RestError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _json(status: int, data: Any) -> tuple[int, bytes, str]:
    return status, json.dumps(data, default=lambda value: None).encode(), "application/json;charset=UTF-8"


def _plain(value: Any) -> Any:
    if value is NIL:
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _multipart(body: bytes, content_type: str) -> dict[str, bytes]:
    if "multipart/form-data" not in content_type or "boundary=" not in content_type:
        raise _RestError(400, "INVALID_MULTIPART_REQUEST", "Expected multipart/form-data with a boundary")
    message = BytesParser(policy=HTTP_POLICY).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise _RestError(400, "INVALID_MULTIPART_REQUEST", "The multipart body could not be read")
    parts: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            parts[str(name)] = part.get_payload(decode=True) or b""
    return parts


def _options(data: Any) -> deploys.DeployOptions:
    raw = data.get("deployOptions", {}) if isinstance(data, Mapping) else {}
    if not isinstance(raw, Mapping):
        raise _RestError(400, "JSON_PARSER_ERROR", "deployOptions must be an object")
    kwargs: dict[str, Any] = {}
    for wire, attribute in _OPTION_NAMES.items():
        if wire in raw and raw[wire] is not None:
            kwargs[attribute] = raw[wire]
    if isinstance(kwargs.get("run_tests"), str):
        kwargs["run_tests"] = [kwargs["run_tests"]]
    level = kwargs.get("test_level")
    if level is not None and level not in deploys.TEST_LEVELS:
        raise _RestError(400, "INVALID_OPERATION", f"testLevel must be one of {', '.join(deploys.TEST_LEVELS)}")
    return deploys.DeployOptions(**kwargs)


def _document(org: Any, job_id: str, validation_id: str | None = None) -> dict[str, Any]:
    result = _plain(deploys.status(org, job_id, include_details=True))
    row = deploys._row(org, job_id)
    options = json.loads(row["options"]) if row is not None else {}
    return {
        "id": result["id"],
        "validatedDeployRequestId": validation_id or (row["validation_id"] if row is not None else None),
        "deployOptions": {wire: options.get(attribute) for wire, attribute in _OPTION_NAMES.items()},
        "deployResult": result,
        "url": f"/services/data/v{org.api_version}/metadata/deployRequest/{result['id']}",
    }


def handle(org: Any, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes, str]:
    attach(org)
    with org.store.lock:  # the server is threaded and the store shares one SQLite connection
        return _handle(org, method, path, body, headers)


def _handle(org: Any, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes, str]:
    try:
        found = _ID_IN_PATH.search(path)
        if method == "GET" and found:
            return _json(200, _document(org, found.group("id")))
        if method == "PATCH" and found:
            data = json.loads(body or b"{}")
            wanted = (data.get("deployResult") or {}).get("status") if isinstance(data, dict) else None
            if wanted != "Canceling":
                raise _RestError(400, "INVALID_OPERATION", 'Only {"deployResult": {"status": "Canceling"}} is allowed')
            deploys.cancel(org, found.group("id"))
            return _json(202, _document(org, found.group("id")))
        if method == "POST" and not found:
            content_type = headers.get("content-type", "")
            if content_type.startswith("application/json"):
                data = json.loads(body or b"{}")
                validation_id = data.get("validatedDeployRequestId") if isinstance(data, dict) else None
                if not validation_id:
                    raise _RestError(400, "INVALID_OPERATION", "validatedDeployRequestId is required")
                job_id = deploys.submit_quick(org, str(validation_id))
                return _json(201, _document(org, job_id, str(validation_id)))
            parts = _multipart(body, content_type)
            if "file" not in parts:
                raise _RestError(400, "INVALID_MULTIPART_REQUEST", "The multipart request needs a 'file' part")
            entity = json.loads(parts.get("entity_content") or b"{}")
            job_id = deploys.submit(org, parts["file"], _options(entity))
            return _json(201, _document(org, job_id))
        raise _RestError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed on {path}")
    except _RestError as error:
        return _json(error.status, [{"errorCode": error.code, "message": error.message}])
    except SoapFault as fault:
        code = fault.code.split(":", 1)[-1]
        message = fault.message.removeprefix(f"{code}: ")
        status = 404 if code == "INVALID_ID_FIELD" else 400
        return _json(status, [{"errorCode": code, "message": message}])
    except (ValueError, UnicodeDecodeError, RecursionError) as error:  # RecursionError: absurdly deep JSON
        return _json(400, [{"errorCode": "JSON_PARSER_ERROR", "message": str(error)}])
