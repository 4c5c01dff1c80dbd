"""Verifying a signed statement: whose key made the signature (`ssh-keygen -Y find-principals` over the runbook's
keys), and whether it is a good `cutover-signoff` signature of the exact statement by that person's key
(`ssh-keygen -Y verify -I <principal>`). The identity that comes out is the runbook's person, never a typed name."""

from __future__ import annotations

from cutover.engine.signoffs import VerifiedSignature
from cutover.errors import Failure
from cutover.signing import sshkeygen
from cutover.signing.keys import KeyRing, signature_info
from cutover.signing.statement import Envelope


def verify_envelope(envelope: Envelope, ring: KeyRing, *, role: str, by: str) -> VerifiedSignature:
    """The verified signer of `envelope`, who must be `by` and may sign as `role`; else Failure naming why."""
    info = signature_info(envelope.signature)
    fp = info.fingerprint
    if info.namespace != sshkeygen.NAMESPACE:
        raise Failure(f"the signature by key {fp} is for namespace {info.namespace!r}, not {sshkeygen.NAMESPACE!r}")
    if ring.empty:
        raise Failure(
            f"the runbook lists no signing keys, so the signature by key {fp} cannot be verified",
            hint="list people's keys in roles.<id>.signing_keys or separation_of_duties.allowed_signers",
        )
    principals = sshkeygen.find_principals(envelope.signature, ring.allowed_signers)
    where = " or ".join(ring.sources)
    if not principals:
        raise Failure(f"the key {fp} is not listed in the runbook ({where}): sign-off refused")
    holders = [(p, ring.holder(p)) for p in principals]
    matching = [(p, h) for p, h in holders if h.is_(by)]
    if not matching:
        owners = ", ".join(dict.fromkeys(h.name for _, h in holders))
        raise Failure(f"the key {fp} belongs to {owners}, not {by}: sign-off refused")
    principal, holder = matching[0]
    good, answer = sshkeygen.verify(
        envelope.statement_text.encode("utf-8"), envelope.signature, ring.allowed_signers, principal
    )
    if not good:
        raise Failure(
            f"the signature by {holder.name}'s key {fp} does not verify ({answer}): the statement was changed after "
            "it was signed, or the signature is for another statement"
        )
    if role in ring.keyed_roles and role not in holder.roles:
        raise Failure(
            f"{holder.name} is not named for role {role} in the runbook (roles.{role}), so their key cannot sign as "
            f"{role}"
        )
    return VerifiedSignature(
        signer=holder.name,
        fingerprint=fp,
        principal=principal,
        statement=envelope.statement_text,
        signature=envelope.signature,
        statement_sha256=envelope.sha256,
    )
