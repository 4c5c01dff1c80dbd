"""Org answers: `data query`, `org display`, `org list`, `org list limits` (and a raw REST `/limits` body)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cutover.sf.coerce import (
    as_bool,
    as_count,
    as_dict,
    as_list,
    as_opt_str,
    as_str,
)


# ----------------------------------------------------------------------------------------------------------- query
@dataclass(frozen=True)
class QueryResult:
    records: tuple[Mapping[str, Any], ...]
    total_size: int
    done: bool

    def rows(self) -> list[dict[str, Any]]:
        """Records without the `attributes` bookkeeping (nested relationship objects keep theirs stripped too)."""
        return [_strip_attributes(r) for r in self.records]


def _strip_attributes(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _strip_attributes(v) for k, v in value.items() if k != "attributes"}
    if isinstance(value, list):
        return [_strip_attributes(v) for v in value]
    return value


def parse_query_result(result: Any) -> QueryResult:
    data = as_dict(result)
    records = tuple(as_dict(r) for r in as_list(data.get("records")) if isinstance(r, Mapping))
    return QueryResult(
        records=records,
        total_size=as_count(data.get("totalSize"), "totalSize", len(records)),
        done=as_bool(data.get("done"), True),
    )


# -------------------------------------------------------------------------------------------------------------- org
@dataclass(frozen=True)
class OrgInfo:
    """Who an alias points at (from `org display`, an `org list` row, or `org login`). Never holds a token."""

    org_id: str
    username: str
    instance_url: str
    api_version: str | None = None
    alias: str | None = None
    connected_status: str | None = None
    login_url: str | None = None
    is_sandbox: bool | None = None
    is_scratch: bool | None = None
    is_dev_hub: bool | None = None
    is_default: bool = False
    org_name: str | None = None

    @property
    def connected(self) -> bool:
        return self.connected_status == "Connected"


def normalise_url(url: str) -> str:
    """Instance URLs are stored with and without a trailing slash (forcedotcom/cli#361); compare without it."""
    return url.strip().rstrip("/")


def parse_org_info(result: Any) -> OrgInfo:
    data = as_dict(result)
    opt_bool = {k: (as_bool(data[k]) if k in data and data[k] is not None else None) for k in _ORG_FLAGS}
    return OrgInfo(
        org_id=as_str(data.get("id")) or as_str(data.get("orgId")),
        username=as_str(data.get("username")),
        instance_url=normalise_url(as_str(data.get("instanceUrl"))),
        api_version=as_opt_str(data.get("apiVersion")) or as_opt_str(data.get("instanceApiVersion")),
        alias=as_opt_str(data.get("alias")),
        connected_status=as_opt_str(data.get("connectedStatus")),
        login_url=as_opt_str(data.get("loginUrl")),
        is_sandbox=opt_bool["isSandbox"],
        is_scratch=opt_bool["isScratch"],
        is_dev_hub=opt_bool["isDevHub"],
        is_default=as_bool(data.get("isDefaultUsername")),
        org_name=as_opt_str(data.get("name")) or as_opt_str(data.get("orgName")),
    )


_ORG_FLAGS = ("isSandbox", "isScratch", "isDevHub")
_ORG_LIST_GROUPS = ("other", "sandboxes", "devHubs", "scratchOrgs", "nonScratchOrgs")


def parse_org_list(result: Any) -> tuple[OrgInfo, ...]:
    """Every org in `org list`, once (`nonScratchOrgs` repeats the other groups; it is read last, for old CLIs)."""
    data = as_dict(result)
    seen: set[str] = set()
    out = []
    for group in _ORG_LIST_GROUPS:
        for raw in as_list(data.get(group)):
            info = parse_org_info(raw)
            key = info.username or info.org_id
            if key and key not in seen:
                seen.add(key)
                out.append(info)
    return tuple(out)


@dataclass(frozen=True)
class OrgLimit:
    name: str
    max: int
    remaining: int

    @property
    def used(self) -> int:
        return max(0, self.max - self.remaining)

    @property
    def used_pct(self) -> float:
        return 100.0 * self.used / self.max if self.max > 0 else 0.0


def parse_limits(result: Any) -> tuple[OrgLimit, ...]:
    """`org list limits` gives `[{name, max, remaining}]`; the raw REST `/limits` body `{Name: {Max, Remaining}}`
    is accepted too, so a saved API response can be explained as well."""
    if isinstance(result, Mapping):
        items: Sequence[Any] = [
            {"name": name, "max": as_dict(v).get("Max"), "remaining": as_dict(v).get("Remaining")}
            for name, v in result.items()
            if isinstance(v, Mapping) and "Max" in v
        ]
    else:
        items = as_list(result)
    out = []
    for raw in items:
        entry = as_dict(raw)
        name = as_str(entry.get("name"))
        if name:
            out.append(
                OrgLimit(
                    name=name,
                    max=as_count(entry.get("max"), "max"),
                    remaining=as_count(entry.get("remaining"), "remaining", minimum=None),
                )
            )
    return tuple(out)
