"""The end-to-end acceptance flow of issue 7, on the fixture projects in `tests/fixtures/projects/`.

One flow per project, driven like a new user would: the real `sf` CLI and the real `cutover` processes against an
orgsim production org that starts empty.

1. orgsim (scenario `empty` when it exists, else an empty org), `sf org login access-token` as `production`.
2. A git repository with an origin: v1 (`base/`) committed and tagged, then deployed with `sf` directly (and the
   project's jobs scheduled with `sf apex run`, where it has some): the production state before the release.
3. The "before" snapshot: a metadata-format retrieve of a package.xml naming every type of v1 and v2 (`*`, and the
   folders and their members for the foldered types, which Salesforce does not wildcard).
4. The release (v2): `release/` laid over `base/`, the paths in `release.deleted` removed, committed with review
   trailers and pushed.
5. `cutover init --target-org production` (no Elaro in it); then only people (every role gets a distinct person) and
   the expected org (`target.expect`) are filled in; `cutover plan` lists no problems; committed and pushed.
6. `cutover preflight` (at a time inside the runbook's window), every sign-off given by a person holding the role,
   `cutover preflight` again; `cutover run` until `succeeded` (sign-offs as the run asks for them, no waivers).
   A retrieve then proves the release is in the org: what v2 added is there, what it deleted is gone, and the Apex,
   LWC and Aura files it changed have v2's bytes.
7. `cutover rollback` (one-step `--by`, or the two-step request → `rollback.decide` sign-off → `resume`) until
   `rolled_back`; a second full retrieve equals the "before" snapshot file for file; `cutover audit verify` passes.

Every command is logged (`flow-log.json` in the flow's folder) with its exit code, duration and output tail, and a
failure names the phase, the command and the last lines it printed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from projects_metadata import (
    FOLDERED_TYPES,
    PROJECTS,
    FixtureProject,
    apply_release,
    compare_snapshots,
    materialise,
    read_package,
    snapshot_files,
    write_package,
)
from ruamel.yaml import YAML

from orgsim.scenario import builtin_scenario_path
from orgsim.testing import OrgsimServer, login, run_sf, sf_env

REPO = Path(__file__).resolve().parents[2]
CUTOVER = Path(sys.executable).parent / "cutover"
ALIAS = "production"
# Anyone who is not a role holder: git author of the project's commits, and two code reviewers (trailers).
AUTHOR = ("Morgan Author", "morgan.author@harbor.example.com")
REVIEWERS = (
    ("Riley Reviewer", "riley.reviewer@harbor.example.com"),
    ("Sasha Reviewer", "sasha.reviewer@harbor.example.com"),
)
# Role holders: one distinct person per role, in the order the runbook lists its roles (separation of duties).
PEOPLE = (
    "Avery Stone",
    "Blair Okafor",
    "Casey Lindqvist",
    "Devon Mbeki",
    "Emery Tanaka",
    "Finley Roussel",
    "Gray Novak",
    "Harper Quinn",
    "Indigo Park",
    "Jules Moreau",
    "Kai Brennan",
    "Lane Ibarra",
    "Micah Sato",
    "Noor Haddad",
)
REHEARSAL = ("--monitor-for", "5s", "--monitor-every", "5s")
MAX_SIGNOFF_ROUNDS = 25
# Source folders whose files keep their path and bytes in metadata format.
SAME_PATH_FOLDERS = {"classes", "triggers", "lwc", "aura"}


class FlowFailed(AssertionError):
    """A phase of the flow did not do what a user following the docs expects."""


@dataclass
class Command:
    phase: str
    argv: list[str]
    returncode: int
    seconds: float
    stdout: str
    stderr: str

    def tail(self, lines: int = 25) -> str:
        text = (self.stderr.strip() + "\n" + self.stdout.strip()).strip()
        return "\n".join(text.splitlines()[-lines:])

    def to_json(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "argv": self.argv,
            "returncode": self.returncode,
            "seconds": round(self.seconds, 2),
            "stdout_tail": self.stdout[-4000:],
            "stderr_tail": self.stderr[-4000:],
        }


@dataclass
class FlowResult:
    project: str
    seconds: float = 0.0
    sf_calls: int = 0
    phases: dict[str, float] = field(default_factory=dict)
    final_state: str | None = None
    rollback_state: str | None = None
    snapshot_files: int = 0


class Flow:
    """One project's flow in `root` (its own org, sf HOME, repository); `run()` does every phase in order."""

    def __init__(
        self, project: FixtureProject, root: Path, sf_bin: Path, *, overrides: dict[str, object] | None = None
    ) -> None:
        self.project = project
        # Diagnosis only (`__main__ --override`): runbook edits beyond people and org, to see what fails next while
        # an earlier problem is being fixed. The tests never pass any.
        self.overrides = overrides or {}
        self.skip: set[str] = set()  # diagnosis only: phases left out
        self.root = root
        self.sf_bin = sf_bin
        self.home = root / "sf-home"
        self.origin = root / "origin.git"
        self.work = root / "repo" / project.name
        self.commands: list[Command] = []
        self.result = FlowResult(project.name)
        self.phase = "setup"
        self.server: OrgsimServer | None = None
        self.before = root / "snapshot-before"
        self.people: dict[str, str] = {}
        self.retrieved: dict[str, Any] = {}
        self.manifests: dict[str, set[tuple[str, str]]] = {}  # v1 / v2: (type, member) from the source
        self.env = self._environment()

    # ------------------------------------------------------------------------------------------------ plumbing
    def _environment(self) -> dict[str, str]:
        env = sf_env(self.home, self.sf_bin, {"CUTOVER_SF": str(self.sf_bin)})
        env.update(
            {
                "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_CONFIG_GLOBAL": "/dev/null",
                "GIT_AUTHOR_NAME": AUTHOR[0],
                "GIT_AUTHOR_EMAIL": AUTHOR[1],
                "GIT_COMMITTER_NAME": AUTHOR[0],
                "GIT_COMMITTER_EMAIL": AUTHOR[1],
                "NO_COLOR": "1",
            }
        )
        return env

    def _record(self, argv: list[str], process: subprocess.CompletedProcess[str], started: float) -> Command:
        command = Command(
            self.phase, argv, process.returncode, time.monotonic() - started, process.stdout, process.stderr
        )
        self.commands.append(command)
        return command

    def fail(self, message: str, command: Command | None = None) -> FlowFailed:
        self.write_log()
        text = f"[{self.project.name}] phase {self.phase}: {message}"
        if command is not None:
            text += f"\n$ {' '.join(command.argv)}  -> exit {command.returncode}\n{command.tail()}"
        return FlowFailed(text)

    def cmd(
        self, argv: list[str], *, cwd: Path | None = None, expect: tuple[int, ...] = (0,), timeout: float = 600
    ) -> Command:
        started = time.monotonic()
        process = subprocess.run(
            argv, cwd=str(cwd or self.work), env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        command = self._record(argv, process, started)
        if expect and command.returncode not in expect:
            raise self.fail(f"expected exit {' or '.join(map(str, expect))}", command)
        return command

    def git(self, *args: str, cwd: Path | None = None) -> Command:
        return self.cmd(["git", *args], cwd=cwd)

    def sf(self, args: list[str], *, cwd: Path | None = None) -> dict[str, Any]:
        """`sf ARGS --json` (isolated HOME); fails the flow unless sf says status 0."""
        started = time.monotonic()
        run = run_sf(self.sf_bin, args, self.home, cwd=cwd or self.work, timeout=600)
        self.result.sf_calls += 1
        command = Command(
            self.phase, ["sf", *run.args], run.returncode, time.monotonic() - started, run.stdout, run.stderr
        )
        self.commands.append(command)
        if run.returncode != 0 or run.json is None:
            raise self.fail("sf failed", command)
        return run.json

    def cutover(self, *args: str, expect: tuple[int, ...] = (0,)) -> Command:
        return self.cmd([str(CUTOVER), "-C", str(self.work), *args], expect=expect)

    def status(self) -> dict[str, Any]:
        shown = self.cutover("status", "--format", "json")
        return json.loads(shown.stdout)

    def write_log(self) -> Path:
        path = self.root / "flow-log.json"
        doc = {
            "project": self.project.name,
            "phase": self.phase,
            "sf_calls": self.result.sf_calls,
            "phases": self.result.phases,
            "commands": [c.to_json() for c in self.commands],
        }
        if self.server is not None:
            doc = json.loads(json.dumps(doc).replace(self.server.token, "<token>"))
        path.write_text(json.dumps(doc, indent=2))
        return path

    # ------------------------------------------------------------------------------------------------- phases
    def run(self) -> FlowResult:
        started = time.monotonic()
        try:
            for name in (
                "start_org",
                "build_repository",
                "deploy_v1",
                "snapshot_before",
                "commit_release",
                "init_runbook",
                "preflight",
                "run_release",
                "check_released",
                "rollback",
                "snapshot_after",
                "audit",
            ):
                if name in self.skip:
                    continue
                self.phase = name
                phase_started = time.monotonic()
                getattr(self, name)()
                self.result.phases[name] = round(time.monotonic() - phase_started, 1)
        finally:
            self.result.seconds = round(time.monotonic() - started, 1)
            self.write_log()
            if self.server is not None:
                self.server.stop()
        return self.result

    def start_org(self) -> None:
        empty = builtin_scenario_path("empty")
        data: dict[str, Any] = yaml.safe_load(empty.read_text()) if empty.exists() else {}
        data = data or {}
        data["durations"] = {"validate_seconds": 1, "deploy_seconds": 1, "test_seconds": 1, "retrieve_seconds": 0}
        if self.project.allow_deploy_with_pending_jobs:
            data.setdefault("settings", {})["allow_deploy_with_pending_jobs"] = True
        scenario_file = self.root / "scenario.yaml"
        scenario_file.write_text(yaml.safe_dump(data))
        self.server = OrgsimServer(self.root / "org", scenario_file)
        self.result.sf_calls += 1
        login(self.sf_bin, self.home, self.server.url, self.server.token, alias=ALIAS)

    def build_repository(self) -> None:
        self.git("init", "--bare", "-q", "-b", "main", str(self.origin), cwd=self.root)
        self.work.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")
        materialise(self.project, self.work, release=False)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", f"Release {self.project.v1}", *self.trailers())
        self.git("tag", "-a", f"v{self.project.v1}", "-m", f"Production release v{self.project.v1}")
        self.git("remote", "add", "origin", str(self.origin))
        self.git("push", "-q", "origin", "main", "--tags")
        self.git("branch", "-q", "--set-upstream-to=origin/main", "main")

    def trailers(self) -> list[str]:
        out = []
        for key, (name, email) in zip(("Reviewed-by", "Approved-by"), REVIEWERS, strict=True):
            out += ["--trailer", f"{key}: {name} <{email}>"]
        return out

    def deploy_v1(self) -> None:
        args = ["project", "deploy", "start", "--target-org", ALIAS, "--wait", "10", "--test-level", "RunLocalTests"]
        for package_dir in self.project.package_dirs:
            args += ["--source-dir", package_dir]
        if not self._has_apex(self.project.base):
            args[args.index("RunLocalTests")] = "NoTestRun"
        done = self.sf(args)
        if done["result"].get("status") != "Succeeded":
            raise self.fail(f"the v1 deploy ended {done['result'].get('status')}", self.commands[-1])
        if self.project.production_apex:
            ran = self.sf(["apex", "run", "--file", self.project.production_apex, "--target-org", ALIAS])
            if not ran["result"].get("success"):
                raise self.fail(f"{self.project.production_apex} failed in production", self.commands[-1])

    @staticmethod
    def _has_apex(tree: Path) -> bool:
        return any(tree.rglob("*.cls")) or any(tree.rglob("*.trigger"))

    def full_manifest(self) -> Path:
        """package.xml naming every type of v1 and v2 (`*`; folders and members for the foldered types)."""
        path = self.root / "full-retrieve" / "package.xml"
        if path.exists():
            return path
        members: dict[str, set[str]] = {}
        for release in (False, True):
            version = "v2" if release else "v1"
            tree = materialise(self.project, self.root / f"tree-{'v2' if release else 'v1'}", release=release)
            args = ["project", "generate", "manifest", "--output-dir", str(self.root), "--name", "gen.xml"]
            for package_dir in self.project.package_dirs:
                args += ["--source-dir", package_dir]
            self.sf(args, cwd=tree)
            listing = read_package(self.root / "gen.xml")
            self.manifests[version] = {(t, m) for t, names in listing.items() for m in names}
            for type_name, names in listing.items():
                members.setdefault(type_name, set()).update(names)
        types = {
            name: sorted(m.rstrip("/") for m in names) if name in FOLDERED_TYPES else ["*"]
            for name, names in members.items()
        }
        # `CustomObject: *` never returns standard objects: name those the projects add fields to.
        standard = sorted({m.split(".")[0] for m in members.get("CustomField", set()) if "__" not in m.split(".")[0]})
        if standard:
            types["CustomObject"] = ["*", *standard]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(write_package(types))
        return path

    def retrieve(self, label: str) -> Path:
        out = self.root / f"snapshot-{label}"
        self.retrieved = self.sf(
            [
                "project", "retrieve", "start", "--manifest", str(self.full_manifest()), "--target-metadata-dir",
                str(out), "--unzip", "--target-org", ALIAS, "--wait", "10",
            ],
            cwd=self.root / "tree-v1",
        )  # fmt: skip
        return out

    def snapshot_before(self) -> None:
        self.retrieve("before")
        self.result.snapshot_files = len(snapshot_files(self.before))
        if self.result.snapshot_files < 5:
            raise self.fail(f"the full retrieve after the v1 deploy holds only {self.result.snapshot_files} file(s)")

    def commit_release(self) -> None:
        apply_release(self.project, self.work)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", f"Release {self.project.v2}", *self.trailers())
        self.git("push", "-q", "origin", "main")

    def init_runbook(self) -> None:
        self.cutover("init", "--target-org", ALIAS)
        runbook = self.work / "cutover.yaml"
        # The generic runbook names nothing of Elaro (the seed's template is only `init --template elaro`).
        if "elaro" in runbook.read_text().lower():
            line = next(x for x in runbook.read_text().splitlines() if "elaro" in x.lower())
            raise self.fail(f"`cutover init` wrote Elaro into a project that is not Elaro: {line.strip()}")
        ryaml = YAML()
        doc = ryaml.load(runbook.read_text())
        # Only people and the expected org, nothing else.
        for index, (role_id, role) in enumerate((doc.get("roles") or {}).items()):
            person = PEOPLE[index]
            self.people[role_id] = person
            role["name"] = person
            role["email"] = person.lower().replace(" ", ".") + "@harbor.example.com"
        if not self.people:
            raise self.fail("`cutover init` wrote no `roles` to fill in")
        assert self.server is not None
        target = doc["target"]
        expect = target.get("expect")
        if expect is None:
            target["expect"] = expect = {}
        expect["org_id"] = self.server.org.org_id
        expect["username"] = self.server.org.scenario.org.username
        expect["instance_url"] = self.server.url.rstrip("/")
        for dotted, value in self.overrides.items():
            *parents, leaf = dotted.split(".")
            node = doc
            for key in parents:
                node = node.setdefault(key, {})
            node[leaf] = value
        with runbook.open("w") as handle:
            ryaml.dump(doc, handle)
        # With people and the org filled in, nothing is left to fix, and the plan names nothing of Elaro either.
        plan = self.cutover("plan", "--format", "json")
        problems = json.loads(plan.stdout).get("problems")
        if problems:
            raise self.fail(f"`cutover plan` still lists problems after people and org were filled in: {problems}")
        if "elaro" in plan.stdout.lower():
            raise self.fail("`cutover plan --format json` names Elaro", plan)
        self.git("add", "cutover.yaml")
        self.git("commit", "-q", "-m", "Release runbook: people and the production org", *self.trailers())
        self.git("push", "-q", "origin", "main")

    def window_time(self) -> str:
        """A moment inside the runbook's deployment window (the next one from now)."""
        from cutover.runbook import load_runbook

        window = load_runbook(self.work / "cutover.yaml").window
        zone = zoneinfo.ZoneInfo(window.timezone)
        now = dt.datetime.now(zone)
        days = [str(d).lower() for d in window.days]
        names = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
        hour, minute = (int(x) for x in str(window.start).split(":"))
        for ahead in range(8):
            day = now + dt.timedelta(days=ahead)
            if names[day.weekday()] in days:
                moment = day.replace(hour=hour, minute=minute, second=0, microsecond=0) + dt.timedelta(minutes=5)
                if moment > now or ahead == 0:
                    return moment.isoformat()
        raise self.fail(f"no day of the window {window.days} within a week")

    def sign(self, step: dict[str, Any]) -> None:
        rule = step.get("signoff") or {}
        roles = rule.get("roles") or []
        role = next((r for r in roles if r in self.people), None)
        if role is None:
            raise self.fail(f"sign-off {step['id']} wants roles {roles}, and none of them is a runbook role")
        evidence = f"https://wiki.harbor.example.com/{self.project.name}/{self.project.v2}/{step['id']}"
        self.cutover("signoff", step["id"], "--by", self.people[role], "--role", role, "--evidence", evidence)

    def preflight(self) -> None:
        at = self.window_time()
        first = self.cutover("preflight", "--at", at, expect=(0, 4))
        if first.returncode == 4:
            for step in self.status()["steps"]:
                if step["kind"] == "signoff" and step["stage"] == "preflight" and step["status"] not in ("passed",):
                    self.sign(step)
            self.cutover("preflight", "--at", at)

    def _advance(self, first: Command) -> dict[str, Any]:
        """Sign what the run waits for, `cutover resume`, until it stops needing sign-offs."""
        done = first
        for _ in range(MAX_SIGNOFF_ROUNDS):
            if done.returncode != 4:
                break
            waiting = [s for s in self.status()["steps"] if s["status"] == "waiting_signoff"]
            if not waiting:
                raise self.fail("exit 4 but no step is waiting for a sign-off", done)
            for step in waiting:
                self.sign(step)
            done = self.cutover("--yes", "resume", *REHEARSAL, expect=(0, 4))
        else:
            raise self.fail(f"still waiting for sign-offs after {MAX_SIGNOFF_ROUNDS} rounds", done)
        return self.status()

    def run_release(self) -> None:
        first = self.cutover("--yes", "run", *REHEARSAL, expect=(0, 4))
        status = self._advance(first)
        self.result.final_state = status["state"]
        waived = [s["id"] for s in status["steps"] if s.get("waiver") or s["status"] == "waived"]
        if waived:
            raise self.fail(f"steps were waived: {waived}")
        if status["state"] != "succeeded":
            failed = [f"{s['id']}: {s['detail']}" for s in status["steps"] if s["status"] == "failed"]
            raise self.fail(f"the run ended {status['state']}, not succeeded: {failed}", self.commands[-2])

    def check_released(self) -> None:
        """The org after the release holds what v2 added and no longer holds what v2 deleted."""
        self.retrieve("released")
        held = {
            (str(p.get("type")), str(p.get("fullName"))) for p in self.retrieved["result"].get("fileProperties", [])
        }
        v1, v2 = self.manifests["v1"], self.manifests["v2"]
        # Folders are listed with a trailing slash by `generate manifest`; labels are inside CustomLabels.
        comparable = {(t, m.rstrip("/")) for t, m in v2 - v1 if t != "CustomLabel"}
        missing = sorted(f"{t} {m}" for t, m in comparable if (t, m) not in held)
        still_there = sorted(f"{t} {m}" for t, m in v1 - v2 if (t, m.rstrip("/")) in held)
        problems = [f"added by the release but not in the org: {', '.join(missing)}"] if missing else []
        if still_there:
            problems.append(f"deleted by the release but still in the org: {', '.join(still_there)}")
        stale = self.changed_sources_not_deployed(self.root / "snapshot-released")
        if stale:
            problems.append(f"changed by the release but the org has the old content: {', '.join(stale)}")
        if problems:
            raise self.fail("; ".join(problems))

    def changed_sources_not_deployed(self, snapshot: Path) -> list[str]:
        """Source files the release changed whose metadata-format path is the same (Apex, triggers, LWC and Aura
        bundles): the org must hold v2's bytes."""
        stale = []
        for source in sorted(p for p in self.project.release.rglob("*") if p.is_file()):
            relative = source.relative_to(self.project.release).parts
            if len(relative) < 5 or relative[1:3] != ("main", "default") or relative[3] not in SAME_PATH_FOLDERS:
                continue
            if relative[-1].endswith("-meta.xml") or not (self.project.base / Path(*relative)).exists():
                continue  # only changes of existing files (additions are checked by name)
            retrieved = snapshot / "unpackaged" / "unpackaged" / Path(*relative[3:])
            if not retrieved.is_file() or retrieved.read_bytes() != source.read_bytes():
                stale.append("/".join(relative[3:]))
        return stale

    def rollback(self) -> None:
        reason = "acceptance drill: the release is rolled back"
        if self.project.two_step_rollback:
            first = self.cutover("--yes", "rollback", "--reason", reason, expect=(0, 4))
        else:
            approver = self.rollback_approver()
            first = self.cutover(
                "--yes", "rollback", "--reason", reason, "--by", self.people[approver], "--role", approver,
                expect=(0, 4),
            )  # fmt: skip
        status = self._advance(first)
        self.result.rollback_state = status["state"]
        if status["state"] != "rolled_back":
            failed = [f"{s['id']}: {s['detail']}" for s in status["steps"] if s["status"] == "failed"]
            raise self.fail(f"the rollback ended {status['state']}, not rolled_back: {failed}", self.commands[-2])

    def rollback_approver(self) -> str:
        for step in self.status()["steps"]:
            if step["id"] == "rollback.decide":
                roles = (step.get("signoff") or {}).get("roles") or []
                if roles:
                    return str(roles[0])
        raise self.fail("the run has no rollback.decide step naming an approver role")

    def snapshot_after(self) -> None:
        after = self.retrieve("after")
        problems = compare_snapshots(self.before, after)
        if problems:
            shown = "\n".join(problems[:20])
            more = f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""
            raise self.fail(f"the org after the rollback differs from before the release:\n{shown}{more}")

    def audit(self) -> None:
        self.cutover("audit", "verify")


# ------------------------------------------------------------------------------------------------ manifests
def run_flow(
    name: str, root: Path, sf_bin: Path, overrides: dict[str, object] | None = None, skip: set[str] | None = None
) -> FlowResult:
    """Run the whole flow of one fixture project in `root` (created); raises FlowFailed naming the phase."""
    root.mkdir(parents=True, exist_ok=True)
    flow = Flow(PROJECTS[name], root, sf_bin, overrides=overrides)
    flow.skip = skip or set()
    return flow.run()


if __name__ == "__main__":
    # Diagnosis: python tests/integration/projects_flow.py lwc-app /tmp/flow-lwc [--override release.version=1.5.0]
    # [--skip check_released]
    extra, skipped = {}, set()
    for flag, item in zip(sys.argv[3::2], sys.argv[4::2], strict=True):
        if flag == "--skip":
            skipped.add(item)
        else:
            key, _, text = item.partition("=")
            extra[key] = yaml.safe_load(text)
    sf = Path(os.environ.get("CUTOVER_SF", REPO / ".tools/bin/sf"))
    outcome = run_flow(sys.argv[1], Path(sys.argv[2]), sf, extra, skipped)
    print(json.dumps(outcome.__dict__, indent=2))
