"""The `cutover` command line: a thin Typer app. Parse, call the library, render, map errors to exit codes.

Each area registers its commands from its own module under `cutover.commands` so the areas stay independent.
Errors are translated once, here: a `CutoverError` prints one line (and a hint) and exits with its code; anything
else is a bug, whose traceback goes to `.cutover/logs/` while the user sees one line and exit code 3.
"""

from __future__ import annotations

import os
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path

import click
import typer

from cutover import __version__
from cutover.commands import REGISTRARS
from cutover.commands._context import AppContext, err_console
from cutover.errors import CutoverError, ExitCode, UsageError
from cutover.redact import redact

app = typer.Typer(
    name="cutover",
    help="Run a Salesforce production deployment runbook as software: plan, gates, deploy, verify, roll back, audit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cutover {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    ctx: typer.Context,
    directory: Path | None = typer.Option(
        None, "-C", metavar="DIR", help="Act on the project in DIR instead of the current folder (like git -C)."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Answer yes to every confirmation (non-interactive use)."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    project_dir = (directory or Path.cwd()).resolve()
    if directory is not None and not project_dir.is_dir():
        raise UsageError(f"-C {directory}: no such folder")
    ctx.obj = AppContext(project_dir=project_dir, yes=yes)


for register in REGISTRARS:
    register(app)

from cutover.commands import fleet, server, worker  # noqa: E402  (issue 10: Temporal; imports temporalio lazily)

for register in (server.register, worker.register, fleet.register):
    register(app)


def _crash_log(exc: BaseException, argv: list[str]) -> Path | None:
    """Write the traceback of an unexpected error to .cutover/logs/ (redacted); return its path."""
    try:
        project_dir = Path.cwd()
        if "-C" in argv and argv.index("-C") + 1 < len(argv):
            project_dir = Path(argv[argv.index("-C") + 1])
        log_dir = project_dir / ".cutover" / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        path = log_dir / f"crash-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}.log"
        text = "".join(traceback.format_exception(exc))
        path.write_text(redact(f"cutover {__version__}\nargv: {argv}\n\n{text}"), encoding="utf-8")
        return path
    except OSError:
        return None


def main(argv: list[str] | None = None) -> int:
    """Entry point. Returns (and exits with) a documented exit code."""
    console = err_console()
    try:
        # With standalone_mode=False click *returns* the code of `raise typer.Exit(n)` instead of raising it.
        result = app(args=argv, standalone_mode=False, prog_name="cutover")
        code = result if isinstance(result, int) else ExitCode.OK
    except CutoverError as exc:
        console.print(f"cutover: error: {redact(exc.message)}", markup=False, highlight=False)
        if exc.hint:
            console.print(f"  hint: {redact(exc.hint)}", markup=False, highlight=False)
        code = exc.exit_code
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.exceptions.Abort:
        console.print("cutover: interrupted", markup=False)
        code = ExitCode.INTERRUPTED
    except click.ClickException as exc:
        console.print(f"cutover: error: {redact(exc.format_message())}", markup=False, highlight=False)
        code = ExitCode.USAGE
    except KeyboardInterrupt:
        console.print("cutover: interrupted", markup=False)
        code = ExitCode.INTERRUPTED
    except Exception as exc:  # a bug: one line for the user, the traceback for us
        log = _crash_log(exc, sys.argv[1:] if argv is None else argv)
        where = f" (traceback in {log})" if log else ""
        console.print(
            f"cutover: internal error: {redact(type(exc).__name__ + ': ' + str(exc))}{where}",
            markup=False,
            highlight=False,
        )
        code = ExitCode.INTERNAL
    if argv is None:
        if "temporalio" in sys.modules:  # its Rust threads can abort the interpreter's teardown (sdk-python#300)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        sys.exit(code)
    return code


if __name__ == "__main__":
    main()
