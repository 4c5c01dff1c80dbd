"""Commands of this area register themselves on the app here (see cutover.commands)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this area's commands to `app`."""
