"""Signed sign-offs for an org's run on Temporal (`cutover fleet signoff --org ALIAS --step STEP --key KEY`).

The signer's machine builds the statement from what the org's workflow holds (the run id, the step's definition,
the runbook's SHA-256 and commit from `run.created`, the audit head it saw), signs it with their SSH key
(`cutover.signing`), and sends statement and signature in the signal; the worker verifies them against the runbook's
keys before recording, exactly as `cutover signoff import` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cutover.engine.store import utc_now
from cutover.errors import UsageError
from cutover.temporal.state import spec_from_dict
from cutover.temporal.types import SignoffRequest


def signed_request(
    run: dict[str, Any] | None,
    step: str,
    *,
    by: str,
    role: str,
    note: str | None,
    evidence: str | None,
    key: Path,
    project_dir: Path,
) -> SignoffRequest:
    from cutover.signing.intake import Facts, resolve_spec, sign, statement_for

    if not run or not run.get("run_id") or not run.get("events"):
        raise UsageError("the org has no run to sign for yet (see: cutover fleet status)")
    spec = resolve_spec([spec_from_dict(s) for s in run["specs"]], step, f"run {run['run_id']}")
    created = next((e for e in run["events"] if e["type"] == "run.created"), {"payload": {}})
    facts = Facts(
        str(run["run_id"]),
        spec,
        created["payload"].get("runbook_sha256"),
        created["payload"].get("git_head"),
        str(run["events"][-1]["hash"]),
    )
    statement = statement_for(
        facts, by=by, role=role, note=note, evidence=evidence, project_dir=project_dir, at=utc_now()
    )
    envelope = sign(statement, key)
    return SignoffRequest(
        spec.id, by, role, note, evidence, statement=envelope.statement_text, signature=envelope.signature
    )
