"""`cutover target pin`: write the org the alias points at into cutover.yaml's `target.expect`.

The org guard (`sf.guard`) can only prove the RIGHT org when `target.expect` names it. Pinning reads the identity
once (`sf org display` + `SELECT IsSandbox FROM Organization`) and writes org id, username, instance URL and the
sandbox flag into the file with a round-trip YAML editor, so comments and layout survive. A value that is already
pinned to something else is never overwritten silently: that is exactly the situation the guard exists for
(`--force` replaces it, after a human looked).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import typer
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from cutover.commands._context import app_context, err_console, out_console
from cutover.errors import Failure, UsageError

PIN_KEYS = ("org_id", "username", "instance_url", "sandbox")


def _yaml() -> YAML:
    yaml = YAML()  # round-trip: keeps comments, key order and quoting
    yaml.preserve_quotes = True
    yaml.width = 4096
    return yaml


def pin_expectations(text: str, actual: dict[str, Any], *, force: bool = False) -> tuple[str, dict[str, Any]]:
    """Return the new file text with `target.expect` set to `actual`, and {key: (old, new)} for what changed.

    Raises Failure when a key is already pinned to a different value and not `force`.
    """
    yaml = _yaml()
    doc = yaml.load(text)
    if not isinstance(doc, CommentedMap) or not isinstance(doc.get("target"), CommentedMap):
        raise UsageError("cutover.yaml has no `target:` section to pin")
    target = doc["target"]
    expect = target.get("expect")
    if not isinstance(expect, CommentedMap):
        expect = CommentedMap()
        target["expect"] = expect
    changes: dict[str, Any] = {}
    conflicts = []
    for key in PIN_KEYS:
        new = actual.get(key)
        if new is None:
            continue
        old = expect.get(key)
        if old == new or (key == "instance_url" and str(old or "").rstrip("/") == str(new).rstrip("/")):
            continue
        if old not in (None, "") and key != "sandbox" and not force:
            conflicts.append(f"{key}: pinned {old}, the org says {new}")
            continue
        changes[key] = (old, new)
    if conflicts:
        raise Failure(
            "target.expect already names another org: " + "; ".join(conflicts),
            hint="if the alias really points at the right org now, re-run with --force",
        )
    for key, (_, new) in changes.items():
        expect[key] = new
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue(), changes


def register(app: typer.Typer) -> None:
    """Add `cutover target ...`."""
    target_app = typer.Typer(help="The target org: pin its identity for the org guard.", no_args_is_help=True)
    app.add_typer(target_app, name="target")

    @target_app.command("pin")
    def pin(
        ctx: typer.Context,
        target_org: str | None = typer.Option(
            None, "--target-org", "-o", help="Org alias to read (default: the runbook's target.alias)."
        ),
        dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be written; change nothing."),
        force: bool = typer.Option(False, "--force", help="Replace values already pinned to another org."),
        fmt: str = typer.Option("text", "--format", help="text or json."),
    ) -> None:
        """Write the org behind the alias (org id, username, instance URL, sandbox) into target.expect."""
        from cutover.runbook import find_runbook, load_runbook, parse_runbook
        from cutover.sf import SfCli
        from cutover.steps.guard import read_identity

        project_dir = app_context(ctx).project_dir
        path = find_runbook(project_dir)
        runbook = load_runbook(path)
        alias = target_org or runbook.target.alias
        sf = SfCli(runbook.sf.binary, cwd=project_dir)
        with err_console().status(f"reading the identity of {alias} (sf org display)"):
            identity = read_identity(sf, alias, want_sandbox=True)
        actual = {
            "org_id": identity.org_id,
            "username": identity.username,
            "instance_url": identity.instance_url,
            "sandbox": identity.sandbox,
        }
        text, changes = pin_expectations(path.read_text(encoding="utf-8"), actual, force=force)
        if changes and not dry_run:
            parse_runbook(text, path)  # never write a file the loader would refuse
            tmp = Path(f"{path}.tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
        if fmt == "json":
            typer.echo(
                json.dumps(
                    {
                        "runbook": str(path),
                        "alias": alias,
                        "identity": actual,
                        "changed": {k: {"from": old, "to": new} for k, (old, new) in changes.items()},
                        "written": bool(changes) and not dry_run,
                    },
                    indent=2,
                )
            )
            return
        console = out_console()
        if not changes:
            console.print(f"{path.name}: target.expect already pins {alias} ({identity.org_id})", markup=False)
            return
        verb = "would set" if dry_run else "set"
        for key, (old, new) in changes.items():
            console.print(f"{verb} target.expect.{key}: {old!r} -> {new!r}", markup=False)
        if not dry_run:
            console.print(
                f"{path.name}: pinned {alias} = {identity.username} ({identity.org_id}); commit the file", markup=False
            )
