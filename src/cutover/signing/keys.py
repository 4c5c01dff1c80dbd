"""Who holds which key: the runbook's `roles.<id>.signing_keys` / `roles.<id>.people[].signing_keys` and the
`separation_of_duties.allowed_signers` file, as one allowed_signers text for ssh-keygen plus the map back from its
principals to people. Also the SHA256 fingerprints (as `ssh-keygen -l` prints them) of keys and signatures.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from cutover.errors import UsageError
from cutover.runbook.models.people import Person
from cutover.runbook.models.runbook import Runbook
from cutover.signing.sshkeygen import NAMESPACE

_PRINCIPAL_PREFIX = "cutover-person-"


def fingerprint(blob: bytes) -> str:
    """`SHA256:...` of a public key blob, as ssh-keygen prints it."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def key_blob(line: str) -> bytes:
    """The binary public key of a `TYPE BASE64 [comment]` line."""
    return base64.b64decode(line.split()[1])


def _string(data: bytes, at: int) -> tuple[bytes, int]:
    if at + 4 > len(data):
        raise ValueError("truncated")
    size = int.from_bytes(data[at : at + 4], "big")
    if at + 4 + size > len(data):
        raise ValueError("truncated")
    return data[at + 4 : at + 4 + size], at + 4 + size


@dataclass(frozen=True)
class SignatureInfo:
    public_key: bytes
    namespace: str

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)


def signature_info(armored: str) -> SignatureInfo:
    """The signer's public key and the namespace of an armored SSH signature (not verified: `verify` does that)."""
    lines = [line.strip() for line in armored.strip().splitlines()]
    if len(lines) < 3 or lines[0] != "-----BEGIN SSH SIGNATURE-----" or lines[-1] != "-----END SSH SIGNATURE-----":
        raise UsageError("the signature is not an SSH signature (-----BEGIN SSH SIGNATURE----- ... END)")
    try:
        data = base64.b64decode("".join(lines[1:-1]), validate=True)
        if data[:6] != b"SSHSIG":
            raise ValueError("no SSHSIG magic")
        public_key, at = _string(data, 10)
        namespace, _ = _string(data, at)
    except (binascii.Error, ValueError) as exc:
        raise UsageError(f"the SSH signature is damaged ({exc})") from None
    return SignatureInfo(public_key, namespace.decode("utf-8", "replace"))


@dataclass
class Holder:
    """A person who may sign: their name and email as the runbook knows them, and the roles it names them for."""

    name: str
    email: str = ""
    roles: set[str] = field(default_factory=set)

    def is_(self, who: str) -> bool:
        key = who.strip().casefold()
        return bool(key) and key in {self.name.strip().casefold(), self.email.strip().casefold()} - {""}


@dataclass
class KeyRing:
    """Every key the runbook trusts, as allowed_signers text, and who its principals are."""

    allowed_signers: str
    runbook_principals: dict[str, Holder]
    holders: list[Holder]
    keyed_roles: set[str]
    sources: list[str]

    @property
    def empty(self) -> bool:
        return not any(line.strip() and not line.lstrip().startswith("#") for line in self.allowed_signers.splitlines())

    def holder(self, principal: str) -> Holder:
        """The person behind an allowed_signers principal (a name or email the runbook's roles do not know is a
        person of that name)."""
        if principal in self.runbook_principals:
            return self.runbook_principals[principal]
        known = next((h for h in self.holders if h.is_(principal)), None)
        return known or Holder(principal, principal if "@" in principal else "")


def file_principals(line: str) -> list[str]:
    """The principals of one allowed_signers line (`a@x,"Quinn QA" [options] TYPE KEY`)."""
    text = line.strip()
    if not text or text.startswith("#"):
        return []
    field_chars: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif char.isspace() and not quoted:
            break
        else:
            field_chars.append(char)
    return [p.strip() for p in "".join(field_chars).split(",") if p.strip()]


def _holders(runbook: Runbook) -> list[tuple[Holder, list[str]]]:
    """Each person named in `roles` once (merged by name), with their roles and keys."""
    out: list[tuple[Holder, list[str]]] = []
    for role_id, role in runbook.roles.items():
        person: Person
        for person in role.holders():
            entry = next((e for e in out if e[0].is_(person.name)), None)
            if entry is None:
                entry = (Holder(person.name.strip(), person.email.strip()), [])
                out.append(entry)
            entry[0].roles.add(role_id)
            if person.email and not entry[0].email:
                entry[0].email = person.email.strip()
            entry[1].extend(k for k in person.signing_keys if k not in entry[1])
    return out


def keyring(runbook: Runbook, project_dir: Path) -> KeyRing:
    """The keys of the runbook (and of its allowed_signers file, read from the project)."""
    lines: list[str] = []
    principals: dict[str, Holder] = {}
    keyed: set[str] = set()
    sources: list[str] = []
    people = _holders(runbook)
    for index, (holder, keys) in enumerate(people, 1):
        if not keys:
            continue
        principal = f"{_PRINCIPAL_PREFIX}{index}"
        principals[principal] = holder
        keyed |= holder.roles
        for key in keys:
            kind, data = key.split()[:2]
            lines.append(f'{principal} namespaces="{NAMESPACE}" {kind} {data}')
    if principals:
        sources.append("roles.<id>.signing_keys")
    path_text = runbook.separation_of_duties.allowed_signers
    if path_text:
        path = project_dir / path_text
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageError(
                f"separation_of_duties.allowed_signers: {path_text} not found in the project",
                hint="commit the allowed_signers file, or remove the key from cutover.yaml",
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"separation_of_duties.allowed_signers: cannot read {path_text}: {exc}") from None
        sources.append(path_text)
        for line in text.splitlines():
            for principal in file_principals(line):
                if principal.startswith(_PRINCIPAL_PREFIX):
                    raise UsageError(f"{path_text}: the principal prefix {_PRINCIPAL_PREFIX!r} is reserved")
                for holder, _ in people:
                    if holder.is_(principal):
                        keyed |= holder.roles
            if file_principals(line):
                lines.append(line.strip())
    text = "".join(line + "\n" for line in lines)
    return KeyRing(text, principals, [h for h, _ in people], keyed, sources)
