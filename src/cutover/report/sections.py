"""The release record's sections read from evidence (release, backup, deploy, monitoring, rollback) and from the
runbook (known issues, escalation, contacts): a mixin of the record builder (`cutover.report.record`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from cutover.engine.chain import sha256_file
from cutover.engine.integrity import inside
from cutover.engine.model import EventRecord, RunInfo, StepRecord
from cutover.engine.store import Store
from cutover.report.state import EvidenceRows
from cutover.report.state import pct as as_pct
from cutover.report.trail import monitoring_series


class EvidenceSections:
    """Needs the builder's attributes below and its `steps_where` / `step_brief`."""

    project_dir: Path
    store: Store
    run: RunInfo
    records: list[StepRecord]
    events: list[EventRecord]
    evidence: EvidenceRows
    notes: list[str]
    runbook: Any
    finished_data: dict[str, dict[str, Any]]

    def steps_where(self, *, action: str | None = None, stage: str | None = None) -> list[StepRecord]:
        return [
            r
            for r in self.records
            if (action is None or r.spec.action == action) and (stage is None or r.spec.stage == stage)
        ]

    def step_brief(self, record: StepRecord) -> dict[str, Any]:
        return {
            "id": record.id,
            "title": record.spec.title,
            "status": record.status.value,
            "detail": record.detail,
            "data": self.finished_data.get(record.id, {}),
            "evidence": [f".cutover/{row['relpath']}" for row in self.evidence.of(record.id)],
        }

    # -- facts from evidence ---------------------------------------------------------------------------------------
    def _release_doc(self) -> dict[str, Any]:
        steps = self.steps_where(action="git.release") or self.steps_where(stage="release")
        pushes = self.steps_where(action="git.push_release")  # pushed after the deploy: its release.json is newer
        doc, source = self.evidence.json_doc([r.id for r in steps + pushes], "release")
        if doc is None and steps:
            data = self.finished_data.get(steps[-1].id, {})
            doc = {k: v for k, v in data.items() if k in ("commit", "branch", "tag")}
        return {**(doc or {}), "source": source} if doc else {}

    def _release(self) -> dict[str, Any] | None:
        doc = self._release_doc()
        return doc or None

    def _backup(self) -> dict[str, Any] | None:
        steps = self.steps_where(action="sf.backup") or self.steps_where(stage="backup")
        if not steps:
            return None
        doc, source = self.evidence.json_doc([r.id for r in steps], "backup")
        step = steps[-1]
        if doc is None:
            return {"step_id": step.id, "status": step.status.value, "detail": step.detail, "recorded": False}
        archive = doc.get("archive")
        archive_state = None
        if isinstance(archive, str) and archive:
            path = inside(self.project_dir, archive)
            if path is None:
                archive_state = "outside the project (not read)"
            elif not path.is_file():
                archive_state = "missing"
            else:
                archive_state = "ok" if sha256_file(path) == doc.get("sha256") else "modified"
            if archive_state != "ok":
                self.notes.append(f"backup archive {archive} is {archive_state} (the rollback would refuse it)")
        return {
            "step_id": step.id,
            "status": step.status.value,
            "detail": step.detail,
            "recorded": True,
            "source": source,
            "folder": doc.get("folder"),
            "archive": archive,
            "sha256": doc.get("sha256"),
            "size": doc.get("size"),
            "archive_state": archive_state,
            "verified": doc.get("verified"),
            "retrieve_id": doc.get("retrieve_id"),
            "files": doc.get("files"),
            "components": len(doc.get("components") or []),
            "release_components": len(doc.get("release_components") or []),
            "added_by_release": [_component(c) for c in doc.get("added_by_release") or []],
            "redeploy_command": doc.get("redeploy_command"),
        }

    def _deploy(self) -> dict[str, Any]:
        threshold = None
        if self.runbook is not None:
            threshold = float(self.runbook.thresholds.apex_coverage)
        validation = self._deploy_job("sf.validate", "validation-result", "validation_id", threshold)
        if validation is not None:
            crit, _ = self.evidence.json_doc([validation["step_id"]], "validation-criteria")
            validation["criteria"] = list(crit.get("criteria") or []) if crit else []
        quick = self._deploy_job("sf.quick_deploy", "deploy-result", "deploy_id", threshold)
        if quick is not None:
            quick["validation_id"] = self._external(quick["step_id"], "validation_id")  # what it really promoted
        return {"coverage_threshold": threshold, "validation": validation, "quick_deploy": quick}

    def _external(self, step_id: str, key: str) -> Any:
        record = next((r for r in self.records if r.id == step_id), None)
        value = record.external_ids.get(key) if record else None
        return value or self.finished_data.get(step_id, {}).get(key)

    def _deploy_job(self, action: str, prefix: str, id_key: str, threshold: float | None) -> dict[str, Any] | None:
        steps = self.steps_where(action=action)
        if not steps:
            return None
        step = steps[-1]
        out: dict[str, Any] = {
            "step_id": step.id,
            "status": step.status.value,
            "detail": step.detail,
            "job_id": self._external(step.id, id_key),
            "source": None,
        }
        doc, source = self.evidence.json_doc([step.id], prefix)
        envelope = doc.get("envelope") if doc else None
        result = envelope.get("result") if isinstance(envelope, Mapping) else None
        if not isinstance(result, Mapping):
            return out
        from cutover.sf.results import parse_deploy_result

        parsed = parse_deploy_result(result)
        tests = parsed.tests
        coverage = [
            {
                "name": c.name,
                "type": c.type,
                "lines": c.num_locations,
                "covered": c.covered,
                "pct": round(c.pct, 2),
                "below_threshold": threshold is not None and c.pct < threshold,
            }
            for c in parsed.coverage
        ]
        org_wide = as_pct(parsed.coverage_pct)
        out.update(
            {
                "source": source,
                "job_id": out["job_id"] or parsed.id,
                "result_status": parsed.status,
                "check_only": parsed.check_only,
                "created": parsed.created_date,
                "completed": parsed.completed_date,
                "components": {
                    "total": parsed.components_total,
                    "deployed": parsed.components_deployed,
                    "errors": parsed.component_errors,
                    "failures": [
                        {"type": f.type, "name": f.name, "file": f.file, "line": f.line, "problem": f.problem}
                        for f in parsed.failures
                    ],
                },
                "tests": {
                    "run": tests.num_run if tests else parsed.tests_completed,
                    "failures": tests.num_failures if tests else parsed.test_errors,
                    "total_time_ms": tests.total_time_ms if tests else None,
                    "failed": [{"name": t.full_name, "message": t.message} for t in (tests.failures if tests else ())],
                },
                "coverage": {
                    "org_wide_pct": org_wide,
                    "threshold": threshold,
                    "meets_threshold": None if org_wide is None or threshold is None else org_wide >= threshold,
                    "classes": coverage,
                },
            }
        )
        return out

    def _monitoring(self, now: datetime) -> dict[str, Any]:
        steps = self.steps_where(stage="monitor")
        max_pct: dict[str, float] = {}
        thresholds: dict[str, Any] = self.runbook.thresholds.limits.model_dump() if self.runbook is not None else {}
        org_limit_threshold: Any = None
        window: dict[str, Any] = {}
        for record in steps:
            sources: list[Mapping[str, Any]] = [self.finished_data.get(record.id, {})]
            for prefix in ("limits-timeseries", "monitor"):
                doc, _ = self.evidence.json_doc([record.id], prefix)
                if doc:
                    sources.append(doc)
            for source in sources:
                for key in ("max_percent", "max_pct"):
                    if isinstance(source.get(key), Mapping):
                        for limit, value in source[key].items():
                            pct = as_pct(value)
                            if pct is not None and pct > max_pct.get(limit, -1.0):
                                max_pct[str(limit)] = pct
                if isinstance(source.get("thresholds"), Mapping):  # what the step really compared against
                    thresholds.update(source["thresholds"])
                if source.get("org_limit_threshold") is not None:
                    org_limit_threshold = source["org_limit_threshold"]
                if isinstance(source.get("window"), Mapping) and "samples" in source and not window:
                    window = {
                        "step_id": record.id,
                        "start": source["window"].get("start"),
                        "end": source["window"].get("end"),
                        "interval_seconds": source["window"].get("interval_seconds"),
                        "samples": source.get("samples"),
                        "breaches": source.get("breaches"),
                        "worst_severity": source.get("worst_severity"),
                        "gaps": list(source.get("gaps") or []),
                        "unreadable": list(source.get("unreadable") or []),
                        "rollback_recommended": bool(source.get("rollback_recommended")),
                    }

        def threshold_of(name: str) -> Any:
            return org_limit_threshold if name.startswith("org:") else thresholds.get(name)

        limits = []
        for name in dict.fromkeys([*thresholds, *max_pct]):
            value, limit = max_pct.get(name), threshold_of(name)
            breached = None if value is None or limit is None else value >= float(limit)
            limits.append({"limit": name, "max_pct": value, "threshold": limit, "breached": breached})
        return {
            "steps": [self.step_brief(r) for r in steps],
            "window": window or None,
            "limits": limits,
            "alerts": self._alerts(now, steps),
            "series": monitoring_series(self.events, [r.id for r in steps]),
        }

    def _alerts(self, now: datetime, steps: Sequence[StepRecord]) -> list[dict[str, Any]]:
        """Every alert of the run (the audit log is the alert store): severity, state, who was paged, who acked."""
        try:
            from cutover.notify.alerts import load_alerts

            alerts = [alert.to_json(now) for alert in load_alerts(self.store, self.run.id)]
        except Exception as exc:  # an alert event this version cannot read must not hide the rest of the record
            self.notes.append(f"alerts could not be read from the audit log ({type(exc).__name__}: {exc})")
            alerts = []
        if alerts:
            return [
                {
                    "id": a.get("id"),
                    "step_id": a.get("step_id"),
                    "severity": a.get("severity"),
                    "title": a.get("title"),
                    "state": a.get("state"),
                    "raised_at": a.get("raised_at"),
                    "paged": [
                        (a.get("path") or [])[level].get("title")
                        for level in a.get("paged_levels") or []
                        if level < len(a.get("path") or [])
                    ],
                    "acknowledged_by": a.get("acknowledged_by"),
                    "acknowledged_at": a.get("acknowledged_at"),
                }
                for a in alerts
            ]
        # Steps that report alerts only in their outcome (no alert events).
        out: list[dict[str, Any]] = []
        for record in steps:
            for item in self.finished_data.get(record.id, {}).get("alerts") or []:
                if isinstance(item, Mapping):
                    out.append({"step_id": record.id, **{k: item.get(k) for k in ("id", "severity", "title")}})
        return out

    def _rollback(self) -> dict[str, Any]:
        steps = [r for r in self.records if r.spec.contingency or r.spec.stage == "rollback"]
        reasons = [
            {"at": e.at, "event": e.type, "step_id": e.step_id, "reason": e.payload.get("reason")}
            for e in self.events
            if e.type in ("rollback.requested", "rollback.started", "rollback.resumed")
        ]
        ran = [r for r in steps if r.status.value not in ("pending", "skipped")]
        restored: list[Any] = []
        removed: list[Any] = []
        rescheduled: list[Any] = []
        for record in ran:
            data = self.finished_data.get(record.id, {})
            restored += list(data.get("restored") or [])
            removed += list(data.get("removed") or [])
            rescheduled += list(data.get("jobs_rescheduled") or [])
        outcome = next((e.payload.get("message") for e in reversed(self.events) if e.type == "run.rolled_back"), None)
        return {
            "triggered": bool(reasons or ran),
            "reasons": reasons,
            "outcome": outcome,
            "restored": restored,
            "removed": removed,
            "jobs_rescheduled": rescheduled,
            "steps": [self.step_brief(r) for r in steps],
        }

    # -- runbook sections ------------------------------------------------------------------------------------------
    def _known_issues(self) -> list[dict[str, Any]]:
        issues = getattr(self.runbook, "known_issues", None) or []
        return [issue.model_dump() for issue in issues]

    def _escalation(self) -> dict[str, Any] | None:
        if self.runbook is None:
            return None
        try:
            return _escalation_of(self.runbook)
        except (AttributeError, KeyError) as exc:  # a runbook shape this version does not know
            self.notes.append(f"escalation path not shown ({type(exc).__name__}: {exc})")
            return None

    def _contacts(self) -> list[dict[str, Any]]:
        roles = getattr(self.runbook, "roles", None) or {}
        return [
            {
                "role": role_id,
                "title": role.title,
                "responsibility": role.responsibility,
                "name": role.name,
                "email": role.email,
                "phone": role.phone,
            }
            for role_id, role in roles.items()
        ]


def _escalation_of(runbook: Any) -> dict[str, Any]:
    roles = runbook.roles
    alerts = runbook.alerts
    support = runbook.rollback.destructive_option
    return {
        # Channel URLs are left out on purpose: they may carry webhook tokens.
        "channels": [{"type": c.type, "target": c.target, "min_severity": c.min_severity} for c in alerts.channels],
        "path": [
            {
                "severity": row.severity,
                "response_time": row.response_time,
                "path": [roles[r].title if r in roles else r for r in row.path],
            }
            for row in alerts.escalation
        ],
        "internal": [roles[r].title if r in roles else r for r in alerts.internal_escalation],
        "support": [line for line in (support.contact, support.premier_support) if line],
    }


def _component(item: Any) -> str:
    if isinstance(item, Mapping):
        return f"{item.get('type')}:{item.get('name')}"
    return str(item)
