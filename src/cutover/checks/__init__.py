"""Pre-deployment checks: pure functions that inspect a project and return a `GateResult`.

Each check takes plain values (paths, thresholds, commands), never the runbook or the engine, so it can be tested
alone; `cutover.steps.preflight` maps the runbook's plan onto these checks and records their results.
"""

from cutover.checks.result import Evidence, GateResult, GateStatus

__all__ = ["Evidence", "GateResult", "GateStatus"]
