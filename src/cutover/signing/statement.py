"""The signed sign-off statement: canonical JSON of what a person attests, and the file it travels in.

A statement names the run, the step and the SHA-256 of the step's definition (see `cutover.engine.replan`), the role,
the person, the note and evidence (with the evidence file's SHA-256 when it names a file), the runbook's SHA-256, the
commit, the audit head at signing time when known, the time and a nonce. It is signed as the exact UTF-8 bytes of
`canonical()` (sorted keys, no spaces); the file (`cutover signoff ... --output FILE`) keeps those bytes as a string
next to the armored signature, so nothing has to be re-serialised to verify it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cutover.errors import UsageError

VERSION = 1
KIND = "cutover-signoff"
MAX_FILE_BYTES = 256 * 1024


@dataclass(frozen=True)
class Statement:
    run: str
    step: str
    definition: str
    role: str
    by: str
    note: str | None
    evidence: str | None
    evidence_sha256: str | None
    runbook_sha256: str | None
    commit: str | None
    audit_head: str | None
    at: str
    nonce: str
    kind: str = KIND
    version: int = VERSION

    def canonical(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def parse(cls, text: str) -> Statement:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"the sign-off statement is not JSON ({exc.msg})") from None
        if not isinstance(data, dict) or data.get("kind") != KIND:
            raise UsageError("not a cutover sign-off statement (its kind is not cutover-signoff)")
        if data.get("version") != VERSION:
            raise UsageError(f"sign-off statement version {data.get('version')!r} is not supported (this cutover: 1)")
        names = set(cls.__dataclass_fields__)
        if set(data) != names:
            raise UsageError(f"the sign-off statement's fields differ from version 1: {sorted(set(data) ^ names)}")
        strings = names - {"version", "note", "evidence", "evidence_sha256", "runbook_sha256", "commit", "audit_head"}
        bad = sorted(
            k for k in names - {"version"} if not isinstance(data[k], str) and (k in strings or data[k] is not None)
        )
        if bad:
            raise UsageError(f"the sign-off statement has values of the wrong type: {', '.join(bad)}")
        statement = cls(**data)
        if statement.canonical() != text:
            raise UsageError("the sign-off statement is not in canonical form (it was re-serialised or edited)")
        return statement


def new_statement(**fields: Any) -> Statement:
    return Statement(nonce=secrets.token_hex(8), **fields)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Envelope:
    """A statement's exact text and its armored SSH signature: what `--output` writes and `import` reads."""

    statement_text: str
    signature: str

    @property
    def statement(self) -> Statement:
        return Statement.parse(self.statement_text)

    @property
    def sha256(self) -> str:
        return sha256_text(self.statement_text)

    def dumps(self) -> str:
        return (
            json.dumps(
                {"cutover_signoff": VERSION, "statement": self.statement_text, "signature": self.signature}, indent=2
            )
            + "\n"
        )

    @classmethod
    def loads(cls, text: str, where: str) -> Envelope:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{where}: not a sign-off statement file (JSON: {exc.msg})") from None
        if not isinstance(data, dict) or data.get("cutover_signoff") != VERSION:
            raise UsageError(f"{where}: not a cutover sign-off statement file")
        statement, signature = data.get("statement"), data.get("signature")
        if not isinstance(statement, str) or not isinstance(signature, str):
            raise UsageError(f"{where}: the file needs a statement and a signature (strings)")
        return cls(statement, signature)

    @classmethod
    def read(cls, path: Path) -> Envelope:
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise UsageError(f"{path}: too large for a sign-off statement ({path.stat().st_size} bytes)")
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageError(f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{path}: cannot read it ({exc})") from None
        return cls.loads(text, str(path))
