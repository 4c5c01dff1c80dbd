"""Decoding rows of `state.db` into the engine's records; a value no cutover writes is `StateDamaged` (exit 6)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from cutover.engine.damage import StateDamaged
from cutover.engine.model import RunInfo, RunState, SignoffRule, StepRecord, StepSpec, StepStatus


def run_from_row(db: sqlite3.Connection, row: Sequence[Any]) -> RunInfo:
    cols = [c[1] for c in db.execute("PRAGMA table_info(runs)").fetchall()]
    data = dict(zip(cols, row, strict=True))
    try:
        state = RunState(data["state"])
    except ValueError:
        raise StateDamaged(
            f"run {data['id']} has state {str(data['state'])[:40]!r} in .cutover/state.db, which no cutover writes"
        ) from None
    return RunInfo(
        id=data["id"],
        target_org=data["target_org"],
        state=state,
        runbook_path=data["runbook_path"],
        runbook_sha256=data["runbook_sha256"],
        git_head=data["git_head"],
        created=data["created"],
        updated=data["updated"],
        pid=data["pid"],
        host=data["host"],
        note=data["note"],
    )


def step_from_row(cur: sqlite3.Cursor, row: Sequence[Any]) -> StepRecord:
    data = dict(zip([c[0] for c in cur.description], row, strict=True))
    try:
        return _step_from_data(data)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise StateDamaged(
            f"step {data.get('step_id')} of run {data.get('run_id')} cannot be read from .cutover/state.db "
            f"({type(exc).__name__}: {str(exc)[:120]})"
        ) from None


def _json_object(text: str | None, what: str) -> dict[str, Any]:
    value = json.loads(text or "{}")
    if not isinstance(value, dict):
        raise ValueError(f"{what} is {type(value).__name__}, not an object")
    return value


def _step_from_data(data: dict[str, Any]) -> StepRecord:
    spec = StepSpec(
        id=data["step_id"],
        stage=data["stage"],
        title=data["title"],
        action=data["action"],
        kind=data["kind"],
        blocking=bool(data["blocking"]),
        params=_json_object(data["params"], "params"),
        signoff=SignoffRule.from_json(_json_object(data["signoff_rule"], "signoff_rule") or None),
        contingency=bool(data["contingency"]),
        on_failure=data["on_failure"],
    )
    return StepRecord(
        run_id=data["run_id"],
        position=data["position"],
        spec=spec,
        status=StepStatus(data["status"]),
        started=data["started"],
        finished=data["finished"],
        attempt=data["attempt"],
        detail=data["detail"] or "",
        external_ids=_json_object(data["external_ids"], "external_ids"),
    )
