"""The preflight stage: the runbook's Pre-Deployment Checklist as gates.

`run_preflight()` evaluates every preflight step of the plan (automated gates and sign-offs), independent ones in
parallel, and returns a `PreflightReport` in plan order. `record_preflight()` then writes each result, with its
evidence (SHA-256 in the audit chain), into the org's run, so `cutover run` continues from it: gates that passed are
done and are not run again, the others run again when the run reaches them. The same gates are registered with
`cutover.steps.registry` for the `gate.*` actions, so the engine can run any one of them on its own.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cutover.checks import commands as command_checks
from cutover.checks import contacts as contact_checks
from cutover.checks import coverage as coverage_checks
from cutover.checks import docs as doc_checks
from cutover.checks import git as git_checks
from cutover.checks import permissions as permission_checks
from cutover.checks import reviews as review_checks
from cutover.checks import secrets as secret_checks
from cutover.checks import window as window_checks
from cutover.checks.result import Evidence, GateResult, GateStatus, failed, passed, skipped, waiting

# ---------------------------------------------------------------------------------------------------------------------
# What preflight runs: the preflight steps of the plan
# ---------------------------------------------------------------------------------------------------------------------

GATE_ACTIONS = (
    "gate.command",
    "gate.git",
    "gate.reviews",
    "gate.secrets",
    "gate.apex_scan",
    "gate.permission_sets",
    "gate.coverage",
    "gate.docs",
    "gate.window",
    "gate.contacts",
)
SIGNOFF_ACTION = "signoff"

#: The runbook's `project.commands` keys (the LWC coverage gate runs `test_unit` itself, for the summary it writes).
COMMAND_KEYS = ("test_all", "lint", "fmt_check", "test_unit")


@dataclass(frozen=True)
class GateSpec:
    """A preflight step of the plan, as preflight needs it."""

    id: str
    title: str
    action: str
    kind: str = "automated"
    blocking: bool = True
    params: Mapping[str, Any] = field(default_factory=dict)


def _spec_from_plan_step(step: Any) -> GateSpec:
    return GateSpec(
        id=step.id,
        title=step.title,
        action=step.action,
        kind=getattr(step, "kind", "automated"),
        blocking=bool(getattr(step, "blocking", True)),
        params=dict(getattr(step, "params", None) or {}),
    )


def preflight_gates(runbook: Any) -> tuple[list[GateSpec], list[Any]]:
    """The preflight steps in plan order, and the whole plan."""
    from cutover.runbook.plan import build_plan

    plan = list(build_plan(runbook))
    gates = [
        _spec_from_plan_step(step)
        for step in plan
        if step.stage == "preflight" and (step.action in GATE_ACTIONS or step.action == SIGNOFF_ACTION)
    ]
    return gates, plan


def _command_text(command: str | Sequence[str]) -> str:
    from cutover.runbook.models import command_text

    return command_text(command)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------------------------
# Evaluating gates
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignoffView:
    """What preflight reads from the engine: sign-offs and waivers of the org's run, the latest validation."""

    signoffs: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)  # step id -> SignoffRecords
    waivers: Mapping[str, Any] = field(default_factory=dict)  # step id -> WaiverRecord
    validation_coverage: tuple[float, str] | None = None  # (percent, source) of the latest validation of HEAD


@dataclass
class PreflightContext:
    project_dir: Path
    runbook: Any
    at: datetime
    view: SignoffView = field(default_factory=SignoffView)
    cache_dir: Path | None = None
    previous_tag: str | None = None

    @property
    def source_dir(self) -> str:
        return self.runbook.project.source_dir


def _param(spec: GateSpec, *names: str, default: Any = None) -> Any:
    for name in names:
        if spec.params.get(name) is not None:
            return spec.params[name]
    return default


def _suffix(spec: GateSpec) -> str:
    return spec.id.rsplit(".", 1)[-1]


def _command_key(spec: GateSpec) -> str | None:
    key = _param(spec, "command_key", "key", "name")
    if key:
        return str(key).replace("-", "_")
    suffix = _suffix(spec).replace("-", "_")
    return suffix if suffix in COMMAND_KEYS else None


def _gate_command(spec: GateSpec, ctx: PreflightContext) -> GateResult:
    command = _param(spec, "command", "argv", "run")
    key = _command_key(spec)
    if command is None and key:
        command = getattr(ctx.runbook.project.commands, key, None)
    if not command:
        return skipped(spec.id, spec.title, "no command configured in project.commands")
    text = _command_text(command)
    return command_checks.run_command_gate(spec.id, spec.title, text, ctx.project_dir)


def combine(spec: GateSpec, parts: Sequence[GateResult]) -> GateResult:
    """One gate made of several checks: failed if any failed (naming those), else passed; evidence of all."""
    evidence = tuple(item for part in parts for item in part.evidence)
    bad = [part for part in parts if part.status == GateStatus.FAILED]
    if bad:
        return failed(spec.id, spec.title, "; ".join(part.detail for part in bad), *evidence)
    done = [part for part in parts if part.status == GateStatus.PASSED]
    return passed(spec.id, spec.title, "; ".join(part.detail for part in done) or "nothing to check", *evidence)


def _gate_git(spec: GateSpec, ctx: PreflightContext) -> GateResult:
    """Clean tree, up to date with the remote base branch (fetched), no conflicts with it (`git merge-tree`)."""
    release = ctx.runbook.release
    remote = _param(spec, "remote", default=release.remote)
    base = _param(spec, "base_branch", default=release.base_branch)
    parts = [git_checks.check_clean_tree(spec.id, spec.title, ctx.project_dir)]
    up_to_date = git_checks.check_up_to_date(spec.id, spec.title, ctx.project_dir, remote=remote, base_branch=base)
    parts.append(up_to_date)
    base_ref = git_checks.remote_ref(remote, base)
    if git_checks.git(ctx.project_dir, "rev-parse", "--verify", "--quiet", base_ref).code == 0:
        parts.append(
            git_checks.check_merge_conflicts(spec.id, spec.title, ctx.project_dir, remote=remote, base_branch=base)
        )
    return combine(spec, parts)


def _gate_reviews(spec: GateSpec, ctx: PreflightContext) -> GateResult:
    signed = tuple(review_checks.Person.parse(record.by) for record in ctx.view.signoffs.get(spec.id, ()))
    return review_checks.check_reviews(
        spec.id,
        spec.title,
        ctx.project_dir,
        since=ctx.previous_tag,
        min_approvals=int(_param(spec, "min_approvals", default=ctx.runbook.reviews.min_approvals)),
        signed_reviewers=signed,
        reviewer_not_author=ctx.runbook.separation_of_duties.reviewer_not_author,
    )


def _gate_secrets(spec: GateSpec, ctx: PreflightContext) -> GateResult:
    baseline_name = _param(spec, "baseline", default=ctx.runbook.security.secrets.baseline)
    baseline = ctx.project_dir / baseline_name if baseline_name else None
    cache = (ctx.cache_dir / "secrets.json") if ctx.cache_dir else None
    exclude = _param(spec, "exclude_dirs", default=ctx.runbook.security.secrets.exclude_dirs)
    return secret_checks.check_secrets(
        spec.id, spec.title, ctx.project_dir, baseline_path=baseline, cache_path=cache, exclude_dirs=exclude
    )


def scan_config_for(security: Any) -> Any:
    """The Apex scanner's configuration from the runbook's `security` section."""
    from cutover.checks.apex import ScanConfig

    modes = {mode.upper() for mode in security.soql_enforcement}
    enforcement = "either" if len(modes) > 1 else ("user_mode" if modes == {"USER_MODE"} else "security_enforced")
    return ScanConfig(
        guard_methods=tuple(security.crud_guards),
        strip_methods=tuple(security.strip_methods),
        soql_enforcement=enforcement,
        skip_test_classes=security.skip_test_classes,
    )


def _gate_apex_scan(spec: GateSpec, ctx: PreflightContext) -> GateResult:
    try:
        from cutover.checks.apex import scan_paths
    except ImportError as exc:
        return failed(spec.id, spec.title, f"the Apex scanner is not available: {exc}")
    security = ctx.runbook.security
    paths = [ctx.project_dir / path for path in _param(spec, "paths", "scan_paths", default=security.scan_paths)]
    missing = [str(p.relative_to(ctx.project_dir)) for p in paths if not p.exists()]
    if missing:
        return failed(spec.id, spec.title, f"scan path(s) not found: {', '.join(missing)}")
    report = scan_paths([str(p) for p in paths], scan_config_for(security))
    data = report.to_json()
    for item in data["findings"] + data["errors"]:
        item["file"] = _relative(item["file"], ctx.project_dir)
    evidence = Evidence.json("apex-scan.json", data)
    if not report.findings:
        suppressed = f"; {report.suppressed} suppressed" if report.suppressed else ""
        parse = f"; {len(report.errors)} file(s) only partly parsed" if report.errors else ""
        return passed(spec.id, spec.title, f"no findings in {report.files} Apex file(s){suppressed}{parse}", evidence)
    first = report.findings[:3]
    listed = "; ".join(f"{_relative(f.file, ctx.project_dir)}:{f.line} {f.rule}: {f.message}" for f in first)
    more = f" (and {len(report.findings) - 3} more)" if len(report.findings) > 3 else ""
    return failed(spec.id, spec.title, f"{len(report.findings)} finding(s): {listed}{more}", evidence)


def _relative(path: str, base: Path) -> str:
    try:
        return Path(path).resolve().relative_to(base).as_posix()
    except ValueError:
        return path


def _gate_permission_sets(spec: GateSpec, ctx: PreflightContext) -> GateResult:
    return permission_checks.check_permission_sets(
        spec.id,
        spec.title,
        ctx.project_dir,
        source_dir=_param(spec, "source_dir", default=ctx.source_dir),
        since=ctx.previous_tag,
        manifest=_param(spec, "manifest", default=ctx.runbook.project.manifest),
    )


def _coverage_kind(spec: GateSpec) -> str:
    kind = _param(spec, "kind", "scope")
    if kind:
        return str(kind).lower()
    return "lwc" if "lwc" in _suffix(spec) else "apex"


def _gate_coverage(spec: GateSpec, ctx: PreflightContext) -> GateResult:
    thresholds = ctx.runbook.thresholds
    if _coverage_kind(spec) == "lwc":
        return _lwc_coverage(spec, ctx)
    threshold = float(_param(spec, "threshold", default=thresholds.apex_coverage))
    percent, source = apex_coverage_source(ctx)
    result = coverage_checks.check_apex_coverage(
        spec.id, spec.title, percent=percent, threshold=threshold, source=source
    )
    return result


def _lwc_coverage(spec: GateSpec, ctx: PreflightContext) -> GateResult:
    """Run the unit-test command (it writes the coverage summary), then compare the summary with the threshold."""
    command = _param(spec, "argv", "command", default=ctx.runbook.project.commands.test_unit)
    summary = ctx.project_dir / _param(spec, "summary", default=ctx.runbook.project.lwc_coverage_summary)
    threshold = float(_param(spec, "threshold", default=ctx.runbook.thresholds.lwc_coverage))
    not_before = None
    unit: GateResult | None = None
    if command:
        not_before = time.time()
        unit = command_checks.run_command_gate(
            spec.id, spec.title, _command_text(command), ctx.project_dir, evidence_name="test-unit.log"
        )
        if unit.status == GateStatus.FAILED:
            return unit
    result = coverage_checks.check_lwc_coverage(
        spec.id, spec.title, summary, threshold=threshold, not_before=not_before
    )
    if unit is not None:
        return GateResult(
            result.id, result.title, result.status, result.blocking, result.detail, (*unit.evidence, *result.evidence)
        )
    return result


def apex_coverage_source(ctx: PreflightContext) -> tuple[float | None, str | None]:
    """Org-wide coverage from a sandbox test run (`sf.test_org`), else from the run's validation, else unknown."""
    test_org = ctx.runbook.sf.test_org
    if test_org:
        from cutover.sf import SfError
        from cutover.sf.runner import SfCli

        try:
            run = SfCli(ctx.runbook.sf.binary, cwd=ctx.project_dir).apex_run_test(
                test_org, test_level=ctx.runbook.sf.test_level, code_coverage=True, wait=ctx.runbook.sf.wait_minutes
            )
        except SfError as exc:
            return None, f"sandbox test run on {test_org} failed: {exc}"
        pct = run.org_wide_coverage_pct if run.org_wide_coverage_pct is not None else run.test_run_coverage_pct
        return pct, f"sf apex run test --target-org {test_org} ({run.passing}/{run.tests_ran} passing)"
    if ctx.view.validation_coverage is not None:
        return ctx.view.validation_coverage
    return None, None


def _gate_docs(spec: GateSpec, ctx: PreflightContext) -> GateResult:
    """README names the version, CHANGELOG has its section, known issues are written down, API docs exist."""
    docs = ctx.runbook.project.docs
    version = str(_param(spec, "version", default=ctx.runbook.release.version))
    parts: list[GateResult] = []
    if docs.readme and docs.readme_mentions_version:
        parts.append(
            doc_checks.check_readme_version(spec.id, spec.title, ctx.project_dir, version=version, readme=docs.readme)
        )
    if docs.changelog and docs.changelog_mentions_version:
        parts.append(
            doc_checks.check_changelog(spec.id, spec.title, ctx.project_dir, version=version, changelog=docs.changelog)
        )
    if docs.api_docs:
        path = ctx.project_dir / docs.api_docs
        parts.append(
            passed(spec.id, spec.title, f"{docs.api_docs} present")
            if path.exists()
            else failed(spec.id, spec.title, f"{docs.api_docs} not found")
        )
    parts.append(
        doc_checks.check_known_issues(
            spec.id, spec.title, ctx.project_dir, runbook_known_issues=len(ctx.runbook.known_issues)
        )
    )
    return combine(spec, parts)


def _gate_window(spec: GateSpec, ctx: PreflightContext) -> GateResult:
    config = ctx.runbook.window
    window = window_checks.Window(
        timezone=config.timezone, days=tuple(config.days), start=config.start_time, end=config.end_time
    )
    approvers = tuple(ctx.runbook.roles[r].title if r in ctx.runbook.roles else r for r in config.exception_approvers)
    result = window_checks.check_window(spec.id, spec.title, window, ctx.at, approvers=approvers)
    if result.status == GateStatus.WAITING_SIGNOFF:
        if not config.enforce:
            detail = result.detail.split("; needs")[0] + " (not enforced: window.enforce is false)"
            return GateResult(spec.id, spec.title, GateStatus.SKIPPED, False, detail, result.evidence)
        return GateResult(
            spec.id,
            spec.title,
            result.status,
            result.blocking,
            result.detail + f"; run: cutover waive {spec.id} --reason TEXT --approver NAME",
            result.evidence,
        )
    return result


def _gate_contacts(spec: GateSpec, ctx: PreflightContext) -> GateResult:
    contacts = [
        contact_checks.Contact(role_id, role.title, role.name, role.email, role.phone, role.required)
        for role_id, role in ctx.runbook.roles.items()
    ]
    return contact_checks.check_contacts(spec.id, spec.title, contacts)


def _gate_signoff(spec: GateSpec, ctx: PreflightContext) -> GateResult:
    from cutover.engine.signoffs import evaluate
    from cutover.steps import signoff_rule

    rule = signoff_rule(_PlanStepView(spec), ctx.runbook)
    records = ctx.view.signoffs.get(spec.id, ())
    state = evaluate(rule, records)
    if state.satisfied:
        signed = [r for r in records if r.by in state.signers]
        links = [r.evidence for r in signed if r.evidence]
        who = ", ".join(f"{r.by} ({r.role})" for r in signed)
        evidence = Evidence.json(
            "signoff.json",
            [{"by": r.by, "role": r.role, "at": r.at, "evidence": r.evidence, "note": r.note} for r in signed],
        )
        return passed(
            spec.id,
            spec.title,
            f"signed by {who}" + (f"; evidence: {', '.join(links)}" if links else ""),
            evidence,
            blocking=spec.blocking,
        )
    roles = ", ".join(_role_title(ctx.runbook, r) for r in rule.roles)
    needs = f"{state.needed - len(state.signers)} more " if state.needed > 1 else ""
    evidence_flag = " --evidence URL" if rule.evidence_required else ""
    return waiting(
        spec.id,
        spec.title,
        f"needs {needs}sign-off by {roles}: cutover signoff {spec.id} --by NAME --role {rule.roles[0]}{evidence_flag}",
        blocking=spec.blocking,
    )


def _role_title(runbook: Any, role_id: str) -> str:
    role = runbook.roles.get(role_id)
    return role.title if role is not None else role_id


@dataclass(frozen=True)
class _PlanStepView:
    """The attributes `cutover.steps.signoff_rule` reads from a plan step."""

    spec: GateSpec

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def kind(self) -> str:
        return "signoff"

    @property
    def params(self) -> Mapping[str, Any]:
        return self.spec.params


GATE_FUNCTIONS: dict[str, Callable[[GateSpec, PreflightContext], GateResult]] = {
    "gate.command": _gate_command,
    "gate.git": _gate_git,
    "gate.reviews": _gate_reviews,
    "gate.secrets": _gate_secrets,
    "gate.apex_scan": _gate_apex_scan,
    "gate.permission_sets": _gate_permission_sets,
    "gate.coverage": _gate_coverage,
    "gate.docs": _gate_docs,
    "gate.window": _gate_window,
    "gate.contacts": _gate_contacts,
    SIGNOFF_ACTION: _gate_signoff,
}


def evaluate_gate(spec: GateSpec, ctx: PreflightContext) -> GateResult:
    """One gate, with the step's identity and blocking flag; a waiver recorded in the run makes it `waived`."""
    waiver = ctx.view.waivers.get(spec.id)
    if waiver is not None:
        return GateResult(
            spec.id, spec.title, GateStatus.WAIVED, spec.blocking, f"waived by {waiver.approver}: {waiver.reason}"
        )
    function = GATE_FUNCTIONS.get(spec.action)
    if function is None:
        return failed(spec.id, spec.title, f"no preflight gate for action {spec.action!r}", blocking=spec.blocking)
    try:
        result = function(spec, ctx)
    except Exception as exc:  # one broken gate must not hide the others' results
        return failed(spec.id, spec.title, f"internal error: {type(exc).__name__}: {exc}", blocking=spec.blocking)
    # A coverage gate that cannot be measured yet (Apex before validation) only informs; everything else blocks as
    # the plan says.
    blocking = spec.blocking and result.blocking if spec.action == "gate.coverage" else spec.blocking
    return result.with_identity(spec.id, spec.title, blocking)


# ---------------------------------------------------------------------------------------------------------------------
# Running them all
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreflightReport:
    gates: tuple[GateResult, ...]
    git_head: str | None
    runbook_sha256: str | None
    at: datetime
    seconds: float
    recorded_in: str | None = None  # run id
    recorded_evidence: Mapping[str, tuple[dict[str, Any], ...]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    durations: Mapping[str, float] = field(default_factory=dict)  # gate id -> seconds

    @property
    def ok(self) -> bool:
        return all(gate.lets_deploy for gate in self.gates)

    @property
    def blocking_failures(self) -> list[GateResult]:
        return [g for g in self.gates if g.blocking and g.status == GateStatus.FAILED]

    @property
    def waiting(self) -> list[GateResult]:
        return [g for g in self.gates if g.blocking and g.status == GateStatus.WAITING_SIGNOFF]

    def to_json(self) -> dict[str, Any]:
        gates = []
        for gate in self.gates:
            item = gate.to_json()
            item["seconds"] = round(self.durations.get(gate.id, 0.0), 2)
            recorded = self.recorded_evidence.get(gate.id)
            if recorded:
                item["evidence"] = list(recorded)
            gates.append(item)
        return {
            "ok": self.ok,
            "gates": gates,
            "git_head": self.git_head,
            "runbook_sha256": self.runbook_sha256,
            "at": self.at.isoformat(),
            "seconds": round(self.seconds, 2),
            "run_id": self.recorded_in,
            "notes": list(self.notes),
        }


def _lanes(gates: Sequence[GateSpec]) -> list[list[GateSpec]]:
    """Groups that run one after another inside, in parallel with each other.

    The project's commands share one lane: they write the same files (coverage/, caches) and on a small machine
    two jest runs at once only slow each other down; LWC coverage runs the unit tests that produce its summary.
    Every other gate only reads the project and runs on its own.
    """
    commands = [g for g in gates if g.action == "gate.command"]
    lwc = [g for g in gates if g.action == "gate.coverage" and _coverage_kind(g) == "lwc"]
    grouped = {g.id for g in [*commands, *lwc]}
    lanes = [lane for lane in ([*commands, *lwc],) if lane]
    lanes += [[g] for g in gates if g.id not in grouped]
    return lanes


def run_preflight(
    project_dir: Path,
    runbook: Any,
    *,
    runbook_path: Path | None = None,
    at: datetime | None = None,
    view: SignoffView | None = None,
    jobs: int | None = None,
    only: Sequence[str] | None = None,
) -> PreflightReport:
    """Evaluate every preflight gate of the runbook for the project in `project_dir`."""
    from cutover.steps import file_sha256, git_head

    started = time.monotonic()
    project_dir = Path(project_dir).resolve()
    gates, _ = preflight_gates(runbook)
    if only:
        gates = [g for g in gates if g.id in only or _suffix(g) in only]
    moment = at or datetime.now(UTC)
    tag_pattern = runbook.release.tag.replace("{version}", "*").replace("{date}", "*")
    current_tag = runbook.release.tag_name()
    ctx = PreflightContext(
        project_dir=project_dir,
        runbook=runbook,
        at=moment,
        view=view or SignoffView(),
        cache_dir=project_dir / ".cutover" / "cache",
        previous_tag=git_checks.previous_release_tag(project_dir, pattern=tag_pattern, exclude=current_tag),
    )
    results: dict[str, GateResult] = {}
    durations: dict[str, float] = {}

    def run_lane(lane: list[GateSpec]) -> None:
        for spec in lane:
            gate_started = time.monotonic()
            results[spec.id] = evaluate_gate(spec, ctx)
            durations[spec.id] = time.monotonic() - gate_started

    lanes = _lanes(gates)
    workers = jobs or max(2, min(4, (os.cpu_count() or 2)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="preflight") as pool:
        for future in [pool.submit(run_lane, lane) for lane in lanes]:
            future.result()
    ordered = tuple(results[g.id] for g in gates)
    return PreflightReport(
        gates=ordered,
        git_head=git_head(project_dir),
        runbook_sha256=file_sha256(runbook_path) if runbook_path else None,
        at=moment,
        seconds=time.monotonic() - started,
        durations=durations,
    )


# ---------------------------------------------------------------------------------------------------------------------
# The engine: reading sign-offs, recording results, executors
# ---------------------------------------------------------------------------------------------------------------------


def signoff_view(
    project_dir: Path, runbook: Any, target_org: str | None = None, runbook_path: Path | None = None
) -> SignoffView:
    """Sign-offs and waivers from the run preflight would record into: the org's open run, or its failed run of the
    same commit and runbook (none when there is no run or no state yet)."""
    if not (Path(project_dir) / ".cutover" / "state.db").exists():
        return SignoffView()
    from cutover.engine import Engine

    engine = Engine(project_dir)
    try:
        from cutover.steps import file_sha256, git_head

        head = git_head(Path(project_dir))
        coverage = latest_validation_coverage(engine, head)
        run = engine.continuable_run(
            target_org or runbook.target.alias,
            git_head=head,
            runbook_sha256=file_sha256(runbook_path) if runbook_path else None,
        )
        if run is None:
            return SignoffView(validation_coverage=coverage)
        signoffs: dict[str, list[Any]] = {}
        for record in engine.store.signoffs(run.id):
            signoffs.setdefault(record.step_id, []).append(record)
        waivers = {w.step_id: w for w in engine.store.waivers(run.id)}
        return SignoffView(
            signoffs={k: tuple(v) for k, v in signoffs.items()},
            waivers=waivers,
            validation_coverage=coverage,
        )
    finally:
        engine.close()


def latest_validation_coverage(engine: Any, head: str | None) -> tuple[float, str] | None:
    """Org-wide coverage measured by the latest validation of this commit, in any run of the project.

    The validate step records `validation-criteria.json` (criteria with their measured values); a validation of
    another commit says nothing about this one, so only runs created at the same git HEAD count.
    """
    if head is None:
        return None
    for run in reversed(engine.runs()):
        if run.git_head != head:
            continue
        items = [e for e in engine.store.evidence(run.id) if str(e["name"]).startswith("validation-criteria")]
        for item in reversed([e for e in items if str(e["name"]).endswith(".json")]):
            try:
                data = json.loads((engine.cutover_dir / item["relpath"]).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            for criterion in data.get("criteria") or []:
                if criterion.get("name") != "Code coverage":
                    continue
                match = re.search(r"\d+(?:\.\d+)?", str(criterion.get("actual") or ""))
                if match:
                    job = data.get("job_id") or "?"
                    return float(match.group()), f"validation {job} in run {run.id}"
    return None


def record_preflight(
    project_dir: Path, runbook: Any, runbook_path: Path, report: PreflightReport, *, target_org: str | None = None
) -> PreflightReport:
    """Write every gate result (status, detail, evidence) into the org's run; create the run when there is none.

    Nothing is written into a run planned for another commit or runbook, or one already past preflight: its
    results would be mixed with stale ones. The report's notes say why when a result was not recorded.
    """
    from dataclasses import replace

    from cutover.engine import Engine, RunState, StepContext, StepStatus
    from cutover.engine.store import utc_now
    from cutover.steps import plan_to_specs

    _, plan = preflight_gates(runbook)
    engine = Engine(project_dir)
    try:
        alias = target_org or runbook.target.alias
        # A run that failed only on gates is continued: the sign-offs and waivers given to fix it stay with it.
        run = engine.continuable_run(alias, git_head=report.git_head, runbook_sha256=report.runbook_sha256)
        if run is None:
            try:
                shown_path = Path(runbook_path).resolve().relative_to(Path(project_dir).resolve()).as_posix()
            except ValueError:
                shown_path = str(runbook_path)
            run = engine.create_run(
                alias,
                plan_to_specs(plan, runbook),
                runbook_path=shown_path,
                runbook_sha256=report.runbook_sha256,
                git_head=report.git_head,
            )
        elif (run.git_head, run.runbook_sha256) != (report.git_head, report.runbook_sha256):
            return replace(
                report,
                notes=(
                    *report.notes,
                    f"not recorded: open run {run.id} was planned for another commit or runbook "
                    f"(finish it, or `cutover abort {run.id}`)",
                ),
            )
        records = {r.id: r for r in engine.steps(run.id)}
        if run.state not in (RunState.PLANNED, RunState.PAUSED, RunState.FAILED) or any(
            r.spec.stage != "preflight" and r.status != StepStatus.PENDING for r in records.values()
        ):
            return replace(report, notes=(*report.notes, f"not recorded: run {run.id} is already past preflight"))
        recorded: dict[str, tuple[dict[str, Any], ...]] = {}
        for gate in report.gates:
            record = records.get(gate.id)
            if record is None or record.status in (StepStatus.WAIVED,):
                continue
            if record.status == StepStatus.PASSED and record.spec.kind == "signoff":
                continue
            ctx = StepContext(store=engine.store, record=record, project_dir=Path(project_dir))
            stored = [ctx.record_evidence(item.name, item.content) for item in gate.evidence]
            recorded[gate.id] = tuple(
                {"name": e.name, "sha256": e.sha256, "bytes": e.size, "path": f".cutover/{e.relpath}"} for e in stored
            )
            status = StepStatus(gate.status.value)
            now = utc_now()
            with engine.store.transaction() as tx:
                engine.store.update_step(
                    tx,
                    run.id,
                    gate.id,
                    status=status,
                    detail=gate.detail,
                    started=record.started or now,
                    finished=None if status == StepStatus.WAITING_SIGNOFF else now,
                )
                tx.append_event(
                    run.id,
                    "preflight.gate",
                    gate.id,
                    {"status": gate.status.value, "detail": gate.detail, "git_head": report.git_head},
                )
        return replace(report, recorded_in=run.id, recorded_evidence=recorded)
    finally:
        engine.close()


class GateStep:
    """Engine executor for one preflight gate (`cutover run` reaching a preflight step that is not done yet)."""

    idempotent = True  # gates only read the project (and re-run its commands)

    def __init__(self, spec: GateSpec, runbook: Any, project_dir: Path) -> None:
        self.spec = spec
        self.runbook = runbook
        self.project_dir = project_dir

    def run(self, ctx: Any) -> Any:
        from cutover.engine import StepOutcome, StepStatus

        records = ctx.store.signoffs(ctx.run_id)
        signoffs: dict[str, list[Any]] = {}
        for record in records:
            signoffs.setdefault(record.step_id, []).append(record)
        tag_pattern = self.runbook.release.tag.replace("{version}", "*").replace("{date}", "*")
        pctx = PreflightContext(
            project_dir=self.project_dir,
            runbook=self.runbook,
            at=datetime.now(UTC),
            view=SignoffView(signoffs={k: tuple(v) for k, v in signoffs.items()}),
            cache_dir=self.project_dir / ".cutover" / "cache",
            previous_tag=git_checks.previous_release_tag(
                self.project_dir, pattern=tag_pattern, exclude=self.runbook.release.tag_name()
            ),
        )
        result = evaluate_gate(self.spec, pctx)
        for item in result.evidence:
            ctx.record_evidence(item.name, item.content)
        status = StepStatus(result.status.value)
        return StepOutcome(status, result.detail, {"gate": result.id})


def gate_executor(plan_step: Any, runbook: Any, services: Any) -> GateStep:
    """Registry factory for the `gate.*` actions."""
    return GateStep(_spec_from_plan_step(plan_step), runbook, Path(services.project_dir))


def _register_executors() -> None:
    from cutover.steps.registry import executor_factory, register_action

    for action in GATE_ACTIONS:
        # Leave an executor a test (or another area) registered on purpose in place.
        if executor_factory(action) is None:
            register_action(action, gate_executor)


_register_executors()
