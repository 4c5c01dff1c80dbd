"""One active run per target org: `.cutover/locks/<org>.lock`, created atomically (O_EXCL).

The file holds JSON {run_id, org, pid, host, started, pid_started}. A lock is *stale* when it was taken on this host
by a process that no longer exists (or whose pid was reused by another process: `pid_started` is the process start
time from /proc, when available). A stale lock still refuses a new run, because only a person should decide that
the dead run left nothing half-done; the message names the command that breaks it. A lock taken on another host is
never considered stale (we cannot tell), only `--force` breaks it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cutover.errors import RunLocked, UsageError


@dataclass(frozen=True)
class LockInfo:
    org: str
    run_id: str
    pid: int
    host: str
    started: str
    pid_started: str | None
    path: Path

    @property
    def stale(self) -> bool:
        return self.host == socket.gethostname() and not _process_alive(self.pid, self.pid_started)

    def describe(self) -> str:
        state = "stale: that process is no longer running" if self.stale else "active"
        return f"run {self.run_id} (pid {self.pid} on {self.host}, since {self.started}; {state})"


def lock_file_name(org: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", org)
    return f"{safe}.lock"


def _process_start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    # Field 22 (starttime) comes after the parenthesised command name, which may itself contain spaces.
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def _process_alive(pid: int, pid_started: str | None) -> bool:
    if pid <= 0:  # a lock file left half-written by a crash names no process
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if pid_started is not None:
        current = _process_start_time(pid)
        if current is not None and current != pid_started:
            return False  # the pid was reused by an unrelated process
    try:  # a zombie (killed, not yet reaped by its parent) holds its pid but runs nothing
        state = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[-1].split()[0]
        if state == "Z":
            return False
    except (OSError, IndexError):
        pass
    return True


class OrgLocks:
    """The lock files of one project (`.cutover/locks/`)."""

    def __init__(self, cutover_dir: Path) -> None:
        self.dir = cutover_dir / "locks"

    def path(self, org: str) -> Path:
        return self.dir / lock_file_name(org)

    def read(self, org: str) -> LockInfo | None:
        return self._read(self.path(org), org)

    def _read(self, path: Path, org: str) -> LockInfo | None:
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        try:
            pid = int(data.get("pid") or 0)
        except (TypeError, ValueError, OverflowError):
            pid = 0
        # A lock that names no process (half-written by an older version, or edited by hand) is stale on this host.
        pid_started = data.get("pid_started")
        return LockInfo(
            org=str(data.get("org") or org),
            run_id=str(data.get("run_id") or "?"),
            pid=pid,
            host=str(data.get("host") or socket.gethostname()),
            started=str(data.get("started") or "?"),
            pid_started=pid_started if isinstance(pid_started, str) else None,
            path=path,
        )

    def all(self) -> list[LockInfo]:
        if not self.dir.is_dir():
            return []
        out = []
        for path in sorted(self.dir.glob("*.lock")):
            info = self._read(path, path.stem)
            if info:
                out.append(info)
        return out

    def acquire(self, org: str, run_id: str, started: str) -> LockInfo:
        """Take the org's lock for `run_id` or raise RunLocked naming the holder (and how to break a stale lock)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.path(org)
        pid = os.getpid()
        payload = {
            "org": org,
            "run_id": run_id,
            "pid": pid,
            "host": socket.gethostname(),
            "started": started,
            "pid_started": _process_start_time(pid),
        }
        # Written whole under a private name, then linked into place (link fails if the lock exists, like O_EXCL):
        # a reader never sees an empty lock (it would call a live run stale), and a crash mid-write leaves no lock.
        tmp = self.dir / f".{path.name}.{pid}.{secrets.token_hex(4)}.tmp"
        try:
            with tmp.open("x", encoding="utf-8") as handle:
                json.dump(payload, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.link(tmp, path)
        except FileExistsError:
            holder = self.read(org)
            if holder is None:  # released between our attempt and the read: try once more
                return self.acquire(org, run_id, started)
            raise self.locked_error(org, holder) from None
        finally:
            tmp.unlink(missing_ok=True)
        return LockInfo(org, run_id, pid, payload["host"], started, payload["pid_started"], path)

    @staticmethod
    def locked_error(org: str, holder: LockInfo) -> RunLocked:
        if holder.stale:
            return RunLocked(
                f"target org {org} is locked by {holder.describe()}",
                hint=f"check `cutover status {holder.run_id}`, then break it: cutover lock break {org} --yes",
            )
        return RunLocked(
            f"target org {org} is locked by {holder.describe()}; one run per org at a time",
            hint=f"wait for it to finish, or watch it with: cutover status {holder.run_id}",
        )

    def holds(self, org: str, run_id: str) -> bool:
        """True if this process still holds the org's lock for `run_id` (nobody broke it)."""
        info = self.read(org)
        return info is not None and info.run_id == run_id and info.pid == os.getpid()

    def release(self, org: str, run_id: str) -> None:
        if self.holds(org, run_id):
            try:
                self.path(org).unlink()
            except FileNotFoundError:
                pass

    def break_lock(self, org: str, *, force: bool = False) -> LockInfo:
        """Remove the org's lock. A live (or unknowable, other-host) lock needs `force`."""
        info = self.read(org)
        if info is None:
            raise UsageError(f"target org {org} is not locked")
        if not info.stale and not force:
            raise RunLocked(
                f"refusing to break the lock on {org}: it is held by {info.describe()}",
                hint=f"stop that run first; only if you are sure it is gone: cutover lock break {org} --force --yes",
            )
        try:
            info.path.unlink()
        except FileNotFoundError:
            pass
        return info
