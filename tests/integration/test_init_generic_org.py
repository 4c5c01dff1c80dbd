"""`cutover init --target-org` with the real sf CLI against orgsim: the org's identity fills target.expect and its
scheduled jobs (CronTrigger) become `scheduled_jobs`; an org without jobs (`--scenario empty`) gives none; an alias
that does not work leaves placeholders and says so. Each written runbook passes `cutover plan`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cutover.cli import main
from cutover.runbook import load_runbook
from orgsim.testing import login

pytestmark = pytest.mark.integration


def project(root: Path) -> Path:
    root.mkdir()
    (root / "sfdx-project.json").write_text(
        json.dumps({"packageDirectories": [{"path": "force-app", "default": True}], "sourceApiVersion": "62.0"})
    )
    classes = root / "force-app" / "main" / "default" / "classes"
    classes.mkdir(parents=True)
    (classes / "Hello.cls").write_text("public class Hello {}\n")
    (classes / "Hello.cls-meta.xml").write_text("<ApexClass/>")
    return root


def test_init_reads_the_org_identity_and_scheduled_jobs(
    tmp_path: Path, orgsim_factory, sf_bin: Path, sf_home: Path, sf_environment: dict[str, str], capsys
) -> None:
    busy = orgsim_factory("production", name="busy")
    login(sf_bin, sf_home, busy.url, busy.token, alias="busy")
    empty = orgsim_factory("empty", name="empty")
    login(sf_bin, sf_home, empty.url, empty.token, alias="bare")

    with_jobs = project(tmp_path / "with-jobs")
    assert main(["-C", str(with_jobs), "init", "--target-org", "busy"]) == 0
    out = capsys.readouterr().out
    runbook = load_runbook(with_jobs / "cutover.yaml")
    assert runbook.target.alias == "busy"
    assert runbook.target.expect.org_id and runbook.target.expect.org_id.startswith("00D")
    assert runbook.target.expect.instance_url and runbook.target.expect.username
    names = [job.name for job in runbook.scheduled_jobs]
    assert len(names) >= 5 and any(name.startswith("RetentionEnforcementScheduler") for name in names), names
    assert all(len(job.crons) == 1 for job in runbook.scheduled_jobs)
    classes = {job.name.split(" :")[0]: job.class_name for job in runbook.scheduled_jobs}
    assert classes["RetentionEnforcementScheduler"] == "RetentionEnforcementScheduler", classes
    assert "scheduled jobs: " in out and "RetentionEnforcementScheduler" in out
    assert not any(p.startswith("target.expect") for p in runbook.problems())
    assert main(["-C", str(with_jobs), "plan", "--format", "json"]) == 0
    steps = json.loads(capsys.readouterr().out)["steps"]
    assert "verify.scheduled-jobs" in [s["id"] for s in steps]

    no_jobs = project(tmp_path / "no-jobs")
    assert main(["-C", str(no_jobs), "init", "--target-org", "bare"]) == 0
    bare = load_runbook(no_jobs / "cutover.yaml")
    assert bare.scheduled_jobs == [] and bare.target.expect.org_id
    assert "scheduled jobs: none" in capsys.readouterr().out

    unknown = project(tmp_path / "unknown")
    assert main(["-C", str(unknown), "init", "--target-org", "nosuchalias"]) == 0
    out = capsys.readouterr().out
    assert "Could not read org 'nosuchalias'" in out
    placeholder = load_runbook(unknown / "cutover.yaml")
    assert placeholder.scheduled_jobs == [] and placeholder.target.expect.org_id is None
    assert any(p.startswith("target.expect") for p in placeholder.problems())
