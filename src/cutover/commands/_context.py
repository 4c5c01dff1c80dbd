"""What every command receives from the global options, and the consoles commands print with."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console


@dataclass(frozen=True)
class AppContext:
    project_dir: Path  # from -C DIR, else the current folder (resolved)
    yes: bool  # --yes: never prompt


def app_context(ctx: typer.Context) -> AppContext:
    """The AppContext set by the global callback (walks up to the root context)."""
    root = ctx.find_root()
    obj = root.obj
    if not isinstance(obj, AppContext):  # invoked without the callback (tests calling a command directly)
        obj = AppContext(project_dir=Path.cwd().resolve(), yes=False)
        root.obj = obj
    return obj


@functools.cache
def out_console() -> Console:
    """Human output (stdout). JSON output is printed with plain `print` / `typer.echo`, never through Rich."""
    return Console(highlight=False, soft_wrap=True)


@functools.cache
def err_console() -> Console:
    """Errors, progress and spinners (stderr), so stdout stays clean for --format json."""
    return Console(stderr=True, highlight=False, soft_wrap=True)
