"""Evidence files: `.cutover/runs/<run_id>/evidence/<step_id>/<name>`, redacted, written atomically.

A name is never overwritten: a second attempt of a step that records `stdout.txt` again gets `stdout-2.txt`, so the
SHA-256 recorded for the first attempt stays true (and `audit verify` keeps passing).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from cutover.redact import redact, redact_bytes, redact_obj

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    cleaned = _UNSAFE.sub("_", name).strip("._") or "evidence"
    return cleaned[:120]


def to_bytes(data: bytes | str | dict[str, Any] | list[Any], *, redact_it: bool) -> bytes:
    if isinstance(data, bytes):
        return redact_bytes(data) if redact_it else data
    if isinstance(data, str):
        return (redact(data) if redact_it else data).encode("utf-8")
    value = redact_obj(data) if redact_it else data
    return (json.dumps(value, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8")


def unique_path(folder: Path, name: str) -> Path:
    path = folder / name
    if not path.exists():
        return path
    stem, dot, suffix = name.partition(".")
    n = 2
    while True:
        candidate = folder / (f"{stem}-{n}{dot}{suffix}")
        if not candidate.exists():
            return candidate
        n += 1


def write_atomic(path: Path, content: bytes) -> str:
    """Write `content` to `path` via a temp file + os.replace; return its SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return hashlib.sha256(content).hexdigest()


def looks_like_text(content: bytes) -> bool:
    if b"\x00" in content[:8192]:
        return False
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
