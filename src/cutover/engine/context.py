"""`StepContext`: everything a step may do to the run — evidence, external job ids, events, commands, progress.

Every write is redacted, committed immediately with its event (so a crash right after `set_external_id` still lets
resume re-attach to the job), and never overwrites earlier evidence.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cutover.engine.evidence import looks_like_text, safe_name, to_bytes, unique_path, write_atomic
from cutover.engine.model import CommandResult, Evidence, RunState, SignoffRecord, StepRecord, StepSpec
from cutover.engine.progress import Progress
from cutover.redact import redact, redact_obj

if TYPE_CHECKING:
    from cutover.engine.store import Store


class StepContext:
    """Handed to `Step.run(ctx)` / `Step.reattach(ctx, external_ids)`."""

    def __init__(
        self,
        *,
        store: Store,
        record: StepRecord,
        project_dir: Path,
        progress: Progress | None = None,
        cancelled: threading.Event | None = None,
    ) -> None:
        self.store = store
        self.run_id = record.run_id
        self.record = record
        self.step: StepSpec = record.spec
        self.project_dir = project_dir
        self.attempt = record.attempt
        self.progress: Progress = progress or Progress()
        self._cancelled = cancelled or threading.Event()
        self._external_ids: dict[str, Any] = dict(record.external_ids)
        self.requested_run_state: RunState | None = None

    # -- facts -------------------------------------------------------------------------------------------------------
    @property
    def external_ids(self) -> Mapping[str, Any]:
        return dict(self._external_ids)

    @property
    def is_cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def evidence_dir(self) -> Path:
        return self.store.run_dir(self.run_id) / "evidence" / safe_name(self.step.id)

    def signoffs_for(self, step_id: str | None = None) -> list[SignoffRecord]:
        return self.store.logged_signoffs(self.run_id, step_id or self.step.id)

    # -- writes ------------------------------------------------------------------------------------------------------
    def record_evidence(
        self, name: str, data: bytes | str | dict[str, Any] | list[Any], *, redact: bool = True
    ) -> Evidence:
        """Store `data` as evidence file `name` (JSON for dict/list), redacted unless `redact=False`."""
        return self._store_bytes(name, to_bytes(data, redact_it=redact))

    def record_file(self, name: str, path: Path, *, redact: bool | None = None) -> Evidence:
        """Copy a file into the evidence folder. Text files are redacted (unless redact=False); binary files are
        copied as they are (an archive cannot be redacted without corrupting it)."""
        source = Path(path)
        size = source.stat().st_size
        if size <= 64 * 1024 * 1024:
            content = source.read_bytes()
            do_redact = looks_like_text(content) if redact is None else redact
            return self._store_bytes(name, to_bytes(content, redact_it=do_redact))
        # Large files (backups) are streamed, not redacted: they are archives, not logs.
        target = unique_path(self.evidence_dir, safe_name(name))
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
        from cutover.engine.chain import sha256_file

        return self._register(target, sha256_file(target), target.stat().st_size)

    def _store_bytes(self, name: str, content: bytes) -> Evidence:
        target = unique_path(self.evidence_dir, safe_name(name))
        digest = write_atomic(target, content)
        return self._register(target, digest, len(content))

    def _register(self, target: Path, digest: str, size: int) -> Evidence:
        relpath = target.relative_to(self.store.cutover_dir).as_posix()
        with self.store.transaction() as tx:
            self.store.add_evidence(tx, self.run_id, self.step.id, target.name, relpath, digest, size)
            tx.append_event(
                self.run_id,
                "evidence.recorded",
                self.step.id,
                {"name": target.name, "path": relpath, "sha256": digest, "size": size},
            )
        return Evidence(self.step.id, target.name, target, relpath, digest, size)

    def set_external_id(self, key: str, value: Any) -> None:
        """Record an external job id (e.g. a deploy id) *before* waiting on it; committed immediately."""
        self._external_ids[key] = value
        with self.store.transaction() as tx:
            self.store.update_step(tx, self.run_id, self.step.id, external_ids=self._external_ids)
            tx.append_event(self.run_id, "step.external_id", self.step.id, {"key": key, "value": value})

    def event(self, type_: str, **payload: Any) -> None:
        with self.store.transaction() as tx:
            tx.append_event(self.run_id, type_, self.step.id, payload)

    def request_run_state(self, state: RunState) -> None:
        """Ask the runner to end the run in `state` (a rollback step sets ROLLED_BACK)."""
        self.requested_run_state = state

    # -- commands ----------------------------------------------------------------------------------------------------
    def run_command(
        self,
        command: Sequence[str] | str,
        *,
        cwd: Path | None = None,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        name: str = "command",
    ) -> CommandResult:
        """Run a command; its stdout/stderr (redacted) and a result summary become evidence.

        A list is run as argv. A string is a shell line (`/bin/sh -c`), as runbook authors write them (CI-style
        `run:`); code should pass argv. On timeout or interruption the whole process group is terminated.
        """
        argv: list[str] | str = command if isinstance(command, str) else list(command)
        shown = redact(argv if isinstance(argv, str) else shlex.join(argv))
        full_env = {**os.environ, **(env or {})}
        started = time.monotonic()
        self.event("command.started", name=name, command=shown, cwd=str(cwd or self.project_dir), timeout=timeout)
        try:
            proc = subprocess.Popen(
                argv,
                shell=isinstance(argv, str),
                cwd=cwd or self.project_dir,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # so a timeout or interruption can stop the whole tree
                preexec_fn=_die_with_parent,
            )
        except OSError as exc:  # no such program or folder: a result like the shell's "command not found"
            message = redact(f"cannot run {shown}: {exc.strerror or exc}\n")
            stderr_evidence = self.record_evidence(f"{name}.stderr.txt", message)
            self.event("command.finished", name=name, command=shown, returncode=127, error=message.strip())
            return CommandResult(
                argv=tuple(argv) if isinstance(argv, list) else argv,
                returncode=127,
                stdout="",
                stderr=message,
                duration=time.monotonic() - started,
                evidence=(stderr_evidence,),
            )
        out: list[bytes] = []
        err: list[bytes] = []
        readers = [
            threading.Thread(target=self._pump, args=(proc.stdout, out), daemon=True),
            threading.Thread(target=self._pump, args=(proc.stderr, err), daemon=True),
        ]
        for reader in readers:
            reader.start()
        timed_out = False
        try:
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                _terminate(proc)
        except BaseException:
            _terminate(proc)
            raise
        for reader in readers:
            reader.join(timeout=5)
        duration = time.monotonic() - started
        stdout = redact(b"".join(out).decode("utf-8", errors="replace"))
        stderr = redact(b"".join(err).decode("utf-8", errors="replace"))
        returncode = proc.returncode if proc.returncode is not None else -1
        evidence = (
            self.record_evidence(f"{name}.stdout.txt", stdout),
            self.record_evidence(f"{name}.stderr.txt", stderr),
        )
        summary = {
            "command": shown,
            "returncode": returncode,
            "timed_out": timed_out,
            "duration_s": round(duration, 3),
            "stdout": evidence[0].relpath,
            "stderr": evidence[1].relpath,
        }
        self.event("command.finished", name=name, **redact_obj(summary))
        return CommandResult(
            argv=tuple(argv) if isinstance(argv, list) else argv,
            returncode=returncode,
            stdout=stdout,
            stderr=stderr,
            duration=duration,
            timed_out=timed_out,
            evidence=evidence,
        )

    def _pump(self, stream: Any, sink: list[bytes]) -> None:
        for line in iter(stream.readline, b""):
            sink.append(line)
            with suppress(Exception):  # a display problem must never lose the command's output
                self.progress.update(line.decode("utf-8", errors="replace"))
        stream.close()


def _load_prctl() -> Any:
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl() if os.name == "posix" else None
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: get SIGTERM if cutover dies (even by SIGKILL), so no orphaned command races a resume (Linux)."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    """TERM the command's process group, then KILL whatever of the group lingers: a child that ignores TERM must
    not outlive a parent that obeyed it (and keep racing a resume)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.05)  # reap the command itself, or its zombie keeps the group alive
        try:
            os.killpg(proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            return
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
