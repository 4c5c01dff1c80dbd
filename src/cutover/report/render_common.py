"""Wording shared by every format of the release record (times, durations, identities, audit headline, alerts,
checklists, sign-off signatures)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


def duration(seconds: Any) -> str:
    if seconds is None:
        return ""
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def short_time(value: Any) -> str:
    """`2026-11-27T17:05:01.123456Z` → `2026-11-27 17:05:01Z` (tables stay narrow; JSON keeps the full value)."""
    if not value:
        return ""
    text = str(value)
    match = re.match(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?Z?$", text)
    return f"{match.group(1)} {match.group(2)}Z" if match else text


def identity(value: Mapping[str, Any] | None) -> str:
    if not value:
        return "not recorded"
    parts = []
    for key in ("org_id", "username", "instance_url"):
        if value.get(key):
            parts.append(str(value[key]))
    if not parts:
        parts.append("identity not pinned")
    sandbox = value.get("sandbox")
    if sandbox is not None:
        parts.append("sandbox" if sandbox else "production (not a sandbox)")
    if value.get("name"):
        parts.append(f"“{value['name']}”")
    return ", ".join(parts)


def operators(run: Mapping[str, Any]) -> str:
    sessions = run.get("operators") or []
    if not sessions:
        return "not recorded (the run was never executed)"
    seen = []
    for session in sessions:
        host = session.get("host") or "unknown host"
        where = f"{session['user']}@{host}" if session.get("user") else f"{host} (OS user not recorded)"
        if where not in seen:
            seen.append(where)
    return ", ".join(seen) + f", {len(sessions)} session(s)"


def runbook_line(run: Mapping[str, Any]) -> str:
    book = run.get("runbook") or {}
    text = f"{book.get('path') or '?'} sha256 {book.get('sha256') or 'not recorded'}"
    if book.get("unchanged") is True:
        text += " (file unchanged since the run)"
    elif book.get("unchanged") is False:
        text += f" (CHANGED since the run: now {book.get('current_sha256')})"
    return text


def audit_lines(audit: Mapping[str, Any]) -> tuple[str, list[str]]:
    """(headline, details) of the integrity check done at render time."""
    if audit.get("ok"):
        return (
            f"Audit trail verified: {audit['verified_events']} events, head {audit['head_hash']} "
            "(hash chain, HEAD anchor, evidence files and state checked when this record was rendered)",
            [],
        )
    return ("AUDIT TRAIL BROKEN — this record cannot be trusted", list(audit.get("problems") or []))


def coverage_pct(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.1f}%"


def checklist_signers(item: Mapping[str, Any]) -> str:
    if not item["signed"]:
        return "not signed"
    parts = []
    for s in item["signed"]:
        text = f"{s['by']} ({s['role']}) at {short_time(s['at'])}"
        if s.get("evidence"):
            text += f", evidence {s['evidence']}"
        parts.append(f"{text}, {signature_text(s)}")
    return "signed off by " + "; ".join(parts)


def checklist_requirement(item: Mapping[str, Any]) -> str:
    who = " or ".join(item["role_titles"])
    count = f"{item['min_signers']} distinct people, " if item["min_signers"] > 1 else ""
    proof = ", evidence link required" if item["evidence_required"] else ""
    optional = ", non-blocking" if not item["blocking"] else ""
    return f"{count}{who}{proof}{optional}"


def window_line(window: Mapping[str, Any] | None) -> str:
    if not window:
        return ""
    text = (
        f"Window {short_time(window.get('start'))} → {short_time(window.get('end'))}, "
        f"{window.get('samples')} sample(s) every {duration(window.get('interval_seconds'))}, "
        f"{window.get('breaches') or 0} breach(es)"
    )
    if window.get("worst_severity"):
        text += f", worst {window['worst_severity']}"
    if window.get("gaps"):
        text += f", {len(window['gaps'])} gap(s) without samples"
    if window.get("unreadable"):
        text += f"; never read: {', '.join(window['unreadable'])}"
    if window.get("rollback_recommended"):
        text += " — CRITICAL: rollback recommended"
    return text


def alert_row(alert: Mapping[str, Any]) -> list[Any]:
    acked = (
        f"{alert['acknowledged_by']} at {short_time(alert.get('acknowledged_at'))}"
        if alert.get("acknowledged_by")
        else "not acknowledged"
    )
    return [
        alert.get("id"),
        alert.get("severity"),
        alert.get("title"),
        alert.get("state"),
        short_time(alert.get("raised_at")),
        " → ".join(str(p) for p in alert.get("paged") or []),
        acked,
    ]


ALERT_HEADERS = ["alert", "severity", "title", "state", "raised", "paged", "acknowledged"]


def signature_text(signoff: Mapping[str, Any]) -> str:
    """`SSH-signed by <verified signer> (key SHA256:...)` for a signed sign-off, else `unsigned`."""
    if signoff.get("signer") and signoff.get("fingerprint"):
        return f"SSH-signed by {signoff['signer']} (key {signoff['fingerprint']})"
    return "unsigned"
