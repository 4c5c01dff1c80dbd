"""`cutover scan apex PATH...`: the Apex security scanner on the command line.

Exit codes follow linters: 0 no error findings (warnings are reported only), 1 error findings, 2 usage (a path
that does not exist, a bad option, an unknown rule in the runbook's `security.rules`).
Settings come from the runbook's `security` section when the project has a `cutover.yaml`, then from flags.
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum
from pathlib import Path

import typer

from cutover.checks.apex import RULE_IDS, ScanConfig, scan_paths
from cutover.checks.apex.config import ScanConfigError
from cutover.checks.apex.formats import render_json, render_rules, render_sarif, render_text
from cutover.commands._context import app_context, err_console
from cutover.errors import ExitCode, UsageError
from cutover.runbook import RUNBOOK_FILENAME, load_runbook


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"


def _runbook_security(project_dir: Path) -> tuple[ScanConfig, list[str]]:
    """The config and default scan paths from cutover.yaml, or the generic defaults when there is none."""
    path = project_dir / RUNBOOK_FILENAME
    if not path.is_file():
        return ScanConfig(), []
    security = load_runbook(path).security
    try:
        config = ScanConfig.from_mapping(security)
    except ScanConfigError as exc:
        raise UsageError(f"{RUNBOOK_FILENAME}: {exc}", hint="cutover scan apex --list-rules") from None
    return config, list(security.scan_paths)


def apex(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(
        None, metavar="PATH...", help="Files or folders to scan (.cls, .trigger). Default: security.scan_paths."
    ),
    output_format: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="text, json or sarif."),
    output: Path | None = typer.Option(None, "--output-file", help="Write the report to FILE instead of stdout."),
    include_tests: bool = typer.Option(False, "--include-tests", help="Also scan @IsTest classes and methods."),
    disable: list[str] = typer.Option([], "--disable", metavar="RULE", help="Turn a rule off (repeatable)."),
    warn: list[str] = typer.Option(
        [], "--warn", metavar="RULE", help="Report a rule as a warning, which does not fail (repeatable)."
    ),
    only: list[str] = typer.Option([], "--rule", metavar="RULE", help="Run only this rule (repeatable)."),
    guards: list[str] = typer.Option(
        [], "--guard", metavar="CLASS.METHOD", help="A CRUD/FLS guard method (repeatable; replaces the runbook's)."
    ),
    strips: list[str] = typer.Option(
        [], "--strip", metavar="CLASS.METHOD", help="An FLS strip method (repeatable; replaces the runbook's)."
    ),
    list_rules: bool = typer.Option(False, "--list-rules", help="List the rules and their severity, then exit."),
) -> None:
    """Scan Apex classes and triggers for CRUD/FLS, sharing and SOQL injection problems.

    Rules: soql-not-enforced, dml-without-crud-check, aura-without-strip, soql-injection, sharing-not-declared.

    Severity per rule: the runbook's security.rules (error | warning | off), or --warn / --disable.

    Silence one finding: `// cutover:ignore RULE` at the end of its line, `// cutover:ignore-next-line RULE` on
    the line above, or @SuppressWarnings('cutover:RULE') on a class or method.

    Exit status: 0 no error findings (warnings do not count), 1 error findings, 2 usage error.
    """
    project_dir = app_context(ctx).project_dir
    config, default_paths = _runbook_security(project_dir)
    for rule in [*disable, *only, *warn]:
        if rule not in RULE_IDS:
            raise UsageError(f"unknown rule {rule!r}", hint=f"rules: {', '.join(RULE_IDS)}")
    rules = set(only) if only else set(config.rules)
    config = replace(
        config,
        rules=frozenset((rules | set(warn)) - set(disable)),
        warning_rules=config.warning_rules | set(warn),
        skip_test_classes=config.skip_test_classes and not include_tests,
        guard_methods=tuple(guards) if guards else config.guard_methods,
        strip_methods=tuple(strips) if strips else config.strip_methods,
    )
    if list_rules:
        typer.echo(render_rules(config))
        return
    if not paths:
        if not default_paths:
            raise UsageError("no PATH given", hint="cutover scan apex force-app (or set security.scan_paths)")
        paths = [Path(p) for p in default_paths]
    resolved = [p if p.is_absolute() else project_dir / p for p in paths]
    missing = [str(p) for p, r in zip(paths, resolved, strict=True) if not r.exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    report = scan_paths(resolved, config, root=project_dir)
    if report.files == 0:
        err_console().print(
            f"cutover: warning: no .cls or .trigger files in {', '.join(str(p) for p in paths)}",
            markup=False,
            highlight=False,
        )
    if output_format is OutputFormat.json:
        rendered = render_json(report)
    elif output_format is OutputFormat.sarif:
        rendered = render_sarif(report, config)
    else:
        rendered = render_text(report)
    if output is not None:
        target = output if output.is_absolute() else project_dir / output
        target.write_text(rendered + "\n", encoding="utf-8")
        err_console().print(render_text(report).splitlines()[-1], markup=False, highlight=False)
    else:
        typer.echo(rendered)
    if not report.ok:
        raise typer.Exit(ExitCode.FAILED)


def register(app: typer.Typer) -> None:
    """Add `cutover scan apex` to `app`."""
    scan_app = typer.Typer(
        name="scan", help="Static checks on the project's source.", no_args_is_help=True, add_completion=False
    )
    scan_app.command("apex")(apex)
    app.add_typer(scan_app, name="scan")
