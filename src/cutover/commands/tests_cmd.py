"""`cutover tests relevant`: the Apex test classes a release affects, and why each is in the list.

The release is the delta from `--since` (default: `project.delta.since`, else the latest release tag reachable from
HEAD) to `--until` (HEAD); the tests come from `cutover.testsel`'s dependency graph of the project's Apex. The
list is what a run with `sf.relevant_tests: true` passes to RunSpecifiedTests; `uncovered` names the Apex classes
and triggers of the deploy no listed test reaches, for which such a run refuses to validate (exit 0 here: the
command only answers the question).
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import typer

from cutover.commands._context import app_context, out_console
from cutover.errors import UsageError
from cutover.runbook import RUNBOOK_FILENAME, load_runbook
from cutover.runbook.inspect import read_sfdx_project
from cutover.runbook.models import Runbook
from cutover.testsel import TestSelection, build_graph, select_in_graph, select_tests


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


def _runbook(project_dir: Path) -> Runbook | None:
    path = project_dir / RUNBOOK_FILENAME
    return load_runbook(path) if path.is_file() else None


def default_since(project_dir: Path, runbook: Runbook | None) -> str:
    """As a delta release picks its base (`cutover.delta.frozen.delta_base`): `project.delta.since`, else the newest
    release tag reachable from HEAD other than the one this release creates; without a runbook the newest `v*`."""
    if runbook is not None:
        from cutover.delta.frozen import delta_base

        return delta_base(project_dir, runbook)
    from cutover.checks.git import previous_release_tag

    tag = previous_release_tag(project_dir, pattern="v*")
    if tag is None:
        raise UsageError(
            "no release tag matching v* is reachable from HEAD to compare with",
            hint="pass --since TAG (a tag, branch or commit)",
        )
    return tag


def relevant(project_dir: Path, since: str | None, until: str) -> tuple[TestSelection, str]:
    """The selection for the delta since..until, and what the deploy sends (for the text output)."""
    from cutover.delta import compute_delta

    runbook = _runbook(project_dir)
    since = since or default_since(project_dir, runbook)
    if runbook is None:
        source_dirs = read_sfdx_project(project_dir)[0]
        delta = compute_delta(project_dir, since, until, source_dirs=source_dirs)
        return select_in_graph(project_dir, delta, build_graph(project_dir, source_dirs)), "the delta"
    delta = compute_delta(project_dir, since, until, source_dirs=runbook.project.source_dirs)
    deploys = "the delta" if runbook.project.delta.enabled else "every package directory (project.delta is off)"
    return select_tests(project_dir, delta, runbook), deploys


def render_text(selection: TestSelection, deploys: str) -> str:
    lines = [
        f"{len(selection.tests)} relevant test class(es) since {selection.since} "
        f"({len(selection.changes)} change(s) reaching Apex; the deploy sends {deploys})"
    ]
    for test in selection.tests:
        lines.append(f"  {test.name}")
        lines.extend(f"    {reason}" for reason in test.reasons)
    if selection.unaffecting:
        lines.append(f"no Apex reached by: {', '.join(selection.unaffecting)}")
    refusal = selection.refusal()
    if refusal:
        lines.append(f"refused with sf.relevant_tests: {refusal}")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    """Add `cutover tests ...`."""
    tests_app = typer.Typer(help="Apex tests: which ones a release needs.", no_args_is_help=True)
    app.add_typer(tests_app, name="tests")

    @tests_app.command("relevant")
    def relevant_cmd(
        ctx: typer.Context,
        since: str | None = typer.Option(
            None, "--since", metavar="TAG", help="Compare with this tag or commit (default: the latest release tag)."
        ),
        until: str = typer.Option("HEAD", "--until", metavar="REF", help="The release's commit (default HEAD)."),
        output_format: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="text or json."),
    ) -> None:
        """List the Apex test classes the changes since the last release reach, and why each is in the list.

        A test is relevant when it reaches a changed class or trigger through class references (an inner class
        counts as its outer class).

        A changed object, field, validation rule or record type reaches the triggers on the object and the code
        that queries or changes its records.

        `uncovered`: Apex of the deploy that no listed test reaches. A run with sf.relevant_tests refuses to
        validate then (Salesforce wants 75 % coverage of each class from the specified tests).
        """
        project_dir = app_context(ctx).project_dir
        selection, deploys = relevant(project_dir, since, until)
        if output_format == OutputFormat.json:
            typer.echo(json.dumps({**selection.to_json(), "until": until, "refusal": selection.refusal()}, indent=2))
        else:
            out_console().print(render_text(selection, deploys), markup=False)
