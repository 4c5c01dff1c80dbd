"""Redaction of secrets from anything cutover writes or raises: logs, evidence, reports, the database, errors.

Salesforce access tokens look like `00D<12-15 word chars>!<token>`; the CLI and our own code may also carry them
as `Bearer ...`, `<sessionId>...</sessionId>`, `"accessToken": "..."` or `SF_ACCESS_TOKEN=...`. Values registered
with `register_secret` (for example a token read from `sf org auth show-access-token`) are masked wherever they
appear, whatever their shape.
"""

from __future__ import annotations

import re
import threading
from typing import Any

MASK = "[REDACTED]"

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Salesforce session ids / access tokens: org id prefix, '!', then the opaque part.
    (re.compile(r"00D[A-Za-z0-9]{12,15}![A-Za-z0-9._\-]+"), MASK),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/\-=!]{8,}"), r"\1" + MASK),
    (re.compile(r"(?i)(authorization:\s*(?:oauth|bearer)\s+)\S+"), r"\1" + MASK),
    (re.compile(r"(?i)(<(?:\w+:)?sessionId>)[^<]*(</(?:\w+:)?sessionId>)"), r"\1" + MASK + r"\2"),
    (
        re.compile(
            r"(?i)(\"(?:accessToken|access_token|refreshToken|refresh_token|clientSecret|sfdxAuthUrl|password)\"\s*:\s*\")"
            r"(?!\[REDACTED\])[^\"]+(\")"
        ),
        r"\1" + MASK + r"\2",
    ),
    (re.compile(r"(?i)\b((?:SF|SFDX)_ACCESS_TOKEN=)\S+"), r"\1" + MASK),
    (re.compile(r"force://[^\s\"']+"), "force://" + MASK),
]
# Something every pattern above needs (case-insensitive, so a superset): text without any of these is left as is.
_MAYBE_SECRET = re.compile(r'(?i)00D|bearer|authorization|sessionid|"|access_token=|force://')

_registered: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Mask this exact value everywhere from now on (in this process)."""
    if value and len(value) >= 6:
        with _lock:
            _registered.add(value)


def redact(text: str) -> str:
    """Return `text` with every known secret shape and registered secret value masked."""
    if not text:
        return text
    with _lock:
        values = sorted(_registered, key=len, reverse=True)
    for value in values:
        text = text.replace(value, MASK)
    if _MAYBE_SECRET.search(text) is None:  # one search instead of every pattern: most text holds no secret
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_bytes(data: bytes) -> bytes:
    return redact(data.decode("utf-8", errors="replace")).encode("utf-8")


def redact_obj(value: Any) -> Any:
    """Redact every string inside a JSON-like structure; keys named like secrets are masked whole."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(key, str) and _SECRET_KEY.search(key) and isinstance(item, str) and item:
                out[key] = item if item.startswith(MASK) else MASK
            else:
                out[key] = redact_obj(item)
        return out
    if isinstance(value, list | tuple):
        return [redact_obj(item) for item in value]
    return value


_SECRET_KEY = re.compile(r"(?i)^(access_?token|refresh_?token|client_?secret|sfdx_?auth_?url|password|session_?id)$")
