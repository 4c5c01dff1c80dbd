"""The `monitor.limits` step (seed "Monitoring & Alerts (First 24 Hours)", Appendix A "View Governor Limits").

Every `interval` for `duration` it takes a sample of the org:

- `sf org list limits`: org-wide limits (DailyApiRequests, DailyAsyncApexExecutions, ...), percent used, against
  `org_limit_threshold` (80 % unless the plan step says otherwise: the seed names no threshold for them);
- the runbook's `monitoring.limits_query` (Governor_Limit_Snapshot__c: Name + Value__c, a percent of the
  per-transaction limit), the latest snapshot per name mapped to `thresholds.limits` (SOQL/DML 80, CPU 75, heap 70)
  through `monitoring.snapshot_names`;
- each `check: query` metric (e.g. "Audit logs being created": a record must exist);
- ApexLog transactions that did not succeed since the window started.

Severity mapping (documented in `breach_severity()`): a value at or above its threshold → the metric's severity
(HIGH by default; `monitoring.breach_severity` for org-wide limits); at or above 95 % of any limit → CRITICAL;
failed Apex transactions → CRITICAL; a query metric that fails its expectation → its own severity; a metric that
could not be read → MEDIUM (monitoring is blind there). Each breach raises one alert per metric and severity
(`cutover.notify.alerts`), paged along the runbook's Escalation Path; unacknowledged alerts escalate while the
window runs.

The step passes when no threshold was crossed; otherwise it fails (blocking as the plan says) and its outcome data
carry `critical: true` and `rollback_recommended: true` for a CRITICAL breach, the runbook's rollback trigger
"Critical functionality broken" being a human decision (`cutover rollback`).

Resumable: the window (start, end, interval) is recorded as an external id before the first sample, and every
sample is a `monitor.sample` audit event; after a crash, resume re-attaches, rebuilds the series and continues until
the *original* end time. Ctrl-C leaves the step `running` (the engine's interruption), the partial series recorded.
Rehearsals shorten the window with `cutover run --monitor-for 30s --monitor-every 5s` (or the runbook's
`monitoring.duration` / `interval`). Evidence: `limits-timeseries.json` and `.csv` (one row per metric per sample).
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cutover.engine import StepContext, StepOutcome
from cutover.notify.escalation import max_severity, severity_rank
from cutover.notify.notifier import iso, parse_iso
from cutover.steps.registry import StepServices, register_action

#: At or above this percent of any limit a breach is CRITICAL, whatever the metric's own severity.
CRITICAL_PERCENT = 95.0
#: Org-wide limits (`sf org list limits`) have no threshold in the seed; this one matches its SOQL/DML threshold.
ORG_LIMIT_THRESHOLD = 80.0
SAMPLE_EVENT = "monitor.sample"
WINDOW_KEY = "monitor_window"
#: How often (at most) to look for due escalations and acknowledgements between samples.
ESCALATION_CHECK_SECONDS = 30.0


# ---------------------------------------------------------------------------------------------------------------------
# Pure evaluation
# ---------------------------------------------------------------------------------------------------------------------


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
    rows: Iterable[Mapping[str, Any]],
    snapshot_names: Mapping[str, str],
    thresholds: Mapping[str, float],
    metrics: Iterable[Mapping[str, Any]] = (),
) -> list[Reading]:
    """The latest Governor_Limit_Snapshot__c per limit (rows newest first, as the runbook's query orders them),
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
            detail=f"Governor_Limit_Snapshot__c {name}",
        )
    return [seen[k] for k in sorted(seen)]


def org_limit_readings(limits: Iterable[Any], threshold: float, severity: str = "HIGH") -> list[Reading]:
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


def query_reading(metric: Mapping[str, Any], count: int) -> Reading:
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


# ---------------------------------------------------------------------------------------------------------------------
# The step
# ---------------------------------------------------------------------------------------------------------------------

SfFactory = Callable[[StepContext], AbstractContextManager[Any]]


@dataclass(frozen=True)
class Window:
    id: str
    start: datetime
    end: datetime
    interval: timedelta

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "start": iso(self.start),
            "end": iso(self.end),
            "interval_seconds": self.interval.total_seconds(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Window | None:
        start, end = parse_iso(data.get("start")), parse_iso(data.get("end"))
        if start is None or end is None:
            return None
        return cls(str(data.get("id") or iso(start)), start, end, timedelta(seconds=float(data["interval_seconds"])))


@dataclass
class MonitorLimitsStep:
    alias: str
    make_sf: SfFactory
    runbook: Any
    duration: timedelta
    interval: timedelta
    limits_query: str | None = None
    snapshot_names: Mapping[str, str] = field(default_factory=dict)
    thresholds: Mapping[str, float] = field(default_factory=dict)
    metrics: Sequence[Mapping[str, Any]] = ()
    breach_severity: str = "HIGH"
    org_limit_threshold: float = ORG_LIMIT_THRESHOLD
    escalation: Sequence[Mapping[str, Any]] = ()
    watch_apex_logs: bool = True
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    sleep: Callable[[float], None] = time.sleep
    idempotent: bool = True  # sampling only reads the org; re-running starts a new window

    # -- engine entry points -------------------------------------------------------------------------------------
    def run(self, ctx: StepContext) -> StepOutcome:
        start = self.clock()
        window = Window(iso(start) + f"#{ctx.attempt}", start, start + self.duration, self.interval)
        ctx.set_external_id(WINDOW_KEY, window.to_json())  # before the first sample: a crash resumes this window
        ctx.event("monitor.window", **window.to_json())
        with suppress(Exception):
            ctx.progress.note(
                f"monitoring {self.alias} every {_human(int(self.interval.total_seconds()))} "
                f"until {iso(window.end)} (Ctrl-C pauses; cutover resume continues the same window)"
            )
        return self._watch(ctx, window, [])

    def reattach(self, ctx: StepContext, external_ids: Mapping[str, Any]) -> StepOutcome:
        window = Window.from_json(external_ids.get(WINDOW_KEY) or {})
        if window is None:
            return self.run(ctx)
        samples = [
            Sample.from_json(e.payload)
            for e in ctx.store.events(ctx.run_id)
            if e.type == SAMPLE_EVENT and e.step_id == ctx.step.id and e.payload.get("window") == window.id
        ]
        now = self.clock()
        ctx.event(
            "monitor.resumed",
            window=window.id,
            samples_recorded=len(samples),
            end=iso(window.end),
            left_seconds=max(0, int((window.end - now).total_seconds())),
        )
        return self._watch(ctx, window, samples)

    # -- the loop ------------------------------------------------------------------------------------------------
    def _watch(self, ctx: StepContext, window: Window, samples: list[Sample]) -> StepOutcome:
        from cutover.notify import AlertDesk, notifier_for, step_recorder

        notifier = notifier_for(self.runbook, ctx.project_dir, run_id=ctx.run_id, recorder=step_recorder(ctx))
        desk = AlertDesk(
            store=ctx.store,
            run_id=ctx.run_id,
            step_id=ctx.step.id,
            notifier=notifier,
            escalation_rows=self.escalation or [r.model_dump() for r in self.runbook.alerts.escalation],
            roles=getattr(self.runbook, "roles", None),
            clock=self.clock,
        )
        try:
            with self.make_sf(ctx) as sf:
                while True:
                    if ctx.is_cancelled:
                        return self._finish(ctx, window, samples, desk, cancelled=True)
                    now = self.clock()
                    sample = self._sample(ctx, sf, window, len(samples) + 1, now, first=not samples)
                    samples.append(sample)
                    ctx.event(SAMPLE_EVENT, **sample.to_json(window.id))
                    self._alert(desk, window, sample)
                    desk.escalate_due()
                    self._progress(ctx, window, samples)
                    if now >= window.end:
                        break
                    next_at = min(now + window.interval, window.end)
                    if not self._wait_until(ctx, next_at, desk):
                        return self._finish(ctx, window, samples, desk, cancelled=True)
        except BaseException:
            # Ctrl-C or a crash in the middle: keep what was measured (the events have it all; this is for people).
            with suppress(Exception):
                self._record_series(ctx, window, samples, partial=True)
            raise
        return self._finish(ctx, window, samples, desk, cancelled=False)

    def _wait_until(self, ctx: StepContext, moment: datetime, desk: Any) -> bool:
        last_check = time.monotonic()
        while True:
            left = (moment - self.clock()).total_seconds()
            if left <= 0:
                return True
            if ctx.is_cancelled:
                return False
            self.sleep(min(left, 1.0))
            if time.monotonic() - last_check >= ESCALATION_CHECK_SECONDS:
                last_check = time.monotonic()
                desk.escalate_due()

    def _sample(self, ctx: StepContext, sf: Any, window: Window, n: int, now: datetime, *, first: bool) -> Sample:
        readings: list[Reading] = []
        # The first sample's sf calls are kept as evidence files; later ones are audit events only (96 samples a day
        # × 4 calls would bury the evidence folder).
        quiet = nullcontext() if first else _polling(sf)
        with quiet:
            readings += self._read(
                "org-limits",
                "sf org list limits",
                lambda: org_limit_readings(
                    sf.org_list_limits(self.alias), self.org_limit_threshold, self.breach_severity
                ),
            )
            if self.limits_query:
                readings += self._read(
                    "snapshots",
                    "Governor_Limit_Snapshot__c",
                    lambda: snapshot_readings(
                        sf.data_query(self.alias, self.limits_query).rows(),
                        self.snapshot_names,
                        self.thresholds,
                        self.metrics,
                    ),
                )
            for metric in self.metrics:
                if metric.get("check") == "query" and metric.get("query"):
                    readings += self._read(
                        f"query:{metric.get('id')}",
                        str(metric.get("title")),
                        lambda metric=metric: [
                            query_reading(metric, len(sf.data_query(self.alias, str(metric["query"])).rows()))
                        ],
                    )
            if self.watch_apex_logs:
                readings += self._read("apex-failures", "ApexLog failures", lambda: [self._apex_logs(sf, window)])
        return Sample(n, now, readings, evaluate(readings))

    def _read(self, metric: str, title: str, read: Callable[[], list[Reading]]) -> list[Reading]:
        from cutover.sf import SfError, SfInterrupted

        try:
            return read()
        except SfInterrupted:
            raise  # Ctrl-C reached sf: stop, like the engine's interruption, instead of recording a failed read
        except SfError as exc:
            from cutover.redact import redact

            return [Reading(metric, title, "error", None, detail=redact(str(exc))[:200])]

    def _apex_logs(self, sf: Any, window: Window) -> Reading:
        from cutover.steps.verify import apex_log_query, soql_datetime

        rows = sf.data_query(self.alias, apex_log_query(window.start)).rows()
        listed = "; ".join(f"{r.get('Operation')}: {str(r.get('Status'))[:80]}" for r in rows[:3])
        return Reading(
            "apex-failures",
            "Apex transactions that failed",
            "apex_logs",
            float(len(rows)),
            0.0,
            "CRITICAL",
            unit="logs",
            detail=f"{len(rows)} failed since {soql_datetime(window.start)}" + (f": {listed}" if listed else ""),
        )

    def _alert(self, desk: Any, window: Window, sample: Sample) -> None:
        for breach in sample.breaches:
            value = "" if breach.value is None else f"{breach.value:g}{'%' if breach.threshold else ''}"
            body = (
                f"{breach.detail}\n"
                f"Org: {self.alias}; sample {sample.n} at {iso(sample.at)}; monitoring window until {iso(window.end)}."
            )
            if breach.severity == "CRITICAL":
                body += (
                    "\nCRITICAL: a rollback trigger ('Critical functionality broken'). To roll back, stop the monitor "
                    f"(Ctrl-C) and run: cutover rollback {desk.run_id} --by NAME --reason TEXT"
                )
            desk.raise_alert(
                key=f"{window.id}/{breach.metric}",
                severity=breach.severity,
                title=f"{breach.title} {value} on {self.alias}".replace("  ", " "),
                body=body,
                data={**breach.to_json(), "sample": sample.n, "org": self.alias},
            )

    def _progress(self, ctx: StepContext, window: Window, samples: Sequence[Sample]) -> None:
        top = max_by_metric(samples)
        shown = [f"{k} {v:g}%" for k, v in sorted(top.items()) if not k.startswith("org:")]
        org_top = max(((v, k) for k, v in top.items() if k.startswith("org:")), default=None)
        if org_top:
            shown.append(f"{org_top[1][4:]} {org_top[0]:g}%")
        left = max(0, int((window.end - self.clock()).total_seconds()))
        breaches = sum(len(s.breaches) for s in samples)
        with suppress(Exception):
            ctx.progress.update(
                f"sample {len(samples)} · max {', '.join(shown) or 'n/a'} · breaches {breaches} · {_human(left)} left"
            )

    def _record_series(self, ctx: StepContext, window: Window, samples: Sequence[Sample], *, partial: bool) -> None:
        suffix = "-partial" if partial else ""
        ctx.record_evidence(
            f"limits-timeseries{suffix}.json",
            {
                "window": window.to_json(),
                "org": self.alias,
                "thresholds": dict(self.thresholds),
                "org_limit_threshold": self.org_limit_threshold,
                "critical_percent": CRITICAL_PERCENT,
                "partial": partial,
                "samples": [s.to_json(window.id) for s in samples],
            },
        )
        ctx.record_evidence(f"limits-timeseries{suffix}.csv", timeseries_csv(samples))

    def _finish(
        self, ctx: StepContext, window: Window, samples: list[Sample], desk: Any, *, cancelled: bool
    ) -> StepOutcome:
        self._record_series(ctx, window, samples, partial=cancelled)
        alerts = [a for a in desk.alerts() if a.step_id == ctx.step.id and a.key.startswith(window.id + "/")]
        breaches = [b for s in samples for b in s.breaches]
        top = max_by_metric(samples)
        worst = max_severity(b.severity for b in breaches)
        gaps = _gaps(samples, window.interval)
        data: dict[str, Any] = {
            "window": window.to_json(),
            "samples": len(samples),
            "max_percent": {k: v for k, v in top.items() if not k.startswith("org:") or v >= 50},
            "breaches": len(breaches),
            "worst_severity": worst,
            "alerts": [{"id": a.id, "severity": a.severity, "title": a.title} for a in alerts],
            "critical": worst == "CRITICAL",
            "rollback_recommended": worst == "CRITICAL",
            "gaps": gaps,
        }
        if cancelled:
            return StepOutcome.failed(f"monitoring cancelled after {len(samples)} sample(s)", **data)
        limit_top = {k: v for k, v in top.items() if not k.startswith("org:")}
        summary = ", ".join(f"{k} max {v:g}%" for k, v in sorted(limit_top.items()))
        gap_note = f"; {len(gaps)} gap(s) without samples (cutover was not running)" if gaps else ""
        # A metric unreadable once (a network blip) is a MEDIUM alert; one never read in the window leaves the
        # runbook's check unmonitored, which fails the step like a breach would.
        read_ok = {r.metric for s in samples for r in s.readings if r.source != "error"}
        blind = sorted(
            {r.title for s in samples for r in s.readings if r.source == "error" and r.metric not in read_ok}
        )
        data["unreadable"] = blind
        breaches = [b for b in breaches if b.severity != "MEDIUM" or b.value is not None]
        if blind:
            return StepOutcome.failed(
                f"could not read {', '.join(blind)} in any of {len(samples)} sample(s)"
                + (f"; {len(breaches)} threshold breach(es)" if breaches else ""),
                **data,
            )
        if not breaches:
            return StepOutcome.passed(
                f"{len(samples)} sample(s) until {iso(window.end)}: no threshold crossed ({summary}){gap_note}", **data
            )
        by_metric: dict[str, Breach] = {}
        for breach in breaches:
            kept = by_metric.get(breach.metric)
            if kept is None or severity_rank(breach.severity) > severity_rank(kept.severity):
                by_metric[breach.metric] = breach
        listed = "; ".join(f"{b.severity} {b.detail}" for b in list(by_metric.values())[:4])
        ids = ", ".join(a.id for a in alerts)
        advice = " — CRITICAL: a rollback trigger (decide with: cutover rollback)" if worst == "CRITICAL" else ""
        return StepOutcome.failed(
            f"threshold crossed in {len(samples)} sample(s): {listed}; alerts {ids or 'none'}{advice}{gap_note}",
            **data,
        )


def _gaps(samples: Sequence[Sample], interval: timedelta) -> list[dict[str, str]]:
    out = []
    for before, after in itertools.pairwise(samples):
        if after.at - before.at > interval * 2 + timedelta(seconds=5):
            out.append({"from": iso(before.at), "to": iso(after.at)})
    return out


def _polling(sf: Any) -> AbstractContextManager[Any]:
    if not hasattr(sf, "_cutover_binding"):  # a test double or a bare SfCli: nothing to quieten
        return nullcontext()
    from cutover.steps._sf import polling

    return polling(sf)


def _human(seconds: int) -> str:
    if seconds >= 3600:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


# ---------------------------------------------------------------------------------------------------------------------
# Registration and rehearsal overrides
# ---------------------------------------------------------------------------------------------------------------------

#: `services.extras[OVERRIDES_KEY] = {"duration": "30s", "interval": "5s"}` (set by `cutover run --monitor-for/
#: --monitor-every`); the environment variables CUTOVER_MONITOR_FOR / CUTOVER_MONITOR_EVERY do the same.
OVERRIDES_KEY = "monitor_overrides"


def window_overrides(
    services: Any, environ: Mapping[str, str] | None = None
) -> tuple[timedelta | None, timedelta | None]:
    from cutover.errors import UsageError
    from cutover.runbook.models import parse_duration

    env = os.environ if environ is None else environ
    given = dict(getattr(services, "extras", {}).get(OVERRIDES_KEY) or {})
    out: list[timedelta | None] = []
    for key, variable in (("duration", "CUTOVER_MONITOR_FOR"), ("interval", "CUTOVER_MONITOR_EVERY")):
        text = given.get(key) or env.get(variable)
        if not text:
            out.append(None)
            continue
        try:
            value = parse_duration(str(text))
        except ValueError as exc:
            raise UsageError(f"monitoring {key} override: {exc}") from None
        if value <= timedelta(0):
            raise UsageError(f"monitoring {key} override must be positive")
        out.append(value)
    return out[0], out[1]


@register_action("monitor.limits")
def _monitor_limits(plan_step: Any, runbook: Any, services: StepServices) -> MonitorLimitsStep:
    from cutover.steps.verify import step_sf

    params: Mapping[str, Any] = getattr(plan_step, "params", None) or {}
    monitoring = runbook.monitoring
    duration = timedelta(seconds=float(params.get("duration_seconds") or monitoring.duration_seconds))
    interval = timedelta(seconds=float(params.get("interval_seconds") or monitoring.interval_seconds))
    duration_override, interval_override = window_overrides(services)
    duration = duration_override or duration
    interval = interval_override or interval
    interval = min(interval, duration)
    thresholds = params.get("thresholds") or runbook.thresholds.limits.model_dump()
    metrics = params.get("metrics")
    if metrics is None:
        metrics = [m.model_dump() for m in monitoring.metrics if m.check != "manual"]
    return MonitorLimitsStep(
        alias=services.target_org,
        make_sf=step_sf(runbook, services),
        runbook=runbook,
        duration=duration,
        interval=interval,
        limits_query=params.get("limits_query", monitoring.limits_query),
        snapshot_names=dict(params.get("snapshot_names") or monitoring.snapshot_names),
        thresholds={k: float(v) for k, v in dict(thresholds).items()},
        metrics=list(metrics),
        breach_severity=str(params.get("breach_severity") or monitoring.breach_severity),
        org_limit_threshold=float(params.get("org_limit_threshold") or ORG_LIMIT_THRESHOLD),
        escalation=list(params.get("escalation") or [r.model_dump() for r in runbook.alerts.escalation]),
        watch_apex_logs=bool(params.get("watch_apex_logs", True)),
    )
