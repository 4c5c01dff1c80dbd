"""The release record as JUnit XML: one testcase per step plus `audit.verify` (CI dashboards read it)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from cutover.report.render_common import audit_lines

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
        ("audit_head_published", sum(1 for a in record.get("anchors") or [] if a.get("published"))),
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
