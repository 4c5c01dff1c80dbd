"""Release-record sections read straight from the chained event log: where the audit head was anchored off the
machine (`anchors`), and the monitoring window as time series (`monitoring.series`, drawn as SVG charts).

Both come from events, not evidence files, so they are covered by the same integrity verdict as the rest of the
trail: `anchor.published` (git notes, `cutover.engine.anchors`), `notify.sent` / `alert.notified` (each notification
carries the head it was sent at), `monitor.sample` (every sample of `monitor.limits`) and `alert.raised`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cutover.engine.model import EventRecord

ANCHOR_EVENT = "anchor.published"
NOTIFY_EVENTS = ("notify.sent", "notify.failed", "alert.notified")
SAMPLE_EVENT = "monitor.sample"
#: Org-wide limits (`sf org list limits`, dozens of them) are charted only when they came near their threshold.
ORG_LIMIT_SHOWN_FROM = 50.0


def anchors(events: Sequence[EventRecord]) -> list[dict[str, Any]]:
    """Every publication of the audit head, in order: git notes (pushed or not) and notifications."""
    out: list[dict[str, Any]] = []
    for event in events:
        payload = event.payload
        if event.type == ANCHOR_EVENT:
            head = payload.get("head") if isinstance(payload.get("head"), Mapping) else {}
            for target in payload.get("published") or ():
                if not isinstance(target, Mapping):
                    continue
                out.append(
                    {
                        "at": payload.get("at") or event.at,
                        "event": event.seq,
                        "seq": head.get("seq"),
                        "hash": head.get("hash"),
                        "reason": payload.get("reason"),
                        "kind": "git-notes",
                        "where": _git_where(target),
                        "published": bool(target.get("pushed")),
                        "warning": target.get("error") or target.get("warning"),
                    }
                )
        elif event.type in NOTIFY_EVENTS and isinstance(payload.get("audit_head"), Mapping):
            head = payload["audit_head"]
            deliveries = [d for d in payload.get("deliveries") or () if isinstance(d, Mapping)]
            sent = [f"{d.get('type')} {d.get('target')}" for d in deliveries if d.get("status") == "sent"]
            kept = [f"{d.get('type')} {d.get('target')}" for d in deliveries if d.get("status") == "not_sent"]
            what = payload.get("notify_event") or ("alert " + str(payload.get("alert_id") or ""))
            where = f"notification {what}".strip() + ": " + (", ".join(sent) or "no channel delivered it")
            if kept:
                where += f" (kept in the outbox only: {', '.join(kept)})"
            out.append(
                {
                    "at": payload.get("at") or event.at,
                    "event": event.seq,
                    "seq": head.get("seq"),
                    "hash": head.get("hash"),
                    "reason": what,
                    "kind": "notification",
                    "where": where,
                    "published": bool(sent),
                    "warning": None if sent else "not delivered to anyone outside this machine",
                }
            )
    return out


def _git_where(target: Mapping[str, Any]) -> str:
    text = f"git notes {target.get('ref') or 'refs/notes/cutover'}"
    if target.get("on"):
        text += f" on {target['on']}"
    if target.get("pushed"):
        text += f", pushed to {target.get('remote')}"
    elif target.get("written"):
        text += ", this clone only (not pushed)"
    else:
        text += ", not written"
    return text


def monitoring_series(events: Sequence[EventRecord], step_ids: Iterable[str]) -> list[dict[str, Any]]:
    """One series per monitored metric: its samples over time, its threshold, the samples that breached it and the
    alerts raised for it. From the last window of each monitor step (a re-run starts a new window)."""
    wanted = set(step_ids)
    samples = [e for e in events if e.type == SAMPLE_EVENT and e.step_id in wanted]
    last_window: dict[str, Any] = {}
    for event in samples:
        last_window[str(event.step_id)] = event.payload.get("window")
    series: dict[tuple[str, str], dict[str, Any]] = {}
    for event in samples:
        payload = event.payload
        if payload.get("window") != last_window.get(str(event.step_id)):
            continue
        breached = {
            str(b.get("metric")): str(b.get("severity") or "HIGH")
            for b in payload.get("breaches") or ()
            if isinstance(b, Mapping)
        }
        for reading in payload.get("readings") or ():
            if not isinstance(reading, Mapping) or not isinstance(reading.get("value"), int | float):
                continue
            metric = str(reading.get("metric"))
            item = series.setdefault(
                (str(event.step_id), metric),
                {
                    "step_id": event.step_id,
                    "window": payload.get("window"),
                    "metric": metric,
                    "title": str(reading.get("title") or metric),
                    "unit": str(reading.get("unit") or "%"),
                    "threshold": reading.get("threshold"),
                    "points": [],
                    "alerts": [],
                },
            )
            if reading.get("threshold") is not None:
                item["threshold"] = reading.get("threshold")
            item["points"].append(
                {
                    "n": payload.get("n"),
                    "at": payload.get("at") or event.at,
                    "value": float(reading["value"]),
                    "breach": breached.get(metric),
                }
            )
    _attach_alerts(series, events)
    out = []
    for item in series.values():
        values = [p["value"] for p in item["points"]]
        item["max"] = max(values)
        item["breaches"] = sum(1 for p in item["points"] if p["breach"])
        if item["metric"].startswith("org:") and item["max"] < ORG_LIMIT_SHOWN_FROM and not item["breaches"]:
            continue
        out.append(item)
    return out


def _attach_alerts(series: Mapping[tuple[str, str], dict[str, Any]], events: Sequence[EventRecord]) -> None:
    for event in events:
        if event.type != "alert.raised":
            continue
        data = event.payload.get("data")
        if not isinstance(data, Mapping) or not data.get("metric"):
            continue
        item = series.get((str(event.step_id), str(data["metric"])))
        if item is None:
            continue
        item["alerts"].append(
            {
                "id": event.payload.get("alert_id"),
                "at": event.payload.get("raised_at") or event.at,
                "severity": event.payload.get("severity"),
                "sample": data.get("sample"),
                "title": event.payload.get("title"),
            }
        )


def signature(signoff: Any) -> dict[str, Any]:
    """The signature fields of a sign-off record (SSH-signed sign-offs, `cutover.signing`); None when unsigned."""
    signer = getattr(signoff, "signer", None)
    fingerprint = getattr(signoff, "fingerprint", None)
    return {
        "signed": bool(signer and fingerprint),
        "signer": signer,
        "fingerprint": fingerprint,
        "statement_sha256": getattr(signoff, "statement_sha256", None),
    }
