"""The org timings the bench gives both orgs: the one place they turn into orgsim `durations` keys.

orgsim's per-unit model (docs/orgsim.md, "Timing model"; `orgsim.timing`):
deploy = fixed + component × components + test class × test classes (one after another in a metadata deploy),
quick deploy = fixed + component × components, `apex run test` = fixed + test class × ceil(classes / parallelism),
retrieve = fixed + retrieve component × components.

`model="fixed"` reproduces orgsim before that model (every deploy, quick deploys included, costs the same flat
time): the "before" figures of issue 8, with the flat times set to what the per-unit model charges a full release.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

Model = Literal["per-unit", "fixed"]


@dataclass(frozen=True)
class Timings:
    """Org-clock seconds. The bench scales a production org down (a test class takes seconds there, minutes for
    the whole org); what matters for the ratio is that tests dominate, as they do in a large org."""

    component_seconds: float
    test_class_seconds: float
    test_parallelism: int  # `sf apex run test`: classes at once
    deploy_test_parallelism: int  # metadata deploys: Salesforce runs their test classes one after another
    deploy_fixed_seconds: float  # queueing and commit of any deploy or validation
    test_fixed_seconds: float  # queueing of a test run
    retrieve_fixed_seconds: float
    retrieve_component_seconds: float

    def deploy_seconds(self, components: int, test_classes: int) -> float:
        waves = math.ceil(test_classes / self.deploy_test_parallelism)
        return self.deploy_fixed_seconds + self.component_seconds * components + self.test_class_seconds * waves

    def test_run_seconds(self, test_classes: int) -> float:
        return self.test_fixed_seconds + self.test_class_seconds * math.ceil(test_classes / self.test_parallelism)

    def retrieve_seconds(self, components: int) -> float:
        return self.retrieve_fixed_seconds + self.retrieve_component_seconds * components

    def durations(self, model: Model, components: int, test_classes: int) -> dict[str, float | int]:
        """The scenario's `durations` section for a project of `components` with `test_classes`."""
        if model == "fixed":
            full = self.deploy_seconds(components, test_classes)
            return {
                "validate_seconds": full,
                "deploy_seconds": full,
                "test_seconds": self.test_run_seconds(test_classes),
                "retrieve_seconds": self.retrieve_seconds(components),
            }
        return {
            "validate_seconds": self.deploy_fixed_seconds,
            "deploy_seconds": self.deploy_fixed_seconds,
            "test_seconds": self.test_fixed_seconds,
            "retrieve_seconds": self.retrieve_fixed_seconds,
            "component_seconds": self.component_seconds,
            "test_class_seconds": self.test_class_seconds,
            "test_parallelism": self.test_parallelism,
            "deploy_test_parallelism": self.deploy_test_parallelism,
            "retrieve_component_seconds": self.retrieve_component_seconds,
        }

    def describe(self, model: Model, components: int, test_classes: int) -> list[str]:
        """The timings as printed: the keys, and what a full release costs on the org clock."""
        lines = [
            f"component {self.component_seconds:g}s, test class {self.test_class_seconds:g}s, "
            f"apex run test parallelism {self.test_parallelism}, deploy tests one class at a time "
            f"(parallelism {self.deploy_test_parallelism}), fixed: deploy {self.deploy_fixed_seconds:g}s, "
            f"test run {self.test_fixed_seconds:g}s, retrieve {self.retrieve_fixed_seconds:g}s "
            f"+ {self.retrieve_component_seconds:g}s/component",
            f"org clock for the full release ({components} components, {test_classes} test classes): "
            f"deploy with tests {self.deploy_seconds(components, test_classes):.1f}s, quick deploy "
            f"{self.deploy_seconds(components, 0):.1f}s, apex run test {self.test_run_seconds(test_classes):.1f}s, "
            f"retrieve {self.retrieve_seconds(components):.1f}s",
        ]
        if model == "fixed":
            lines.append("orgsim model: fixed (before issue 8: a quick deploy costs as much as a deploy with tests)")
        return lines


FULL = Timings(
    component_seconds=0.02,
    test_class_seconds=0.4,
    test_parallelism=4,
    deploy_test_parallelism=1,
    deploy_fixed_seconds=2.0,
    test_fixed_seconds=2.0,
    retrieve_fixed_seconds=1.0,
    retrieve_component_seconds=0.005,
)
QUICK = replace(
    FULL, test_class_seconds=0.2, deploy_fixed_seconds=1.0, test_fixed_seconds=1.0, retrieve_fixed_seconds=0.5
)


@dataclass(frozen=True)
class OrgClock:
    """What the org charges one operation under the chosen model (the fixed model charges every deploy, quick
    deploys included, and every test run the full release's price)."""

    timings: Timings
    model: Model
    components: int  # of the full release
    test_classes: int

    def deploy(self, components: int, test_classes: int) -> float:
        if self.model == "fixed":
            return self.timings.deploy_seconds(self.components, self.test_classes)
        return self.timings.deploy_seconds(components, test_classes)

    def quick_deploy(self, components: int) -> float:
        return self.deploy(components, 0) if self.model == "per-unit" else self.deploy(0, 0)

    def test_run(self, test_classes: int) -> float:
        if self.model == "fixed":
            return self.timings.test_run_seconds(self.test_classes)
        return self.timings.test_run_seconds(test_classes)

    def retrieve(self, components: int) -> float:
        return self.timings.retrieve_seconds(self.components if self.model == "fixed" else components)
