"""The hash chain of a run's event log, and its verification (`cutover audit verify`).

Each event row stores `prev_hash` and `hash = SHA-256(canonical JSON of [seq, run_id, at, type, step_id, payload,
prev_hash])`; the first event of a run chains from `GENESIS`. Events that record evidence carry the evidence file's
SHA-256 in their payload, and the last hash written is also kept in `.cutover/runs/<run_id>/HEAD`.

What `verify_events` detects:
  - an edited event (any field: payload, type, time, step): its hash no longer matches;
  - a deleted event: a gap in `seq` or a `prev_hash` that does not link to the previous row;
  - reordered events: rows read in insertion order whose `seq` does not increase by one, or whose hash (which
    covers `seq`) no longer matches once `seq` values are swapped;
  - an edited, deleted or replaced evidence file: its SHA-256 differs from the one in the event;
  - a truncated tail (the last events deleted): the HEAD anchor names an event that no longer exists, or a
    different hash.
What it cannot detect: someone who rewrites the whole chain consistently (recomputing every hash and the HEAD file)
— the chain has no secret key. Keep the head hash printed by `cutover status` / `audit verify` somewhere else (the
release record, a ticket) to detect that too. If the process dies between committing an event and updating HEAD,
HEAD lags behind the log; a lagging HEAD that matches its event is accepted (so truncation of events written after
such a crash is not detected).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cutover.engine.model import EventRecord

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(
    seq: int, run_id: str, at: str, type_: str, step_id: str | None, payload: Mapping[str, Any], prev_hash: str
) -> str:
    body = canonical_json([seq, run_id, at, type_, step_id, payload, prev_hash])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class VerifyReport:
    run_id: str
    count: int  # events checked
    head_hash: str
    problem: str | None = None  # one line naming the first bad event
    bad_seq: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def describe(event: EventRecord) -> str:
    where = f" {event.step_id}" if event.step_id else ""
    return f"event #{event.seq} ({event.type}{where})"


def verify_events(
    run_id: str,
    events: Iterable[EventRecord],
    *,
    cutover_dir: Path,
    head: tuple[int, str] | None,
    files: bool = True,
) -> VerifyReport:
    """Walk the events of one run in insertion order; stop at the first problem. `head` is the (seq, hash) anchor."""
    events = list(events)
    all_seqs = {event.seq for event in events}
    prev_hash = GENESIS
    expected_seq = 1
    count = 0
    by_seq: dict[int, str] = {}
    for event in events:
        if event.seq != expected_seq:
            if event.seq > expected_seq and expected_seq not in all_seqs:
                missing = f"#{expected_seq}" + (f"..#{event.seq - 1}" if event.seq - 1 > expected_seq else "")
                why = f"event(s) {missing} missing before it (deleted)"
            else:
                why = f"out of order (expected event #{expected_seq} here; events were reordered)"
            return VerifyReport(run_id, count, prev_hash, f"{describe(event)}: {why}", event.seq)
        if event.prev_hash != prev_hash:
            return VerifyReport(
                run_id,
                count,
                prev_hash,
                f"{describe(event)}: does not link to the previous event (deleted or reordered events)",
                event.seq,
            )
        actual = event_hash(event.seq, event.run_id, event.at, event.type, event.step_id, event.payload, prev_hash)
        if actual != event.hash:
            return VerifyReport(
                run_id, count, prev_hash, f"{describe(event)}: content was modified (hash mismatch)", event.seq
            )
        problem = _check_evidence(event, cutover_dir) if files else None
        if problem:
            return VerifyReport(run_id, count, prev_hash, f"{describe(event)}: {problem}", event.seq)
        by_seq[event.seq] = event.hash
        prev_hash = event.hash
        expected_seq += 1
        count += 1
    if head is not None:
        head_seq, head_hash = head
        if head_seq not in by_seq:
            return VerifyReport(
                run_id,
                count,
                prev_hash,
                f"event #{head_seq} (the last one recorded in HEAD) is missing: the log was truncated "
                f"after event #{count}",
                head_seq,
            )
        if by_seq[head_seq] != head_hash:
            return VerifyReport(
                run_id, count, prev_hash, f"event #{head_seq}: hash differs from the HEAD anchor", head_seq
            )
    return VerifyReport(run_id, count, prev_hash)


def _check_evidence(event: EventRecord, cutover_dir: Path) -> str | None:
    if event.type != "evidence.recorded":
        return None
    relpath = event.payload.get("path")
    expected = event.payload.get("sha256")
    if not isinstance(relpath, str) or not isinstance(expected, str):
        return "evidence event without path/sha256"
    path = (cutover_dir / relpath).resolve()
    if cutover_dir.resolve() not in path.parents:
        return f"evidence path {relpath} escapes .cutover/"
    if not path.is_file():
        return f"evidence file {relpath} is missing"
    if sha256_file(path) != expected:
        return f"evidence file {relpath} was modified (SHA-256 mismatch)"
    return None
