"""How long deploys, test runs and retrieves take on the org clock: the one place orgsim's timing model lives.

Two models, chosen per scenario (`durations`, documented with the formulas in docs/orgsim.md):

* **fixed** (the default, and every scenario written before the per-unit keys): a validation lasts
  `validate_seconds`, any other deploy (quick deploys included) `deploy_seconds`, a Tooling test run
  `test_seconds` and a retrieve `retrieve_seconds`, whatever they hold.
* **per unit**, as soon as `component_seconds` or `test_class_seconds` is set: the old keys become the fixed part
  and Salesforce's cost drivers are added on top::

      deploy   = (validate_seconds | deploy_seconds) + component_seconds × components
                 + test_class_seconds × ceil(test classes run / deploy_test_parallelism)
      quick    = deploy_seconds + component_seconds × components            (no tests: the validation ran them)
      test run = test_seconds + test_class_seconds × ceil(test classes / test_parallelism)
      retrieve = retrieve_seconds + retrieve_component_seconds × components retrieved

  Salesforce runs the test classes of a metadata deploy one after another ("Tests don't run in parallel in
  metadata deployments, package installations, or change set deployments", Apex Developer Guide, Testing Best
  Practices), so `deploy_test_parallelism` defaults to 1; test runs started through the API (`sf apex run test`)
  run classes in parallel unless the org ticks "Disable Parallel Apex Testing". Salesforce does not publish how
  many classes run at once; orgsim assumes `test_parallelism: 4` (set 1 to model the disabled setting).

Everything here is pure arithmetic on numbers, so unit tests need no clock and no sleeping.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class DurationSettings(Protocol):
    """The `durations` section of a scenario (orgsim.scenario.Durations)."""

    validate_seconds: float
    deploy_seconds: float
    test_seconds: float
    retrieve_seconds: float
    component_seconds: float | None
    test_class_seconds: float | None
    test_parallelism: int
    deploy_test_parallelism: int
    retrieve_component_seconds: float | None


def per_unit(durations: DurationSettings) -> bool:
    """True when the scenario asks for Salesforce's per-component / per-test-class model."""
    return durations.component_seconds is not None or durations.test_class_seconds is not None


def waves(test_class_methods: Sequence[int], parallelism: int) -> list[int]:
    """Test methods finished at the end of each wave of `parallelism` classes run side by side (classes in order)."""
    step = max(1, int(parallelism))
    return [sum(test_class_methods[i : i + step]) for i in range(0, len(test_class_methods), step)]


@dataclass(frozen=True)
class DeployTiming:
    """The schedule of one deploy job: a component phase, then a test phase made of waves of test classes.

    `legacy` keeps the fixed model's progress (components over the first half, tests over the second)."""

    component_phase: float
    test_phase: float
    wave_methods: tuple[int, ...] = ()
    legacy: bool = False

    @property
    def total(self) -> float:
        return self.component_phase + self.test_phase

    def to_json(self) -> dict[str, object]:
        return {
            "component_phase": self.component_phase,
            "test_phase": self.test_phase,
            "wave_methods": list(self.wave_methods),
            "legacy": self.legacy,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> DeployTiming:
        raw_waves = data.get("wave_methods") or []
        return cls(
            component_phase=float(data.get("component_phase") or 0.0),  # type: ignore[arg-type]
            test_phase=float(data.get("test_phase") or 0.0),  # type: ignore[arg-type]
            wave_methods=tuple(int(n) for n in raw_waves),  # type: ignore[union-attr]
            legacy=bool(data.get("legacy")),
        )

    def progress(self, elapsed: float, components: int, tests: int) -> tuple[int, int, bool]:
        """(components deployed, tests completed, running tests?) after `elapsed` seconds of a running job."""
        total = max(self.total, 0.001)
        if self.legacy:
            fraction = min(1.0, max(0.0, elapsed / total))
            done_components = min(components, int(components * fraction * 2))
            return done_components, int(tests * max(0.0, fraction * 2 - 1)), fraction >= 0.5 and tests > 0
        if elapsed < self.component_phase:
            share = elapsed / self.component_phase if self.component_phase > 0 else 1.0
            return min(components, int(components * share)), 0, False
        if not self.wave_methods or self.test_phase <= 0:
            return components, 0, False
        per_wave = self.test_phase / len(self.wave_methods)
        finished = min(len(self.wave_methods), int((elapsed - self.component_phase) / per_wave))
        return components, min(tests, sum(self.wave_methods[:finished])), True


def deploy_timing(
    durations: DurationSettings,
    *,
    check_only: bool,
    components: int,
    test_class_methods: Sequence[int] = (),
) -> DeployTiming:
    """The schedule of a deploy (quick deploys pass no test classes: they reuse the validation's results)."""
    fixed = float(durations.validate_seconds if check_only else durations.deploy_seconds)
    if not per_unit(durations):
        return DeployTiming(component_phase=fixed / 2, test_phase=fixed / 2, legacy=True)
    per_component = float(durations.component_seconds or 0.0)
    per_class = float(durations.test_class_seconds or 0.0)
    wave_methods = waves(test_class_methods, durations.deploy_test_parallelism)
    return DeployTiming(
        component_phase=fixed + per_component * max(0, components),
        test_phase=per_class * len(wave_methods),
        wave_methods=tuple(wave_methods),
    )


def test_run_seconds(durations: DurationSettings, test_classes: int) -> float:
    """How long a Tooling API test run (runTestsAsynchronous, `sf apex run test`) takes."""
    if not per_unit(durations):
        return float(durations.test_seconds)
    rounds = math.ceil(max(0, test_classes) / max(1, int(durations.test_parallelism)))
    return float(durations.test_seconds) + float(durations.test_class_seconds or 0.0) * rounds


def test_run_queue_seconds(durations: DurationSettings, test_classes: int) -> float:
    """How long a test run stays Queued before it turns Processing."""
    if not per_unit(durations):
        return float(durations.test_seconds) * 0.3
    return min(float(durations.test_seconds), test_run_seconds(durations, test_classes))


def classes_completed(durations: DurationSettings, test_classes: int, elapsed: float) -> int:
    """Test classes of a Tooling test run finished after `elapsed` seconds (whole waves only)."""
    if not per_unit(durations) or not durations.test_class_seconds:
        return test_classes if elapsed >= test_run_seconds(durations, test_classes) else 0
    parallel = max(1, int(durations.test_parallelism))
    rounds = int(max(0.0, elapsed - float(durations.test_seconds)) / float(durations.test_class_seconds))
    return min(test_classes, rounds * parallel)


def retrieve_seconds(durations: DurationSettings, components: int) -> float:
    """How long a retrieve takes: the fixed part plus, when set, a per-component part."""
    per_component = durations.retrieve_component_seconds
    return float(durations.retrieve_seconds) + float(per_component or 0.0) * max(0, components)
