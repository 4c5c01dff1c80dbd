"""`cutover explain FILE`: read any saved `sf ... --json` output and say what happened, for humans or as JSON.

The summary itself is built by `cutover.sf.explain` (no Rich there); this module reads the file and renders it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from cutover.commands._context import app_context, out_console
from cutover.errors import UsageError
from cutover.sf.explain import NotExplainable, explain_document
from cutover.sf.process import parse_json_stdout

FORMATS = ("text", "json")
GOOD = {"Succeeded", "Passed", "Connected"}
BAD = {"Failed", "Canceled", "Error", "FinalizingFailed"}


def read_document(file: str, project_dir: Path) -> Any:
    """The JSON document in FILE ('-' reads stdin). Raises UsageError naming the file when it cannot be read."""
    if file == "-":
        text = sys.stdin.read()
        label = "<stdin>"
    else:
        path = Path(file).expanduser()
        if not path.is_absolute():
            path = project_dir / path
        label = file
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise UsageError(f"{label}: no such file") from None
        except IsADirectoryError:
            raise UsageError(f"{label}: is a folder, not a saved sf --json output") from None
        except UnicodeDecodeError:
            raise UsageError(f"{label}: not a text file (expected saved 'sf ... --json' output)") from None
        except OSError as exc:
            raise UsageError(f"{label}: cannot read ({exc.strerror or exc})") from None
    doc = parse_json_stdout(text)
    if doc is None:
        raise UsageError(
            f"{label}: not a JSON document (expected the output of an 'sf ... --json' command)",
            hint="save it with: sf project deploy report --job-id ID --json > report.json",
        )
    return doc


def _status_text(status: str) -> Text:
    style = "green" if status in GOOD else "red" if status in BAD else "yellow"
    return Text(status, style=f"bold {style}")


def _fmt_pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}%".replace(".00%", "%")


def render_text(summary: dict[str, Any]) -> None:
    console = out_console()
    head = Text.assemble((summary["kind"], "bold"), " ")
    if summary.get("id"):
        head.append(f"{summary['id']} ")
    head.append_text(_status_text(str(summary.get("status", ""))))
    if summary.get("check_only") and summary["kind"] not in ("validate",):
        head.append(" (check-only)")
    if "exit_code" in summary:
        head.append(f"  exit {summary['exit_code']}", style="dim")
    console.print(head)
    if summary.get("state_detail"):
        console.print(f"  {summary['state_detail']}", markup=False)
    if "error" in summary:
        error = summary["error"]
        console.print(f"  {error.get('name')}: {error.get('message')}", markup=False)
        if summary.get("hint"):
            console.print(Text(f"  hint: {summary['hint']}", style="dim"))
    if summary.get("error_message"):
        console.print(f"  {summary['error_message']}", markup=False)
    _render_components(summary.get("components"))
    _render_tests(summary.get("tests"))
    _render_coverage(summary.get("coverage"))
    _render_limits(summary.get("limits"))
    _render_query(summary)
    _render_orgs(summary)
    for warning in summary.get("warnings", []):
        console.print(Text(f"warning: {warning}", style="yellow"))


def _render_components(block: dict[str, Any] | None) -> None:
    if not block:
        return
    console = out_console()
    done_key = "retrieved" if "retrieved" in block else "deployed"
    console.print(f"\nComponents: {block['total']} total, {block[done_key]} {done_key}, {block['failed']} failed")
    if block["failures"]:
        table = Table("Type", "Name", "Where", "Problem", show_edge=False, header_style="bold")
        for f in block["failures"]:
            where = f.get("file") or ""
            if f.get("line") is not None:
                where += f":{f['line']}" + (f":{f['column']}" if f.get("column") is not None else "")
            table.add_row(f.get("type") or "", f.get("name") or "", where, Text(f.get("problem") or "", style="red"))
        console.print(table)


def _render_tests(block: dict[str, Any] | None) -> None:
    if not block:
        return
    console = out_console()
    extra = "".join(f", {block[k]} {k}" for k in ("passed", "skipped") if k in block)
    console.print(f"\nTests: {block['run']} run, {block['failed']} failed{extra}")
    for failure in block["failures"]:
        console.print(Text(f"  ✗ {failure['name']}", style="red"))
        if failure.get("message"):
            console.print(f"      {failure['message']}", markup=False)
        if failure.get("stack_trace"):
            console.print(Text(f"      {failure['stack_trace']}", style="dim"))


def _render_coverage(block: dict[str, Any] | None) -> None:
    if not block:
        return
    console = out_console()
    line = f"\nCoverage: {_fmt_pct(block.get('org_wide_pct'))} overall"
    if block.get("test_run_pct") is not None:
        line += f" (this run: {_fmt_pct(block['test_run_pct'])})"
    console.print(line)
    if block.get("classes"):
        table = Table("Class", "Lines", "Covered", "%", show_edge=False, header_style="bold")
        for c in block["classes"]:
            style = "red" if (c["pct"] or 0) < 75 else ""
            table.add_row(
                c["name"], str(c.get("lines", "")), str(c.get("covered", "")), Text(_fmt_pct(c["pct"]), style)
            )
        console.print(table)
    for warning in block.get("warnings", []):
        console.print(Text(f"  {warning}", style="yellow"))


def _render_limits(limits: list[dict[str, Any]] | None) -> None:
    if not limits:
        return
    table = Table("Limit", "Used", "Max", "% used", show_edge=False, header_style="bold")
    for x in limits:
        style = "red" if x["used_pct"] >= 80 else "yellow" if x["used_pct"] >= 50 else ""
        table.add_row(x["name"], str(x["used"]), str(x["max"]), Text(_fmt_pct(x["used_pct"]), style))
    out_console().print(table)


def _render_query(summary: dict[str, Any]) -> None:
    if summary["kind"] != "query" or "records" not in summary:
        return
    console = out_console()
    console.print(f"\n{summary['total_size']} record(s)" + ("" if summary["done"] else " (not all fetched)"))
    if summary["records"]:
        table = Table(*summary["fields"], show_edge=False, header_style="bold")
        for row in summary["records"]:
            table.add_row(*[_cell(row.get(field)) for field in summary["fields"]])
        console.print(table)
        if summary["total_size"] > len(summary["records"]):
            console.print(Text(f"… {summary['total_size'] - len(summary['records'])} more", style="dim"))


def _cell(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return "" if value is None else str(value)


def _render_orgs(summary: dict[str, Any]) -> None:
    orgs = summary.get("orgs") or ([summary["org"]] if summary.get("org") else [])
    if not orgs:
        return
    table = Table("Alias", "Username", "Org id", "Instance URL", "API", show_edge=False, header_style="bold")
    for org in orgs:
        table.add_row(*[org.get(k) or "" for k in ("alias", "username", "id", "instance_url", "api_version")])
    out_console().print(table)


def register(app: typer.Typer) -> None:
    """Add this area's commands to `app`."""

    @app.command("explain")
    def explain(
        ctx: typer.Context,
        file: str = typer.Argument(
            ..., metavar="FILE", help="Saved output of an 'sf ... --json' command ('-' reads stdin)."
        ),
        output_format: str = typer.Option("text", "--format", help="text (a readable summary) or json."),
    ) -> None:
        """Summarise saved sf --json output: deploy, validate, quick, report, retrieve, apex run test, data query,
        org list limits, or an sf error.

        FILE is what an 'sf ... --json' command printed ('-' reads stdin). Exit 0 when the file was explained,
        whatever the deploy status; 2 when it cannot be read or is not sf JSON output."""
        if output_format not in FORMATS:
            raise UsageError(f"--format {output_format}: expected one of {', '.join(FORMATS)}")
        doc = read_document(file, app_context(ctx).project_dir)
        try:
            summary = explain_document(doc)
        except NotExplainable as exc:
            raise UsageError(f"{file}: {exc}") from None
        if output_format == "json":
            typer.echo(json.dumps(summary, indent=2))
        else:
            render_text(summary)
