"""sf.guard: identity comparison, the not-pinned hint, and `cutover target pin` (round-trip YAML)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cutover.commands.target import pin_expectations
from cutover.engine import Engine, StepContext, StepSpec, StepStatus
from cutover.errors import Failure
from cutover.runbook import parse_runbook
from cutover.sf.results import OrgInfo, QueryResult, parse_org_info, parse_query_result
from cutover.steps._sf import _Binding
from cutover.steps.guard import (
    Identity,
    OrgGuard,
    compare_identity,
    missing_expectations,
    normalise_instance_url,
    pin_yaml,
)
from cutover.steps.registry import StepServices

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sf"
DISPLAY = parse_org_info(json.loads((FIXTURES / "org_display.json").read_text())["result"])
ACTUAL = Identity(DISPLAY.org_id, DISPLAY.username, DISPLAY.instance_url, sandbox=False)
PINNED = {
    "org_id": DISPLAY.org_id,
    "username": DISPLAY.username,
    "instance_url": DISPLAY.instance_url,
    "sandbox": False,
}


@dataclass
class FakeSf:
    info: OrgInfo
    is_sandbox: bool = False
    calls: list[str] = field(default_factory=list)
    _cutover_binding: _Binding = field(default_factory=_Binding)

    def org_display(self, alias: str) -> OrgInfo:
        self.calls.append(f"org display {alias}")
        return self.info

    def data_query(self, alias: str, soql: str, **_: Any) -> QueryResult:
        self.calls.append(soql)
        return parse_query_result({"records": [{"Id": self.info.org_id, "IsSandbox": self.is_sandbox}], "done": True})


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(tmp_path)
    yield eng
    eng.close()


def run_guard(engine: Engine, expect: dict[str, Any], fake: FakeSf, *, production: bool = True) -> Any:
    run = engine.create_run(
        "production", [StepSpec(id="guard.org-identity", stage="guard", title="g", action="sf.guard")]
    )
    ctx = StepContext(
        store=engine.store, record=engine.store.step(run.id, "guard.org-identity"), project_dir=engine.project_dir
    )
    services = StepServices(project_dir=engine.project_dir, target_org="production")
    services.extras["sf"] = fake
    runbook = parse_runbook("target:\n  alias: production\n")
    return OrgGuard("production", expect, allow_unpinned=not production, services=services, runbook=runbook).run(ctx)


# -- comparison --------------------------------------------------------------------------------------------------------
def test_same_org_in_other_spellings_matches() -> None:
    expect = {
        "org_id": DISPLAY.org_id[:15],  # the 15-character form of the 18-character id
        "username": DISPLAY.username.upper(),
        "instance_url": DISPLAY.instance_url.replace("https://", "HTTPS://").upper().replace("HTTPS://", "https://")
        + "/",
        "sandbox": False,
    }
    assert compare_identity(expect, ACTUAL) == []
    assert normalise_instance_url("https://Elaro.My.Salesforce.com/") == "https://elaro.my.salesforce.com"


def test_each_difference_is_named_with_expected_and_actual() -> None:
    expect = {**PINNED, "org_id": "00D000000000001AAA", "instance_url": "https://other.my.salesforce.com"}
    found = compare_identity(expect, ACTUAL)
    assert [m.key for m in found] == ["org_id", "instance_url"]
    assert found[0].describe() == f"org id expected 00D000000000001AAA but is {DISPLAY.org_id}"
    sandbox = compare_identity(
        {**PINNED, "sandbox": False}, Identity(ACTUAL.org_id, ACTUAL.username, ACTUAL.instance_url, True)
    )
    assert [m.key for m in sandbox] == ["sandbox"]


def test_missing_expectations_and_the_yaml_that_pins_them() -> None:
    assert missing_expectations({"org_id": None, "username": "u", "instance_url": ""}) == ["org_id", "instance_url"]
    text = pin_yaml(ACTUAL)
    assert f"org_id: {DISPLAY.org_id}" in text and "sandbox: false" in text and text.startswith("target:\n  expect:")


# -- the step ----------------------------------------------------------------------------------------------------------
def test_right_org_passes_and_is_evidence(engine: Engine) -> None:
    fake = FakeSf(DISPLAY)
    outcome = run_guard(engine, PINNED, fake)
    assert outcome.status == StepStatus.PASSED, outcome.detail
    assert "matches target.expect" in outcome.detail and any("IsSandbox" in c for c in fake.calls)
    assert any(e["name"] == "org-identity.json" for e in engine.store.evidence(engine.runs()[-1].id))


def test_wrong_org_fails_naming_both_and_never_the_token(engine: Engine) -> None:
    outcome = run_guard(engine, {**PINNED, "org_id": "00D000000000001AAA"}, FakeSf(DISPLAY))
    assert outcome.status == StepStatus.FAILED
    assert "WRONG ORG" in outcome.detail and "00D000000000001AAA" in outcome.detail and DISPLAY.org_id in outcome.detail
    assert "REDACTED" not in outcome.detail and "accessToken" not in json.dumps(dict(outcome.data))


def test_a_sandbox_behind_the_production_alias_fails(engine: Engine) -> None:
    outcome = run_guard(engine, PINNED, FakeSf(DISPLAY, is_sandbox=True))
    assert outcome.status == StepStatus.FAILED and "sandbox expected false but is true" in outcome.detail


def test_unpinned_production_target_fails_with_the_yaml_to_add(engine: Engine) -> None:
    outcome = run_guard(
        engine, {"org_id": None, "username": None, "instance_url": None, "sandbox": False}, FakeSf(DISPLAY)
    )
    assert outcome.status == StepStatus.FAILED
    assert "cutover target pin" in outcome.detail and f"org_id: {DISPLAY.org_id}" in outcome.detail


def test_unpinned_rehearsal_target_passes_with_a_warning(engine: Engine) -> None:
    expect = {"org_id": None, "username": None, "instance_url": None, "sandbox": None}
    fake = FakeSf(DISPLAY)
    outcome = run_guard(engine, expect, fake, production=False)
    assert outcome.status == StepStatus.PASSED and "WARNING" in outcome.detail
    assert fake.calls == ["org display production"]  # no sandbox expectation: no Organization query


def test_disconnected_alias_fails(engine: Engine) -> None:
    expired = OrgInfo(**{**DISPLAY.__dict__, "connected_status": "INVALID_SESSION_ID"})
    outcome = run_guard(engine, PINNED, FakeSf(expired))
    assert outcome.status == StepStatus.FAILED and "not connected" in outcome.detail


# -- cutover target pin ------------------------------------------------------------------------------------------------
RUNBOOK_TEXT = """\
# the team's runbook
target:
  alias: production   # the sf alias
  expect:
    org_id: null      # fill me
    username: null
    instance_url: null
    sandbox: false
"""


def test_pin_writes_the_identity_and_keeps_comments() -> None:
    text, changes = pin_expectations(RUNBOOK_TEXT, PINNED)
    assert set(changes) == {"org_id", "username", "instance_url"}
    assert "# the team's runbook" in text and "# the sf alias" in text
    runbook = parse_runbook(text)
    assert runbook.target.expect.org_id == DISPLAY.org_id and runbook.target.expect.username == DISPLAY.username
    again, no_changes = pin_expectations(text, PINNED)
    assert no_changes == {} and again == text


def test_pin_refuses_to_overwrite_another_org_without_force() -> None:
    text, _ = pin_expectations(RUNBOOK_TEXT, PINNED)
    other = {**PINNED, "org_id": "00D000000000001AAA"}
    with pytest.raises(Failure, match="already names another org"):
        pin_expectations(text, other)
    forced, changes = pin_expectations(text, other, force=True)
    assert changes["org_id"] == (DISPLAY.org_id, "00D000000000001AAA") and "00D000000000001AAA" in forced


def test_pin_adds_a_missing_expect_block() -> None:
    text, changes = pin_expectations("target:\n  alias: production\n", PINNED)
    assert set(changes) == {"org_id", "username", "instance_url", "sandbox"}
    assert parse_runbook(text).target.expect.instance_url == DISPLAY.instance_url


def test_the_runbook_api_version_pins_every_sf_call_of_a_run(tmp_path) -> None:
    """`sf.api_version` reaches sf as SF_ORG_API_VERSION (sf's own pin); unset, the environment is left alone."""
    from types import SimpleNamespace

    from cutover.steps._sf import shared_cli
    from cutover.steps.registry import StepServices

    def env_of(api_version):
        runbook = SimpleNamespace(sf=SimpleNamespace(binary=None, api_version=api_version))
        cli = shared_cli(StepServices(project_dir=tmp_path, target_org="production"), runbook)
        return cli._env_base

    pinned = env_of("61.0")
    assert pinned["SF_ORG_API_VERSION"] == "61.0" and "PATH" in pinned
    assert env_of(None) is None
