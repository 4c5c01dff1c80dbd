"""`sf.guard`: seed "2. Verify Production Org Connection" — prove the alias points at the RIGHT org.

`sf org display` gives org id, username, instance URL and the connection status; when the runbook pins the sandbox
flag, `SELECT IsSandbox FROM Organization` answers it (org display does not say). Each pinned value in
`target.expect` is compared with the actual one; any difference is a blocking failure that names both. Values that
are not pinned cannot be proved: the step fails with the exact YAML to add (or `cutover target pin`), unless the
runbook says the target is not production (`target.production: false`, a rehearsal org), where it passes with a
warning. Access tokens never appear: `OrgInfo` holds none.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cutover.engine import StepContext, StepOutcome
from cutover.sf import OrgInfo, SfCli
from cutover.steps._params import as_mapping, as_text, params_of
from cutover.steps._sf import sf_session
from cutover.steps.registry import StepServices, register_action

if TYPE_CHECKING:
    from cutover.runbook.models import Runbook
    from cutover.runbook.plan import PlanStep

IDENTITY_KEYS = ("org_id", "username", "instance_url")
LABELS = {"org_id": "org id", "username": "username", "instance_url": "instance URL", "sandbox": "sandbox"}
ORG_SOQL = "SELECT Id, Name, IsSandbox, OrganizationType, InstanceName FROM Organization"


@dataclass(frozen=True)
class Identity:
    """Who an org is, as compared by the guard (never a token)."""

    org_id: str
    username: str
    instance_url: str
    sandbox: bool | None = None
    name: str | None = None
    connected_status: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "org_id": self.org_id,
            "username": self.username,
            "instance_url": self.instance_url,
            "sandbox": self.sandbox,
            "name": self.name,
            "connected_status": self.connected_status,
        }


@dataclass(frozen=True)
class Mismatch:
    key: str
    expected: object
    actual: object

    def describe(self) -> str:
        return f"{LABELS[self.key]} expected {_show(self.expected)} but is {_show(self.actual)}"


def _show(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return "(none)" if value in (None, "") else str(value)


def normalise_instance_url(url: str | None) -> str:
    """Scheme and host compare case-insensitively; a trailing slash (sf stores both forms) does not count."""
    text = (url or "").strip().rstrip("/")
    if "://" in text:
        scheme, rest = text.split("://", 1)
        host, slash, path = rest.partition("/")
        text = f"{scheme.lower()}://{host.lower()}{slash}{path}"
    return text


def same_org_id(expected: str, actual: str) -> bool:
    """15- and 18-character ids of one org share their first 15 characters (case-sensitive)."""
    return bool(expected) and bool(actual) and expected.strip()[:15] == actual.strip()[:15]


def compare_identity(expect: Mapping[str, object], actual: Identity) -> list[Mismatch]:
    """Every pinned expectation that the actual org does not meet."""
    found: list[Mismatch] = []
    if expect.get("org_id") and not same_org_id(str(expect["org_id"]), actual.org_id):
        found.append(Mismatch("org_id", expect["org_id"], actual.org_id))
    if expect.get("username") and str(expect["username"]).strip().lower() != actual.username.strip().lower():
        found.append(Mismatch("username", expect["username"], actual.username))
    if expect.get("instance_url") and normalise_instance_url(as_text(expect["instance_url"])) != normalise_instance_url(
        actual.instance_url
    ):
        found.append(Mismatch("instance_url", expect["instance_url"], actual.instance_url))
    if expect.get("sandbox") is not None and actual.sandbox is not None and bool(expect["sandbox"]) != actual.sandbox:
        found.append(Mismatch("sandbox", bool(expect["sandbox"]), actual.sandbox))
    if expect.get("sandbox") is not None and actual.sandbox is None:
        found.append(Mismatch("sandbox", bool(expect["sandbox"]), "unknown (Organization.IsSandbox unreadable)"))
    return found


def missing_expectations(expect: Mapping[str, object]) -> list[str]:
    return [key for key in IDENTITY_KEYS if not expect.get(key)]


def pin_yaml(actual: Identity) -> str:
    """The `target.expect` block that pins `actual` (what `cutover target pin` writes)."""
    sandbox = "null" if actual.sandbox is None else str(actual.sandbox).lower()
    return (
        "target:\n  expect:\n"
        f"    org_id: {actual.org_id}\n"
        f"    username: {actual.username}\n"
        f"    instance_url: {actual.instance_url}\n"
        f"    sandbox: {sandbox}\n"
    )


def read_identity(sf: SfCli, alias: str, *, want_sandbox: bool = True) -> Identity:
    """`sf org display` (+ the Organization query for the sandbox flag)."""
    info: OrgInfo = sf.org_display(alias)
    sandbox = info.is_sandbox
    name = info.org_name
    if want_sandbox:
        rows = sf.data_query(alias, ORG_SOQL).rows()
        if rows:
            value = rows[0].get("IsSandbox")
            sandbox = value if isinstance(value, bool) else str(value).lower() == "true"
            name = name or rows[0].get("Name")
    return Identity(
        org_id=info.org_id,
        username=info.username,
        instance_url=info.instance_url,
        sandbox=sandbox,
        name=name,
        connected_status=info.connected_status,
    )


def verified_identity(ctx: StepContext) -> dict[str, Any] | None:
    """The identity this run's guard step proved (its `org-identity.json` evidence), if it passed."""
    for record in ctx.store.steps(ctx.run_id):
        if record.spec.action != "sf.guard" or record.status.value != "passed":
            continue
        for item in reversed(ctx.store.evidence(ctx.run_id, record.id)):
            if str(item["name"]).startswith("org-identity") and str(item["name"]).endswith(".json"):
                try:
                    doc = json.loads((ctx.store.cutover_dir / item["relpath"]).read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    return None
                actual = doc.get("actual") if isinstance(doc, dict) else None
                return dict(actual) if isinstance(actual, dict) else None
    return None


class OrgGuard:
    """Fails the run before anything touches an org that is not the one the runbook names."""

    idempotent = True  # read-only

    def __init__(
        self,
        alias: str,
        expect: Mapping[str, object],
        *,
        allow_unpinned: bool,
        services: StepServices,
        runbook: Runbook,
    ) -> None:
        self.alias = alias
        self.expect = expect
        self.allow_unpinned = allow_unpinned
        self.services = services
        self.runbook = runbook

    def run(self, ctx: StepContext) -> StepOutcome:
        with sf_session(ctx, self.services, self.runbook) as sf:
            ctx.progress.update(f"sf org display --target-org {self.alias}")
            actual = read_identity(sf, self.alias, want_sandbox=self.expect.get("sandbox") is not None)
        mismatches = compare_identity(self.expect, actual)
        missing = missing_expectations(self.expect)
        ctx.record_evidence(
            "org-identity.json",
            {
                "alias": self.alias,
                "expected": self.expect,
                "actual": actual.to_json(),
                "mismatches": [m.__dict__ for m in mismatches],
                "not_pinned": missing,
            },
        )
        if actual.connected_status and actual.connected_status != "Connected":
            return StepOutcome.failed(
                f"{self.alias} is not connected ({actual.connected_status}); log in again: "
                f"sf org login web --alias {self.alias}",
                actual=actual.to_json(),
            )
        if mismatches:
            return StepOutcome.failed(
                f"WRONG ORG behind alias {self.alias!r}: "
                + "; ".join(m.describe() for m in mismatches)
                + ". Nothing was deployed. Point the alias at the right org (sf org login ... --alias "
                f"{self.alias}) or fix target.expect",
                mismatches=[m.__dict__ for m in mismatches],
                actual=actual.to_json(),
            )
        who = f"{actual.username} ({actual.org_id}) at {actual.instance_url}"
        if missing:
            names = ", ".join(LABELS[k] for k in missing)
            if self.allow_unpinned:
                return StepOutcome.passed(
                    f"{who}; WARNING: {names} not pinned (allowed: not a production target)",
                    actual=actual.to_json(),
                )
            return StepOutcome.failed(
                f"cannot prove {self.alias} is the right org: target.expect has no {names}. Add to cutover.yaml "
                f"(or run `cutover target pin`):\n{pin_yaml(actual)}",
                actual=actual.to_json(),
                not_pinned=missing,
            )
        sandbox = "" if actual.sandbox is None else (", sandbox" if actual.sandbox else ", production")
        return StepOutcome.passed(f"{who}{sandbox}: matches target.expect", actual=actual.to_json())


@register_action("sf.guard")
def _guard_factory(plan_step: PlanStep, runbook: Runbook, services: StepServices) -> OrgGuard:
    params = params_of(plan_step)
    expect = dict(as_mapping(params.get("expect")) or runbook.target.expect.model_dump())
    alias = services.target_org or as_text(params.get("alias")) or runbook.target.alias
    target = runbook.target
    # An explicit `target.allow_unpinned` wins (if the runbook model has it); else only non-production targets
    # (`target.production: false`: a rehearsal or sandbox org) may run unpinned.
    allow = getattr(target, "allow_unpinned", None)
    if allow is None:
        allow = not bool(getattr(target, "production", True))
    return OrgGuard(alias, expect, allow_unpinned=bool(allow), services=services, runbook=runbook)
