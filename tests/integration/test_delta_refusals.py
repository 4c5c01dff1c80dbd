"""A delta release that cannot start says so in one line (real cutover process, real sf, orgsim `empty`): an empty
delta, and a `since` tag that does not exist. Nothing is deployed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from orgsim.scenario import builtin_scenario_path
from orgsim.testing import OrgsimServer, login, sf_env

CUTOVER = Path(sys.executable).parent / "cutover"
CLASS = "force-app/main/default/classes/A.cls"
META = '<?xml version="1.0" encoding="UTF-8"?>\n<ApexClass xmlns="http://soap.sforce.com/2006/04/metadata"><apiVersion>62.0</apiVersion><status>Active</status></ApexClass>\n'


def test_empty_delta_and_missing_tag_are_refused(tmp_path: Path, sf_bin: Path) -> None:
    server = OrgsimServer(tmp_path / "org", builtin_scenario_path("empty"))
    home = tmp_path / "sf-home"
    env = sf_env(
        home, sf_bin, {"CUTOVER_SF": str(sf_bin), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"}
    )
    env.update(
        {
            "GIT_AUTHOR_NAME": "D",
            "GIT_AUTHOR_EMAIL": "d@e.com",
            "GIT_COMMITTER_NAME": "D",
            "GIT_COMMITTER_EMAIL": "d@e.com",
        }
    )
    work = tmp_path / "p"
    work.mkdir()

    def sh(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=600)

    try:
        login(sf_bin, home, server.url, server.token, alias="production")
        (work / CLASS).parent.mkdir(parents=True)
        (work / CLASS).write_text("public class A {}\n")
        (work / f"{CLASS}-meta.xml").write_text(META)
        (work / "sfdx-project.json").write_text(json.dumps({"packageDirectories": [{"path": "force-app"}]}))
        (work / ".gitignore").write_text(".cutover/\nbackups/\n")
        runbook = {
            "release": {"version": "2.0.0", "push": False},
            "project": {"delta": {"enabled": True}},
            "target": {"alias": "production"},
            "stages": ["backup", "validate"],
        }
        (work / "cutover.yaml").write_text(yaml.safe_dump(runbook))
        for argv in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "v1"]):
            assert sh("git", *argv).returncode == 0
        assert sh("git", "tag", "v1.0.0").returncode == 0

        empty = sh(str(CUTOVER), "--yes", "run")
        assert empty.returncode == 1, empty.stdout + empty.stderr
        assert "nothing to release: no component in force-app changed since v1.0.0" in empty.stderr, empty.stderr
        assert not any((work / "backups").glob("*.tar.gz")) if (work / "backups").exists() else True

        runbook["project"] = {"delta": {"enabled": True, "since": "v0.9.0"}}
        (work / "cutover.yaml").write_text(yaml.safe_dump(runbook))
        (work / CLASS).write_text("public class A { Integer b; }\n")
        assert sh("git", "commit", "-q", "-am", "v2").returncode == 0
        missing = sh(str(CUTOVER), "--yes", "run")
        assert missing.returncode == 1, missing.stdout + missing.stderr
        assert "project.delta.since: tag 'v0.9.0' does not exist" in missing.stderr
    finally:
        server.stop()
