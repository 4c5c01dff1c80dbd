"""Build the release record of one run: a plain, JSON-ready dict read from `.cutover/` without changing it.

The state database is opened read-only (`mode=ro`); evidence files and the runbook are only read. The audit chain is
verified at build time (`cutover.engine.chain.verify_events`), and the step and run states stored in the database are
replayed from the chained event log, so an edit of `state.db` that the chain itself cannot see (a failed step set to
`passed` in the steps table) still shows up as an integrity problem. Facts read from evidence (deploy results,
backup, org identity) are taken only from files whose SHA-256 still matches what was recorded. The whole record is
passed through `redact_obj()` before it is returned: nothing read from evidence can carry a token into a report.

See `cutover.report` for the schema.
"""

from __future__ import annotations

import getpass
import json
import socket
import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cutover.engine.chain import sha256_file, verify_events
from cutover.engine.lock import OrgLocks
from cutover.engine.model import EventRecord, RunInfo, SignoffRecord, StepRecord, WaiverRecord
from cutover.engine.store import STATE_DIR, Store
from cutover.errors import CutoverError, EnvironmentProblem, UsageError
from cutover.redact import redact, redact_obj

SCHEMA = "cutover.release-record/1"

#: Run events after which nothing changes any more (their time is the run's end).
_END_EVENTS = ("run.finished", "run.failed", "run.rolled_back", "run.aborted")
_FINAL_STATES = ("succeeded", "failed", "rolled_back", "aborted")
_STATUSES = ("passed", "failed", "waived", "waiting_signoff", "running", "pending", "skipped")


# ---------------------------------------------------------------------------------------------------------------------
# Opening the state read-only
# ---------------------------------------------------------------------------------------------------------------------


def open_readonly(project_dir: Path) -> Store:
    """The project's run state, opened so that nothing can be written (no migration, no journal-mode change)."""
    cutover_dir = Path(project_dir) / STATE_DIR
    path = cutover_dir / "state.db"
    if not path.is_file():
        raise UsageError(f"no runs yet in {project_dir} (no {STATE_DIR}/state.db)", hint="start one with: cutover run")
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        try:
            db, applied = _connect(uri)
        except sqlite3.OperationalError:
            # A copy on read-only media: SQLite cannot create the WAL index there; nothing is writing it anyway.
            db, applied = _connect(uri + "&immutable=1")
    except sqlite3.DatabaseError as exc:
        raise EnvironmentProblem(f"cannot read the run state {path}: {exc}") from None
    if "m002_contingency_steps" not in applied:
        db.close()
        raise EnvironmentProblem(
            f"{path} was written by an older cutover and is not migrated yet",
            hint="run `cutover status` once (it migrates the state), then render the report again",
        )
    return Store(cutover_dir, db)


def _connect(uri: str) -> tuple[sqlite3.Connection, set[str]]:
    db = sqlite3.connect(uri, uri=True, timeout=30)
    try:
        db.execute("PRAGMA busy_timeout = 30000")
        db.execute("PRAGMA query_only = ON")
        return db, {row[0] for row in db.execute("SELECT name FROM schema_migrations")}
    except BaseException:
        db.close()
        raise


def resolve_run(store: Store, run_id: str | None) -> RunInfo:
    """The run named by `run_id` (a unique prefix is enough), else the latest run."""
    runs = store.list_runs()
    if run_id:
        matches = [r for r in runs if r.id == run_id] or [r for r in runs if r.id.startswith(run_id)]
        if len(matches) != 1:
            what = "no run" if not matches else f"{len(matches)} runs"
            raise UsageError(f"{what} matching {run_id!r}", hint="list runs with: cutover runs")
        return matches[0]
    if not runs:
        raise UsageError("no runs yet in this project", hint="start one with: cutover run")
    return runs[-1]


# ---------------------------------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------------------------------


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def seconds_between(start: str | None, end: str | None) -> float | None:
    a, b = parse_time(start), parse_time(end)
    if a is None or b is None:
        return None
    return round(max(0.0, (b - a).total_seconds()), 3)


def _pct(value: Any) -> float | None:
    try:
        return None if value is None else round(float(value), 2)
    except (TypeError, ValueError):
        return None


class _Evidence:
    """The run's evidence rows, each checked once against its recorded SHA-256; JSON documents read on demand."""

    def __init__(self, store: Store, run_id: str) -> None:
        self.cutover_dir = store.cutover_dir
        self.rows: list[dict[str, Any]] = []
        for item in store.evidence(run_id):
            path = self.cutover_dir / item["relpath"]
            state = "missing" if not path.is_file() else ("ok" if sha256_file(path) == item["sha256"] else "modified")
            self.rows.append({**item, "state": state})
        self.unreadable: list[str] = []

    def of(self, step_id: str) -> list[dict[str, Any]]:
        return [row for row in self.rows if row["step_id"] == step_id]

    def json_doc(self, step_ids: Iterable[str], prefix: str) -> tuple[dict[str, Any] | None, str | None]:
        """The newest intact `<prefix>*.json` evidence of these steps: (document, its relpath)."""
        wanted = set(step_ids)
        for row in reversed(self.rows):
            name = str(row["name"])
            if row["step_id"] not in wanted or not name.startswith(prefix) or not name.endswith(".json"):
                continue
            if row["state"] != "ok":
                self.unreadable.append(f".cutover/{row['relpath']} ({row['state']}): not used for the record")
                continue
            try:
                doc = json.loads((self.cutover_dir / row["relpath"]).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(doc, dict):
                return doc, f".cutover/{row['relpath']}"
        return None, None


# ---------------------------------------------------------------------------------------------------------------------
# Replaying the event log: what the chained log says the state is
# ---------------------------------------------------------------------------------------------------------------------


def replay_state(events: Sequence[EventRecord]) -> tuple[str | None, dict[str, str]]:
    """(run state, step id → status) as the event log tells it, following the engine's transitions."""
    run_state: str | None = None
    steps: dict[str, str] = {}
    contingency: set[str] = set()
    for event in events:
        kind, step_id, payload = event.type, event.step_id, event.payload
        if kind == "run.created":
            run_state = "planned"
            for item in payload.get("steps") or ():
                if isinstance(item, Mapping) and item.get("id"):
                    steps[str(item["id"])] = "pending"
                    if item.get("contingency"):
                        contingency.add(str(item["id"]))
        elif kind in ("run.started", "run.resumed", "rollback.started", "rollback.resumed"):
            run_state = "running"
        elif kind in ("run.paused", "run.stopped", "run.interrupted", "rollback.requested"):
            run_state = "paused"
            if kind == "rollback.requested":
                for sid in contingency:
                    if steps.get(sid) == "skipped":
                        steps[sid] = "pending"
        elif kind == "run.finished":
            run_state = str(payload.get("state") or "succeeded")
            for sid in contingency:
                if steps.get(sid) == "pending":
                    steps[sid] = "skipped"
        elif kind == "run.failed":
            run_state = "failed"
        elif kind == "run.rolled_back":
            run_state = "rolled_back"
            for sid, status in steps.items():
                if sid not in contingency and status == "pending":
                    steps[sid] = "skipped"
        elif kind == "run.aborted":
            run_state = "aborted"
        elif kind == "run.replanned":  # the runbook changed mid-run (cutover.engine.replan)
            for sid in payload.get("deleted") or ():
                steps.pop(str(sid), None)
            contingency.update(str(sid) for sid in payload.get("contingency") or ())
            steps.update({str(sid): str(status) for sid, status in (payload.get("statuses") or {}).items()})
        elif step_id is None:
            continue
        elif kind in ("step.started", "step.reattaching"):
            steps[step_id] = "running"
        elif kind in ("step.finished", "preflight.gate"):
            steps[step_id] = str(payload.get("status") or steps.get(step_id))
        elif kind in ("step.waived", "step.retry"):
            steps[step_id] = "waived" if kind == "step.waived" else "pending"
            if run_state == "failed":
                run_state = "paused"
    return run_state, steps


def consistency_problems(
    run: RunInfo,
    records: Sequence[StepRecord],
    events: Sequence[EventRecord],
    *,
    signoffs: Sequence[SignoffRecord] = (),
    waivers: Sequence[WaiverRecord] = (),
    evidence: Sequence[Mapping[str, Any]] = (),
) -> list[str]:
    """Where the state database disagrees with the (verified) event log: run and step states replayed from the log,
    and every sign-off, waiver and evidence row the record shows must have its event."""
    if not events:
        return [f"the audit log of run {run.id} is empty (every run starts with a run.created event)"]
    problems = []
    logged_signoffs = Counter(
        (e.step_id, e.payload.get("by"), e.payload.get("role")) for e in events if e.type == "signoff.recorded"
    )
    for signoff in signoffs:
        key = (signoff.step_id, signoff.by, signoff.role)
        if logged_signoffs[key] > 0:
            logged_signoffs[key] -= 1
        else:
            problems.append(
                f"sign-off of {signoff.step_id} by {signoff.by} ({signoff.role}) is in state.db, not in the audit log"
            )
    logged_waivers = Counter(
        (e.step_id, e.payload.get("reason"), e.payload.get("approver")) for e in events if e.type == "step.waived"
    )
    for waiver in waivers:
        key = (waiver.step_id, waiver.reason, waiver.approver)
        if logged_waivers[key] > 0:
            logged_waivers[key] -= 1
        else:
            problems.append(f"waiver of {waiver.step_id} by {waiver.approver} is in state.db but not in the audit log")
    logged_evidence = {
        (e.payload.get("path"), e.payload.get("sha256")) for e in events if e.type == "evidence.recorded"
    }
    for row in evidence:
        if (row.get("relpath"), row.get("sha256")) not in logged_evidence:
            problems.append(f"evidence .cutover/{row.get('relpath')} is in state.db but not in the audit log")
    run_state, steps = replay_state(events)
    if run_state is not None and run_state != run.state.value:
        problems.append(f"the run is {run.state.value} in state.db but {run_state} according to the audit log")
    for record in records:
        logged = steps.get(record.id)
        if logged is None:
            problems.append(f"step {record.id} is in state.db but not in the run.created event of the audit log")
        elif logged != record.status.value:
            problems.append(
                f"step {record.id} is {record.status.value} in state.db but {logged} according to the audit log"
            )
    listed = {r.id for r in records}
    problems += [f"step {sid} of the audit log is missing from state.db" for sid in steps if sid not in listed]
    return problems


# ---------------------------------------------------------------------------------------------------------------------
# The record
# ---------------------------------------------------------------------------------------------------------------------


def build_record(project_dir: Path, run_id: str | None = None, *, now: datetime | None = None) -> dict[str, Any]:
    """The release record of `run_id` (default: the latest run) as a JSON-ready dict (schema: `cutover.report`)."""
    project_dir = Path(project_dir).resolve()
    store = open_readonly(project_dir)
    try:
        run = resolve_run(store, run_id)
        return _Builder(project_dir, store, run).build(now or datetime.now(UTC))
    finally:
        store.close()


class _Builder:
    def __init__(self, project_dir: Path, store: Store, run: RunInfo) -> None:
        self.project_dir = project_dir
        self.store = store
        self.run = run
        self.records = store.steps(run.id)
        self.events = store.events(run.id)
        self.evidence = _Evidence(store, run.id)
        self.signoffs = store.signoffs(run.id)
        self.waivers = store.waivers(run.id)
        self.notes: list[str] = []
        self.runbook: Any = None
        # The outcome `data` of each step's last `step.finished` event (what the step reported, as chained).
        self.finished_data: dict[str, dict[str, Any]] = {}
        for event in self.events:
            if event.type == "step.finished" and event.step_id:
                data = event.payload.get("data")
                self.finished_data[event.step_id] = dict(data) if isinstance(data, Mapping) else {}

    # -- helpers ---------------------------------------------------------------------------------------------------
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
            path = Path(self.run.runbook_path)
            path = path if path.is_absolute() else self.project_dir / path
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
        report = verify_events(
            self.run.id, self.events, cutover_dir=self.store.cutover_dir, head=self.store.read_head(self.run.id)
        )
        anchored = self.store.read_head(self.run.id)
        consistency = (
            consistency_problems(
                self.run,
                self.records,
                self.events,
                signoffs=self.signoffs,
                waivers=self.waivers,
                evidence=self.evidence.rows,
            )
            if report.ok
            else []
        )
        if report.ok and anchored is None and self.events:
            # The engine writes HEAD after every commit; without it a truncated log cannot be told from a whole one.
            consistency.append(f"the HEAD anchor of run {self.run.id} is missing (.cutover/runs/{self.run.id}/HEAD)")
        bad_evidence = [f".cutover/{r['relpath']} ({r['state']})" for r in self.evidence.rows if r["state"] != "ok"]
        problems = []
        if not report.ok:
            problems.append(report.problem)
        problems += consistency
        problems += [f"evidence file {item} does not match its recorded SHA-256" for item in bad_evidence]
        return {
            "ok": not problems,
            "chain_ok": report.ok,
            "events": len(self.events),
            "verified_events": report.count,
            "head_hash": report.head_hash,
            "anchored_head": {"seq": anchored[0], "hash": anchored[1]} if anchored else None,
            "first_bad_event": report.bad_seq,
            "chain_problem": report.problem,
            "state_problems": consistency,
            "evidence_problems": bad_evidence,
            "problems": problems,
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
                        {"by": s.by, "role": s.role, "at": s.at, "evidence": s.evidence, "note": s.note}
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
            path = self.project_dir / archive
            if not path.is_file():
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
        org_wide = _pct(parsed.coverage_pct)
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
                            pct = _pct(value)
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
