"""A seeded fault campaign (issue 11): corrupt a finished run's state, interrupt runs at chosen moments, and tally
what cutover answers. `python -m bench faults` (the full campaign) or `python bench/bench_faults.py --seed N`.

Families of mutations are registered in `FAMILIES` (`@family("name")`): each yields `Case`s, each case prepares a
project and says what must hold. Three families live here:

- `state`: ≥ 40 corruptions of `.cutover/` (edited, deleted or forged rows, dropped tables, unknown states,
  unparseable JSON, HEAD anchors missing / garbage / folders, evidence files changed, paths out of `.cutover/`,
  lost or garbage state.db). `status`, `runs`, `report` and `audit verify` run on each (in-process, with an alarm).
  Tampering (the record would show something the chain does not say) must make `audit verify` and `report` fail;
  damage must be exit 6; nothing may be exit 3 or hang.
- `interrupts`: a run whose steps stop at 5 moments (inside an idempotent command, a non-idempotent step before its
  side effect, after the side effect but before its job id is recorded, after the id while polling, in the last
  step); the campaign sends SIGINT or SIGTERM (seeded) to the `cutover`-engine child there, expects exit 130, then
  resumes and expects the run to finish with the side effect done exactly once and the audit trail verified.

- `runbooks`: mutated `cutover.yaml` files (tests/unit/runbook/runbook_mutations.py): load or exit 2, never 3.

- `sf-outputs`: ≥ 300 mutated `sf --json` outputs (tests/unit/test_explain_fuzz.py's mutator) through `cutover
  explain` and the typed parsers: exit 0 or 2, never 3.

Other families can be added with `@family(...)` without touching the runner.
The tally prints counts by exit code, time per family, the worst case, and peak memory (this process + children).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMAND_TIMEOUT_S = 30
RESUME_TIMEOUT_S = 60
COMMANDS: tuple[tuple[str, ...], ...] = (("status",), ("runs",), ("report", "--format", "json"), ("audit", "verify"))


# ---------------------------------------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    family: str
    case: str
    codes: dict[str, int]  # command -> exit code (124 = hang / timeout)
    seconds: float
    problems: list[str] = field(default_factory=list)  # what must hold and did not


@dataclass
class Case:
    name: str
    run: Callable[[Path], Outcome]


FAMILIES: dict[str, Callable[[random.Random, Path], Iterator[Case]]] = {}


def family(name: str) -> Callable[[Callable[[random.Random, Path], Iterator[Case]]], Callable[..., Iterator[Case]]]:
    """Register a family of mutations: `func(rng, workdir)` yields cases."""

    def register(func: Callable[[random.Random, Path], Iterator[Case]]) -> Callable[..., Iterator[Case]]:
        FAMILIES[name] = func
        return func

    return register


# ---------------------------------------------------------------------------------------------------------------------
# State corruptions
# ---------------------------------------------------------------------------------------------------------------------


def build_finished_run(project: Path) -> str:
    """A finished run with a waiver, a sign-off, evidence, an external job id and a non-blocking failure."""
    from cutover.engine import Engine, RoleRules, SignoffRule, StepContext, StepOutcome, StepSpec

    class Fn:
        def __init__(self, func: Callable[[StepContext], StepOutcome], idempotent: bool = True) -> None:
            self.func, self.idempotent = func, idempotent

        def run(self, ctx: StepContext) -> StepOutcome:
            return self.func(ctx)

    def review(ctx: StepContext) -> StepOutcome:
        return StepOutcome.passed("signed") if ctx.signoffs_for() else StepOutcome.waiting_signoff("sign it")

    def build(ctx: StepContext) -> StepOutcome:
        ctx.record_evidence("build.log", "compiled 12 classes\n")
        ctx.set_external_id("job_id", "0Af000000000001AAA")
        ctx.record_evidence("build-result.json", {"status": "Succeeded", "components": 12})
        return StepOutcome.passed("built", job_id="0Af000000000001AAA")

    def deploy(ctx: StepContext) -> StepOutcome:
        ctx.record_evidence("deploy-result.json", {"status": "Succeeded"})
        return StepOutcome.passed("deployed")

    specs = [
        StepSpec("gate.docs", "preflight", "Docs", "gate"),
        StepSpec(
            "signoff.review",
            "signoff",
            "Security review",
            "signoff",
            kind="signoff",
            signoff=SignoffRule(roles=("security_reviewer",)),
        ),
        StepSpec("build", "validate", "Build", "build"),
        StepSpec("deploy", "deploy", "Deploy", "deploy"),
        StepSpec("verify", "verify", "Verify", "verify", blocking=False),
    ]
    rules = RoleRules()
    engine = Engine(project)
    try:
        run = engine.create_run("prod", specs, runbook_path=None, runbook_sha256=None, git_head="c0ffee")
        engine.signoff(run.id, "signoff.review", by="Sam Secure", role="security_reviewer", rules=rules)
        engine.waive(run.id, "gate.docs", reason="docs follow", approver="Dana Lead", rules=rules)
        executors = {
            "signoff.review": Fn(review),
            "build": Fn(build),
            "deploy": Fn(deploy, idempotent=False),
            "verify": Fn(lambda ctx: StepOutcome.failed("one log error")),
        }
        result = engine.execute(run.id, executors)
        assert result.state.value == "succeeded", result
        return run.id
    finally:
        engine.close()


def _sql(*statements: str) -> Callable[[Path, str], None]:
    def apply(project: Path, _run_id: str) -> None:
        conn = sqlite3.connect(project / ".cutover" / "state.db")
        try:
            for statement in statements:
                conn.execute(statement)
            conn.commit()
        finally:
            conn.close()

    return apply


def _head(action: str) -> Callable[[Path, str], None]:
    def apply(project: Path, run_id: str) -> None:
        head = project / ".cutover" / "runs" / run_id / "HEAD"
        if action == "delete":
            head.unlink()
        elif action == "folder":
            head.unlink()
            head.mkdir()
        elif action == "empty":
            head.write_text("")
        elif action == "fifo":
            head.unlink()
            os.mkfifo(head)
        elif action == "zero":
            head.unlink()
            head.symlink_to("/dev/zero")
        elif action == "lagging":
            seq, digest = head.read_text().split()
            head.write_text(f"{int(seq) - 3} {digest}\n")
        else:
            head.write_bytes(action.encode())

    return apply


def _state_file(action: str) -> Callable[[Path, str], None]:
    def apply(project: Path, _run_id: str) -> None:
        path = project / ".cutover" / "state.db"
        for extra in (path.with_name("state.db-wal"), path.with_name("state.db-shm")):
            extra.unlink(missing_ok=True)
        if action == "empty":
            path.write_bytes(b"")
        elif action == "delete":
            path.unlink()
        elif action == "garbage":
            path.write_bytes(b"SQLite format 2\x00" + bytes(range(256)) * 8)
        elif action == "half":
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 2])

    return apply


def _evidence_file(action: str) -> Callable[[Path, str], None]:
    def apply(project: Path, run_id: str) -> None:
        files = sorted((project / ".cutover" / "runs" / run_id / "evidence").rglob("*.json"))
        target = files[0]
        if action == "edit":
            target.write_text(target.read_text().replace("Succeeded", "Failed"))
        elif action == "delete":
            target.unlink()
        elif action == "folder":
            target.unlink()
            target.mkdir()
        elif action == "fifo":
            target.unlink()
            os.mkfifo(target)
        elif action == "zero":
            target.unlink()
            target.symlink_to("/dev/zero")

    return apply


def _chain(then: Callable[[Path, str], None], *more: Callable[[Path, str], None]) -> Callable[[Path, str], None]:
    def apply(project: Path, run_id: str) -> None:
        for step in (then, *more):
            step(project, run_id)

    return apply


#: name -> (mutation, kind): "tamper" must fail audit verify and report; "damage" must be exit 6 everywhere.
STATE_MUTATIONS: dict[str, tuple[Callable[[Path, str], None], str]] = {
    "signoff row deleted": (_sql("DELETE FROM signoffs"), "tamper"),
    "signoff row forged": (
        _sql(
            "INSERT INTO signoffs (run_id, step_id, by, role, at) "
            "SELECT run_id, step_id, 'Mallory', role, at FROM signoffs LIMIT 1"
        ),
        "tamper",
    ),
    "signoff signer edited": (_sql("UPDATE signoffs SET by = 'Mallory'"), "tamper"),
    "signoff role edited": (_sql("UPDATE signoffs SET role = 'developer'"), "tamper"),
    "waiver row deleted": (_sql("DELETE FROM waivers"), "tamper"),
    "waiver approver edited": (_sql("UPDATE waivers SET approver = 'Mallory'"), "tamper"),
    "waiver reason edited": (_sql("UPDATE waivers SET reason = 'nothing to see'"), "tamper"),
    "evidence row deleted": (_sql("DELETE FROM evidence WHERE id = (SELECT max(id) FROM evidence)"), "tamper"),
    "evidence hash edited": (_sql("UPDATE evidence SET sha256 = substr(sha256, 2) || '0' WHERE id = 1"), "tamper"),
    "evidence relpath escapes": (
        _sql("UPDATE evidence SET relpath = '../../../../etc/hostname' WHERE id = 1"),
        "tamper",
    ),
    "evidence relpath absolute": (_sql("UPDATE evidence SET relpath = '/etc/passwd' WHERE id = 1"), "tamper"),
    "evidence row forged": (
        _sql(
            "INSERT INTO evidence (run_id, step_id, name, relpath, sha256, size, created) "
            "SELECT run_id, step_id, 'x', relpath, sha256, size, created FROM evidence LIMIT 1"
        ),
        "tamper",
    ),
    "step status failed->passed": (_sql("UPDATE steps SET status = 'passed' WHERE step_id = 'verify'"), "tamper"),
    "step status waived->passed": (_sql("UPDATE steps SET status = 'passed' WHERE step_id = 'gate.docs'"), "tamper"),
    "step status -> skipped": (_sql("UPDATE steps SET status = 'skipped' WHERE step_id = 'deploy'"), "tamper"),
    "step row deleted": (_sql("DELETE FROM steps WHERE step_id = 'verify'"), "tamper"),
    "step row forged": (
        _sql(
            "INSERT INTO steps (run_id, position, step_id, stage, title, kind, action, blocking, params, status) "
            "SELECT run_id, 99, 'extra', stage, title, kind, action, blocking, params, 'passed' FROM steps LIMIT 1"
        ),
        "tamper",
    ),
    "step job id edited": (
        _sql("UPDATE steps SET external_ids = '{\"job_id\": \"0AfEVIL\"}' WHERE step_id = 'build'"),
        "tamper",
    ),
    "run state succeeded->failed": (_sql("UPDATE runs SET state = 'failed'"), "tamper"),
    "run state -> rolled_back": (_sql("UPDATE runs SET state = 'rolled_back'"), "tamper"),
    "event payload edited": (
        _sql("UPDATE events SET payload = replace(payload, 'Sam', 'Sal') WHERE type = 'signoff.recorded'"),
        "tamper",
    ),
    "event deleted (middle)": (_sql("DELETE FROM events WHERE seq = 5"), "tamper"),
    "event type edited": (_sql("UPDATE events SET type = 'step.skipped' WHERE seq = 3"), "tamper"),
    "event hash edited": (_sql("UPDATE events SET hash = prev_hash WHERE seq = 4"), "tamper"),
    "events reordered": (
        _sql(
            "UPDATE events SET seq = 1000 WHERE seq = 2",
            "UPDATE events SET seq = 2 WHERE seq = 3",
            "UPDATE events SET seq = 3 WHERE seq = 1000",
        ),
        "tamper",
    ),
    "tail truncated": (_sql("DELETE FROM events WHERE seq > 10"), "tamper"),
    "tail truncated, HEAD deleted": (_chain(_sql("DELETE FROM events WHERE seq > 10"), _head("delete")), "tamper"),
    "HEAD deleted": (_head("delete"), "tamper"),
    "HEAD garbage": (_head("banana banana\n"), "tamper"),
    "HEAD binary": (_head("\xff\xfe\x00"), "tamper"),
    "HEAD empty": (_head("empty"), "tamper"),
    "HEAD a folder": (_head("folder"), "tamper"),
    "HEAD a FIFO": (_head("fifo"), "tamper"),
    "HEAD a symlink to /dev/zero": (_head("zero"), "tamper"),
    "HEAD lagging behind the log": (_head("lagging"), "tamper"),
    "evidence file a FIFO": (_evidence_file("fifo"), "tamper"),
    "evidence file a symlink to /dev/zero": (_evidence_file("zero"), "tamper"),
    "event payload nested 100k deep": (
        _sql("UPDATE events SET payload = '" + "[" * 100_000 + "]" * 100_000 + "' WHERE seq = 3"),
        "tamper",
    ),
    "HEAD wrong hash": (_head("12 " + "ab" * 32 + "\n"), "tamper"),
    "evidence file edited": (_evidence_file("edit"), "tamper"),
    "evidence file deleted": (_evidence_file("delete"), "tamper"),
    "evidence file a folder": (_evidence_file("folder"), "tamper"),
    "run state banana": (_sql("UPDATE runs SET state = 'banana'"), "damage"),
    "step status banana": (_sql("UPDATE steps SET status = 'banana' WHERE step_id = 'build'"), "damage"),
    "step params broken": (_sql("UPDATE steps SET params = '{broken' WHERE step_id = 'build'"), "damage"),
    "step params nested 100k deep": (
        _sql("UPDATE steps SET params = '" + "[" * 100_000 + "]" * 100_000 + "' WHERE step_id = 'build'"),
        "damage",
    ),
    "step params a list": (_sql("UPDATE steps SET params = '[1]' WHERE step_id = 'build'"), "damage"),
    "step external ids broken": (_sql("UPDATE steps SET external_ids = 'nope' WHERE step_id = 'build'"), "damage"),
    "signoff rule broken": (_sql("UPDATE steps SET signoff_rule = '{' WHERE step_id = 'signoff.review'"), "damage"),
    "events table dropped": (_sql("DROP TABLE events"), "damage"),
    "runs table dropped": (_sql("DROP TABLE runs"), "damage"),
    "steps table dropped": (_sql("DROP TABLE steps"), "damage"),
    "signoffs table dropped": (_sql("DROP TABLE signoffs"), "damage"),
    "evidence table dropped": (_sql("DROP TABLE evidence"), "damage"),
    "schema_migrations emptied": (_sql("DELETE FROM schema_migrations"), "damage"),
    "schema_migrations dropped": (_sql("DROP TABLE schema_migrations"), "damage"),
    "state.db 0 bytes": (_state_file("empty"), "damage"),
    "state.db deleted": (_state_file("delete"), "damage"),
    "state.db garbage": (_state_file("garbage"), "damage"),
    "state.db cut in half": (_state_file("half"), "damage"),
}


@contextlib.contextmanager
def bounded(seconds: int = COMMAND_TIMEOUT_S) -> Iterator[None]:
    """Raise TimeoutError in this (main) thread when the block runs longer than `seconds`."""

    def alarm(_signum: int, _frame: object) -> None:
        raise TimeoutError

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run_cli(project: Path, args: tuple[str, ...]) -> int:
    """`cutover -C project ARGS` in-process, output discarded; 124 when it exceeds COMMAND_TIMEOUT_S."""
    from cutover.cli import main

    sink = io.StringIO()
    try:
        with bounded(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            return main(["-C", str(project), *args])
    except TimeoutError:
        return 124
    except SystemExit as exc:
        return int(exc.code or 0)


def _state_case(name: str, pristine: Path, run_id: str, workdir: Path) -> Case:
    mutate, kind = STATE_MUTATIONS[name]

    def run(_unused: Path) -> Outcome:
        project = workdir / name.replace(" ", "_").replace(">", "").replace("/", "_")
        shutil.rmtree(project, ignore_errors=True)
        shutil.copytree(pristine, project)
        mutate(project, run_id)
        started = time.perf_counter()
        codes = {" ".join(cmd[:2] if cmd[0] == "audit" else cmd[:1]): run_cli(project, cmd) for cmd in COMMANDS}
        outcome = Outcome("state", name, codes, time.perf_counter() - started)
        for command, code in codes.items():
            if code == 3:
                outcome.problems.append(f"{command}: exit 3 (internal error)")
            if code == 124:
                outcome.problems.append(f"{command}: hang")
        if kind == "tamper":
            silent = [c for c in ("report", "audit verify") if codes[c] == 0]
            if silent:
                outcome.problems.append(f"silent pass of tampering: {', '.join(silent)} exit 0")
            if codes["report"] != codes["audit verify"]:
                outcome.problems.append(f"report {codes['report']} but audit verify {codes['audit verify']}")
        else:
            wrong = [f"{c} {v}" for c, v in codes.items() if v != 6]
            if wrong:
                outcome.problems.append(f"damage not exit 6: {', '.join(wrong)}")
        shutil.rmtree(project, ignore_errors=True)
        return outcome

    return Case(name, run)


@family("state")
def state_family(rng: random.Random, workdir: Path) -> Iterator[Case]:
    pristine = workdir / "pristine"
    run_id = build_finished_run(pristine)
    names = sorted(STATE_MUTATIONS)
    rng.shuffle(names)
    for name in names:
        yield _state_case(name, pristine, run_id, workdir)


# ---------------------------------------------------------------------------------------------------------------------
# Interrupts
# ---------------------------------------------------------------------------------------------------------------------

MOMENTS = {
    1: "inside an idempotent step's command",
    2: "non-idempotent step, before its side effect",
    3: "non-idempotent step, side effect done, job id not recorded yet",
    4: "non-idempotent step, job id recorded, polling",
    5: "in the last step",
}

#: The child: executes (or resumes) a 3-step run; FAULT_MOMENT=k makes it stop at moment k until signalled.
CHILD = r"""
import json, os, sys, time
from pathlib import Path
from cutover.engine import Engine, StepOutcome, StepSpec
from cutover.errors import CutoverError

project, org = Path(sys.argv[1]), Path(sys.argv[2])
moment = int(os.environ.get("FAULT_MOMENT") or 0)

def at(k):
    if k == moment:
        (project / f"at-{k}").write_text("")
        time.sleep(60)

def deploys():
    return json.loads(org.read_text()) if org.exists() else []

class Command:
    idempotent = True
    def run(self, ctx):
        if moment == 1:
            (project / "at-1").write_text("")
        ctx.run_command([sys.executable, "-c", "import time; time.sleep(60 if %d == 1 else 0)" % moment], name="cmd")
        return StepOutcome.passed("command ran")

class Deploy:
    idempotent = False
    def run(self, ctx):
        at(2)
        job = f"job-{len(deploys()) + 1}"
        org.write_text(json.dumps(deploys() + [{"id": job, "run": ctx.run_id, "step": ctx.step.id}]))
        at(3)
        ctx.set_external_id("deploy_id", job)
        at(4)
        return StepOutcome.passed(f"deployed {job}")
    def reattach(self, ctx, ids):
        found = [d for d in deploys() if d["id"] == ids.get("deploy_id")]
        return StepOutcome.passed(f"reattached {found[0]['id']}") if found else StepOutcome.failed("lost")
    def recover(self, ctx):
        mine = [d for d in deploys() if d["run"] == ctx.run_id and d["step"] == ctx.step.id]
        if len(mine) == 1:
            ctx.set_external_id("deploy_id", mine[0]["id"])
            return StepOutcome.passed(f"adopted {mine[0]['id']}")
        return self.run(ctx)

class Last:
    idempotent = True
    def run(self, ctx):
        at(5)
        return StepOutcome.passed("checked")

engine = Engine(project)
try:
    runs = engine.runs()
    run = runs[-1] if runs else engine.create_run("org", [
        StepSpec("cmd", "validate", "Command", "cmd"),
        StepSpec("deploy", "deploy", "Deploy", "deploy"),
        StepSpec("last", "verify", "Last", "last"),
    ])
    engine.execute(run.id, {"cmd": Command(), "deploy": Deploy(), "last": Last()})
except CutoverError as exc:
    print(exc.message, file=sys.stderr)
    sys.exit(exc.exit_code)
finally:
    engine.close()
"""


def _child(project: Path, org: Path, moment: int) -> subprocess.Popen[bytes]:
    import cutover

    src = str(Path(cutover.__file__).resolve().parents[1])  # the cutover this campaign imports, in the child too
    env = {**os.environ, "FAULT_MOMENT": str(moment), "PYTHONPATH": src}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(project), str(org)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    return False


def _interrupt_case(moment: int, signum: int, delay: float, workdir: Path) -> Case:
    name = f"moment {moment} ({MOMENTS[moment]}), {signal.Signals(signum).name}"

    def run(_unused: Path) -> Outcome:
        project = workdir / f"interrupt-{moment}"
        shutil.rmtree(project, ignore_errors=True)
        project.mkdir(parents=True)
        org = project / "org-deploys.json"
        started = time.perf_counter()
        codes: dict[str, int] = {}
        problems: list[str] = []
        proc = _child(project, org, moment)
        try:
            if not _wait_for(project / f"at-{moment}", proc, RESUME_TIMEOUT_S):
                problems.append(
                    f"never reached moment {moment}: {proc.stderr.read().decode()[-300:] if proc.stderr else ''}"
                )
            time.sleep(delay)
            proc.send_signal(signum)
            codes["run"] = proc.wait(timeout=RESUME_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            codes["run"] = 124
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if codes["run"] != 130:
            problems.append(f"interrupted run exit {codes['run']}, not 130")
        resume = _child(project, org, 0)
        try:
            codes["resume"] = resume.wait(timeout=RESUME_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            resume.kill()
            codes["resume"] = 124
        err = resume.stderr.read().decode() if resume.stderr else ""
        resume.wait()
        if codes["resume"] != 0:
            problems.append(f"resume exit {codes['resume']}: {err.strip()[-300:]}")
        deploys = json.loads(org.read_text()) if org.exists() else []
        if len(deploys) != 1:
            problems.append(f"the side effect happened {len(deploys)} times")
        codes["audit verify"] = run_cli(project, ("audit", "verify"))
        if codes["audit verify"] != 0:
            problems.append(f"audit verify exit {codes['audit verify']} after resume")
        outcome = Outcome("interrupts", name, codes, time.perf_counter() - started, problems)
        shutil.rmtree(project, ignore_errors=True)
        return outcome

    return Case(name, run)


@family("interrupts")
def interrupt_family(rng: random.Random, workdir: Path) -> Iterator[Case]:
    for moment in sorted(MOMENTS):
        signum = rng.choice([signal.SIGINT, signal.SIGTERM])
        yield _interrupt_case(moment, signum, round(rng.uniform(0.0, 0.3), 2), workdir)


# ---------------------------------------------------------------------------------------------------------------------
# Mutated runbooks (the generator and the classification: tests/unit/runbook/runbook_mutations.py)
# ---------------------------------------------------------------------------------------------------------------------

_RUNBOOK_CODES = {"loaded": 0, "exit 2": 2, "hang": 124}


@family("runbooks")
def runbook_family(rng: random.Random, workdir: Path) -> Iterator[Case]:
    """≥ 500 mutated cutover.yaml files from the Elaro and generic templates, loaded in-process as every command
    loads them: each must load or be exit 2 (one located line), within the bound."""
    if str(REPO) not in sys.path:  # `python bench/bench_faults.py` puts only bench/ on the path
        sys.path.insert(0, str(REPO))
    from tests.unit.runbook.runbook_mutations import load_outcome, mutants

    for number, mutant in enumerate(mutants(rng.randrange(2**31))):
        name = f"{number:04d}-{mutant.template}-{mutant.kind}"

        def run(folder: Path, name: str = name, data: bytes = mutant.data, detail: str = mutant.detail) -> Outcome:
            path = folder / f"{name}.yaml"
            path.write_bytes(data)
            outcome, seconds, message = load_outcome(path)
            path.unlink()
            code = _RUNBOOK_CODES.get(outcome, 3)
            problems = [] if code in (0, 2) else [f"{detail}: {outcome}: {message}"]
            return Outcome("runbooks", name, {"load": code}, seconds, problems)

        yield Case(name, run)


# ---------------------------------------------------------------------------------------------------------------------
# Mutated sf outputs (the mutator and the parsers: tests/unit/test_explain_fuzz.py)
# ---------------------------------------------------------------------------------------------------------------------

SF_OUTPUT_CASES = 300
_PARSER_CODES = {"parsed": 0, "malformed": 2, "too-deep": 2}


@family("sf-outputs")
def sf_output_family(rng: random.Random, workdir: Path) -> Iterator[Case]:
    """≥ 300 mutated `sf --json` outputs (the recorded fixtures and reference samples, mutated as the explain fuzz
    test does): `cutover explain` (text and JSON) must explain them (0) or refuse them (2), and the typed parsers the
    steps use must parse them or raise SfMalformedOutput (2); anything else is 3, a bug."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.unit.test_explain_fuzz import _mutate, _parse_all, _seeds

    seeds = _seeds()
    for number in range(SF_OUTPUT_CASES):
        kind, data = _mutate(rng, rng.choice(seeds))
        fmt = "json" if number % 3 == 0 else "text"
        name = f"{number:04d}-{kind}-{fmt}"

        def run(folder: Path, name: str = name, data: bytes = data, fmt: str = fmt) -> Outcome:
            path = folder / f"{name}.json"
            path.write_bytes(data)
            started = time.perf_counter()
            codes = {"explain": run_cli(folder, ("explain", str(path), "--format", fmt))}
            try:
                with bounded():
                    codes["parsers"] = _PARSER_CODES[_parse_all(data)]
            except TimeoutError:
                codes["parsers"] = 124
            except Exception as exc:  # anything but SfMalformedOutput is the bug being counted
                codes["parsers"] = 3
                parser_error = f"{type(exc).__name__}: {str(exc)[:200]}"
            else:
                parser_error = ""
            path.unlink()
            problems = [f"{what}: exit {code}" for what, code in codes.items() if code not in (0, 2)]
            problems += [parser_error] if parser_error else []
            return Outcome("sf-outputs", name, codes, time.perf_counter() - started, problems)

        yield Case(name, run)


# ---------------------------------------------------------------------------------------------------------------------
# The runner
# ---------------------------------------------------------------------------------------------------------------------


def campaign(seed: int, families: list[str] | None = None, limit: int | None = None) -> list[Outcome]:
    rng = random.Random(seed)
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="cutover-faults-") as folder:
        for name in families or list(FAMILIES):
            workdir = Path(folder) / name
            workdir.mkdir()
            for index, case in enumerate(FAMILIES[name](rng, workdir)):
                if limit is not None and index >= limit:
                    break
                outcomes.append(case.run(workdir))
    return outcomes


def peak_memory_mb() -> tuple[float, float]:
    """(this process, the largest child) peak resident memory in MB (Linux reports KiB)."""
    scale = 1024 if sys.platform != "darwin" else 1024 * 1024
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / scale
    return own, children


def tally(outcomes: list[Outcome], seed: int, elapsed: float) -> list[str]:
    lines = [f"fault campaign, seed {seed}: {len(outcomes)} cases in {elapsed:.1f} s"]
    for name in dict.fromkeys(o.family for o in outcomes):
        mine = [o for o in outcomes if o.family == name]
        codes = Counter(code for o in mine for code in o.codes.values())
        worst = max(mine, key=lambda o: o.seconds)
        by_code = ", ".join(f"exit {code}: {count}" for code, count in sorted(codes.items()))
        lines.append(
            f"  {name}: {len(mine)} cases, {sum(o.seconds for o in mine):.1f} s (slowest {worst.seconds:.2f} s: "
            f"{worst.case}); {by_code}"
        )
        per_command: dict[str, Counter[int]] = {}
        for o in mine:
            for command, code in o.codes.items():
                per_command.setdefault(command, Counter())[code] += 1
        if len(per_command) > 1:
            shown = (f"{c} " + "/".join(f"{k}:{v}" for k, v in sorted(n.items())) for c, n in per_command.items())
            lines.append(f"    by command (exit:count): {'; '.join(shown)}")
    exit3 = sum(1 for o in outcomes for c in o.codes.values() if c == 3)
    hangs = sum(1 for o in outcomes for c in o.codes.values() if c == 124)
    silent = sum(1 for o in outcomes if any(p.startswith("silent pass") for p in o.problems))
    own, child = peak_memory_mb()
    lines.append(f"  exit 3: {exit3}; hangs: {hangs}; silent passes of tampering: {silent}")
    lines.append(f"  peak memory: {own:.0f} MB (campaign process), {child:.0f} MB (largest child)")
    failed = [o for o in outcomes if o.problems]
    lines.append(f"  cases with a problem: {len(failed)}")
    lines += [f"    {o.family} / {o.case}: {'; '.join(o.problems)}" for o in failed]
    return lines


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 11
    started = time.perf_counter()
    outcomes = campaign(seed)
    for line in tally(outcomes, seed, time.perf_counter() - started):
        print(line)
    return 1 if any(o.problems for o in outcomes) else 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    sys.exit(main())
