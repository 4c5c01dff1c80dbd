"""Salesforce refuses to delete a custom object or custom field that Apex still uses.

A deletion in destructiveChangesPre.xml is checked against the org's Apex as it is before the deploy (minus the Apex
deleted in the same phase); one in destructiveChanges(Post).xml against the Apex after the deploy. So a rollback
that deletes a field before the class that reads it fails, as it would in a real org.
"""

from __future__ import annotations

import re
from typing import Any

from orgsim import apexsim
from orgsim.metadata import types as mdtypes

_WORD = re.compile(r"[A-Za-z_]\w*")


def _words(source: apexsim.ApexSource) -> set[str]:
    return {w.lower() for w in _WORD.findall(apexsim.blank_comments_and_strings(source.body))}


def user_of(type_name: str, full_name: str, sources: list[apexsim.ApexSource]) -> apexsim.ApexSource | None:
    """The first Apex class or trigger (by name) that mentions custom object or custom field `full_name`."""
    if type_name == "CustomObject":
        needed = {full_name.lower()}
    elif type_name == "CustomField" and "." in full_name:
        sobject, field = full_name.lower().split(".", 1)
        needed = {sobject, field}
    else:
        return None
    if not mdtypes.is_custom_name(full_name):
        return None
    for source in sorted(sources, key=lambda s: (s.kind, s.name.lower())):
        if needed <= _words(source):
            return source
    return None


def problem(type_name: str, source: apexsim.ApexSource) -> str:
    what = "custom object" if type_name == "CustomObject" else "custom field"
    kind = "Apex Class" if source.kind == "Class" else "Apex Trigger"
    return f"This {what} is referenced elsewhere in salesforce.com. : {kind} - {source.name}."


def refuse(
    phases: list[tuple[list[list[str]], list[apexsim.ApexSource]]],
    successes: list[dict[str, Any]],
    failures: list[dict[str, Any]],
) -> None:
    """For each (deletions, Apex that remains when they happen): turn a deletion still used into a failure."""
    for deletions, sources in phases:
        for type_name, full_name in list(deletions):
            user = user_of(type_name, full_name, sources)
            if user is None:
                continue
            deletions.remove([type_name, full_name])
            for message in [
                m
                for m in successes
                if m["deleted"] and m["componentType"] == type_name and m["fullName"].lower() == full_name.lower()
            ]:
                successes.remove(message)
                message.update(
                    success=False, deleted=False, changed=False, problem=problem(type_name, user), problemType="Error"
                )
                failures.append(message)
