"""Salesforce-shaped record ids.

The real CLI validates ids by prefix and length (a 19-character id gave `InvalidJobIdError`), so every id orgsim hands
out is 18 characters: a 3-character key prefix, 12 base-62 characters and the 3-character case-safe suffix Salesforce
computes from the capitalisation of the first 15.
"""

from __future__ import annotations

import secrets
import string

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_SUFFIX_ALPHABET = string.ascii_uppercase + "012345"

# Key prefixes orgsim uses; custom objects get a00, a01, ... from `Org.key_prefix`.
KEY_PREFIXES: dict[str, str] = {
    "Organization": "00D",
    "User": "005",
    "Profile": "00e",
    "Account": "001",
    "Contact": "003",
    "DeployRequest": "0Af",
    "RetrieveRequest": "09S",
    "AsyncApexJob": "707",
    "ApexTestRunResult": "05m",
    "ApexTestQueueItem": "709",
    "ApexTestResult": "07M",
    "ApexCodeCoverage": "71a",
    "ApexCodeCoverageAggregate": "715",
    "ApexOrgWideCoverage": "716",
    "ApexClass": "01p",
    "ApexTrigger": "01q",
    "ApexPage": "066",
    "CronTrigger": "08e",
    "CronJobDetail": "08a",
    "ApexLog": "07L",
    "PermissionSet": "0PS",
    "PermissionSetAssignment": "0Pa",
    "SetupAuditTrail": "0Ym",
}


def checksum_suffix(id15: str) -> str:
    """The 3-character suffix that makes a 15-character id case-insensitively unique."""
    if len(id15) != 15:
        raise ValueError(f"expected a 15-character id, got {len(id15)} characters")
    suffix = ""
    for chunk_start in (0, 5, 10):
        chunk = id15[chunk_start : chunk_start + 5]
        bits = sum(1 << position for position, char in enumerate(chunk) if "A" <= char <= "Z")
        suffix += _SUFFIX_ALPHABET[bits]
    return suffix


def to_18(id15: str) -> str:
    return id15 + checksum_suffix(id15)


def is_valid_id(value: str) -> bool:
    """True for a well-formed 15-character id or an 18-character id whose suffix matches."""
    if len(value) not in (15, 18) or not all(char in _BASE62 for char in value):
        return False
    return len(value) == 15 or checksum_suffix(value[:15]) == value[15:]


def complete_id(value: str) -> str:
    """The 18-character form of a 15-character id (or of an 18-character one whose suffix is wrong).

    Raises ValueError naming the problem when `value` cannot be an id (length, characters).
    """
    value = value.strip()
    if len(value) not in (15, 18):
        raise ValueError(f"an id has 15 characters (or 18 with its suffix); {value!r} has {len(value)}")
    bad = sorted({char for char in value[:15] if char not in _BASE62})
    if bad:
        raise ValueError(f"an id holds only letters and digits; {value!r} has {''.join(bad)!r}")
    return to_18(value[:15])


def fix_hint(value: str, kind: str, prefix: str) -> str:
    """How to get a valid 18-character id from a wrong one, for scenario errors."""
    if value[:3] != prefix:
        return f"must be an 18-character {kind} id starting with {prefix}"
    try:
        fixed = complete_id(value[:15]) if len(value) >= 15 else None
    except ValueError:
        fixed = None
    hint = f"must be an 18-character {kind} id starting with {prefix}, with the checksum suffix of its first 15"
    hint += f" characters (`orgsim org-id {value[:15]}` prints it"
    return hint + (f": {fixed})" if fixed else ")")


def new_id(key_prefix: str) -> str:
    """A fresh 18-character id with `key_prefix` (3 characters, e.g. '0Af' for a deploy)."""
    if len(key_prefix) != 3:
        raise ValueError(f"key prefix must be 3 characters, got {key_prefix!r}")
    # '0000' after the prefix mimics the pod/reserved characters real ids carry; the rest is random.
    body = key_prefix + "0000" + "".join(secrets.choice(_BASE62) for _ in range(8))
    return to_18(body)


def same_id(left: str | None, right: str | None) -> bool:
    """Salesforce accepts a 15- or 18-character form of the same id wherever an id is expected."""
    if not left or not right:
        return False
    return left[:15] == right[:15]
