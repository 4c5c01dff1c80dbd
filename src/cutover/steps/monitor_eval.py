"""Pure evaluation for the `monitor.limits` step: readings, breaches, severity, samples, the CSV time series.
No sf, no clock, no files: `cutover.steps.monitor` takes the samples and calls these."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cutover.notify.notifier import iso, parse_iso

if TYPE_CHECKING:
    from cutover.sf import OrgLimit

#: At or above this percent of any limit a breach is CRITICAL, whatever the metric's own severity.
CRITICAL_PERCENT = 95.0


@dataclass(frozen=True)
class Reading:
    metric: str  # "soql", "org:DailyApiRequests", "query:audit-logs-created", "apex-failures"
    title: str
    source: str  # snapshot | org_limits | query | apex_logs
    value: float | None  # percent used (limits) or record count (queries, logs)
    threshold: float | None = None
    severity: str = "HIGH"  # severity of a breach below CRITICAL_PERCENT
    unit: str = "%"
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "title": self.title,
            "source": self.source,
            "value": self.value,
            "threshold": self.threshold,
            "severity": self.severity,
            "unit": self.unit,
            "detail": self.detail,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reading:
        return cls(
            metric=str(data.get("metric")),
            title=str(data.get("title") or data.get("metric")),
            source=str(data.get("source") or ""),
            value=data.get("value"),
            threshold=data.get("threshold"),
            severity=str(data.get("severity") or "HIGH"),
            unit=str(data.get("unit") or "%"),
            detail=str(data.get("detail") or ""),
        )


@dataclass(frozen=True)
class Breach:
    metric: str
    title: str
    severity: str
    value: float | None
    threshold: float | None
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "title": self.title,
            "severity": self.severity,
            "value": self.value,
            "threshold": self.threshold,
            "detail": self.detail,
        }


def breach_severity(value: float | None, threshold: float | None, base: str = "HIGH") -> str | None:
    """None below the threshold; CRITICAL at or above CRITICAL_PERCENT; else `base` (the metric's severity)."""
    if value is None or threshold is None or value < threshold:
        return None
    if value >= CRITICAL_PERCENT:
        return "CRITICAL"
    return base


def snapshot_readings(
    rows: Iterable[Mapping[str, object]],
    snapshot_names: Mapping[str, str],
    thresholds: Mapping[str, float],
    metrics: Iterable[Mapping[str, object]] = (),
) -> list[Reading]:
    """The latest governor-limit snapshot per limit (rows newest first, as the runbook's query orders them),
    mapped to threshold keys by Name prefix (case-insensitive)."""
    by_limit = {str(m.get("limit")): m for m in metrics if m.get("check") == "limit" and m.get("limit")}
    prefixes = sorted(((p.lower(), key) for p, key in snapshot_names.items()), key=lambda item: -len(item[0]))
    seen: dict[str, Reading] = {}
    for row in rows:
        name = str(row.get("Name") or "")
        key = next((k for p, k in prefixes if name.lower().startswith(p)), None)
        if key is None or key in seen:
            continue
        try:
            value = float(row.get("Value__c"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        metric = by_limit.get(key, {})
        seen[key] = Reading(
            metric=key,
            title=str(metric.get("title") or name),
            source="snapshot",
            value=value,
            threshold=float(thresholds[key]) if key in thresholds else None,
            severity=str(metric.get("severity") or "HIGH"),
            detail=f"snapshot {name}",
        )
    return [seen[k] for k in sorted(seen)]


def org_limit_readings(limits: Iterable[OrgLimit], threshold: float, severity: str = "HIGH") -> list[Reading]:
    """`sf org list limits` entries (OrgLimit) with a Max, as percent used."""
    out = []
    for item in limits:
        if getattr(item, "max", 0) <= 0:
            continue
        out.append(
            Reading(
                metric=f"org:{item.name}",
                title=item.name,
                source="org_limits",
                value=round(item.used_pct, 2),
                threshold=threshold,
                severity=severity,
                detail=f"{item.used} of {item.max} used",
            )
        )
    return out


def evaluate(readings: Iterable[Reading]) -> list[Breach]:
    """Breaches in a sample. Limits compare percent with threshold; `query:` readings carry their verdict in
    `threshold` (1 = expectation failed); Apex failures are CRITICAL when any; unreadable metrics are MEDIUM."""
    out = []
    for r in readings:
        if r.source == "error":
            out.append(Breach(r.metric, r.title, "MEDIUM", None, None, f"could not read {r.title}: {r.detail}"))
        elif r.source == "apex_logs":
            if r.value:
                out.append(Breach(r.metric, r.title, "CRITICAL", r.value, 0, r.detail))
        elif r.source == "query":
            if r.threshold:  # the expectation failed
                out.append(Breach(r.metric, r.title, r.severity, r.value, None, r.detail))
        else:
            severity = breach_severity(r.value, r.threshold, r.severity)
            if severity is not None:
                detail = f"{r.title} at {r.value:g}% (threshold {r.threshold:g}%)" + (
                    f"; {r.detail}" if r.detail else ""
                )
                out.append(Breach(r.metric, r.title, severity, r.value, r.threshold, detail))
    return out


def query_reading(metric: Mapping[str, object], count: int) -> Reading:
    expect = metric.get("expect") or "nonzero"
    failed = (count == 0) if expect == "nonzero" else (count != 0)
    want = "at least one record" if expect == "nonzero" else "no records"
    return Reading(
        metric=f"query:{metric.get('id')}",
        title=str(metric.get("title") or metric.get("id")),
        source="query",
        value=float(count),
        threshold=1.0 if failed else 0.0,
        severity=str(metric.get("severity") or "HIGH"),
        unit="records",
        detail=f"{count} record(s), expected {want}",
    )


@dataclass
class Sample:
    n: int
    at: datetime
    readings: list[Reading]
    breaches: list[Breach]

    def to_json(self, window_id: str) -> dict[str, Any]:
        return {
            "window": window_id,
            "n": self.n,
            "at": iso(self.at),
            "readings": [r.to_json() for r in self.readings],
            "breaches": [b.to_json() for b in self.breaches],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Sample:
        readings = [Reading.from_json(r) for r in data.get("readings") or ()]
        return cls(
            int(data.get("n") or 0), parse_iso(data.get("at")) or datetime.now(UTC), readings, evaluate(readings)
        )


def max_by_metric(samples: Sequence[Sample]) -> dict[str, float]:
    """The highest value each limit metric reached (percent), for progress and the outcome."""
    top: dict[str, float] = {}
    for sample in samples:
        for r in sample.readings:
            if r.unit == "%" and r.value is not None:
                top[r.metric] = max(top.get(r.metric, 0.0), float(r.value))
    return top


def timeseries_csv(samples: Sequence[Sample]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["sample", "at", "metric", "source", "value", "unit", "threshold", "status", "severity"])
    for sample in samples:
        breached = {b.metric: b for b in sample.breaches}
        for r in sample.readings:
            breach = breached.get(r.metric)
            writer.writerow(
                [
                    sample.n,
                    iso(sample.at),
                    r.metric,
                    r.source,
                    "" if r.value is None else f"{r.value:g}",
                    r.unit,
                    "" if r.threshold is None or r.source == "query" else f"{r.threshold:g}",
                    "breach" if breach else ("error" if r.source == "error" else "ok"),
                    breach.severity if breach else "",
                ]
            )
    return buffer.getvalue()


def jobs_reading(problems: Sequence[str], healthy: Sequence[str]) -> Reading:
    """The runbook's scheduled jobs: a breach (HIGH) when any is missing or not in its expected state."""
    failed = bool(problems)
    return Reading(
        metric="scheduled-jobs",
        title="Scheduled jobs",
        source="query",
        value=float(len(problems)),
        threshold=1.0 if failed else 0.0,
        severity="HIGH",
        unit="jobs",
        detail=("; ".join(problems) if failed else f"{len(healthy)} job(s) scheduled: {', '.join(healthy)}")[:400],
    )
