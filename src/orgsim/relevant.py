"""RunRelevantTests (API 66.0 and later): which test classes a deploy makes relevant.

Salesforce picks the tests "based on an analysis of the deployment payload and the payload dependencies" and lets
test classes opt in with ``@IsTest(testFor='ApexClass:X')`` or ``@IsTest(critical=true)``. orgsim's rule (documented
in docs/orgsim.md) is a name-based stand-in for that analysis, like the rest of apexsim.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from orgsim.apexsim import (
    ApexSource,
    _top_level_header,
    blank_comments_and_strings,
    identifiers,
    is_test_class,
    trigger_object,
)

_ISTEST_ARGS = re.compile(r"@\s*istest\s*\(([^)]*)\)", re.IGNORECASE)
_TEST_FOR = re.compile(r"testFor\s*=\s*'([^']*)'", re.IGNORECASE)
_CRITICAL = re.compile(r"\bcritical\s*=\s*true\b", re.IGNORECASE)


@dataclass(frozen=True)
class RelevantScope:
    """What a deploy touches: Apex classes and triggers (deployed or deleted) and objects (lower-case names)."""

    apex: frozenset[str] = frozenset()
    objects: frozenset[str] = frozenset()


def _class_annotation_args(body: str) -> str:
    """The argument text of the class-level ``@IsTest(...)`` (strings kept: ``testFor`` lives in one)."""
    top = _top_level_header(blank_comments_and_strings(body))
    if top is None:
        return ""
    return " ".join(m.group(1) for m in _ISTEST_ARGS.finditer(body[: top[1]]))


def relevant_test_classes(sources: Sequence[ApexSource], scope: RelevantScope) -> set[str]:
    """Names of the test classes RunRelevantTests runs (rule documented in docs/orgsim.md).

    1. The affected code: the Apex the deploy touches, the triggers on the objects it touches, then, until nothing
       changes, every non-test class or trigger that mentions affected code (its tests exercise it too).
    2. A test class is relevant when the deploy holds it, its ``@IsTest(testFor='ApexClass:X, ApexTrigger:Y')``
       names affected code, it is ``@IsTest(critical=true)``, or it mentions affected code or a touched object.
    """
    code = [s for s in sources if not (s.kind == "Class" and is_test_class(s.body))]
    words = {s.name.lower(): identifiers(s.body) for s in sources}
    affected = set(scope.apex)
    affected |= {s.name.lower() for s in code if s.kind == "Trigger" and trigger_object(s.body) in scope.objects}
    changed = True
    while changed:
        grown = {s.name.lower() for s in code if s.name.lower() not in affected and words[s.name.lower()] & affected}
        affected |= grown
        changed = bool(grown)
    objects = set(scope.objects) | {
        trigger_object(s.body) or "" for s in code if s.kind == "Trigger" and s.name.lower() in affected
    }
    relevant: set[str] = set()
    for source in sources:
        name = source.name.lower()
        if source.kind != "Class" or not is_test_class(source.body):
            continue
        args = _class_annotation_args(source.body)
        named = {
            part.split(":", 1)[-1].strip().lower()
            for found in _TEST_FOR.finditer(args)
            for part in found.group(1).split(",")
        }
        if name in scope.apex or named & affected or _CRITICAL.search(args) or words[name] & (affected | objects):
            relevant.add(source.name)
    return relevant
