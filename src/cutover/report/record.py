"""Build the release record of one run: a plain, JSON-ready dict read from `.cutover/` without changing it.

The state database is opened read-only (`cutover.report.state`); evidence files and the runbook are only read. The
audit verdict is `cutover.engine.integrity.check_run`, the same function `cutover audit verify` uses: the hash chain,
the HEAD anchor, and every table the record shows (steps, run state, sign-offs, waivers, evidence) replayed from the
chained event log, so an edit or a deleted row of `state.db` the chain itself cannot see shows up as an integrity
problem. Facts read from evidence (deploy results, backup, org identity) are taken only from files whose SHA-256 still
matches what was recorded (`cutover.report.sections`). The whole record is passed through `redact_obj()` before it
is returned: nothing read from evidence can carry a token into a report.

See `cutover.report` for the schema.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cutover.engine.chain import sha256_file
from cutover.engine.integrity import check_run, inside
from cutover.engine.lock import OrgLocks
from cutover.engine.model import EventRecord, RunInfo
from cutover.engine.replay import replay, table_differences
from cutover.engine.store import Store
from cutover.errors import CutoverError
from cutover.redact import redact, redact_obj
from cutover.report.sections import EvidenceSections
from cutover.report.state import EvidenceRows, open_readonly, resolve_run, seconds_between
from cutover.report.trail import anchors, signature

__all__ = ["SCHEMA", "build_record", "consistency_problems", "open_readonly", "replay_state", "resolve_run"]

SCHEMA = "cutover.release-record/1"

#: Run events after which nothing changes any more (their time is the run's end).
_END_EVENTS = ("run.finished", "run.failed", "run.rolled_back", "run.aborted")
_FINAL_STATES = ("succeeded", "failed", "rolled_back", "aborted")
_STATUSES = ("passed", "failed", "waived", "waiting_signoff", "running", "pending", "skipped")


def replay_state(events: Sequence[EventRecord]) -> tuple[str | None, dict[str, str]]:
    """(run state, step id → status) as the event log tells it (see `cutover.engine.replay`)."""
    replayed = replay(events)
    return replayed.run_state, replayed.steps


#: Where the state database disagrees with the (verified) event log (`cutover.engine.replay`).
consistency_problems = table_differences


def build_record(project_dir: Path, run_id: str | None = None, *, now: datetime | None = None) -> dict[str, Any]:
    """The release record of `run_id` (default: the latest run) as a JSON-ready dict (schema: `cutover.report`)."""
    project_dir = Path(project_dir).resolve()
    store = open_readonly(project_dir)
    try:
        run = resolve_run(store, run_id)
        return _Builder(project_dir, store, run).build(now or datetime.now(UTC))
    finally:
        store.close()


class _Builder(EvidenceSections):
    def __init__(self, project_dir: Path, store: Store, run: RunInfo) -> None:
        self.project_dir = project_dir
        self.store = store
        self.run = run
        self.records = store.steps(run.id)
        self.events = store.events(run.id)
        self.evidence = EvidenceRows(store, run.id)
        # Shown as the chained log tells them; `check_run` compares the tables with it (the audit verdict).
        self.signoffs = store.logged_signoffs(run.id)
        self.waivers = store.logged_waivers(run.id)
        self.notes: list[str] = []
        self.runbook: Any = None
        # The outcome `data` of each step's last `step.finished` event (what the step reported, as chained).
        self.finished_data: dict[str, dict[str, Any]] = {}
        for event in self.events:
            if event.type == "step.finished" and event.step_id:
                data = event.payload.get("data")
                self.finished_data[event.step_id] = dict(data) if isinstance(data, Mapping) else {}

    # -- build -----------------------------------------------------------------------------------------------------
    def build(self, now: datetime) -> dict[str, Any]:
        self._load_runbook()
        audit = self._audit()
        steps = self._steps()
        record: dict[str, Any] = {
            "schema": SCHEMA,
            "generated": {
                "at": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "by": _whoami(),
                "tool": f"cutover {_version()}",
            },
            "run": self._run_section(),
            "org": self._org(),
            "audit": audit,
            "anchors": anchors(self.events),
            "summary": self._summary(steps, audit),
            "steps": steps,
            "signoffs": [
                {
                    "step_id": s.step_id,
                    "by": s.by,
                    "role": s.role,
                    "role_title": self._role_title(s.role),
                    "note": s.note,
                    "evidence": s.evidence,
                    "at": s.at,
                    **signature(s),
                }
                for s in self.signoffs
            ],
            "checklists": self._checklists(),
            "separation_of_duties": self._separation_of_duties(),
            "waivers": [
                {"step_id": w.step_id, "reason": w.reason, "approver": w.approver, "at": w.at} for w in self.waivers
            ],
            "gates": self._gates(),
            "release": self._release(),
            "backup": self._backup(),
            "deploy": self._deploy(),
            "verification": [self.step_brief(r) for r in self.steps_where(stage="verify")],
            "monitoring": self._monitoring(now),
            "rollback": self._rollback(),
            "evidence": [
                {
                    "step_id": row["step_id"],
                    "name": row["name"],
                    "path": f".cutover/{row['relpath']}",
                    "sha256": row["sha256"],
                    "size": row["size"],
                    "created": row["created"],
                    "state": row["state"],
                }
                for row in self.evidence.rows
            ],
            "known_issues": self._known_issues(),
            "contacts": self._contacts(),
            "escalation": self._escalation(),
            "notes": [],
        }
        holder = OrgLocks(self.store.cutover_dir).read(self.run.target_org)
        if holder is not None and holder.run_id == self.run.id:
            if holder.stale:
                self.notes.append(f"the process that ran this run is gone ({holder.describe()}); resume it to finish")
            else:
                self.notes.append(f"this run is executing right now ({holder.describe()}): the record is a snapshot")
        record["notes"] = list(dict.fromkeys([*self.notes, *self.evidence.unreadable]))
        return redact_obj(record)  # type: ignore[no-any-return]

    # -- runbook ---------------------------------------------------------------------------------------------------
    def _load_runbook(self) -> None:
        self.runbook_current_sha: str | None = None
        if self.run.runbook_path:
            found = inside(self.project_dir, self.run.runbook_path)
            if found is None:
                self.notes.append(f"runbook {self.run.runbook_path} is outside the project: not read")
                return
            path = found
        else:
            from cutover.runbook import RUNBOOK_FILENAME

            path = self.project_dir / RUNBOOK_FILENAME
            if not path.is_file():
                self.notes.append("the run names no runbook file: runbook sections are left out")
                return
            self.notes.append(f"the run names no runbook file: runbook sections come from {RUNBOOK_FILENAME}")
        if not path.is_file():
            self.notes.append(f"runbook {self.run.runbook_path} no longer exists: runbook sections are left out")
            return
        self.runbook_current_sha = sha256_file(path)
        if self.run.runbook_sha256 and self.runbook_current_sha != self.run.runbook_sha256:
            self.notes.append(
                f"{self.run.runbook_path} changed since the run was created (SHA-256 "
                f"{self.run.runbook_sha256[:12]} → {self.runbook_current_sha[:12]}): the runbook sections below "
                "(release version, known issues, contacts) come from the current file"
            )
        try:
            from cutover.runbook import load_runbook

            self.runbook = load_runbook(path)
        except CutoverError as exc:
            self.notes.append(f"runbook {path.name} does not load ({exc.message}): sections left out")

    def _role_title(self, role_id: str) -> str | None:
        roles = getattr(self.runbook, "roles", None) or {}
        role = roles.get(role_id)
        return role.title if role is not None else None

    # -- header ----------------------------------------------------------------------------------------------------
    def _run_section(self) -> dict[str, Any]:
        run = self.run
        started = next((e.at for e in self.events if e.type == "run.started"), None)
        ended = None
        if run.state.value in _FINAL_STATES:
            ended = next((e.at for e in reversed(self.events) if e.type in _END_EVENTS), None)
        sessions = [
            {
                "at": e.at,
                "event": e.type,
                "user": e.payload.get("user"),
                "host": e.payload.get("host"),
                "pid": e.payload.get("pid"),
            }
            for e in self.events
            if e.type in ("run.started", "run.resumed")
        ]
        release = self._release_doc()
        runbook = self.runbook
        return {
            "id": run.id,
            "name": getattr(runbook, "name", None),
            "release_version": getattr(getattr(runbook, "release", None), "version", None),
            "state": run.state.value,
            "note": run.note,
            "target_org": run.target_org,
            "created": run.created,
            "started": started,
            "ended": ended,
            "duration_s": seconds_between(started or run.created, ended),
            "updated": run.updated,
            "operators": sessions,
            "hosts": sorted({str(s["host"]) for s in sessions if s["host"]}),
            "users": sorted({str(s["user"]) for s in sessions if s["user"]}),
            "git_head": run.git_head,
            "git_tag": release.get("tag"),
            "git_branch": release.get("branch"),
            "runbook": {
                "path": run.runbook_path,
                "sha256": run.runbook_sha256,
                "current_sha256": self.runbook_current_sha,
                "unchanged": None
                if self.runbook_current_sha is None or not run.runbook_sha256
                else self.runbook_current_sha == run.runbook_sha256,
            },
        }

    def _org(self) -> dict[str, Any]:
        guards = self.steps_where(action="sf.guard") or self.steps_where(stage="guard")
        doc, source = self.evidence.json_doc([r.id for r in guards], "org-identity")
        expected = None
        if doc is not None and isinstance(doc.get("expected"), Mapping):
            expected = dict(doc["expected"])
        elif self.runbook is not None:
            expected = self.runbook.target.expect.model_dump()
        actual = dict(doc["actual"]) if doc is not None and isinstance(doc.get("actual"), Mapping) else None
        if actual is None and guards:
            data = self.finished_data.get(guards[-1].id, {})
            actual = dict(data["actual"]) if isinstance(data.get("actual"), Mapping) else None
        guard = guards[-1] if guards else None
        return {
            "alias": self.run.target_org,
            "production": getattr(getattr(self.runbook, "target", None), "production", None),
            "expected": expected,
            "actual": actual,
            "mismatches": list(doc.get("mismatches") or []) if doc else [],
            "not_pinned": list(doc.get("not_pinned") or []) if doc else [],
            "guard_step": guard.id if guard else None,
            "guard_status": guard.status.value if guard else None,
            "guard_detail": guard.detail if guard else None,
            "source": source,
        }

    # -- integrity -------------------------------------------------------------------------------------------------
    def _audit(self) -> dict[str, Any]:
        report = check_run(self.store, self.run.id, self.run)
        anchored = report.anchored
        return {
            "ok": report.ok,
            "chain_ok": report.chain_problem is None,
            "events": report.events,
            "verified_events": report.count,
            "head_hash": report.head_hash,
            "anchored_head": {"seq": anchored[0], "hash": anchored[1]} if anchored else None,
            "first_bad_event": report.bad_seq,
            "chain_problem": report.chain_problem,
            "state_problems": [*report.damaged, *report.state_problems],
            "evidence_problems": list(report.evidence_problems),
            "problems": report.problems,
            "checked_at_render": True,
        }

    # -- steps -----------------------------------------------------------------------------------------------------
    def _steps(self) -> list[dict[str, Any]]:
        counts: dict[str, int] = {}
        for row in self.evidence.rows:
            counts[row["step_id"]] = counts.get(row["step_id"], 0) + 1
        out = []
        for record in self.records:
            spec = record.spec
            out.append(
                {
                    "position": record.position + 1,
                    "id": record.id,
                    "stage": spec.stage,
                    "title": spec.title,
                    "kind": spec.kind,
                    "action": spec.action,
                    "blocking": spec.blocking,
                    "contingency": spec.contingency,
                    "status": record.status.value,
                    "started": record.started,
                    "finished": record.finished,
                    "duration_s": seconds_between(record.started, record.finished),
                    "attempts": record.attempt,
                    "detail": record.detail,
                    "external_ids": dict(record.external_ids),
                    "evidence_count": counts.get(record.id, 0),
                }
            )
        return out

    def _summary(self, steps: Sequence[Mapping[str, Any]], audit: Mapping[str, Any]) -> dict[str, Any]:
        counts = {status: 0 for status in _STATUSES}
        for step in steps:
            counts[step["status"]] = counts.get(step["status"], 0) + 1
        state = self.run.state.value
        if not audit["ok"]:
            verdict = "AUDIT TRAIL BROKEN: this record cannot be trusted"
        elif state == "succeeded":
            verdict = "released" + (" (with waivers)" if self.waivers else "")
        elif state == "rolled_back":
            verdict = "rolled back"
        elif state in ("failed", "aborted"):
            verdict = f"not released ({state})"
        else:
            verdict = f"in progress ({state})"
        return {"verdict": verdict, "state": state, "steps": len(steps), "counts": counts}

    # -- people ----------------------------------------------------------------------------------------------------
    def _checklists(self) -> list[dict[str, Any]]:
        """Every sign-off step as the runbook's checklist: its items ticked (or not), by whom, when, with what proof."""
        out = []
        for record in self.records:
            rule = record.spec.signoff
            if record.spec.kind != "signoff" or rule is None:
                continue
            items = record.spec.params.get("items")
            out.append(
                {
                    "step_id": record.id,
                    "stage": record.spec.stage,
                    "title": record.spec.title,
                    "status": record.status.value,
                    "blocking": record.spec.blocking,
                    "roles": list(rule.roles),
                    "role_titles": [self._role_title(r) or r for r in rule.roles],
                    "min_signers": rule.min_signers,
                    "evidence_required": rule.evidence_required,
                    "items": [str(i) for i in items] if isinstance(items, list) else [],
                    "signed": [
                        {"by": s.by, "role": s.role, "at": s.at, "evidence": s.evidence, "note": s.note, **signature(s)}
                        for s in self.signoffs
                        if s.step_id == record.id
                    ],
                }
            )
        return out

    def _separation_of_duties(self) -> dict[str, Any]:
        from cutover.engine.signoffs import evaluate, same_person

        pairs: list[tuple[str, str]] = []
        holders: Mapping[str, Sequence[str]] = {}
        if self.runbook is not None:
            from cutover.steps import role_rules

            rules = role_rules(self.runbook)
            pairs, holders = list(rules.exclusive), rules.role_holders
        violations: list[str] = []
        for first, second in pairs:
            for a in (s for s in self.signoffs if s.role == first):
                if any(s.role == second and same_person(s.by, a.by) for s in self.signoffs):
                    violations.append(f"{a.by} signed as both {first} and {second}")
                if any(same_person(h, a.by) for h in holders.get(second, ())):
                    violations.append(f"{a.by} signed as {first} but is named as {second} in the runbook")
            for b in (s for s in self.signoffs if s.role == second):
                if any(same_person(h, b.by) for h in holders.get(first, ())):
                    violations.append(f"{b.by} signed as {second} but is named as {first} in the runbook")
        checks = []
        for record in self.records:
            rule = record.spec.signoff
            if rule is None:
                continue
            given = [s for s in self.signoffs if s.step_id == record.id]
            state = evaluate(rule, given)
            checks.append(
                {
                    "step_id": record.id,
                    "roles": list(rule.roles),
                    "min_signers": rule.min_signers,
                    "signers": list(state.signers),
                    "satisfied": state.satisfied,
                    "status": record.status.value,
                    "not_author": rule.not_author,
                    "evidence_required": rule.evidence_required,
                }
            )
            wrong_role = [s.by for s in given if s.role not in rule.roles]
            if wrong_role:
                violations.append(f"{record.id}: signed by {', '.join(wrong_role)} in a role the step does not accept")
            if record.status.value == "passed" and record.spec.kind == "signoff" and not state.satisfied:
                violations.append(
                    f"{record.id} is passed with {len(state.signers)} of {state.needed} required distinct sign-off(s)"
                )
            if rule.evidence_required and any(not (s.evidence or "").strip() for s in given):
                violations.append(f"{record.id}: a sign-off without the required evidence link")
        return {
            "exclusive_roles": [list(p) for p in pairs],
            "checks": checks,
            "violations": list(dict.fromkeys(violations)),
            "ok": not violations,
            "checked": self.runbook is not None,
        }

    # -- gates -----------------------------------------------------------------------------------------------------
    def _gates(self) -> dict[str, Any]:
        items = [
            {
                "id": r.id,
                "title": r.spec.title,
                "kind": r.spec.kind,
                "status": r.status.value,
                "blocking": r.spec.blocking,
                "detail": r.detail,
            }
            for r in self.steps_where(stage="preflight")
        ]
        counts = {status: sum(1 for i in items if i["status"] == status) for status in _STATUSES}
        return {"total": len(items), "counts": counts, "items": items}


def _whoami() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return redact(f"{user}@{socket.gethostname()}")


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("cutover")
    except Exception:
        return "unknown"
