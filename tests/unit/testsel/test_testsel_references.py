"""Which references the graph sees, one Apex construct at a time (inline sources, answers by hand)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cutover.testsel import ApexGraph, build_graph

SOURCES = {
    "Uses.cls": """
        public with sharing class Uses extends BaseA implements IFace, Outer.InnerFace {
            private Map<Id, List<InGeneric>> byId = new Map<Id, List<InGeneric>>();
            private InArray[] items;
            public Uses(InParam p) {
                StaticHost.call();
                Integer k = ConstHost.LIMIT_VALUE;
                System.Type t = ClassLiteral.class;
                Object o = (CastTarget) p;
                Boolean b = o instanceof InstanceTarget;
                Object x = System.Type.forName('ByName').newInstance();
                try { new Created(); } catch (CaughtException e) { }
            }
        }""",
    "OldStyleTest.cls": """
        @isTest
        private class OldStyleTest {
            static testMethod void runs() { Uses u = new Uses(null); }
        }""",
    "SetupOnly.cls": """
        @IsTest
        public class SetupOnly {
            @TestSetup static void data() { insert new Account(Name = 'a'); }
        }""",
    "NoCode.cls": "public class NoCode extends Exception {}",
    "Outer.cls": "public class Outer { public interface InnerFace {} }",
    "Unused.cls": "public class Unused { void m() { String s = 'Uses'; } }",
}
TARGETS = [
    "BaseA",
    "IFace",
    "InGeneric",
    "InArray",
    "InParam",
    "StaticHost",
    "ConstHost",
    "ClassLiteral",
    "CastTarget",
    "InstanceTarget",
    "ByName",
    "Created",
    "CaughtException",
]


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> ApexGraph:
    root = tmp_path_factory.mktemp("refs")
    classes = root / "src" / "classes"
    classes.mkdir(parents=True)
    for name, body in SOURCES.items():
        (classes / name).write_text(body)
    for name in TARGETS:
        (classes / f"{name}.cls").write_text(f"public virtual class {name} {{ public static void call() {{}} }}")
    return build_graph(Path(root), ["src"])


def test_every_kind_of_reference_is_an_edge(graph: ApexGraph) -> None:
    assert set(graph.edges["class:uses"]) == {f"class:{n.lower()}" for n in TARGETS} | {"class:outer"}


def test_a_string_is_not_a_reference_unless_given_to_type_for_name(graph: ApexGraph) -> None:
    assert graph.edges["class:unused"] == {}


def test_what_runs_as_a_test_and_what_needs_coverage(graph: ApexGraph) -> None:
    units = graph.units
    assert units["class:oldstyletest"].is_test  # testMethod keyword
    assert not units["class:setuponly"].is_test  # @IsTest with only a @TestSetup method: not a test to run
    assert not units["class:setuponly"].needs_coverage  # but test code: no coverage needed
    assert units["class:setuponly"].dml_objects == {"account"}
    assert not units["class:nocode"].needs_coverage  # an exception class without code
    assert not units["class:outer"].needs_coverage  # only an inner interface
    assert units["class:uses"].needs_coverage and units["class:unused"].needs_coverage
