"""The release record as Markdown (every cell escaped: evidence text may hold anything)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from cutover.report.render_common import (
    ALERT_HEADERS,
    alert_row,
    audit_lines,
    checklist_requirement,
    checklist_signers,
    coverage_pct,
    duration,
    identity,
    operators,
    runbook_line,
    short_time,
    signature_text,
    window_line,
)


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

    out += _markdown_anchors(record.get("anchors") or [])
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
            ["step", "by", "role", "signature", "note", "evidence", "at"],
            [
                [
                    s["step_id"],
                    s["by"],
                    s["role_title"] or s["role"],
                    signature_text(s),
                    s["note"],
                    s["evidence"],
                    short_time(s["at"]),
                ]
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


def _markdown_anchors(anchors: Sequence[Mapping[str, Any]]) -> list[str]:
    out = ["## Audit head anchored off this machine", ""]
    if not anchors:
        return [*out, "The audit head was never published off this machine: only the local chain vouches for it.", ""]
    return out + _table(
        ["at", "head", "hash", "why", "where", "off the machine"],
        [
            [
                short_time(a["at"]),
                f"#{a['seq']}",
                a["hash"],
                a["reason"],
                a["where"],
                ("yes" if a["published"] else "no") + (f": {a['warning']}" if a.get("warning") else ""),
            ]
            for a in anchors
        ],
    )


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
                coverage_pct(cov.get("org_wide_pct"))
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


def _markdown_monitoring(monitoring: Mapping[str, Any]) -> list[str]:
    out = _markdown_checks("Monitoring and alerts", monitoring["steps"])
    if monitoring.get("window"):
        out += [md(window_line(monitoring["window"])), ""]
    series = monitoring.get("series") or []
    if series:  # the HTML record draws these as charts
        out += ["Samples per metric (the HTML record charts them):", ""]
        out += _table(
            ["metric", "samples", "values", "threshold", "breaches", "alerts"],
            [
                [
                    s["title"],
                    len(s["points"]),
                    " → ".join(f"{p['value']:g}" + ("!" if p["breach"] else "") for p in s["points"][:24])
                    + (" …" if len(s["points"]) > 24 else ""),
                    "" if s["threshold"] is None else f"{s['threshold']:g}{'%' if s['unit'] == '%' else ''}",
                    s["breaches"],
                    ", ".join(f"{a['id']} ({a['severity']})" for a in s["alerts"]),
                ]
                for s in series
            ],
        )
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
