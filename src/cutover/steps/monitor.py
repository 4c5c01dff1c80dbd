"""The `monitor.limits` step (seed "Monitoring & Alerts (First 24 Hours)", Appendix A "View Governor Limits").

Every `interval` for `duration` it takes a sample of the org:

- `sf org list limits`: org-wide limits (DailyApiRequests, DailyAsyncApexExecutions, ...), percent used, against
  `org_limit_threshold` (80 % unless the plan step says otherwise: the seed names no threshold for them);
- only when the runbook declares one, `monitoring.limits_query` (the org's own governor-limit snapshots: Name +
  Value__c, a percent of the per-transaction limit), the latest snapshot per name mapped to `thresholds.limits`
  through `monitoring.snapshot_names`;
- the runbook's scheduled jobs (CronTrigger), each still in its expected state with a NextFireTime (HIGH if not);
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

import itertools
import os
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cutover.engine import StepContext, StepOutcome
from cutover.notify.escalation import max_severity, severity_rank
from cutover.notify.notifier import iso, parse_iso
from cutover.steps._params import as_float, as_mapping, as_records, as_text, params_of
from cutover.steps.monitor_eval import (
    CRITICAL_PERCENT,
    Breach,
    Reading,
    Sample,
    breach_severity,
    evaluate,
    jobs_reading,
    max_by_metric,
    org_limit_readings,
    query_reading,
    snapshot_readings,
    timeseries_csv,
)
from cutover.steps.registry import StepServices, register_action

if TYPE_CHECKING:
    from cutover.notify import AlertDesk
    from cutover.runbook.models import Runbook
    from cutover.runbook.plan import PlanStep
    from cutover.sf import SfCli

__all__ = [
    "CRITICAL_PERCENT",
    "Breach",
    "MonitorLimitsStep",
    "Reading",
    "Sample",
    "breach_severity",
    "evaluate",
    "max_by_metric",
    "org_limit_readings",
    "query_reading",
    "snapshot_readings",
    "timeseries_csv",
]

#: Org-wide limits (`sf org list limits`) have no threshold in the seed; this one matches its SOQL/DML threshold.
ORG_LIMIT_THRESHOLD = 80.0
SAMPLE_EVENT = "monitor.sample"
WINDOW_KEY = "monitor_window"
#: How often (at most) to look for due escalations and acknowledgements between samples.
ESCALATION_CHECK_SECONDS = 30.0


# ---------------------------------------------------------------------------------------------------------------------
# The step
# ---------------------------------------------------------------------------------------------------------------------

SfFactory = Callable[[StepContext], AbstractContextManager["SfCli"]]


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
    runbook: Runbook
    duration: timedelta
    interval: timedelta
    limits_query: str | None = None
    snapshot_names: Mapping[str, str] = field(default_factory=dict)
    thresholds: Mapping[str, float] = field(default_factory=dict)
    metrics: Sequence[Mapping[str, object]] = ()
    breach_severity: str = "HIGH"
    org_limit_threshold: float = ORG_LIMIT_THRESHOLD
    escalation: Sequence[Mapping[str, object]] = ()
    watch_apex_logs: bool = True
    jobs: Sequence[Mapping[str, object]] = ()  # the runbook's scheduled jobs, checked every sample
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

    def _wait_until(self, ctx: StepContext, moment: datetime, desk: AlertDesk) -> bool:
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

    def _sample(self, ctx: StepContext, sf: SfCli, window: Window, n: int, now: datetime, *, first: bool) -> Sample:
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
                    "governor-limit snapshots (monitoring.limits_query)",
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
            if self.jobs:
                readings += self._read("scheduled-jobs", "Scheduled jobs", lambda: [self._jobs(sf, now)])
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

    def _apex_logs(self, sf: SfCli, window: Window) -> Reading:
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

    def _jobs(self, sf: SfCli, now: datetime) -> Reading:
        from cutover.steps.verify import JobSpec, job_query, judge_jobs

        specs = [JobSpec.from_params(job) for job in self.jobs]
        verdict = judge_jobs(specs, sf.data_query(self.alias, job_query(specs)).rows(), now)
        return jobs_reading([f"{p.job.name} {p.reason}" for p in verdict.problems], verdict.healthy)

    def _alert(self, desk: AlertDesk, window: Window, sample: Sample) -> None:
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
        self, ctx: StepContext, window: Window, samples: list[Sample], desk: AlertDesk, *, cancelled: bool
    ) -> StepOutcome:
        self._record_series(ctx, window, samples, partial=cancelled)
        alerts = [a for a in desk.alerts() if a.step_id == ctx.step.id and a.key.startswith(window.id + "/")]
        breaches = [b for s in samples for b in s.breaches]
        top = max_by_metric(samples)
        worst = max_severity(b.severity for b in breaches)
        gaps = _gaps(samples, window.interval)
        data: dict[str, object] = {
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


def _polling(sf: SfCli) -> AbstractContextManager[None]:
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
    services: StepServices, environ: Mapping[str, str] | None = None
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
def _monitor_limits(plan_step: PlanStep, runbook: Runbook, services: StepServices) -> MonitorLimitsStep:
    from cutover.steps.verify import step_sf

    params = params_of(plan_step)
    monitoring = runbook.monitoring
    duration = timedelta(seconds=as_float(params.get("duration_seconds") or monitoring.duration_seconds))
    interval = timedelta(seconds=as_float(params.get("interval_seconds") or monitoring.interval_seconds))
    duration_override, interval_override = window_overrides(services)
    duration = duration_override or duration
    interval = interval_override or interval
    interval = min(interval, duration)
    thresholds = as_mapping(params.get("thresholds")) or runbook.thresholds.limits.model_dump()
    metrics = params.get("metrics")
    declared_metrics = (
        [m.model_dump() for m in monitoring.metrics if m.check != "manual"] if metrics is None else as_records(metrics)
    )
    snapshot_names = as_mapping(params.get("snapshot_names")) or monitoring.snapshot_names
    return MonitorLimitsStep(
        alias=services.target_org,
        make_sf=step_sf(runbook, services),
        runbook=runbook,
        duration=duration,
        interval=interval,
        limits_query=as_text(params.get("limits_query", monitoring.limits_query)),
        snapshot_names={str(k): str(v) for k, v in snapshot_names.items()},
        thresholds={k: as_float(v) for k, v in thresholds.items()},
        metrics=declared_metrics,
        breach_severity=str(params.get("breach_severity") or monitoring.breach_severity),
        org_limit_threshold=as_float(params.get("org_limit_threshold") or ORG_LIMIT_THRESHOLD),
        escalation=as_records(params.get("escalation")) or [r.model_dump() for r in runbook.alerts.escalation],
        watch_apex_logs=bool(params.get("watch_apex_logs", True)),
        jobs=_declared_jobs(params, runbook),
    )


def _declared_jobs(params: Mapping[str, object], runbook: Runbook) -> list[Mapping[str, object]]:
    if "jobs" in params:
        return as_records(params["jobs"])
    return [job.model_dump(by_alias=True) for job in runbook.scheduled_jobs]
