"""`cutover server`: the embedded Temporal (the dev server, offline, its SQLite database under `.cutover/temporal/`).

Prints its address and runs until Ctrl-C or SIGTERM, then stops the server cleanly. The other commands find it through
`.cutover/temporal/address`; `--temporal HOST:PORT` / `CUTOVER_TEMPORAL` point them at a real cluster instead.
"""

from __future__ import annotations

import signal
from types import FrameType

import typer

from cutover.commands._context import app_context, err_console, out_console


def server_cmd(
    ctx: typer.Context,
    port: int = typer.Option(7233, "--port", help="The frontend (gRPC) port; 0 picks a free one."),
) -> None:
    """Start the embedded Temporal dev server for this project (state in .cutover/temporal/); Ctrl-C stops it."""
    from cutover.temporal.devserver import DevServer

    app = app_context(ctx)
    server = DevServer.for_project(app.project_dir, port or None)
    address = server.start()
    out_console().print(f"temporal dev server at {address} (namespace default)", markup=False)
    err_console().print(
        f"state in {server.state_dir / 'temporal.db'}; start workers with: cutover worker; Ctrl-C stops it",
        markup=False,
    )

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        code = server.wait()
        err_console().print(f"the temporal dev server exited ({code})", markup=False)
        raise typer.Exit(1)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)
    err_console().print("temporal dev server stopped", markup=False)


def register(app: typer.Typer) -> None:
    app.command("server")(server_cmd)
