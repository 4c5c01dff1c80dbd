"""`cutover abort`: abandon a run, and remove the release branch and tag it created."""

from __future__ import annotations

import typer

from cutover.commands._context import app_context, out_console
from cutover.commands.run import _confirm
from cutover.engine import Engine


def abort_cmd(
    ctx: typer.Context,
    run_id: str | None = typer.Argument(None, metavar="[RUN]", help="Run id (default: latest)."),
    reason: str = typer.Option(..., "--reason", metavar="TEXT", help="Why the run is abandoned."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Abandon an open (or failed) run; the next `cutover run` starts a new one. The release branch and tag the run
    created (locally, and on the remote if it pushed them) are removed, unless it deployed."""
    from cutover.steps.release_refs import remove_release_refs

    app = app_context(ctx)
    engine = Engine(app.project_dir)
    run = engine.resolve_run(run_id)
    _confirm(f"Abort run {run.id} ({run.state.value})?", yes or app.yes)
    engine.abort(run.id, reason)
    out_console().print(f"run {run.id} aborted", markup=False)
    lines = remove_release_refs(app.project_dir, engine.store, run.id)
    for line in lines:
        out_console().print(line, markup=False, highlight=False)
    if lines:
        with engine.store.transaction() as tx:
            tx.append_event(run.id, "release.cleaned_up", None, {"lines": lines})
