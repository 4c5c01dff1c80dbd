"""Runbook sections about people: roles and contacts, separation of duties, reviews, sign-offs."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from cutover.runbook.models._defaults import default_dict, default_list
from cutover.runbook.models._types import (
    Count,
    Identifier,
    ProjectPath,
    RoleId,
    Stage,
    _Model,
    is_unset_contact,
)

#: Public key types `ssh-keygen -Y sign` can sign with (plain keys, not certificates).
SSH_KEY_TYPES = (
    "ssh-ed25519",
    "sk-ssh-ed25519@openssh.com",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)


def _public_key(value: str) -> str:
    """One SSH public key line, as in `~/.ssh/id_ed25519.pub`: `TYPE BASE64 [comment]` (the comment is kept)."""
    parts = value.split()
    if len(parts) < 2 or parts[0] not in SSH_KEY_TYPES:
        raise ValueError(
            f"{value[:60]!r} is not an SSH public key line ('ssh-ed25519 AAAA... comment', as in ~/.ssh/id_ed25519.pub)"
        )
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"the {parts[0]} key {parts[1][:20]!r}... is not valid base64") from None
    name = parts[0].encode()
    if blob[:4] != len(name).to_bytes(4, "big") or blob[4 : 4 + len(name)] != name:
        raise ValueError(f"the key {parts[1][:20]!r}... is not a {parts[0]} key (its data names another type)")
    return " ".join(parts)


SigningKey = Annotated[str, AfterValidator(_public_key)]


class Person(_Model):
    """Someone who holds a role, with the SSH public keys their sign-offs are signed with."""

    name: str = Field(min_length=1, max_length=200)
    email: str = ""
    signing_keys: list[SigningKey] = Field(default_factory=list, max_length=20)


class Role(_Model):
    """Seed "Team Roles" and "Deployment Contacts". `TBD` is allowed but reported by `Runbook.problems()`."""

    title: str
    responsibility: str = ""
    name: str = "TBD"
    email: str = "TBD"
    phone: str = "TBD"
    required: bool = True
    #: SSH public keys of the person named in `name` (their sign-offs are signed with one of them).
    signing_keys: list[SigningKey] = Field(default_factory=list, max_length=20)
    #: More people holding the role (each with their own keys), besides `name`.
    people: list[Person] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _keys_have_a_holder(self) -> Role:
        if self.signing_keys and is_unset_contact(self.name):
            raise ValueError("signing_keys belong to the person in `name`: name them (or list them under `people`)")
        return self

    def holders(self) -> list[Person]:
        """Everyone holding the role: the person in `name` (when set) and `people`."""
        named = (
            []
            if is_unset_contact(self.name)
            else [Person(name=self.name, email=self._email(), signing_keys=self.signing_keys)]
        )
        return named + list(self.people)

    def _email(self) -> str:
        return "" if is_unset_contact(self.email) else self.email

    def unset_fields(self) -> list[str]:
        return [key for key in ("name", "email", "phone") if is_unset_contact(getattr(self, key))]

    @property
    def reachable(self) -> bool:
        """A name plus a usable email or phone (the rule: cutover.checks.contacts)."""
        from cutover.checks.contacts import reachable

        return reachable(self.name, self.email, self.phone)


def _default_roles() -> dict[str, Role]:
    return {role_id: Role.model_validate(role) for role_id, role in default_dict("roles").items()}


class SeparationOfDuties(_Model):
    """Pairs (or groups) of roles that must be held by different people in one run."""

    exclusive: list[Annotated[list[RoleId], Field(min_length=2, max_length=100)]] = Field(
        default_factory=lambda: [["developer", "security_reviewer"]], max_length=100
    )
    reviewer_not_author: bool = True
    #: `required`: a sign-off must be signed with a key the runbook lists (`roles.<id>.signing_keys`,
    #: `roles.<id>.people[].signing_keys` or `allowed_signers`); `optional`: unsigned sign-offs are accepted too.
    signatures: Literal["optional", "required"] = "optional"
    #: A file in git's allowed_signers format (principals are people: their name or email in `roles`).
    allowed_signers: ProjectPath | None = None


class ReviewsConfig(_Model):
    """Seed "Code review completed (minimum 2 reviewers)"."""

    min_approvals: Count = Field(default=1, ge=0, le=20)


class Signoff(_Model):
    """A manual checklist item: a named person in `role` attests it, with evidence when required."""

    id: Identifier
    title: str
    role: RoleId
    stage: Stage = "preflight"
    evidence_required: bool = False
    blocking: bool = True
    description: str = ""
    source: str = ""  # the seed section it comes from


def _default_signoffs() -> list[Signoff]:
    return [Signoff.model_validate(signoff) for signoff in default_list("signoffs")]
