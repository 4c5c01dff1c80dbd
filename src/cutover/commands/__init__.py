"""CLI commands, one module per area; each exposes `register(app)`. cli.py calls them in this order, which is
also the order `cutover --help` lists them."""

from __future__ import annotations

from collections.abc import Callable

import typer

from cutover.commands import alerts, explain, preflight, report, rollback, run, runbook_cmds, scan, target, tests_cmd

REGISTRARS: list[Callable[[typer.Typer], None]] = [
    runbook_cmds.register,  # init, plan
    preflight.register,  # preflight
    run.register,  # run, resume, status, signoff, waive, audit, lock
    rollback.register,  # rollback
    explain.register,  # explain
    scan.register,  # scan apex
    tests_cmd.register,  # tests relevant
    target.register,  # target pin
    report.register,  # report
    alerts.register,  # alerts, ack, announce
]
