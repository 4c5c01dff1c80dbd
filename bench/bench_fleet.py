"""`python -m bench fleet [--orgs N] [--workers W] [--parallel P] [--singles K]`: N orgsim orgs through one fleet.

Everything real: the embedded Temporal dev server, W `cutover worker` processes, N orgsim orgs (each its own
server, logged in with the real sf CLI), the Elaro example released with guard, backup, validate, quick deploy and
verification (`cutover fleet run`, waves: a canary of 1, then the rest with at most P at once, no pause; each org's
post-deployment checklist is signed when its run waits for it, through `cutover fleet signoff --org`).

Prints: wall time, sf calls (counted from each run's audit trail), CPU seconds (workers and everything they started:
sf, node, git) and peak memory of the workers, each per org; then the same release as single `cutover run`s one
after another, measured on a sample of K orgs and extrapolated to N (said so in the output), and the ratio.
Orgsim's own CPU (it runs in this process) is printed apart: it stands for Salesforce, not for cutover.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML

from cutover.temporal.devserver import DevServer
from orgsim.ids import to_18
from orgsim.scenario import builtin_scenario_path, scenario_from_dict
from orgsim.testing import OrgsimServer, login, sf_env

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CUTOVER = BIN / "cutover"
STAGES = ["guard", "backup", "validate", "deploy", "verify"]
CHECKLIST, ROLE = "verify.checklist-1h", "deployment_lead"


def _scenario(org_id: str) -> Any:
    path = builtin_scenario_path("production")
    data = yaml.safe_load(path.read_text())
    data.setdefault("settings", {})["allow_deploy_with_pending_jobs"] = True
    data["durations"] = {"validate_seconds": 1, "deploy_seconds": 1, "test_seconds": 1, "retrieve_seconds": 0}
    data["org"]["org_id"] = org_id
    data["org"]["username"] = f"release.manager@{org_id[:15].lower()}.example.com"  # sf keys its logins by username
    return scenario_from_dict(data, base_dir=path.parent, source="bench")


def _project(folder: Path, alias: str = "production", expect: dict[str, str] | None = None) -> Path:
    shutil.copytree(
        REPO / "examples" / "elaro",
        folder,
        ignore=shutil.ignore_patterns("node_modules", "coverage", ".cutover", "backups", "logs"),
    )
    ryaml = YAML()
    doc = ryaml.load((folder / "cutover.yaml").read_text())
    doc["stages"] = STAGES
    doc.setdefault("checklists", {})["smoke_tests"] = []
    doc["target"]["alias"] = alias
    for key, value in (expect or {}).items():
        doc["target"]["expect"][key] = value
    with (folder / "cutover.yaml").open("w") as handle:
        ryaml.dump(doc, handle)
    return folder


def _cutover(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CUTOVER), *args], env=env, capture_output=True, text=True, check=False)


def _drive_fleet(env: dict[str, str], fleet_file: Path) -> subprocess.CompletedProcess[str]:
    """`cutover fleet run` until it ends; each org's post-deployment checklist is signed (a signal) when it waits."""
    done = _cutover(env, "fleet", "run", str(fleet_file))
    while True:
        if done.returncode != 4:
            return done
        status = json.loads(_cutover(env, "fleet", "status", str(fleet_file), "--format", "json").stdout)
        for row in status["orgs"]:
            if row["outcome"] == "paused":
                sign = ["fleet", "signoff", str(fleet_file), "--org", row["alias"], "--step", CHECKLIST]
                _cutover(env, *sign, "--by", "Bench Lead", "--role", ROLE)
        done = _cutover(env, "fleet", "run", str(fleet_file))
        if done.returncode == 2 and "already ran" in done.stderr:  # it ended between the sign-off and this call
            done = subprocess.CompletedProcess(done.args, 0 if "completed" in done.stderr else 1, "", done.stderr)


def _sf_calls(cutover_dir: Path) -> int:
    total = 0
    for db_path in cutover_dir.rglob("state.db"):
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            total += db.execute("SELECT count(*) FROM events WHERE type = 'sf.command'").fetchone()[0]
        except sqlite3.Error:
            pass
        finally:
            db.close()
    return total


def _peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench fleet")
    parser.add_argument("--orgs", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--parallel", type=int, default=8, help="max orgs at once after the canary")
    parser.add_argument("--singles", type=int, default=2, help="single `cutover run`s measured (then extrapolated)")
    args = parser.parse_args(argv or [])
    tmp = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    home = tmp / "sf-home"
    sf_bin = Path(os.environ.get("CUTOVER_SF") or REPO / ".tools" / "bin" / "sf")
    servers: list[OrgsimServer] = []
    temporal = DevServer(tmp / "temporal")
    workers: list[subprocess.Popen[bytes]] = []
    try:
        aliases = [f"org{n:03d}" for n in range(1, args.orgs + 1)]
        for n, alias in enumerate(aliases, start=1):
            server = OrgsimServer(tmp / "orgs" / alias, _scenario(to_18(f"00D5g0000B{n:05d}")))
            servers.append(server)
            login(sf_bin, home, server.url, server.token, alias=alias)
        project = _project(tmp / "elaro")
        fleet = {
            "name": "bench",
            "project": "elaro",
            "release": "3.0.0",
            "orgs": [
                {"alias": a, "org_id": s.org.org_id, "username": s.org.username, "instance_url": s.url}
                for a, s in zip(aliases, servers, strict=True)
            ],
            "waves": [{"name": "canary", "size": 1}, {"name": "rest", "size": "rest", "max_parallel": args.parallel}],
            "pause_between_waves": False,
        }
        fleet_file = tmp / "fleet.yaml"
        fleet_file.write_text(yaml.safe_dump(fleet, sort_keys=False))
        env = sf_env(home, sf_bin, {"CUTOVER_SF": str(sf_bin), "CUTOVER_TEMPORAL": temporal.start()})

        cpu0 = _children_cpu()
        started = time.monotonic()
        workers = [
            subprocess.Popen(
                [str(CUTOVER), "worker", "--max-activities", str(max(1, args.parallel // args.workers + 1))],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(args.workers)
        ]
        done = _drive_fleet(env, fleet_file)
        wall = time.monotonic() - started
        status = subprocess.run(
            [str(CUTOVER), "fleet", "status", str(fleet_file), "--format", "json"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        peaks = [_peak_rss_mb(w.pid) for w in workers]
        for worker in workers:
            worker.send_signal(signal.SIGINT)
        for worker in workers:
            worker.wait(timeout=60)
        cpu = _children_cpu() - cpu0
        outcomes: dict[str, int] = {}
        for row in json.loads(status.stdout or "{}").get("orgs", []):
            outcomes[row["outcome"]] = outcomes.get(row["outcome"], 0) + 1
            if row["outcome"] != "succeeded":
                print(f"  {row['alias']}: {row['outcome']}: {row['message'][:300]}")
        calls = _sf_calls(project / ".cutover" / "fleet")
        n = args.orgs
        print(f"fleet: {n} orgs, {args.workers} workers, at most {args.parallel} at once; exit {done.returncode}")
        print(f"  outcomes: {json.dumps(outcomes, sort_keys=True)}")
        print(f"  wall time: {wall:.1f} s ({wall / n:.1f} s per org)")
        print(f"  sf calls: {calls} ({calls / n:.1f} per org)")
        print(f"  CPU: {cpu:.1f} s ({cpu / n:.1f} s per org: workers, the fleet command, sf and its children)")
        print(
            f"  memory: workers' peak RSS {' + '.join(f'{p:.0f}' for p in peaks)} MB ({sum(peaks) / n:.1f} MB per org)"
        )

        sample = min(args.singles, n)
        cpu1 = _children_cpu()
        started = time.monotonic()
        single_calls = 0
        for index in range(sample):
            server = servers[index]
            folder = _project(
                tmp / "singles" / aliases[index],
                aliases[index],
                {"org_id": server.org.org_id, "username": server.org.username, "instance_url": server.url},
            )
            local = {k: v for k, v in env.items() if k != "CUTOVER_TEMPORAL"}
            single = _cutover(local, "-C", str(folder), "run", "--yes")
            if single.returncode == 4:  # the post-deployment checklist, as in the fleet
                _cutover(local, "-C", str(folder), "signoff", CHECKLIST, "--by", "Bench Lead", "--role", ROLE)
                single = _cutover(local, "-C", str(folder), "resume")
            single_calls += _sf_calls(folder / ".cutover")
            if single.returncode != 0:
                print(f"  single run {aliases[index]}: exit {single.returncode}: {single.stderr.strip()[-300:]}")
        single_wall = (time.monotonic() - started) / sample
        single_cpu = (_children_cpu() - cpu1) / sample
        print(
            f"single runs, one after another: measured {sample} (the orgs were already released once: the same "
            f"steps run), extrapolated to {n}: wall {single_wall * n:.1f} s ({single_wall:.1f} s each), "
            f"CPU {single_cpu * n:.1f} s ({single_cpu:.1f} s each), sf calls {single_calls / sample:.1f} per org"
        )
        print(f"ratio (fleet / {n} single runs): wall {wall / (single_wall * n):.2f}, CPU {cpu / (single_cpu * n):.2f}")
        own = resource.getrusage(resource.RUSAGE_SELF)
        print(f"orgsim (in this process, not counted above): {own.ru_utime + own.ru_stime:.1f} s CPU")
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
        temporal.stop()
        for server in servers:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
