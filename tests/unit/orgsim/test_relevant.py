"""orgsim's RunRelevantTests rule (orgsim.relevant), on a hand-written set of classes with known answers."""

from __future__ import annotations

from orgsim.apexsim import ApexSource, simulate, trigger_object
from orgsim.relevant import RelevantScope, relevant_test_classes

SOURCES = [
    ApexSource("Pricing", "public class Pricing { public static Integer net() { return 1; } }"),
    ApexSource("Quote", "public class Quote { Integer total() { return Pricing.net(); } }"),  # uses Pricing
    ApexSource("Mailer", "public class Mailer { void send() { } }"),
    ApexSource(
        "OrderTrigger",
        "trigger OrderTrigger on Order__c (before insert) { Mailer m = new Mailer(); }",
        kind="Trigger",
    ),
    ApexSource("PricingTest", "@isTest class PricingTest { @isTest static void t() { Pricing.net(); } }"),
    ApexSource("QuoteTest", "@isTest class QuoteTest { @isTest static void t() { new Quote(); } }"),
    ApexSource("MailerTest", "@isTest class MailerTest { @isTest static void t() { new Mailer(); } }"),
    ApexSource("OrderTest", "@isTest class OrderTest { @isTest static void t() { insert new Order__c(); } }"),
    ApexSource(
        "TaggedTest",
        "@IsTest(testFor='ApexClass:Mailer')\nclass TaggedTest { @isTest static void t() { } }",
    ),
    ApexSource("SmokeTest", "@IsTest(critical=true)\nclass SmokeTest { @isTest static void t() { } }"),
    ApexSource("CommentTest", "@isTest class CommentTest { @isTest static void t() { /* Pricing */ } }"),
]


def relevant(apex: set[str] = frozenset(), objects: set[str] = frozenset()) -> list[str]:
    scope = RelevantScope(apex=frozenset(apex), objects=frozenset(objects))
    return sorted(relevant_test_classes(SOURCES, scope))


def test_a_class_change_reaches_tests_of_its_users_transitively() -> None:
    # Quote uses Pricing, so QuoteTest exercises the change; a mention inside a comment does not count.
    assert relevant({"pricing"}) == ["PricingTest", "QuoteTest", "SmokeTest"]


def test_test_for_annotations_and_triggers_on_touched_objects() -> None:
    # Mailer is used by the trigger on Order__c, so the test that inserts an Order__c runs too.
    assert relevant({"mailer"}) == ["MailerTest", "OrderTest", "SmokeTest", "TaggedTest"]
    # A field change on Order__c reaches its trigger and the test inserting Order__c; Mailer itself did not change.
    assert relevant(objects={"order__c"}) == ["OrderTest", "SmokeTest"]


def test_a_deployed_test_class_is_relevant_itself() -> None:
    assert relevant({"commenttest"}) == ["CommentTest", "SmokeTest"]


def test_simulate_runs_only_the_classes_named_and_measures_what_they_touch() -> None:
    run = simulate(SOURCES, {}, level="RunRelevantTests", class_names=["QuoteTest"])
    assert run.test_class_names == ["QuoteTest"]
    assert sorted(c.name for c in run.coverage) == ["Quote"]
    assert trigger_object(SOURCES[3].body) == "order__c"
    trigger_run = simulate(SOURCES, {}, level="RunSpecifiedTests", tests=["OrderTest"])
    assert [c.name for c in trigger_run.coverage] == ["OrderTrigger"]  # inserting Order__c fires its trigger
