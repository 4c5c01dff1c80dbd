"""Coverage gates: Apex coverage from the validation (or a sandbox test run), LWC coverage from jest's summary."""

from __future__ import annotations

import json
from pathlib import Path

from cutover.checks.result import Evidence, GateResult, failed, passed, skipped

LWC_METRICS = ("lines", "statements", "functions", "branches")


def check_lwc_coverage(
    gate_id: str,
    title: str,
    summary_path: Path,
    *,
    threshold: float,
    metric: str = "lines",
    not_before: float | None = None,
) -> GateResult:
    """`coverage-summary.json` (istanbul json-summary, written by the unit-test command) meets `threshold` percent."""
    if not summary_path.is_file():
        return failed(
            gate_id,
            title,
            f"{summary_path.name} not found: the unit-test command must write it "
            "(jest --coverage --coverageReporters=json-summary)",
        )
    if not_before is not None and summary_path.stat().st_mtime < not_before - 1:
        return failed(gate_id, title, f"{summary_path.name} is older than this run's unit tests: stale coverage")
    try:
        total = json.loads(summary_path.read_text(encoding="utf-8"))["total"]
        figures = {name: float(total[name]["pct"]) for name in LWC_METRICS if name in total}
        value = figures[metric]
    except (ValueError, KeyError, TypeError) as exc:
        return failed(gate_id, title, f"{summary_path.name}: not a coverage summary ({exc})")
    evidence = Evidence.json("lwc-coverage.json", {"threshold": threshold, "metric": metric, "total": figures})
    others = ", ".join(f"{name} {pct:.1f}%" for name, pct in figures.items() if name != metric)
    if value >= threshold:
        return passed(gate_id, title, f"LWC {metric} coverage {value:.1f}% ≥ {threshold:g}% ({others})", evidence)
    return failed(gate_id, title, f"LWC {metric} coverage {value:.1f}% < {threshold:g}% ({others})", evidence)


def check_apex_coverage(
    gate_id: str, title: str, *, percent: float | None, threshold: float, source: str | None = None
) -> GateResult:
    """Org-wide Apex coverage from the latest validation or sandbox test run; pending until one exists."""
    if percent is None:
        return skipped(
            gate_id,
            title,
            f"no validation or sandbox test run yet: Apex coverage ≥ {threshold:g}% is checked at the validation step",
        )
    evidence = Evidence.json("apex-coverage.json", {"percent": percent, "threshold": threshold, "source": source})
    where = f" ({source})" if source else ""
    if percent >= threshold:
        return passed(gate_id, title, f"Apex coverage {percent:.1f}% ≥ {threshold:g}%{where}", evidence)
    return failed(gate_id, title, f"Apex coverage {percent:.1f}% < {threshold:g}%{where}", evidence)
