"""`make demo` works: scripts/demo.sh runs the whole Elaro runbook with the real sf CLI against orgsim, from init to
a succeeded run, its audit verification, release record and a rollback drill (about 2 minutes)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(900)
def test_the_demo_runs_the_whole_runbook_end_to_end(tmp_path: Path, sf_bin: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("HOME", "FORCE_COLOR")}
    env.update({"DEMO_DIR": str(tmp_path / "demo"), "CUTOVER_SF": str(sf_bin), "HOME": str(tmp_path)})
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "demo.sh")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    # the run reached the end, every event verifies, the record and the drill happened
    assert "on production: succeeded" in out, out[-4000:]
    assert out.count("events verified") == 2
    assert "run state: rolled_back" in out
    after_release, after_rollback = (
        line.split(":", 1)[1].split() for line in out.splitlines() if line.startswith("Apex classes after")
    )
    assert "ComplianceDashboardController" in after_release and "ComplianceDashboardController" not in after_rollback
    record = (tmp_path / "demo" / "release-record.md").read_text()
    assert "Audit trail verified" in record
    assert not re.search(r"00D\w{12,15}!", record)  # no access token in the record
