"""What a cutover run sent to the org, read from its step details (the same figures `cutover status` prints)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bench.window.project import METHODS_PER_TEST_CLASS


@dataclass(frozen=True)
class Sent:
    backup_components: int | None
    validated_components: int | None
    validated_test_classes: int | None
    verified_test_classes: int | None

    def describe(self) -> str:
        def shown(value: int | None) -> str:
            return "?" if value is None else str(value)

        return (
            f"backup {shown(self.backup_components)} components; validation {shown(self.validated_components)} "
            f"components, {shown(self.validated_test_classes)} test classes; quick deploy; verification "
            f"{shown(self.verified_test_classes)} test classes"
        )


def _number(steps: list[dict[str, Any]], prefix: str, pattern: str) -> int | None:
    for step in steps:
        if step["id"].startswith(prefix):
            found = re.search(pattern, str(step.get("detail") or ""))
            if found:
                return int(found.group(1))
    return None


def sent(steps: list[dict[str, Any]]) -> Sent:
    validated_tests = _number(steps, "validate.", r"\d+/\d+ components, (\d+)/\d+ tests")
    verified_tests = _number(steps, "verify.apex-tests", r"(\d+)/\d+ tests passed")
    return Sent(
        backup_components=_number(steps, "backup.", r"(\d+) component\(s\) in"),
        validated_components=_number(steps, "validate.", r"(\d+)/\d+ components, \d+/\d+ tests"),
        validated_test_classes=None if validated_tests is None else validated_tests // METHODS_PER_TEST_CLASS,
        verified_test_classes=None if verified_tests is None else verified_tests // METHODS_PER_TEST_CLASS,
    )
