"""Unit-test helpers for the sf adapter: recorded JSON shapes, and a stand-in executable that replays them.

The stand-in exercises the real process layer (argv, environment, exit codes, stdout/stderr, timeouts) without
Node; integration tests (tests/integration/test_sf_adapter*.py) use the real CLI.
"""

from __future__ import annotations

import json
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cutover.sf import SfCli, SfResult

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sf"

REPLAY_SCRIPT = """#!{python}
import json, os, sys, time
plan_path = os.environ["FAKE_SF_PLAN"]
counter_path = plan_path + ".n"
n = int(open(counter_path).read()) if os.path.exists(counter_path) else 0
open(counter_path, "w").write(str(n + 1))
plan = json.load(open(plan_path))
step = plan[min(n, len(plan) - 1)]
watched = ["HOME", "FORCE_COLOR", "http_proxy", "HTTPS_PROXY", "SF_DISABLE_TELEMETRY", "SF_SKIP_NEW_VERSION_CHECK",
           "SF_DISABLE_AUTOUPDATE", "SF_ACCESS_TOKEN", "KEEP_ME"]
with open(plan_path + ".calls", "a") as log:
    log.write(json.dumps({{"argv": sys.argv[1:], "cwd": os.getcwd(),
                          "env": {{k: os.environ.get(k) for k in watched}}}}) + "\\n")
time.sleep(step.get("sleep", 0))
sys.stdout.write(step.get("stdout", ""))
sys.stderr.write(step.get("stderr", ""))
sys.exit(step.get("exit", 0))
"""


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def result_from_fixture(name: str, *, exit_code: int | None = None, stderr: str = "") -> SfResult:
    """An SfResult as the runner would build it from a saved `sf --json` document (exit code = envelope status)."""
    doc = load_fixture(name)
    code = exit_code if exit_code is not None else int(doc.get("status", doc.get("exitCode", 0)))
    return SfResult(
        argv=("sf", "x", "--json"),
        exit_code=code,
        envelope=doc,
        stdout=json.dumps(doc),
        stderr=stderr,
        duration_s=1.0,
    )


@dataclass
class FakeSf:
    """A replaying `sf`: give it a plan (one step per call), run SfCli against it, then read what it was called with."""

    root: Path
    binary: Path

    def plan(self, *steps: Mapping[str, Any]) -> None:
        rendered = []
        for step in steps:
            step = dict(step)
            if "fixture" in step:
                doc = load_fixture(step.pop("fixture"))
                step.setdefault("stdout", json.dumps(doc, indent=2) + "\n")
                step.setdefault("exit", int(doc.get("status", doc.get("exitCode", 0))))
            if "json" in step:
                step["stdout"] = json.dumps(step.pop("json"))
            rendered.append(step)
        (self.root / "plan.json").write_text(json.dumps(rendered))
        for suffix in (".n", ".calls"):
            (self.root / f"plan.json{suffix}").unlink(missing_ok=True)

    def env(self, **extra: str) -> dict[str, str]:
        return {"PATH": "/usr/bin:/bin", "FAKE_SF_PLAN": str(self.root / "plan.json"), **extra}

    def cli(self, *, env: Mapping[str, str] | None = None, **kwargs: Any) -> SfCli:
        return SfCli(str(self.binary), env=env if env is not None else self.env(), **kwargs)

    def calls(self) -> list[dict[str, Any]]:
        path = self.root / "plan.json.calls"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line]


@pytest.fixture
def fake_sf(tmp_path: Path) -> FakeSf:
    root = tmp_path / "fake-sf"
    root.mkdir()
    binary = root / "sf"
    binary.write_text(REPLAY_SCRIPT.format(python=sys.executable))
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return FakeSf(root=root, binary=binary)


@pytest.fixture
def sf_doc():
    """Load a recorded `sf --json` document from tests/fixtures/sf/ by file name."""
    return load_fixture


@pytest.fixture
def sf_result():
    """Build an SfResult from a recorded document, as the runner would."""
    return result_from_fixture
