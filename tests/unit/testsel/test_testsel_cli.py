"""`cutover tests relevant` on a real git repository: the fixture project tagged v1.0.0, then a release that changes
Money, the field Order__c.Status__c and deletes the trigger InvoiceTrigger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from testsel_helpers import CLASSES, fixture_repo, git

from cutover.cli import main


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = fixture_repo(tmp_path / "repo", "v0.9.0")
    (repo / CLASSES / "UnusedUtil.cls").write_text(
        "public class UnusedUtil { public static Integer a() { return 1; } }"
    )
    git(repo, "commit", "-q", "-am", "second release")
    git(repo, "tag", "v1.0.0")
    money = repo / CLASSES / "Money.cls"
    money.write_text(
        money.read_text().replace(
            "    public Money plus(",
            "    public Boolean isZero() {\n        return amount == 0;\n    }\n\n    public Money plus(",
        )
    )
    field = repo / "force-app/main/default/objects/Order__c/fields/Status__c.field-meta.xml"
    field.write_text(field.read_text().replace("<length>40</length>", "<length>80</length>"))
    git(repo, "rm", "-q", "force-app/main/default/triggers/InvoiceTrigger.trigger")
    git(repo, "rm", "-q", "force-app/main/default/triggers/InvoiceTrigger.trigger-meta.xml")
    git(repo, "commit", "-q", "-am", "this release")
    return repo


def run_json(repo: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, object]:
    code = main(["-C", str(repo), "tests", "relevant", "--format", "json", *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def test_relevant_json_since_the_latest_release_tag(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = run_json(repo, capsys)
    assert found["since"] == "v1.0.0"
    money = "OrderService → Money (changed)"
    status = "Order__c.Status__c (changed field)"
    assert {t["name"]: t["reasons"] for t in found["tests"]} == {  # type: ignore[union-attr, index]
        "InvoiceHandlerTest": ["InvoiceHandlerTest → trigger InvoiceTrigger on Invoice__c (deleted)"],
        "LineBuilderTest": [f"LineBuilderTest → {money}", f"LineBuilderTest → OrderService → {status}"],
        "OrderServiceTest": [f"OrderServiceTest → {money}", f"OrderServiceTest → OrderService → {status}"],
        "OrderTriggerTest": [f"OrderTriggerTest → TestDataFactory → trigger OrderTrigger on Order__c → {status}"],
    }
    assert found["tests"][0]["path"] == "force-app/main/default/classes/InvoiceHandlerTest.cls"  # type: ignore[index]
    assert found["uncovered"] == [] and found["refusal"] is None
    assert found["release_apex"] == ["Money"]


def test_relevant_since_an_older_tag_and_the_refusal(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = run_json(repo, capsys, "--since", "v0.9.0")
    assert found["since"] == "v0.9.0"
    assert found["uncovered"] == ["UnusedUtil"]  # changed since v0.9.0, and no test reaches it
    assert "UnusedUtil" in str(found["refusal"])
    code = main(["-C", str(repo), "tests", "relevant", "--since", "v0.9.0"])
    text = capsys.readouterr().out
    assert code == 0
    assert "  OrderServiceTest\n    OrderServiceTest → OrderService → Money (changed)" in text
    assert "refused with sf.relevant_tests:" in text and "UnusedUtil" in text


def test_unknown_tag_is_a_clear_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["-C", str(repo), "tests", "relevant", "--since", "v9.9.9"])
    err = capsys.readouterr().err
    assert code == 1 and "v9.9.9" in err and "internal error" not in err


def test_no_release_tag_asks_for_since(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = fixture_repo(tmp_path / "untagged", "build-1")  # no v* tag
    assert main(["-C", str(repo), "tests", "relevant"]) == 2
    err = capsys.readouterr().err
    assert "no release tag matching v* is reachable from HEAD" in err and "--since" in err


def test_with_a_runbook_a_full_deploy_needs_every_class_covered(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "cutover.yaml").write_text("target: {alias: prod}\nrelease: {version: 1.1.0}\nsf: {relevant_tests: true}\n")
    found = run_json(repo, capsys)
    assert found["since"] == "v1.0.0"  # the runbook's release tag pattern, as a delta release picks its base
    assert len(found["tests"]) == 4  # type: ignore[arg-type]
    # project.delta is off: the deploy sends every package directory, so every class with code needs coverage
    assert found["uncovered"] == [
        "AccountSelector",
        "AccountService",
        "InvoiceHandler",
        "ReportController",
        "ReportFormatter",
        "StringUtils",
        "UnusedUtil",
    ]
    (repo / "cutover.yaml").write_text(
        "target: {alias: prod}\nrelease: {version: 1.1.0}\nproject: {delta: {enabled: true}}\n"
        "sf: {relevant_tests: true}\n"
    )
    assert main(["-C", str(repo), "tests", "relevant"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(
        "4 relevant test class(es) since v1.0.0 (3 change(s) reaching Apex; the deploy sends the delta)"
    )
    assert "refused" not in text
