"""Running the `sf` binary: binary resolution, a non-interactive environment, timeouts, JSON capture, redaction.

Nothing here knows what a command means; `runner.SfCli` builds argv and reads the results. Every text that leaves
this module (argv, stdout, stderr, the parsed envelope) has been through `cutover.redact`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cutover.redact import redact, redact_obj

# The CLI must never wait for a human, phone home, update itself or colour its JSON.
NON_INTERACTIVE_ENV = {
    "SF_DISABLE_TELEMETRY": "true",
    "SF_SKIP_NEW_VERSION_CHECK": "true",
    "SF_DISABLE_AUTOUPDATE": "true",
    "SF_AUTOUPDATE_DISABLE": "true",
    "SFDX_DISABLE_TELEMETRY": "true",
    "NODE_NO_WARNINGS": "1",  # Node deprecation warnings would land on stderr, which we keep as evidence
}
# FORCE_COLOR puts ANSI codes into the JSON; the CLI's HTTP layer honours proxies and ignores NO_PROXY.
DROPPED_ENV = (
    "FORCE_COLOR",
    "http_proxy",
    "https_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    # A token in the caller's environment must not ride along on every call; login passes it explicitly.
    "SF_ACCESS_TOKEN",
    "SFDX_ACCESS_TOKEN",
)
PIPE_DRAIN_S = 5.0
MAX_JSON_DEPTH = 64  # levels of nested lists/objects; sf output uses fewer than 10
MAX_DECODE_ATTEMPTS = 8
TERM_GRACE_S = 3.0


@dataclass(frozen=True)
class SfResult:
    """One finished (or killed) `sf` invocation. Every text field is already redacted."""

    argv: tuple[str, ...]
    exit_code: int | None  # None when we killed it on timeout
    envelope: Any  # the parsed JSON document (dict for every SfCommand), None when stdout was not JSON
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool = False
    cwd: str | None = field(default=None, compare=False)

    @property
    def command_line(self) -> str:
        """`sf project deploy start ...` as a human would type it (binary path and --json left out)."""
        shown = [a for a in self.argv[1:] if a != "--json"]
        return "sf " + shlex.join(shown) if shown else "sf"

    @property
    def is_error_envelope(self) -> bool:
        """An error envelope has a `name` and no `result` (a "completed but failed" document has `result`)."""
        env = self.envelope
        return isinstance(env, Mapping) and "name" in env and "result" not in env

    @property
    def result(self) -> Any:
        """The envelope's `result`, or the whole document for commands that print a bare object (`sf version`)."""
        env = self.envelope
        if isinstance(env, Mapping) and "result" in env:
            return env["result"]
        return env

    @property
    def warnings(self) -> list[str]:
        env = self.envelope
        raw = env.get("warnings") if isinstance(env, Mapping) else None
        out = []
        for item in raw if isinstance(raw, list) else []:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, Mapping) and "message" in item:
                out.append(str(item["message"]))
        return out

    def to_evidence(self) -> dict[str, Any]:
        """A JSON-ready record of the call, for audit/evidence files."""
        return {
            "argv": list(self.argv),
            "exit_code": self.exit_code,
            "timed_out": self.timed_out,
            "duration_s": round(self.duration_s, 3),
            "envelope": self.envelope,
            "stderr": self.stderr,
        }


def resolve_binary(
    explicit: str | os.PathLike[str] | None, env: Mapping[str, str], base_dir: Path | None = None
) -> str | None:
    """Explicit argument (runbook `sf.binary`) > `CUTOVER_SF` > `sf` on PATH. Returns None when nothing is found.

    An explicit or `CUTOVER_SF` value that names a missing file is *not* silently replaced by PATH's `sf`: the user
    asked for that binary, so we report it missing rather than deploy with a different CLI version. A relative path
    is taken from `base_dir` (the project folder, where the runbook lives) when given.
    """
    for candidate in (explicit, env.get("CUTOVER_SF")):
        if candidate:
            text = os.fspath(candidate)
            if os.sep in text or text.startswith("."):
                path = Path(text).expanduser()
                if not path.is_absolute() and base_dir is not None:
                    path = base_dir / path
                return str(path) if path.is_file() and os.access(path, os.X_OK) else None
            return shutil.which(text, path=env.get("PATH"))
    return shutil.which("sf", path=env.get("PATH"))


def build_env(base: Mapping[str, str] | None, *, home: Path | None, extra: Mapping[str, str] | None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    for name in DROPPED_ENV:
        env.pop(name, None)
    env.update(NON_INTERACTIVE_ENV)
    if home is not None:
        # An isolated HOME also isolates oclif's config/data/cache folders, which follow XDG_* when set.
        env["HOME"] = str(home)
        env["XDG_CONFIG_HOME"] = str(Path(home) / ".config")
        env["XDG_DATA_HOME"] = str(Path(home) / ".local" / "share")
        env["XDG_CACHE_HOME"] = str(Path(home) / ".cache")
    if extra:
        env.update(extra)
    return env


class JsonTooDeep(ValueError):
    """A JSON document nested deeper than MAX_JSON_DEPTH (sf output is a few levels deep; 1,000 is an attack)."""


def json_depth_exceeds(doc: Any, limit: int) -> bool:
    """True when `doc` nests lists/objects more than `limit` levels deep. Iterative: no recursion to exhaust."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _loads(decode: Callable[[], Any]) -> Any:
    try:
        doc = decode()
    except RecursionError:  # the C decoder recurses per level: far deeper than any limit we allow
        raise JsonTooDeep(f"JSON nested deeper than {MAX_JSON_DEPTH} levels (the limit)") from None
    if json_depth_exceeds(doc, MAX_JSON_DEPTH):
        raise JsonTooDeep(f"JSON nested deeper than {MAX_JSON_DEPTH} levels (the limit)")
    return doc


def decode_json_document(stdout: str) -> Any:
    """The single JSON document on stdout. Text printed before it (an update warning) or after it is skipped: the
    document is decoded from the first line that starts with `{` or `[` (at most MAX_DECODE_ATTEMPTS lines are
    tried, so a large broken document is not re-parsed per line). Returns None when there is none; raises
    JsonTooDeep for a document nested deeper than MAX_JSON_DEPTH."""
    text = stdout.strip()
    if not text:
        return None
    try:
        return _loads(lambda: json.loads(text))
    except JsonTooDeep:
        raise
    except ValueError:
        pass
    decoder = json.JSONDecoder()
    offset = 0
    attempts = 0
    for line in stdout.splitlines(keepends=True):
        if line.startswith(("{", "[")):
            attempts += 1
            try:
                return _loads(lambda at=offset: decoder.raw_decode(stdout, at)[0])
            except JsonTooDeep:
                raise
            except ValueError:
                if attempts >= MAX_DECODE_ATTEMPTS:
                    return None
        offset += len(line)
    return None


def parse_json_stdout(stdout: str) -> Any:
    """`decode_json_document`, with a document nested too deep read as no document (the caller reports that)."""
    try:
        return decode_json_document(stdout)
    except JsonTooDeep:
        return None


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop the CLI and its children (node spawns workers): TERM first, then KILL whatever of the group lingers.
    The group, not just sf: a worker that ignores TERM would otherwise outlive an sf that obeyed it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + TERM_GRACE_S
    while time.monotonic() < deadline:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.05)  # reap sf itself, or its zombie keeps the group alive
        try:
            os.killpg(proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            return  # the whole group is gone
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=TERM_GRACE_S)


def _drain(proc: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    """What is left on the pipes after the group was killed. A descendant that called setsid() escapes the kill
    and may hold the pipes open for ever: take what arrived within a few seconds and stop reading."""
    try:
        return proc.communicate(timeout=PIPE_DRAIN_S)
    except subprocess.TimeoutExpired as exc:
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=PIPE_DRAIN_S)
        return exc.output or b"", exc.stderr or b""


def run_process(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout: float,
    cwd: Path | None = None,
) -> SfResult:
    """Run argv (never through a shell) and capture a redacted SfResult. Raises OSError if it cannot start."""
    started = time.monotonic()
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env),
        cwd=str(cwd) if cwd else None,
        start_new_session=True,  # its own process group, so a timeout kills node's children too
    )
    timed_out = False
    try:
        out_b, err_b = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # sf itself may have exited while a descendant that left its process group still holds the pipes.
        timed_out = proc.poll() is None
        _kill_group(proc)
        out_b, err_b = _drain(proc)
    except BaseException:  # Ctrl-C in cutover must not leave a detached sf running
        _kill_group(proc)
        raise
    stdout_raw = out_b.decode("utf-8", errors="replace")
    envelope = parse_json_stdout(stdout_raw)
    return SfResult(
        argv=tuple(redact(a) for a in argv),
        exit_code=None if timed_out else proc.returncode,
        envelope=redact_obj(envelope) if envelope is not None else None,
        stdout=redact(stdout_raw),
        stderr=redact(err_b.decode("utf-8", errors="replace")),
        duration_s=time.monotonic() - started,
        timed_out=timed_out,
        cwd=str(cwd) if cwd else None,
    )
