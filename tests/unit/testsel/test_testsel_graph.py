"""The relevant-test selection on tests/fixtures/testsel, against answers written by hand.

Fixture (force-app/main/default): AccountService -> AccountSelector (SOQL Account), StringUtils; OrderService ->
PricingEngine (and its inner Tier), inserts Order__c (fires OrderTrigger), inner LineBuilder -> Money; OrderTrigger
-> OrderTriggerHandler -> TriggerHandler (extends); InvoiceTrigger on Invoice__c -> InvoiceHandler (implements
IHandler); ReportController: dynamic SOQL on Invoice__c, Type.forName('LegacyExport' / 'ReportFormatter');
TestDataFactory (@IsTest, no test methods) inserts Order__c; UnusedUtil is used by nobody; OrderStatus is an enum.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from testsel_helpers import FIXTURE, Component, delta

from cutover.testsel import ApexGraph, build_graph, select_in_graph


@pytest.fixture(scope="module")
def graph() -> ApexGraph:
    return build_graph(FIXTURE, ["force-app"])


def chosen(graph: ApexGraph, *upserts: Component, deletions: tuple[Component, ...] = ()) -> dict[str, list[str]]:
    selection = select_in_graph(FIXTURE, delta(*upserts, deletions=deletions), graph)
    return {t.name: list(t.reasons) for t in selection.tests}


def test_a_changed_class_selects_its_direct_and_transitive_tests(graph: ApexGraph) -> None:
    assert chosen(graph, Component("ApexClass", "AccountSelector")) == {
        "AccountServiceTest": ["AccountServiceTest → AccountService → AccountSelector (changed)"],
    }
    # PricingEngine.Tier in OrderServiceTest's own code is a reference to PricingEngine; LineBuilderTest uses
    # OrderService.LineBuilder, which counts as OrderService (the graph's nodes are top-level classes)
    assert chosen(graph, Component("ApexClass", "PricingEngine")) == {
        "LineBuilderTest": ["LineBuilderTest → OrderService → PricingEngine (changed)"],
        "OrderServiceTest": ["OrderServiceTest → PricingEngine (changed)"],
    }


def test_a_class_used_only_in_an_inner_class_reaches_the_outer_class_tests(graph: ApexGraph) -> None:
    # Money is used by OrderService.LineBuilder only; LineBuilderTest names OrderService.LineBuilder
    assert chosen(graph, Component("ApexClass", "Money")) == {
        "LineBuilderTest": ["LineBuilderTest → OrderService → Money (changed)"],
        "OrderServiceTest": ["OrderServiceTest → OrderService → Money (changed)"],
    }


def test_a_trigger_handler_is_reached_through_dml_on_its_object(graph: ApexGraph) -> None:
    fires = "trigger OrderTrigger on Order__c"
    assert chosen(graph, Component("ApexClass", "TriggerHandler")) == {
        "LineBuilderTest": [
            f"LineBuilderTest → OrderService → {fires} → OrderTriggerHandler → TriggerHandler (changed)"
        ],
        "OrderServiceTest": [
            f"OrderServiceTest → OrderService → {fires} → OrderTriggerHandler → TriggerHandler (changed)"
        ],
        "OrderTriggerTest": [
            f"OrderTriggerTest → TestDataFactory → {fires} → OrderTriggerHandler → TriggerHandler (changed)"
        ],
    }


def test_a_changed_field_reaches_the_triggers_on_its_object(graph: ApexGraph) -> None:
    assert chosen(graph, Component("CustomField", "Order__c.Status__c")) == {
        # OrderService names Status__c itself; the tests reach it or the trigger
        "LineBuilderTest": ["LineBuilderTest → OrderService → Order__c.Status__c (changed field)"],
        "OrderServiceTest": ["OrderServiceTest → OrderService → Order__c.Status__c (changed field)"],
        "OrderTriggerTest": [
            "OrderTriggerTest → TestDataFactory → trigger OrderTrigger on Order__c → Order__c.Status__c (changed field)"
        ],
    }


def test_a_changed_object_reaches_its_trigger_and_its_dynamic_queries(graph: ApexGraph) -> None:
    assert chosen(graph, Component("CustomObject", "Invoice__c")) == {
        "InvoiceHandlerTest": ["InvoiceHandlerTest → Invoice__c (changed object)"],
        "ReportControllerTest": ["ReportControllerTest → ReportController → Invoice__c (changed object)"],
    }


def test_an_interface_and_a_trigger(graph: ApexGraph) -> None:
    assert chosen(graph, Component("ApexClass", "IHandler")) == {
        "InvoiceHandlerTest": ["InvoiceHandlerTest → trigger InvoiceTrigger on Invoice__c → IHandler (changed)"],
    }
    assert chosen(graph, Component("ApexTrigger", "InvoiceTrigger")) == {
        "InvoiceHandlerTest": ["InvoiceHandlerTest → trigger InvoiceTrigger (changed)"],
    }


def test_type_for_name_and_a_deleted_class(graph: ApexGraph) -> None:
    assert chosen(graph, Component("ApexClass", "ReportFormatter")) == {
        "ReportControllerTest": ["ReportControllerTest → ReportController → ReportFormatter (changed)"],
    }
    # LegacyExport is gone; ReportController still looks it up by name
    deleted = (Component("ApexClass", "LegacyExport", ("force-app/main/default/classes/LegacyExport.cls",)),)
    assert chosen(graph, deletions=deleted) == {
        "ReportControllerTest": ["ReportControllerTest → ReportController → LegacyExport (deleted)"],
    }
    # a deleted class that nothing names any more selects nothing
    assert chosen(graph, deletions=(Component("ApexClass", "OldThing"),)) == {}


def test_unrelated_tests_are_not_selected(graph: ApexGraph) -> None:
    found = chosen(graph, Component("ApexClass", "StringUtils"), Component("LightningComponentBundle", "orderCard"))
    assert found == {
        "AccountServiceTest": ["AccountServiceTest → AccountService → StringUtils (changed)"],
        "StringUtilsTest": ["StringUtilsTest → StringUtils (changed)"],
    }
    # a changed test class runs itself, and only itself
    assert chosen(graph, Component("ApexClass", "OrderTriggerTest")) == {
        "OrderTriggerTest": ["OrderTriggerTest (changed test class)"],
    }


def test_one_reason_per_change_a_test_reaches(graph: ApexGraph) -> None:
    found = chosen(graph, Component("ApexClass", "AccountService"), Component("ApexClass", "StringUtils"))
    assert found["AccountServiceTest"] == [
        "AccountServiceTest → AccountService (changed)",
        "AccountServiceTest → AccountService → StringUtils (changed)",
    ]


def test_uncovered_lists_release_apex_no_selected_test_reaches(graph: ApexGraph) -> None:
    change = delta(
        Component("ApexClass", "UnusedUtil"),
        Component("ApexClass", "Money"),
        Component("ApexClass", "OrderStatus"),  # an enum: nothing to cover
        Component("ApexClass", "IHandler"),  # an interface
        Component("ApexClass", "TestDataFactory"),  # a test class
        Component("ApexTrigger", "OrderTrigger"),
        Component("LightningComponentBundle", "orderCard"),
    )
    selection = select_in_graph(FIXTURE, change, graph)
    assert selection.uncovered == ("UnusedUtil",)
    assert selection.release_apex == ("UnusedUtil", "Money", "OrderTrigger")
    assert selection.unaffecting == ("LightningComponentBundle:orderCard",)
    refusal = selection.refusal()
    assert refusal is not None and "UnusedUtil" in refusal and "75 %" in refusal and "\n" not in refusal
    # TestDataFactory has no test methods: it is never a test of its own
    assert "TestDataFactory" not in selection.names
    covered = select_in_graph(FIXTURE, delta(Component("ApexClass", "Money")), graph)
    assert covered.uncovered == () and covered.refusal() is None


def test_a_rebuilt_graph_sees_edited_files(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "p")
    before = build_graph(tmp_path / "p", ["force-app"])
    assert "class:money" not in before.edges["class:unusedutil"]
    path = tmp_path / "p/force-app/main/default/classes/UnusedUtil.cls"
    path.write_text(path.read_text().replace("return 42;", "return new Money(42).amount.intValue();"))
    after = build_graph(tmp_path / "p", ["force-app"])
    assert "class:money" in after.edges["class:unusedutil"]
    assert after.units["class:unusedutil"].path == "force-app/main/default/classes/UnusedUtil.cls"
