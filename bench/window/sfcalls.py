"""Count and time `sf` processes: a wrapper script, put where `sf` is expected (CUTOVER_SF, the bench's own calls),
appends one line per process (wall-clock start, end, exit code, first words) and passes everything through."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

WRAPPER = """#!/bin/sh
# sf counting wrapper written by `python -m bench window`: times each sf process, changes nothing else.
started=$(date +%s.%N)
{real} "$@"
code=$?
ended=$(date +%s.%N)
printf '%s %s %s %s %s %s\\n' "$started" "$ended" "$code" "$1" "$2" "$3" >> {log}
exit $code
"""


@dataclass(frozen=True)
class SfCall:
    start: float
    end: float
    returncode: int
    command: str  # the first three words: "project deploy start", "data query --query", ...

    @property
    def seconds(self) -> float:
        return self.end - self.start


def write_wrapper(folder: Path, real_sf: Path, log: Path) -> Path:
    """An executable `sf` in `folder` that runs `real_sf` and logs each call to `log`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sf"
    path.write_text(WRAPPER.format(real=shlex.quote(str(real_sf)), log=shlex.quote(str(log))))
    path.chmod(0o755)
    return path


def read_calls(log: Path) -> list[SfCall]:
    """The calls the wrapper logged, in start order (a missing log: none)."""
    if not log.exists():
        return []
    calls = []
    for line in log.read_text().splitlines():
        parts = line.split(" ", 3)
        if len(parts) < 3:
            continue
        words = parts[3].split() if len(parts) > 3 else []
        command = " ".join(word for word in words if not word.startswith("-"))
        calls.append(SfCall(float(parts[0]), float(parts[1]), int(parts[2]), command))
    return sorted(calls, key=lambda call: call.start)
