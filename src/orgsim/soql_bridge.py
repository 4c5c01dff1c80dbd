"""The one place the HTTP layer calls the SOQL engine (`orgsim.soql`), turning its errors into API errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orgsim import soql as engine
from orgsim.wire import SalesforceApiError

if TYPE_CHECKING:
    from orgsim.org import Org


def execute(soql: str, org: Org, *, api: str = "rest", all_rows: bool = False) -> dict[str, Any]:
    try:
        return engine.execute(soql, org, api=api, api_version=org.api_version, include_deleted=all_rows)
    except engine.SoqlError as error:
        raise SalesforceApiError(400, error.error_code, error.message) from None


def column_metadata(soql: str, org: Org, *, api: str = "rest") -> dict[str, Any]:
    try:
        return engine.column_metadata(soql, org, api=api, api_version=org.api_version)
    except engine.SoqlError as error:
        raise SalesforceApiError(400, error.error_code, error.message) from None
