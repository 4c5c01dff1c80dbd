"""`cutover fleet report`: each org's outcome, timings and its release record.

Each org's run is written back from the events its workflow holds into its run folder
(`.cutover/fleet/<org id>/<run id>/`, a project state `cutover -C FOLDER report|audit verify` reads), and its release
record is rendered there (`release-record.md`) with the same renderer as `cutover report`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from cutover.temporal.state import materialize, run_folder
from cutover.temporal.types import RunSnapshot


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    try:
        return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 1)
    except ValueError:
        return None


def write_record(project_dir: Path, org_id: str, run: dict[str, Any]) -> tuple[Path, bool]:
    """Materialize the org's run from its events and render its release record; (path, audit verified)."""
    from cutover.report import build_record, render

    snapshot = RunSnapshot(str(run["run_id"]), str(run.get("alias") or ""), list(run["specs"]), list(run["events"]))
    folder = run_folder(project_dir, org_id, snapshot.run_id)
    materialize(folder, snapshot).close()
    record = build_record(folder, snapshot.run_id)
    path = folder / "release-record.md"
    path.write_text(render(record, "md"), encoding="utf-8")
    return path, bool(record["audit"]["ok"])


def fleet_report(fleet: Any, status: dict[str, Any]) -> dict[str, Any]:
    orgs = []
    for org_id, entry in status["orgs"].items():
        run = entry.get("run") or {}
        item: dict[str, Any] = {
            "org_id": org_id,
            "alias": entry.get("alias"),
            "wave": entry.get("wave"),
            "outcome": entry.get("outcome"),
            "message": entry.get("message") or run.get("message") or "",
            "started": entry.get("started"),
            "finished": entry.get("finished"),
            "seconds": _seconds(entry.get("started"), entry.get("finished")),
            "run_id": run.get("run_id"),
            "record": None,
            "audit_ok": None,
        }
        if run.get("run_id") and run.get("events"):
            path, ok = write_record(fleet.project_dir, org_id, run)
            item["record"] = str(path)
            item["audit_ok"] = ok
        orgs.append(item)
    return {
        "fleet": fleet.name,
        "release": fleet.spec.release,
        "state": status["state"],
        "reason": status.get("reason") or "",
        "approvals": status.get("approvals", []),
        "orgs": orgs,
    }


def render_markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Fleet {report['fleet']}: release {report['release'] or '-'}",
        "",
        f"State: **{report['state']}**" + (f": {report['reason']}" if report["reason"] else ""),
        "",
    ]
    for approval in report["approvals"]:
        lines.append(f"- wave {approval['wave']} signed off by {approval['by']} ({approval['role']})")
    lines += [
        "",
        "| wave | org | org id | outcome | seconds | audit | release record |",
        "|---|---|---|---|---|---|---|",
    ]
    for org in report["orgs"]:
        audit = {True: "verified", False: "NOT VERIFIED", None: "-"}[org["audit_ok"]]
        lines.append(
            f"| {org['wave']} | {org['alias']} | {org['org_id']} | {org['outcome']} | {org['seconds'] or '-'} | "
            f"{audit} | {org['record'] or '-'} |"
        )
    return "\n".join(lines) + "\n"
