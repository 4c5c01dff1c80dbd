"""`cutover worker`: run the fleet's and team runs' workflows and steps (activities) against Temporal.

Workers are stateless: the runs live in Temporal. Start as many as you like, on any machine that has the project
folder (the path the fleet file names), the `sf` CLI logged in to the orgs, and access to Temporal; kill one at any
time and another continues its work (a deploy in progress is re-attached to, never started twice).
"""

from __future__ import annotations

import typer

from cutover.commands._context import app_context, err_console

TEMPORAL_HELP = "Temporal frontend HOST:PORT (default: CUTOVER_TEMPORAL, else the one `cutover server` started)."
NAMESPACE_HELP = "Temporal namespace (default: CUTOVER_TEMPORAL_NAMESPACE, else default)."


def temporal_option() -> str | None:
    return typer.Option(None, "--temporal", metavar="HOST:PORT", help=TEMPORAL_HELP)


def namespace_option() -> str | None:
    return typer.Option(None, "--namespace", metavar="NS", help=NAMESPACE_HELP)


def worker_cmd(
    ctx: typer.Context,
    temporal: str | None = temporal_option(),
    namespace: str | None = namespace_option(),
    max_activities: int = typer.Option(4, "--max-activities", min=1, help="Steps this worker runs at once."),
) -> None:
    """Run workflows and steps for team and fleet runs (stateless; start several, kill any)."""
    from cutover.temporal.connect import resolve
    from cutover.temporal.worker import identity, main

    target = resolve(app_context(ctx).project_dir, temporal, namespace)
    err_console().print(f"{identity()} polling {target.describe()}; Ctrl-C stops it", markup=False)
    try:
        main(target, max_activities=max_activities)
    except KeyboardInterrupt:
        err_console().print("worker stopped", markup=False)


def register(app: typer.Typer) -> None:
    app.command("worker")(worker_cmd)
