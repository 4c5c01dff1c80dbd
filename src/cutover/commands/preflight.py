"""`cutover preflight`: the runbook's Pre-Deployment Checklist as gates, with text, JSON or JUnit output.

Exit codes: 0 every blocking gate passed or was waived; 1 a blocking gate failed; 4 nothing failed but sign-offs
(or a window exception) are still needed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from xml.etree import ElementTree as ET

import typer

from cutover.checks.result import GateStatus
from cutover.commands._context import app_context, err_console, out_console
from cutover.errors import AwaitingSignoff, GateFailed, UsageError


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    junit = "junit"


_MARKS = {
    GateStatus.PASSED: ("✔", "green"),
    GateStatus.FAILED: ("✘", "red"),
    GateStatus.WAIVED: ("≈", "yellow"),
    GateStatus.WAITING_SIGNOFF: ("…", "yellow"),
    GateStatus.SKIPPED: ("-", "dim"),
}


def parse_at(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--at {value}: not an ISO 8601 date-time", hint="e.g. --at 2026-11-27T18:30:00-05:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def render_junit(report: object) -> str:
    from cutover.steps.preflight import PreflightReport

    assert isinstance(report, PreflightReport)
    failures = sum(1 for g in report.gates if g.status == GateStatus.FAILED)
    skipped = sum(1 for g in report.gates if g.status in (GateStatus.SKIPPED, GateStatus.WAITING_SIGNOFF))
    suite = ET.Element(
        "testsuite",
        {
            "name": "cutover preflight",
            "tests": str(len(report.gates)),
            "failures": str(failures),
            "errors": "0",
            "skipped": str(skipped),
            "time": f"{report.seconds:.2f}",
            "timestamp": report.at.isoformat(),
        },
    )
    for gate in report.gates:
        case = ET.SubElement(
            suite,
            "testcase",
            {"classname": "cutover.preflight", "name": gate.id, "time": f"{report.durations.get(gate.id, 0.0):.2f}"},
        )
        if gate.status == GateStatus.FAILED:
            element = ET.SubElement(
                case, "failure", {"message": gate.detail, "type": "blocking" if gate.blocking else "advisory"}
            )
            element.text = "\n".join([gate.title, *gate.output_tail])
        elif gate.status in (GateStatus.SKIPPED, GateStatus.WAITING_SIGNOFF):
            ET.SubElement(case, "skipped", {"message": f"{gate.status.value}: {gate.detail}"})
        out = ET.SubElement(case, "system-out")
        out.text = f"{gate.title}\n{gate.status.value}: {gate.full_detail}"
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


def _print_text(report: object) -> None:
    from cutover.steps.preflight import PreflightReport

    assert isinstance(report, PreflightReport)
    console = out_console()
    for gate in report.gates:
        mark, style = _MARKS[gate.status]
        advisory = "" if gate.blocking else " (advisory)"
        console.print(f"[{style}]{mark}[/] {gate.id}: {gate.title}{advisory}", highlight=False)
        console.print(f"    {gate.status.value}: {gate.detail}", markup=False, highlight=False)
        for line in gate.output_tail:
            console.print(f"      | {line}", markup=False, highlight=False)
    counts: dict[str, int] = {}
    for gate in report.gates:
        counts[gate.status.value] = counts.get(gate.status.value, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    console.print(f"\n{len(report.gates)} gates: {summary} ({report.seconds:.1f} s)", markup=False)
    if report.waiting:
        console.print("still needed before deploying:", markup=False)
        for gate in report.waiting:
            console.print(f"  - {gate.id}: {gate.title}", markup=False, highlight=False)
    if report.recorded_in:
        console.print(f"recorded in run {report.recorded_in}", markup=False)
    for note in report.notes:
        err_console().print(f"note: {note}", markup=False)


def preflight(
    ctx: typer.Context,
    output_format: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="text, json or junit."),
    at: str | None = typer.Option(
        None, "--at", metavar="ISO8601", help="Check the deployment window for this (scheduled) start instead of now."
    ),
    only: list[str] = typer.Option([], "--only", metavar="GATE", help="Run only this gate (id or its last part)."),
    record: bool = typer.Option(True, "--record/--no-record", help="Record the results in the org's run."),
    jobs: int | None = typer.Option(None, "--jobs", "-j", min=1, max=16, help="Gates run at once (default: 2-4)."),
    target_org: str | None = typer.Option(
        None, "--target-org", "-o", help="Org alias whose run gets the results (default: the runbook's target)."
    ),
) -> None:
    """Run every pre-deployment gate of the runbook (code quality, git, reviews, security, tests, docs, window,
    contacts) and list the sign-offs still needed.

    Exit codes: 0 every blocking gate passed or was waived, 1 a blocking gate failed, 4 sign-offs still needed.
    """
    from cutover.runbook import find_runbook, load_runbook
    from cutover.steps.preflight import record_preflight, run_preflight, signoff_view

    project_dir = app_context(ctx).project_dir
    runbook_path = find_runbook(project_dir)
    runbook = load_runbook(runbook_path)
    moment = parse_at(at)
    view = signoff_view(project_dir, runbook, target_org, runbook_path)
    with err_console().status("running preflight gates", spinner="dots"):
        report = run_preflight(
            project_dir, runbook, runbook_path=runbook_path, at=moment, view=view, jobs=jobs, only=only or None
        )
        if record and not only:
            report = record_preflight(project_dir, runbook, runbook_path, report, target_org=target_org)
    if not report.gates:
        raise UsageError(
            f"no preflight gate matches {', '.join(only)}" if only else "the runbook has no preflight gates"
        )
    if output_format == OutputFormat.json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    elif output_format == OutputFormat.junit:
        typer.echo(render_junit(report), nl=False)
    else:
        _print_text(report)
    if report.blocking_failures:
        names = ", ".join(g.id for g in report.blocking_failures)
        raise GateFailed(
            f"{len(report.blocking_failures)} blocking gate(s) failed: {names}",
            hint="fix them and run `cutover preflight` again (or `cutover waive GATE --reason TEXT --approver NAME`)",
        )
    if report.waiting:
        names = ", ".join(g.id for g in report.waiting)
        hint = "cutover signoff STEP --by NAME --role ROLE [--evidence URL]"
        exceptions = [g.id for g in report.waiting if not g.id.startswith("signoff.")]
        if exceptions:
            hint += f"; for {', '.join(exceptions)}: cutover waive STEP --reason TEXT --approver NAME"
        raise AwaitingSignoff(
            f"no blocking gate failed; {len(report.waiting)} sign-off(s) still needed: {names}", hint=hint
        )


def register(app: typer.Typer) -> None:
    """Add this area's commands to `app`."""
    app.command("preflight")(preflight)
