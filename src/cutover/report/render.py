"""Render a release record (`record.build_record`) as Markdown, self-contained HTML, JSON or JUnit XML.

Every renderer reads only the record dict, which is already redacted; each one still escapes for its own syntax
(Markdown table cells, HTML through jinja2 autoescape, XML through ElementTree), because evidence text may hold
anything, `<script>` included.
"""

from __future__ import annotations

import functools
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from typing import Any

FORMATS = ("md", "html", "json", "junit")


def render(record: Mapping[str, Any], fmt: str) -> str:
    renderers: dict[str, Callable[[Mapping[str, Any]], str]] = {
        "md": render_markdown,
        "html": render_html,
        "json": render_json,
        "junit": render_junit,
    }
    if fmt not in renderers:
        raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    return renderers[fmt](record)


# ---------------------------------------------------------------------------------------------------------------------
# shared wording
# ---------------------------------------------------------------------------------------------------------------------


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


def _coverage_pct(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.1f}%"


# ---------------------------------------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------------------------------------


def render_json(record: Mapping[str, Any]) -> str:
    return json.dumps(record, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


# ---------------------------------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------------------------------


def md(value: Any) -> str:
    """A Markdown table cell: no raw HTML, no pipe, no line break."""
    if value is None:
        return ""
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("|", "\\|").replace("`", "\\`")
    return re.sub(r"\s*[\r\n]+\s*", " ", text).strip()


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(md(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def _status(value: str) -> str:
    return value.upper() if value in ("failed", "running") else value


def render_markdown(record: Mapping[str, Any]) -> str:
    run, org, audit, summary = record["run"], record["org"], record["audit"], record["summary"]
    title = " ".join(str(p) for p in (run.get("name") or "Release record", run.get("release_version") or "") if p)
    out = [f"# Release record: {md(title)} → {md(run['target_org'])}", ""]
    headline, problems = audit_lines(audit)
    if problems:
        out += [f"> **{md(headline)}**", ">"]
        out += [f"> - {md(p)}" for p in problems]
        out.append("")
    else:
        out += [f"> **{md(headline)}**", ""]
    out += _table(
        ["record", ""],
        [
            ["Verdict", summary["verdict"]],
            ["Run", f"{run['id']} ({run['state']})" + (f" — {run['note']}" if run.get("note") else "")],
            ["Target org", f"{org['alias']}" + (" (a production org)" if org.get("production") else "")],
            ["Expected org", identity(org.get("expected"))],
            [
                "Actual org",
                identity(org.get("actual")) + (f" [{org['guard_status']}]" if org.get("guard_status") else ""),
            ],
            ["Created", short_time(run.get("created"))],
            ["Started", short_time(run.get("started")) or "not started"],
            ["Ended", short_time(run.get("ended")) or "not finished"],
            ["Duration", duration(run.get("duration_s"))],
            ["Run by", operators(run)],
            [
                "Git",
                f"HEAD {run.get('git_head') or 'not recorded'}"
                + (f", tag {run['git_tag']}" if run.get("git_tag") else "")
                + (f", branch {run['git_branch']}" if run.get("git_branch") else ""),
            ],
            ["Runbook", runbook_line(run)],
            ["Rendered", f"{record['generated']['at']} by {record['generated']['by']} ({record['generated']['tool']})"],
        ],
    )
    if org.get("mismatches"):
        out += ["**Org identity mismatches:** " + md("; ".join(json.dumps(m) for m in org["mismatches"])), ""]

    counts = ", ".join(f"{n} {s}" for s, n in summary["counts"].items() if n)
    out += ["## Steps", "", f"{summary['steps']} steps: {md(counts)}", ""]
    out += _table(
        ["#", "stage", "step", "title", "kind", "status", "started", "finished", "duration", "detail"],
        [
            [
                s["position"],
                s["stage"],
                s["id"],
                s["title"],
                s["kind"] + ("" if s["blocking"] else ", non-blocking") + (", contingency" if s["contingency"] else ""),
                _status(s["status"]),
                short_time(s["started"]),
                short_time(s["finished"]),
                duration(s["duration_s"]),
                s["detail"],
            ]
            for s in record["steps"]
        ],
    )

    out += _markdown_checklists(record["checklists"])
    out += ["## Sign-offs", ""]
    if record["signoffs"]:
        out += _table(
            ["step", "by", "role", "note", "evidence", "at"],
            [
                [s["step_id"], s["by"], s["role_title"] or s["role"], s["note"], s["evidence"], short_time(s["at"])]
                for s in record["signoffs"]
            ],
        )
    else:
        out += ["No sign-offs recorded.", ""]
    sod = record["separation_of_duties"]
    if not sod["checked"]:
        out += ["Separation of duties: not checked (the runbook could not be read).", ""]
    elif sod["ok"]:
        pairs = "; ".join(" ≠ ".join(p) for p in sod["exclusive_roles"]) or "no exclusive roles"
        out += [f"Separation of duties: **respected** ({md(pairs)}).", ""]
    else:
        out += ["Separation of duties: **VIOLATED**", ""] + [f"- {md(v)}" for v in sod["violations"]] + [""]

    out += ["## Waivers", ""]
    if record["waivers"]:
        out += _table(
            ["step", "reason", "approver", "at"],
            [[w["step_id"], w["reason"], w["approver"], short_time(w["at"])] for w in record["waivers"]],
        )
    else:
        out += ["No waivers.", ""]

    gates = record["gates"]
    out += ["## Pre-deployment gates", ""]
    if gates["total"]:
        gate_counts = ", ".join(f"{n} {s}" for s, n in gates["counts"].items() if n)
        out += [f"{gates['total']} gates: {md(gate_counts)}", ""]
        out += (
            _table(
                ["gate", "status", "detail"],
                [[g["id"], _status(g["status"]), g["detail"]] for g in gates["items"] if g["status"] != "passed"],
            )
            if any(g["status"] != "passed" for g in gates["items"])
            else ["All gates passed.", ""]
        )
    else:
        out += ["This run had no pre-deployment gates.", ""]

    out += _markdown_release_and_backup(record)
    out += _markdown_deploy(record)
    out += _markdown_checks("Post-deployment verification", record["verification"])
    out += _markdown_monitoring(record["monitoring"])
    out += _markdown_rollback(record["rollback"])

    out += ["## Evidence files", ""]
    if record["evidence"]:
        out += _table(
            ["step", "file", "sha256", "bytes", "matches"],
            [
                [e["step_id"], e["path"], e["sha256"], e["size"], "yes" if e["state"] == "ok" else e["state"].upper()]
                for e in record["evidence"]
            ],
        )
    else:
        out += ["No evidence recorded.", ""]

    out += ["## Known issues", ""]
    if record["known_issues"]:
        for issue in record["known_issues"]:
            out.append(
                f"- **{md(issue.get('title'))}** — symptom: {md(issue.get('symptom'))}; "
                f"workaround: {md(issue.get('workaround'))}"
                + (f"; permanent fix: {md(issue['permanent_fix'])}" if issue.get("permanent_fix") else "")
            )
        out.append("")
    else:
        out += ["None listed in the runbook.", ""]
    out += ["## Contacts", ""]
    if record["contacts"]:
        out += _table(
            ["role", "name", "email", "phone", "responsibility"],
            [[c["title"], c["name"], c["email"], c["phone"], c["responsibility"]] for c in record["contacts"]],
        )
    else:
        out += ["No contacts (the runbook could not be read).", ""]
    escalation = record.get("escalation")
    if escalation:
        out += ["## Alert channels and escalation path", ""]
        out += [
            f"- {md(c['type'])}: {md(c['target'])} ({md(c['min_severity'])} and above)" for c in escalation["channels"]
        ]
        out.append("")
        out += _table(
            ["severity", "response time", "escalation"],
            [[row["severity"], row["response_time"], " → ".join(row["path"])] for row in escalation["path"]],
        )
        if escalation["internal"]:
            out += [f"Internal escalation: {md(' → '.join(escalation['internal']))}", ""]
        out += [f"- {md(line)}" for line in escalation["support"]] + ([""] if escalation["support"] else [])
    if record["notes"]:
        out += ["## Notes", ""] + [f"- {md(n)}" for n in record["notes"]] + [""]
    return "\n".join(out).rstrip() + "\n"


def checklist_signers(item: Mapping[str, Any]) -> str:
    if not item["signed"]:
        return "not signed"
    parts = []
    for s in item["signed"]:
        text = f"{s['by']} ({s['role']}) at {short_time(s['at'])}"
        if s.get("evidence"):
            text += f", evidence {s['evidence']}"
        parts.append(text)
    return "signed by " + "; ".join(parts)


def checklist_requirement(item: Mapping[str, Any]) -> str:
    who = " or ".join(item["role_titles"])
    count = f"{item['min_signers']} distinct people, " if item["min_signers"] > 1 else ""
    proof = ", evidence link required" if item["evidence_required"] else ""
    optional = ", non-blocking" if not item["blocking"] else ""
    return f"{count}{who}{proof}{optional}"


def _markdown_checklists(checklists: Sequence[Mapping[str, Any]]) -> list[str]:
    out = ["## Checklists", ""]
    if not checklists:
        return [*out, "This run has no sign-off checklists.", ""]
    for item in checklists:
        done = item["status"] in ("passed", "waived")
        mark = "x" if done else " "
        out.append(
            f"- [{mark}] **{md(item['title'])}** ({md(item['step_id'])}, {_status(item['status'])}) — "
            f"{md(checklist_signers(item))}; needs {md(checklist_requirement(item))}"
        )
        out += [f"  - [{mark}] {md(entry)}" for entry in item["items"]]
    return [*out, ""]


def _markdown_release_and_backup(record: Mapping[str, Any]) -> list[str]:
    out = []
    release = record.get("release")
    if release:
        out += ["## Release branch and tag", ""]
        out += _table(
            ["commit", "branch", "tag", "pushed"],
            [[release.get("commit"), release.get("branch"), release.get("tag"), release.get("pushed")]],
        )
    backup = record.get("backup")
    out += ["## Backup", ""]
    if not backup:
        out += ["This run has no backup step.", ""]
    elif not backup.get("recorded"):
        out += [f"No backup recorded ({md(backup['step_id'])} is {md(backup['status'])}: {md(backup['detail'])}).", ""]
    else:
        added = backup.get("added_by_release") or []
        out += _table(
            ["backup", ""],
            [
                ["Archive", backup.get("archive")],
                ["SHA-256", backup.get("sha256")],
                ["Archive still matches", {"ok": "yes"}.get(backup.get("archive_state"), backup.get("archive_state"))],
                ["Folder", backup.get("folder")],
                ["Components in the org before", backup.get("components")],
                ["Added by the release", ", ".join(added) if added else "none"],
                ["Redeploy", backup.get("redeploy_command")],
            ],
        )
    return out


def _markdown_deploy(record: Mapping[str, Any]) -> list[str]:
    deploy = record["deploy"]
    out = ["## Validation and deployment", ""]
    jobs = [("Validation (check-only)", deploy.get("validation")), ("Quick deploy", deploy.get("quick_deploy"))]
    if not any(job for _, job in jobs):
        return [*out, "This run has no validation or deploy step.", ""]
    rows = []
    for label, job in jobs:
        if not job:
            continue
        comps = job.get("components") or {}
        tests = job.get("tests") or {}
        cov = job.get("coverage") or {}
        rows.append(
            [
                label,
                job.get("job_id"),
                _status(job["status"]),
                f"{comps.get('deployed', '')}/{comps.get('total', '')}"
                + (f", {comps['errors']} error(s)" if comps.get("errors") else "")
                if comps
                else "",
                f"{tests.get('run', 0) - tests.get('failures', 0)}/{tests.get('run', 0)} passed" if tests else "",
                _coverage_pct(cov.get("org_wide_pct"))
                + (
                    f" (threshold {cov['threshold']:g}%: {'met' if cov.get('meets_threshold') else 'NOT MET'})"
                    if cov.get("threshold") is not None and cov.get("org_wide_pct") is not None
                    else ""
                ),
            ]
        )
    out += _table(["job", "id", "status", "components", "tests", "coverage"], rows)
    quick = deploy.get("quick_deploy")
    if quick and quick.get("validation_id") and quick.get("job_id"):
        out += [f"The quick deploy promoted validation {md(quick['validation_id'])}.", ""]
    shown_classes: list[Any] = []
    for label, job in jobs:
        classes = ((job or {}).get("coverage") or {}).get("classes") or []
        if classes and classes == shown_classes:
            out += [f"Coverage per class ({md(label.lower())}): the same as above.", ""]
        elif classes:
            shown_classes = classes
            out += [f"Coverage per class ({md(label.lower())}):", ""]
            out += _table(
                ["class", "type", "lines", "covered", "coverage"],
                [
                    [
                        c["name"],
                        c["type"],
                        c["lines"],
                        c["covered"],
                        f"{c['pct']:.1f}%" + (" (below)" if c["below_threshold"] else ""),
                    ]
                    for c in classes
                ],
            )
        broken = ((job or {}).get("components") or {}).get("failures") or []
        if broken:
            out += [f"Component failures ({md(label.lower())}):", ""]
            out += [
                f"- {md(c['type'])} {md(c['name'])} ({md(c['file'])}{':' + str(c['line']) if c['line'] else ''}): "
                f"{md(c['problem'])}"
                for c in broken
            ] + [""]
        failed = ((job or {}).get("tests") or {}).get("failed") or []
        if failed:
            out += (
                [f"Failing tests ({md(label.lower())}):", ""]
                + [f"- {md(t['name'])}: {md(t['message'])}" for t in failed]
                + [""]
            )
        criteria = (job or {}).get("criteria") or []
        if criteria:
            out += ["Validation criteria:", ""]
            out += _table(
                ["criterion", "expected", "actual", "result"],
                [
                    [c.get("name"), c.get("expected"), c.get("actual"), "pass" if c.get("ok") else "FAIL"]
                    for c in criteria
                ],
            )
    return out


def _markdown_checks(title: str, steps: Sequence[Mapping[str, Any]]) -> list[str]:
    out = [f"## {title}", ""]
    if not steps:
        return [*out, "No steps in this stage.", ""]
    return out + _table(["step", "status", "result"], [[s["id"], _status(s["status"]), s["detail"]] for s in steps])


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


def _markdown_monitoring(monitoring: Mapping[str, Any]) -> list[str]:
    out = _markdown_checks("Monitoring and alerts", monitoring["steps"])
    if monitoring.get("window"):
        out += [md(window_line(monitoring["window"])), ""]
    limits = [row for row in monitoring["limits"] if row.get("max_pct") is not None]
    if limits:
        out += _table(
            ["limit", "max % used", "threshold", "breached"],
            [
                [
                    r["limit"],
                    f"{r['max_pct']:g}%",
                    "" if r["threshold"] is None else f"< {float(r['threshold']):g}%",
                    "" if r["breached"] is None else ("YES" if r["breached"] else "no"),
                ]
                for r in limits
            ],
        )
    elif monitoring["steps"]:
        out += ["No governor-limit readings recorded.", ""]
    if monitoring["alerts"]:
        out += [f"Alerts ({len(monitoring['alerts'])}):", ""]
        out += _table(ALERT_HEADERS, [alert_row(a) for a in monitoring["alerts"]])
    elif monitoring["steps"]:
        out += ["No alerts raised.", ""]
    return out


def _markdown_rollback(rollback: Mapping[str, Any]) -> list[str]:
    out = ["## Rollback", ""]
    if not rollback["triggered"]:
        standby = len(rollback["steps"])
        return [*out, f"Not triggered ({standby} rollback step(s) stood by)." if standby else "No rollback steps.", ""]
    for reason in rollback["reasons"]:
        out.append(f"- {md(reason['event'])} at {md(short_time(reason['at']))}: {md(reason['reason'])}")
    if rollback.get("outcome"):
        out.append(f"- outcome: {md(rollback['outcome'])}")
    out += [
        f"- restored: {md(', '.join(rollback['restored']) or 'nothing')}",
        f"- removed (added by the release): {md(', '.join(rollback['removed']) or 'nothing')}",
    ]
    if rollback["jobs_rescheduled"]:
        out.append(f"- scheduled jobs re-created: {md(', '.join(rollback['jobs_rescheduled']))}")
    out.append("")
    return out + _table(
        ["step", "status", "result"], [[s["id"], _status(s["status"]), s["detail"]] for s in rollback["steps"]]
    )


# ---------------------------------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------------------------------


def render_html(record: Mapping[str, Any]) -> str:
    return _html_template().render(r=record)


@functools.cache
def _html_template() -> Any:
    """Compiled once per process (compiling costs more than rendering)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("cutover.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(duration=duration, short_time=short_time, identity=identity, pct=_coverage_pct)
    env.globals.update(
        operators=operators,
        runbook_line=runbook_line,
        audit_lines=audit_lines,
        is_link=_is_link,
        window_line=window_line,
        checklist_signers=checklist_signers,
        checklist_requirement=checklist_requirement,
        alert_row=alert_row,
        alert_headers=ALERT_HEADERS,
    )
    return env.get_template("record.html.j2")


def _is_link(value: Any) -> bool:
    return isinstance(value, str) and re.match(r"^https?://[^\s\"'<>]+$", value) is not None


# ---------------------------------------------------------------------------------------------------------------------
# JUnit XML
# ---------------------------------------------------------------------------------------------------------------------

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml(value: Any) -> str:
    return _XML_INVALID.sub("?", "" if value is None else str(value))


def render_junit(record: Mapping[str, Any]) -> str:
    """One testcase per step (classname `cutover.<stage>`), plus `audit.verify` for the integrity check.

    passed → success; failed → <failure>; running (interrupted) → <error>; waived, skipped, pending and
    waiting_signoff → <skipped> with the reason.
    """
    run, audit = record["run"], record["audit"]
    steps = record["steps"]
    failures = sum(1 for s in steps if s["status"] == "failed") + (0 if audit["ok"] else 1)
    errors = sum(1 for s in steps if s["status"] == "running")
    skipped = sum(1 for s in steps if s["status"] in ("waived", "skipped", "pending", "waiting_signoff"))
    total_time = sum(float(s["duration_s"] or 0) for s in steps)
    name = f"cutover run {run['id']} on {run['target_org']}"
    suites = ET.Element(
        "testsuites",
        name=_xml(name),
        tests=str(len(steps) + 1),
        failures=str(failures),
        errors=str(errors),
        skipped=str(skipped),
        time=f"{total_time:.3f}",
    )
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=_xml(name),
        tests=str(len(steps) + 1),
        failures=str(failures),
        errors=str(errors),
        skipped=str(skipped),
        time=f"{total_time:.3f}",
        timestamp=_xml((run.get("started") or run.get("created") or "").rstrip("Z")[:19]),
    )
    props = ET.SubElement(suite, "properties")
    for key, value in (
        ("run_id", run["id"]),
        ("state", run["state"]),
        ("target_org", run["target_org"]),
        ("release_version", run.get("release_version")),
        ("git_head", run.get("git_head")),
        ("runbook_sha256", (run.get("runbook") or {}).get("sha256")),
        ("audit_head_hash", audit.get("head_hash")),
    ):
        ET.SubElement(props, "property", name=key, value=_xml(value))
    waivers = {w["step_id"]: w for w in record["waivers"]}
    signers: dict[str, list[str]] = {}
    for s in record["signoffs"]:
        signers.setdefault(s["step_id"], []).append(f"{s['by']} ({s['role']}) at {s['at']}")

    check = ET.SubElement(suite, "testcase", classname="cutover.audit", name="audit.verify", time="0")
    headline, problems = audit_lines(audit)
    if problems:
        failure = ET.SubElement(check, "failure", message=_xml(problems[0]), type="AuditBroken")
        failure.text = _xml("\n".join(problems))
    ET.SubElement(check, "system-out").text = _xml(headline)

    for step in steps:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=_xml(f"cutover.{step['stage']}"),
            name=_xml(f"{step['id']}: {step['title']}"),
            time=f"{float(step['duration_s'] or 0):.3f}",
        )
        status, detail = step["status"], step["detail"] or ""
        if status == "failed":
            ET.SubElement(case, "failure", message=_xml(detail or "failed"), type="StepFailed").text = _xml(detail)
        elif status == "running":
            ET.SubElement(case, "error", message=_xml(f"interrupted while running: {detail}"), type="Interrupted")
        elif status == "waived":
            waiver = waivers.get(step["id"])
            why = f"waived by {waiver['approver']}: {waiver['reason']}" if waiver else detail or "waived"
            ET.SubElement(case, "skipped", message=_xml(why))
        elif status in ("skipped", "pending", "waiting_signoff"):
            why = {"pending": "not run", "waiting_signoff": "waiting for sign-off"}.get(status, "skipped")
            ET.SubElement(case, "skipped", message=_xml(detail or why))
        lines = [f"status: {status}", f"detail: {detail}"]
        lines += [f"signed by {who}" for who in signers.get(step["id"], [])]
        if step["external_ids"]:
            lines.append("external ids: " + json.dumps(step["external_ids"], sort_keys=True))
        lines += [
            f"evidence: {e['path']} sha256 {e['sha256']} ({e['state']})"
            for e in record["evidence"]
            if e["step_id"] == step["id"]
        ]
        ET.SubElement(case, "system-out").text = _xml("\n".join(lines))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
