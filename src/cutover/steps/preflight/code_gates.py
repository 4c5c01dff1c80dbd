"""Gates on the project's code: its own commands, coverage, the Apex scan, secrets, permission sets."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from cutover.checks import commands as command_checks
from cutover.checks import coverage as coverage_checks
from cutover.checks import permissions as permission_checks
from cutover.checks import secrets as secret_checks
from cutover.checks.result import Evidence, GateResult, GateStatus, failed, passed, skipped
from cutover.steps._params import as_command, as_float, as_text, as_texts
from cutover.steps.preflight.context import COMMAND_KEYS, GateSpec, PreflightContext, command_text, param, suffix

if TYPE_CHECKING:
    from cutover.checks.apex import ScanConfig
    from cutover.checks.apex.findings import Finding
    from cutover.runbook.models import SecurityConfig

#: Apex sources: classes and triggers.
APEX_SUFFIXES = (".cls", ".trigger")


def _command_key(spec: GateSpec) -> str | None:
    key = param(spec, "command_key", "key", "name")
    if key:
        return str(key).replace("-", "_")
    name = suffix(spec).replace("-", "_")
    return name if name in COMMAND_KEYS else None


def gate_command(spec: GateSpec, ctx: PreflightContext) -> GateResult:
    command = as_command(param(spec, "command", "argv", "run"))
    key = _command_key(spec)
    setting = f"project.commands.{key}" if key else None
    if command is None and key:
        command = getattr(ctx.runbook.project.commands, key, None)
    if not command:
        return skipped(spec.id, spec.title, f"no command configured ({setting or 'project.commands'} is null)")
    return command_checks.run_command_gate(spec.id, spec.title, command_text(command), ctx.project_dir, setting=setting)


def gate_secrets(spec: GateSpec, ctx: PreflightContext) -> GateResult:
    baseline_name = as_text(param(spec, "baseline", default=ctx.runbook.security.secrets.baseline))
    baseline = ctx.project_dir / baseline_name if baseline_name else None
    cache = (ctx.cache_dir / "secrets.json") if ctx.cache_dir else None
    exclude = as_texts(param(spec, "exclude_dirs", default=ctx.runbook.security.secrets.exclude_dirs))
    return secret_checks.check_secrets(
        spec.id, spec.title, ctx.project_dir, baseline_path=baseline, cache_path=cache, exclude_dirs=exclude
    )


def scan_config_for(security: SecurityConfig) -> ScanConfig:
    """The Apex scanner's configuration from the runbook's `security` section (guards, strip methods, SOQL modes,
    rule severities). ValueError names a wrong setting."""
    from cutover.checks.apex import ScanConfig

    return ScanConfig.from_mapping(security)


def apex_files(paths: list[Path]) -> int:
    """How many Apex classes and triggers are under `paths`."""
    count = 0
    for path in paths:
        if path.is_file():
            count += path.suffix in APEX_SUFFIXES
        elif path.is_dir():
            count += sum(
                1 for item in path.rglob("*") if item.suffix in APEX_SUFFIXES and "node_modules" not in item.parts
            )
    return count


def _scan_paths(spec: GateSpec, ctx: PreflightContext) -> tuple[list[Path], str | None]:
    """The folders to scan: `security.scan_paths` when the runbook writes it, else the project's package folders.
    Second: the problem when paths the runbook names do not exist."""
    named, chosen = ctx.setting(spec, ("paths", "scan_paths"), ctx.runbook.security, "scan_paths")
    if not chosen:
        paths = [ctx.project_dir / d for d in ctx.source_dirs]
        if not any(p.is_dir() for p in paths):
            return paths, f"{ctx.source_dir}/ not found: set project.source_dir or security.scan_paths"
        return paths, None
    paths = [ctx.project_dir / path for path in as_texts(named)]
    missing = [str(p.relative_to(ctx.project_dir)) for p in paths if not p.exists()]
    if missing:
        return paths, f"scan path(s) not found: {', '.join(missing)} (security.scan_paths)"
    return paths, None


def gate_apex_scan(spec: GateSpec, ctx: PreflightContext) -> GateResult:
    try:
        from cutover.checks.apex import scan_paths
    except ImportError as exc:
        return failed(spec.id, spec.title, f"the Apex scanner is not available: {exc}")
    paths, problem = _scan_paths(spec, ctx)
    if problem:
        return failed(spec.id, spec.title, problem)
    shown = ", ".join(_relative(str(p), ctx.project_dir) for p in paths)
    if not apex_files(paths):
        return skipped(spec.id, spec.title, f"no Apex classes or triggers in {shown}: nothing to scan")
    try:
        config = scan_config_for(ctx.runbook.security)
    except ValueError as exc:
        return failed(spec.id, spec.title, f"security settings: {exc}")
    report = scan_paths([str(p) for p in paths], config)
    data = report.to_json()
    for item in data["findings"] + data["errors"]:
        item["file"] = _relative(item["file"], ctx.project_dir)
    evidence = Evidence.json("apex-scan.json", data)
    # Findings of rules the runbook sets to "warning" (security.rules) are reported but do not fail the gate.
    errors = [f for f in report.findings if f.severity != "warning"]
    warnings = [f for f in report.findings if f.severity == "warning"]
    notes = f"; {report.suppressed} suppressed" if report.suppressed else ""
    notes += f"; {len(report.errors)} file(s) only partly parsed" if report.errors else ""
    if warnings:
        notes += f"; {len(warnings)} warning(s) (not failing): {_listed(warnings, ctx.project_dir)}"
    if not errors:
        what = "no failing findings" if warnings else "no findings"
        return passed(spec.id, spec.title, f"{what} in {report.files} Apex file(s){notes}", evidence)
    return failed(spec.id, spec.title, f"{len(errors)} finding(s): {_listed(errors, ctx.project_dir)}{notes}", evidence)


def _listed(findings: list[Finding], base: Path) -> str:
    first = "; ".join(f"{_relative(f.file, base)}:{f.line} {f.rule}: {f.message}" for f in findings[:3])
    return first + (f" (and {len(findings) - 3} more)" if len(findings) > 3 else "")


def _relative(path: str, base: Path) -> str:
    try:
        return Path(path).resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path


def gate_permission_sets(spec: GateSpec, ctx: PreflightContext) -> GateResult:
    # The step's own folder when it names one; else the project's package directories (and project.source_dir).
    named = as_text(param(spec, "source_dir"))
    folders = [named] if named and named != ctx.source_dir else ctx.source_dirs
    missing = [folder for folder in folders if not (ctx.project_dir / folder).is_dir()]
    if missing:
        return failed(
            spec.id,
            spec.title,
            f"{', '.join(f'{m}/' for m in missing)} not found: set project.source_dir to a package directory of "
            "sfdx-project.json",
        )
    configured, chosen = ctx.setting(spec, ("manifest",), ctx.runbook.project, "manifest")
    manifest = as_text(configured)
    if manifest and not (ctx.project_dir / manifest).is_file():
        if chosen:
            return failed(spec.id, spec.title, f"{manifest} not found (project.manifest)")
        manifest = None  # the default name, and the project has no manifest: the package directories deploy
    return permission_checks.check_permission_sets(
        spec.id, spec.title, ctx.project_dir, source_dirs=folders, since=ctx.previous_tag, manifest=manifest
    )


def coverage_kind(spec: GateSpec) -> str:
    kind = param(spec, "kind", "scope")
    if kind:
        return str(kind).lower()
    return "lwc" if "lwc" in suffix(spec) else "apex"


def gate_coverage(spec: GateSpec, ctx: PreflightContext) -> GateResult:
    if coverage_kind(spec) == "lwc":
        return _lwc_coverage(spec, ctx)
    threshold = as_float(param(spec, "threshold", default=ctx.runbook.thresholds.apex_coverage))
    folders = [ctx.project_dir / d for d in ctx.source_dirs]
    if any(folder.is_dir() for folder in folders) and not apex_files(folders):
        return skipped(spec.id, spec.title, "the project has no Apex classes or triggers: no Apex coverage to measure")
    percent, source = apex_coverage_source(ctx)
    return coverage_checks.check_apex_coverage(spec.id, spec.title, percent=percent, threshold=threshold, source=source)


def _has_lwc(ctx: PreflightContext) -> bool:
    return any(
        path.is_dir()
        for d in ctx.source_dirs
        for path in (ctx.project_dir / d).rglob("lwc")
        if "node_modules" not in path.parts
    )


def _lwc_coverage(spec: GateSpec, ctx: PreflightContext) -> GateResult:
    """Run the unit-test command (it writes the coverage summary), then compare the summary with the threshold."""
    command = as_command(param(spec, "argv", "command", default=ctx.runbook.project.commands.test_unit))
    summary = ctx.project_dir / str(param(spec, "summary", default=ctx.runbook.project.lwc_coverage_summary))
    threshold = as_float(param(spec, "threshold", default=ctx.runbook.thresholds.lwc_coverage))
    if not _has_lwc(ctx):
        return skipped(spec.id, spec.title, "the project has no Lightning web components (no lwc/ folder)")
    if not command and not summary.is_file():
        return skipped(
            spec.id, spec.title, "no unit-test command (project.commands.test_unit) and no coverage summary to read"
        )
    not_before = None
    unit: GateResult | None = None
    if command:
        not_before = time.time()
        unit = command_checks.run_command_gate(
            spec.id,
            spec.title,
            command_text(command),
            ctx.project_dir,
            evidence_name="test-unit.log",
            setting="project.commands.test_unit",
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
                test_org,
                test_level=ctx.runbook.sf.apex_test_level,
                code_coverage=True,
                wait=ctx.runbook.sf.wait_minutes,
            )
        except SfError as exc:
            return None, f"sandbox test run on {test_org} failed: {exc}"
        pct = run.org_wide_coverage_pct if run.org_wide_coverage_pct is not None else run.test_run_coverage_pct
        return pct, f"sf apex run test --target-org {test_org} ({run.passing}/{run.tests_ran} passing)"
    if ctx.view.validation_coverage is not None:
        return ctx.view.validation_coverage
    return None, None
