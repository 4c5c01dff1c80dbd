"""Runbook sections about people: roles and contacts, separation of duties, reviews, sign-offs."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from cutover.runbook.models._defaults import default_dict, default_list
from cutover.runbook.models._types import (
    Count,
    Identifier,
    RoleId,
    Stage,
    _Model,
    is_unset_contact,
)


class Role(_Model):
    """Seed "Team Roles" and "Deployment Contacts". `TBD` is allowed but reported by `Runbook.problems()`."""

    title: str
    responsibility: str = ""
    name: str = "TBD"
    email: str = "TBD"
    phone: str = "TBD"
    required: bool = True

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
