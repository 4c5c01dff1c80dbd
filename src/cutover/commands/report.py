"""`cutover report [RUN] --format md|html|json|junit [--output-file FILE]`: the release record of a run.

Exit codes: 0 the record was rendered and the audit trail verified; 1 the record was rendered (and written) but the
audit trail does not verify — CI notices a tampered run whatever the format; 2 bad flags or no such run. The run's
own outcome (failed, rolled back) does not change the exit code: the record reports it.
"""

from __future__ import annotations

import os
import tempfile
from enum import StrEnum
from pathlib import Path

import typer

from cutover.commands._context import app_context, err_console
from cutover.errors import AuditBroken, UsageError


class ReportFormat(StrEnum):
    md = "md"
    html = "html"
    json = "json"
    junit = "junit"


def report_cmd(
    ctx: typer.Context,
    run_id: str | None = typer.Argument(None, metavar="[RUN]", help="Run id or unique prefix (default: latest)."),
    fmt: ReportFormat = typer.Option(ReportFormat.md, "--format", "-f", help="Output format."),
    output: Path | None = typer.Option(
        None, "--output-file", metavar="FILE", help="Write the record to FILE instead of stdout."
    ),
) -> None:
    """Render the release record of a run (audit trail verified at render time; exit 1 if it does not verify)."""
    from cutover.report import build_record, render

    app = app_context(ctx)
    record = build_record(app.project_dir, run_id)
    text = render(record, fmt.value)
    if output is None:
        typer.echo(text, nl=False)
    else:
        _write(output if output.is_absolute() else Path.cwd() / output, text)
        err_console().print(f"release record of run {record['run']['id']} written to {output}", markup=False)
    audit = record["audit"]
    if not audit["ok"]:
        raise AuditBroken(
            f"run {record['run']['id']}: the audit trail does not verify: {audit['problems'][0]}",
            hint="the record was rendered with the failure shown; investigate with: "
            f"cutover audit verify {record['run']['id']}",
        )


def _write(path: Path, text: str) -> None:
    if path.is_dir():
        raise UsageError(f"--output-file {path} is a folder; name a file")
    if not path.parent.is_dir():
        raise UsageError(f"--output-file: folder {path.parent} does not exist")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        # mkstemp creates 0600; a release record is meant to be shared, so it gets the usual umask mode
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def register(app: typer.Typer) -> None:
    app.command("report")(report_cmd)
