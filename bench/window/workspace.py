"""One org and one project for one path of the bench: an orgsim production org holding v1 (metadata seed, same
scenario and timings for every path), the real sf CLI logged in to it (own HOME) through the counting wrapper, and a
git repository (with an origin) holding v1 tagged and the release v2 on top."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from bench.window.project import BenchProject, apply_release, write_project
from bench.window.sfcalls import SfCall, read_calls, write_wrapper
from orgsim.scenario import builtin_scenario_path
from orgsim.testing import OrgsimServer, login, sf_env

ALIAS = "production"
V1, V2 = "1.0.0", "1.1.0"
JOB_NAME = "LedgerNightlyRollup"
AUTHOR = ("Morgan Author", "morgan.author@harbor.example.com")
TRAILERS = (
    "--trailer",
    "Reviewed-by: Riley Reviewer <riley.reviewer@harbor.example.com>",
    "--trailer",
    "Approved-by: Sasha Reviewer <sasha.reviewer@harbor.example.com>",
)


def scenario(seed_dir: Path, durations: dict[str, float | int]) -> dict[str, Any]:
    """The production org every path starts from: `empty` plus v1 of the project, one scheduled job, the timings."""
    data: dict[str, Any] = yaml.safe_load(builtin_scenario_path("empty").read_text()) or {}
    data["name"] = "bench-window"
    data["durations"] = dict(durations)
    data["metadata"] = {"seed_dir": str(seed_dir)}
    data["scheduled_jobs"] = [
        {"name": JOB_NAME, "class_name": "Svc0001", "cron": "0 0 2 * * ?", "previous_fire_time": "@now-1d"}
    ]
    # Production orgs with always-scheduled jobs allow deploys while they are pending (Deployment Settings).
    data["settings"] = {"allow_deploy_with_pending_jobs": True}
    return data


class Workspace:
    """Everything one path needs, under `root`; `close()` stops the org."""

    def __init__(self, root: Path, real_sf: Path, classes: int, durations: dict[str, float | int]) -> None:
        self.root = root
        root.mkdir(parents=True)
        self.real_sf = real_sf
        self.log = root / "sf-calls.log"
        self.sf = write_wrapper(root / "bin", real_sf, self.log)
        self.home = root / "sf-home"
        self.env = sf_env(self.home, real_sf, {"CUTOVER_SF": str(self.sf), "NO_COLOR": "1"})
        # git without the machine's config; every commit by one author who holds no runbook role.
        self.env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"})
        for who in ("AUTHOR", "COMMITTER"):
            self.env.update({f"GIT_{who}_NAME": AUTHOR[0], f"GIT_{who}_EMAIL": AUTHOR[1]})
        self.project: BenchProject = write_project(root / "v1", classes, version=V1)
        self.server = OrgsimServer(root / "org", scenario(self.project.root, durations))
        login(real_sf, self.home, self.server.url, self.server.token, alias=ALIAS)
        self.work = root / "repo"
        self.cutover = Path(sys.executable).parent / "cutover"
        self._build_repository(classes)

    def _build_repository(self, classes: int) -> None:
        origin = self.root / "origin.git"
        self.run(["git", "init", "--bare", "-q", "-b", "main", str(origin)], cwd=self.root)
        self.work.mkdir()
        self.project = write_project(self.work, classes, version=V1)
        self.git("init", "-q", "-b", "main")
        self.commit(f"Release {V1}")
        self.git("tag", "-a", f"v{V1}", "-m", f"Production release v{V1}")
        self.git("remote", "add", "origin", str(origin))
        self.git("push", "-q", "origin", "main", "--tags")
        self.git("branch", "-q", "--set-upstream-to=origin/main", "main")
        apply_release(self.project, V2)
        self.commit(f"Release {V2}")
        self.git("push", "-q", "origin", "main")

    def run(self, argv: list[str], *, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            argv, cwd=str(cwd or self.work), env=self.env, capture_output=True, text=True, check=False, timeout=1800
        )
        if check and done.returncode != 0:
            tail = "\n".join((done.stderr.strip() + "\n" + done.stdout.strip()).strip().splitlines()[-15:])
            raise RuntimeError(f"{' '.join(argv[:6])} -> exit {done.returncode}\n{tail}")
        return done

    def git(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(["git", *args])

    def commit(self, message: str) -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message, *TRAILERS)

    def calls(self) -> list[SfCall]:
        return read_calls(self.log)

    def close(self) -> None:
        self.server.stop()
