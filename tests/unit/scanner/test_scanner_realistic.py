"""The scanner on realistic Apex (tests/unit/scanner/apex_samples.py): no parse errors, exactly the deliberate
mistakes reported, and messages that name each project's fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from apex_samples import EXPECTED, SAMPLES

from cutover.checks.apex import ScanConfig, scan_paths, scan_source


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name, source in SAMPLES.items():
        path = tmp_path / "force-app" / "main" / "default" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return tmp_path


def test_realistic_project_parses_and_reports_only_the_mistakes(project: Path) -> None:
    report = scan_paths([project / "force-app"], ScanConfig(), root=project / "force-app" / "main" / "default")
    assert report.errors == ()
    assert report.files == len(SAMPLES)
    assert [(f.file, f.rule, f.line) for f in report.findings] == EXPECTED
    assert report.suppressed == 1
    marked = sorted(
        (name, number)
        for name, source in SAMPLES.items()
        for number, line in enumerate(source.splitlines(), 1)
        if "// MISTAKE" in line
    )
    assert marked == sorted((file, line) for file, _, line in EXPECTED)


def test_realistic_messages(project: Path) -> None:
    report = scan_paths([project / "force-app"], ScanConfig(), root=project / "force-app" / "main" / "default")
    messages = {(f.file, f.line): f.message for f in report.findings}
    assert messages[("classes/OrderService.cls", 41)].startswith(
        "upsert of Order__c in method OrderService.archive has a create check but no update check before it"
    )
    assert "Schema.sObjectType.Order_Note__c.isDeletable()" in messages[("classes/OrderService.cls", 46)]
    assert "Schema.sObjectType.Task.isCreateable()" in messages[("triggers/OrderShippedTrigger.trigger", 6)]
    assert "parameter 'sortField'" in messages[("classes/Selector.cls", 31)]


def test_test_classes_are_scanned_on_request(project: Path) -> None:
    config = ScanConfig(skip_test_classes=False)
    report = scan_paths([project / "force-app"], config, root=project / "force-app" / "main" / "default")
    extra = {(f.file, f.rule, f.line) for f in report.findings} - set(EXPECTED)
    assert extra == {
        ("classes/OrderServiceTest.cls", "sharing-not-declared", 2),
        ("classes/OrderServiceTest.cls", "dml-without-crud-check", 5),
        ("classes/OrderServiceTest.cls", "soql-not-enforced", 9),
    }


def test_records_from_another_files_enforced_selector_are_not_reported(project: Path) -> None:
    controller = SAMPLES["classes/OrderController.cls"]
    alone = scan_source(controller, "OrderController.cls")  # the selector unseen: its records are unknown
    assert [(f.rule, f.line) for f in alone.findings] == [("aura-without-strip", 19)]
    selector = SAMPLES["classes/OrdersSelector.cls"].replace(" WITH USER_MODE", "")
    (project / "force-app" / "main" / "default" / "classes" / "OrdersSelector.cls").write_text(selector)
    report = scan_paths([project / "force-app"], ScanConfig(), root=project / "force-app" / "main" / "default")
    reported = {(f.file, f.rule, f.line) for f in report.findings} - set(EXPECTED)
    assert reported == {
        ("classes/OrderController.cls", "aura-without-strip", 19),  # the selector no longer enforces
        ("classes/OrdersSelector.cls", "soql-not-enforced", 8),
    }
