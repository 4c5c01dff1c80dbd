"""What `cutover signoff ... --key`, `--output`, `--push`, `cutover signoff import FILE`, and the fetch in
`cutover resume` / `cutover status` do (the typer layer in `cutover.commands.signoff` only parses and prints)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from cutover.engine import Engine, RoleRules, RunInfo, SignoffRecord
from cutover.engine.signoffs import check_signoff
from cutover.engine.store import utc_now
from cutover.errors import CutoverError, Failure, UsageError
from cutover.signing import transport
from cutover.signing.intake import Facts, accept, resolve_spec, sign, statement_for
from cutover.signing.keys import fingerprint as blob_fingerprint
from cutover.signing.keys import key_blob, keyring, signature_info
from cutover.signing.statement import Envelope
from cutover.signing.verify import verify_envelope

if TYPE_CHECKING:
    from cutover.commands.run import Project


@dataclass(frozen=True)
class Request:
    step: str
    by: str
    role: str
    note: str | None
    evidence: str | None
    key: Path


def _anchored_head(project_dir: Path, run_id: str, remote: str) -> str | None:
    """The latest audit head anchored in git notes for the run (no local state: what the signer can know)."""
    try:
        from cutover.engine import anchors

        if transport.has_remote(project_dir, remote):
            anchors.fetch_remote_notes(project_dir, remote)
        found = [
            a.head for ref in (anchors.NOTES_REF, anchors.REMOTE_COPY_REF) for a in anchors.read_notes(project_dir, ref)
        ]
    except (ImportError, AttributeError, OSError, CutoverError):
        return None
    heads = sorted((h for h in found if h.run_id == run_id), key=lambda h: h.seq)
    return heads[-1].hash if heads else None


def sign_detached(project: Project, run_id: str, request: Request, rules: RoleRules, remote: str) -> Envelope:
    """Sign for a run from a checkout alone (no `.cutover/` needed): the step's definition comes from the runbook at
    this checkout; the audit head from the run's local state if this machine has it, else from the git notes."""
    from cutover.steps import git_head, plan_to_specs

    spec = resolve_spec(plan_to_specs(project.plan, project.runbook), request.step, "the runbook's plan")
    # The role, evidence and authorship checks before asking for a passphrase (the signature is checked below).
    unsigned = replace(spec, signoff=replace(spec.signoff, signatures_required=False)) if spec.signoff else spec
    check_signoff(unsigned, by=request.by, role=request.role, evidence=request.evidence, existing=(), rules=rules)
    head = _local_head(project.dir, run_id) or _anchored_head(project.dir, run_id, remote)
    facts = Facts(run_id, spec, project.runbook_sha256, git_head(project.dir), head)
    envelope = _sign(facts, request, project.dir)
    # Refuse here what the run would refuse (an unlisted key, someone else's key), before the statement travels.
    verified = verify_envelope(envelope, keyring(project.runbook, project.dir), role=request.role, by=request.by)
    check_signoff(
        spec,
        by=verified.signer,
        role=request.role,
        evidence=request.evidence,
        existing=(),
        rules=rules,
        signature=verified,
    )
    return envelope


def _local_head(project_dir: Path, run_id: str) -> str | None:
    if not (project_dir / ".cutover" / "state.db").is_file():
        return None
    engine = Engine(project_dir)
    try:
        head = engine.store.read_head(run_id) if any(r.id == run_id for r in engine.runs()) else None
    finally:
        engine.close()
    return head[1] if head else None


def _sign(facts: Facts, request: Request, project_dir: Path) -> Envelope:
    statement = statement_for(
        facts,
        by=request.by,
        role=request.role,
        note=request.note,
        evidence=request.evidence,
        project_dir=project_dir,
        at=utc_now(),
    )
    return sign(statement, request.key)


def sign_local(
    engine: Engine, project: Project, run: RunInfo, step_id: str, request: Request, rules: RoleRules
) -> SignoffRecord:
    """Sign on the machine that holds the run: the statement binds the run's own step definition and audit head."""
    from cutover.steps import git_head

    record = next(r for r in engine.steps(run.id) if r.id == step_id)
    head = engine.store.read_head(run.id)
    facts = Facts(run.id, record.spec, project.runbook_sha256, git_head(project.dir), head[1] if head else None)
    envelope = _sign(facts, request, project.dir)
    return accept(engine, run, envelope, runbook=project.runbook, project_dir=project.dir, rules=rules)


def precheck_key(project: Project, key: Path) -> None:
    """Refuse a key the runbook does not list before anything is created for it (a planned run), when its public
    half is at hand (`KEY.pub`, or KEY itself); the signature is verified in full when the sign-off is recorded."""
    pub = key if key.suffix == ".pub" else key.with_name(key.name + ".pub")
    try:
        parts = pub.read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError):
        return
    if len(parts) < 2:
        return
    ring = keyring(project.runbook, project.dir)
    if f" {parts[1]}" not in ring.allowed_signers:
        try:
            fp = blob_fingerprint(key_blob(" ".join(parts[:2])))
        except ValueError:
            return
        where = " or ".join(ring.sources) or "roles.<id>.signing_keys"
        raise Failure(f"the key {fp} is not listed in the runbook ({where}): sign-off refused")


def describe(record: SignoffRecord) -> str:
    how = f"verified signer {record.signer}, key {record.fingerprint}" if record.signer else "unsigned"
    return f"{record.by} signed {record.step_id} as {record.role} ({how})"


def fetch_delivered(engine: Engine, project: Project, run: RunInfo, rules: RoleRules) -> list[str]:
    """Fetch `refs/cutover/signoffs/<run>` from the release remote and import what the run does not have yet. One
    line per import or refusal (warnings start with `warning:`); a remote that cannot be reached is a warning."""
    from cutover.signing.intake import imported_statements

    remote = project.runbook.release.remote
    lines: list[str] = []
    try:
        if not transport.has_remote(project.dir, remote):
            return []
        _, problem = transport.fetch(project.dir, remote, run.id)
        if problem:
            return [f"warning: cannot fetch signed sign-offs from {remote}: {problem}"]
        delivered = transport.read(project.dir, run.id)
    except CutoverError as exc:
        return [f"warning: signed sign-offs from {remote} not fetched: {exc.message}"]
    seen = imported_statements(engine, run.id)
    for item in delivered:
        try:
            envelope = Envelope.loads(item.text, item.path)
            if envelope.sha256 in seen:
                continue
            signed = accept(
                engine,
                run,
                envelope,
                runbook=project.runbook,
                project_dir=project.dir,
                rules=rules,
                step=item.path.split("/", 1)[0],
            )
        except CutoverError as exc:
            lines.append(f"warning: signed sign-off {item.path} from {remote} refused: {exc.message}")
            continue
        seen.add(envelope.sha256)
        lines.append(f"imported from {remote}: {describe(signed)}")
    return lines


def key_fingerprint(envelope: Envelope) -> str:
    return signature_info(envelope.signature).fingerprint


def require_key(key: Path | None, *, why: str) -> Path:
    if key is None:
        raise UsageError(f"{why} needs --key PATH (your SSH key; a .pub key signs through the ssh-agent)")
    return key
