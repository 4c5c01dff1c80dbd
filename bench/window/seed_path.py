"""The seed runbook's literal `sf` path, each call waited for:
the org check (Pre-Deployment 2: `sf org display`), the backup (Pre-Deployment 1: retrieve + tar), the validation
(Step 1: `--dry-run --test-level RunLocalTests`), the deploy (Step 2: RunLocalTests again, not a quick deploy), the
post-deployment tests (Step 3.2: `sf apex run test` RunLocalTests) and the two queries of Step 3.3 (ApexLog,
CronTrigger). Human output tee'd to logs/ as the runbook does.

Two changes a person following it must make, and nothing else: the retrieve names the project's metadata types
(`--metadata ...`: a production org has no source tracking, so the literal command refuses to guess), and
`sf apex run test` gets `--wait 33` (without it the command returns before the tests ran). The ApexLog query is
kept literal: a real org (and orgsim) answers INVALID_FIELD (ApexLog has no CreatedDate), as the runbook notes it.
"""

from __future__ import annotations

import time

from bench.window.report import Window
from bench.window.workspace import ALIAS, JOB_NAME, Workspace

APEX_LOG_QUERY = (
    "SELECT Id, Request, Operation, Status, DurationMilliseconds FROM ApexLog WHERE Status = 'Failure' "
    "AND CreatedDate = TODAY ORDER BY CreatedDate DESC LIMIT 10"
)
JOBS_QUERY = (
    "SELECT Id, CronJobDetail.Name, State, NextFireTime FROM CronTrigger "
    f"WHERE CronJobDetail.Name LIKE '{JOB_NAME[:6]}%' ORDER BY NextFireTime"
)
METADATA_TYPES = ("ApexClass", "ApexTrigger", "CustomObject", "PermissionSet")


def commands(sf: str, backup_dir: str) -> list[tuple[str, list[str]]]:
    """(log name, argv) of the seed's sf calls in order; `None`-free, each a plain process the bench waits for."""
    target = ["--target-org", ALIAS]
    tests = ["--test-level", "RunLocalTests"]
    return [
        ("org-display", [sf, "org", "display", *target]),
        ("backup", [sf, "project", "retrieve", "start", *target, "--metadata", *METADATA_TYPES, "--output-dir",
                    backup_dir]),
        ("validation", [sf, "project", "deploy", "start", *target, "--dry-run", *tests, "--verbose"]),
        ("deployment", [sf, "project", "deploy", "start", *target, *tests, "--verbose"]),
        (
            "post-deployment-tests",
            [sf, "apex", "run", "test", *tests, *target, "--code-coverage",
             "--result-format", "human", "--wait", "33"],
        ),
        ("apexlog-query", [sf, "data", "query", "--query", APEX_LOG_QUERY, *target]),
        ("jobs-query", [sf, "data", "query", "--query", JOBS_QUERY, *target]),
    ]  # fmt: skip


def run_seed_path(space: Workspace) -> Window:
    """Run the seed's path in the workspace's project against its org; the window spans the first to the last call."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup_dir = f"backups/production-backup-{stamp}"
    logs = space.work / "logs"
    logs.mkdir(exist_ok=True)
    (space.work / backup_dir).mkdir(parents=True)
    codes: dict[str, int] = {}
    start = time.time()
    for name, argv in commands(str(space.sf), backup_dir):
        done = space.run(argv, check=False)
        (logs / f"{name}-{stamp}.log").write_text(done.stdout + done.stderr)
        codes[name] = done.returncode
        if name == "backup":
            space.run(["tar", "-czf", f"{backup_dir}.tar.gz", backup_dir], check=True)
        if done.returncode != 0 and name in ("org-display", "backup", "validation", "deployment"):
            raise RuntimeError(f"the seed's path stopped at {name} (exit {done.returncode}): {done.stderr[-800:]}")
    end = time.time()
    failed = [f"{name} exit {code}" for name, code in codes.items() if code != 0]
    note = f"non-zero: {', '.join(failed)}" if failed else ""
    return Window("seed's literal path", start, end, space.calls(), note)
