"""apexsim: test discovery that ignores comments and strings, executable lines, coverage maths, outcomes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orgsim import apexsim
from orgsim.apexsim import ApexSource, simulate

GREETER = """\
public with sharing class Greeter {
    // @isTest in a comment does not make this a test class
    private static final String PREFIX = 'Hello ';

    public static String greet(String name) {
        if (name == null) {
            return PREFIX;
        }
        String s = PREFIX + name;
        return s;
    }
}
"""

GREETER_TEST = """\
/* @isTest
   static void commentedOut() {} */
@IsTest(SeeAllData=false)
private class GreeterTest {
    @isTest
    static void greetsByName() {
        String fake = '@isTest static void inAString() {}';
        System.assertEquals('Hello Ada', Greeter.greet('Ada'));
    }

    static testMethod void legacyStyle() {
        Greeter.greet(null);
    }

    @TestSetup
    static void makeData() {}

    static void helper() {}
}
"""


def test_discovers_annotated_and_testmethod_methods_only() -> None:
    methods = apexsim.find_test_methods(GREETER_TEST)
    assert [m.name for m in methods] == ["greetsByName", "legacyStyle"]
    assert methods[0].line == 6


def test_is_test_class_ignores_comments_and_strings() -> None:
    assert apexsim.is_test_class(GREETER_TEST)
    assert not apexsim.is_test_class(GREETER)
    in_string = "public class Tricky {\n    String s = '@isTest';\n    static testMethod void t() {}\n}\n"
    assert not apexsim.is_test_class(in_string)
    assert apexsim.find_test_methods(in_string) == []


def test_blanking_keeps_line_numbers_and_escaped_quotes() -> None:
    source = "a = 'it\\'s // not a comment';\n/* x\ny */ b = 1; // tail\n"
    blanked = apexsim.blank_comments_and_strings(source)
    assert blanked.count("\n") == source.count("\n")
    assert "not a comment" not in blanked
    assert "b = 1;" in blanked
    assert "tail" not in blanked


def test_executable_lines_skip_declarations_braces_and_comments() -> None:
    # Line 3 is a field initialiser; 6, 7, 9, 10 are statements; signatures, braces and comments are not counted.
    assert apexsim.executable_lines(GREETER) == [3, 6, 7, 9, 10]


def test_trigger_body_lines_count_from_depth_one() -> None:
    trigger = (
        "trigger GapTrigger on Compliance_Gap__c (before insert) {\n"
        "    for (Compliance_Gap__c g : Trigger.new) {\n"
        "        g.Name = 'x';\n"
        "    }\n"
        "}\n"
    )
    assert apexsim.executable_lines(trigger, "Trigger") == [2, 3]


@pytest.mark.parametrize(
    ("locations", "percent", "expected_missing"),
    [(10, 90, 1), (10, 85, 2), (10, 100, 0), (10, 0, 10), (7, 50, 4), (0, 50, 0), (3, 83.4, 0)],
)
def test_uncovered_count_follows_the_rounding_rule(locations: int, percent: float, expected_missing: int) -> None:
    lines = list(range(1, locations + 1))
    uncovered = apexsim.choose_uncovered(lines, percent)
    assert len(uncovered) == expected_missing == round(locations * (100 - percent) / 100)
    assert set(uncovered) <= set(lines)
    assert uncovered == apexsim.choose_uncovered(lines, percent)  # deterministic


def test_uncovered_lines_are_spread_not_clustered() -> None:
    uncovered = apexsim.choose_uncovered(list(range(1, 101)), 90)
    assert len(uncovered) == 10
    assert uncovered[0] < 20 and uncovered[-1] > 80


def _sources() -> list[ApexSource]:
    return [
        ApexSource("Greeter", GREETER, "Class", "01p000000000001AAA"),
        ApexSource("GreeterTest", GREETER_TEST, "Class", "01p000000000002AAA"),
    ]


def test_all_tests_pass_and_coverage_uses_the_default() -> None:
    run = simulate(_sources(), {}, level="RunLocalTests")
    assert [(t.class_name, t.method, t.outcome) for t in run.tests] == [
        ("GreeterTest", "greetsByName", "Pass"),
        ("GreeterTest", "legacyStyle", "Pass"),
    ]
    assert [c.name for c in run.coverage] == ["Greeter"]
    coverage = run.coverage[0]
    assert coverage.num_locations == 5
    assert coverage.num_not_covered == round(5 * (100 - 90) / 100) == 0
    assert run.org_wide_percent == 100.0


def test_scenario_failures_and_coverage_override() -> None:
    scenario = {
        "apex": {
            "coverage": {"greeter": 40},
            "failing_tests": [{"test": "GreeterTest.legacyStyle", "message": "System.AssertException: boom"}],
        }
    }
    run = simulate(_sources(), scenario, level="RunLocalTests")
    failed = run.failures
    assert len(failed) == 1 and failed[0].method == "legacyStyle"
    assert failed[0].message == "System.AssertException: boom"
    assert failed[0].stack_trace == "Class.GreeterTest.legacyStyle: line 12, column 1"
    assert run.coverage[0].num_not_covered == 3  # round(5 * 60 / 100)
    assert run.org_wide_percent == pytest.approx(40.0)


def test_run_specified_tests_selects_methods_and_rejects_unknown_ones() -> None:
    run = simulate(_sources(), {}, level="RunSpecifiedTests", tests=["GreeterTest.legacyStyle"])
    assert [t.method for t in run.tests] == ["legacyStyle"]
    with pytest.raises(apexsim.UnknownTestError):
        simulate(_sources(), {}, level="RunSpecifiedTests", tests=["NoSuchTest"])
    with pytest.raises(apexsim.UnknownTestError):
        simulate(_sources(), {}, level="RunSpecifiedTests", tests=["GreeterTest.nope"])


def test_no_test_run_runs_nothing_and_bad_level_is_refused() -> None:
    assert simulate(_sources(), {}, level="NoTestRun").tests == []
    with pytest.raises(ValueError, match="unknown test level"):
        simulate(_sources(), {}, level="RunEverything")


def test_namespaced_tests_are_not_local() -> None:
    managed = ApexSource("PkgTest", "@isTest class PkgTest { @isTest static void t() {} }", "Class", "", "pkg")
    local_run = simulate([*_sources(), managed], {}, level="RunLocalTests")
    all_run = simulate([*_sources(), managed], {}, level="RunAllTestsInOrg")
    assert "PkgTest" not in local_run.test_class_names
    assert "PkgTest" in all_run.test_class_names


NOISE = [
    "// @isTest static void fromComment() {}\n",
    "/* @isTest\n static testMethod void fromBlock() {} */\n",
    "    String s = '@isTest static void fromString() {}';\n",
]


# Line indexes of GREETER_TEST where a statement or member may start (not between an annotation and its method).
SAFE_LINES = [4, 6, 7, 9, 10, 11, 13, 14, 16, 17, 18]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(SAFE_LINES), st.sampled_from(NOISE)), max_size=5))
def test_noise_in_comments_and_strings_never_changes_discovery(insertions: list[tuple[int, str]]) -> None:
    lines = GREETER_TEST.splitlines(keepends=True)
    for line_index, noise in sorted(insertions, reverse=True):
        lines.insert(line_index, noise)
    noisy = "".join(lines)
    assert [m.name for m in apexsim.find_test_methods(noisy)] == ["greetsByName", "legacyStyle"]
