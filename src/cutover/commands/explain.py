"""`cutover explain FILE`: read any saved `sf ... --json` output and say what happened, for humans or as JSON.

The summary itself is built by `cutover.sf.explain` (no Rich there); this module reads the file and renders it.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cutover.commands._context import app_context, out_console
from cutover.errors import UsageError
from cutover.sf.errors import SfMalformedOutput
from cutover.sf.explain import NotExplainable, explain_document
from cutover.sf.process import MAX_JSON_DEPTH, JsonTooDeep, decode_json_document

FORMATS = ("text", "json")
GOOD = {"Succeeded", "Passed", "Connected"}
BAD = {"Failed", "Canceled", "Error", "FinalizingFailed"}
MAX_FILE_MIB = 32  # a 5,000-component deploy report is about 4 MB; parsing costs ~8x the file in memory
MAX_FILE_BYTES = MAX_FILE_MIB * 1024 * 1024
# Text output shows the first rows of each list; --format json has them all.
TEXT_ROWS = 50
LIMIT_ROWS = 200  # an org has about 60 limits: show them all
TEXT_CHARS = 4000  # per string (a message, a stack trace)


def read_document(file: str, project_dir: Path) -> Any:
    """The JSON document in FILE ('-' reads stdin). Raises UsageError naming the file when it cannot be read: not a
    regular file (a device or FIFO would block or never end), larger than MAX_FILE_BYTES, not UTF-8, not JSON, or
    nested deeper than MAX_JSON_DEPTH."""
    if file == "-":
        label = "<stdin>"
        data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1) if hasattr(sys.stdin, "buffer") else None
        if data is None:  # a text-only stdin (tests)
            data = sys.stdin.read(MAX_FILE_BYTES + 1).encode("utf-8", "surrogatepass")
    else:
        path = Path(file).expanduser()
        if not path.is_absolute():
            path = project_dir / path
        label = file
        data = _read_regular_file(path, label)
    if len(data) > MAX_FILE_BYTES:
        raise UsageError(f"{label}: larger than the {MAX_FILE_MIB} MiB limit for explain")
    text = _decode(data, label)
    try:
        doc = decode_json_document(text)
    except JsonTooDeep:
        raise UsageError(f"{label}: JSON nested deeper than the limit of {MAX_JSON_DEPTH} levels") from None
    if doc is None:
        raise UsageError(
            f"{label}: not a JSON document (expected the output of an 'sf ... --json' command)",
            hint="save it with: sf project deploy report --job-id ID --json > report.json",
        )
    return doc


def _read_regular_file(path: Path, label: str) -> bytes:
    """At most MAX_FILE_BYTES + 1 bytes of a regular file. The type is checked before opening (a FIFO would block
    in open()), the open is non-blocking in case the path changed in between, and checked again on the handle."""
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise UsageError(f"{label}: is a folder, not a saved sf --json output")
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"{label}: not a regular file (explain reads only regular files, not devices or FIFOs)")
        if info.st_size > MAX_FILE_BYTES:
            raise UsageError(f"{label}: larger than the {MAX_FILE_MIB} MiB limit for explain ({info.st_size} bytes)")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise UsageError(f"{label}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{label}: cannot read ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise UsageError(f"{label}: not a regular file (explain reads only regular files, not devices or FIFOs)")
        try:
            return handle.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise UsageError(f"{label}: cannot read ({exc.strerror or exc})") from None


def _decode(data: bytes, label: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UsageError(f"{label}:{line}: not UTF-8 text (expected saved 'sf ... --json' output)") from None


class _Rows(list[Any]):
    """A list cut for text output: the first rows, and `total`, how many there were."""

    def __init__(self, rows: list[Any], total: int) -> None:
        super().__init__(rows)
        self.total = total


_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _printable(text: str) -> str:
    """Control characters (a terminal escape in a problem text) and lone surrogates (not encodable) as `\\x1b`,
    `\\ud800`: shown, never interpreted, never an encoding crash."""
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def text_view(value: Any, *, rows: int = TEXT_ROWS) -> Any:
    """A copy of a summary fit for a terminal: strings made printable and cut at TEXT_CHARS, every list cut to its
    first `rows` items (a `_Rows` that remembers its full length; `limits` keeps up to LIMIT_ROWS). Iterative."""
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any, int]] = [(value, root, 0, rows)]
    while stack:
        item, parent, key, cap = stack.pop()
        if isinstance(item, str):
            cut = item[:TEXT_CHARS]
            more = f"… ({len(item) - TEXT_CHARS} more characters, see --format json)" if len(item) > TEXT_CHARS else ""
            parent[key] = _printable(cut) + more
        elif isinstance(item, dict):
            copy: dict[str, Any] = {}
            parent[key] = copy
            for name, child in item.items():
                name = _printable(str(name))
                copy[name] = None
                stack.append((child, copy, name, LIMIT_ROWS if name == "limits" else rows))
        elif isinstance(item, list):
            cut = _Rows([None] * min(len(item), cap), len(item))
            parent[key] = cut
            stack.extend((child, cut, index, rows) for index, child in enumerate(item[:cap]))
        else:
            parent[key] = item
    return root[0]


def _more(console: Console, rows: list[Any], what: str) -> None:
    hidden = getattr(rows, "total", len(rows)) - len(rows)
    if hidden > 0:
        console.print(Text(f"  … and {hidden} more {what}, see --format json", style="dim"))


def _cells(*values: Any) -> list[Text]:
    """Table cells as Text: a name like `[/x]` is data, not Rich markup."""
    return [v if isinstance(v, Text) else Text("" if v is None else str(v)) for v in values]


def _status_text(status: str) -> Text:
    style = "green" if status in GOOD else "red" if status in BAD else "yellow"
    return Text(status, style=f"bold {style}")


def _fmt_pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}%".replace(".00%", "%")


def render_text(full: dict[str, Any]) -> None:
    """The readable summary. Long lists show their first rows and say how many more `--format json` has."""
    summary = text_view(full)
    console = out_console()
    head = Text.assemble((str(summary["kind"]), "bold"), " ")
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
    warnings = summary.get("warnings", [])
    for warning in warnings:
        console.print(Text(f"warning: {warning}", style="yellow"))
    _more(console, warnings, "warnings")


def _render_components(block: dict[str, Any] | None) -> None:
    if not block:
        return
    console = out_console()
    done_key = "retrieved" if "retrieved" in block else "deployed"
    console.print(
        f"\nComponents: {block['total']} total, {block[done_key]} {done_key}, {block['failed']} failed", markup=False
    )
    if block["failures"]:
        table = Table("Type", "Name", "Where", "Problem", show_edge=False, header_style="bold")
        for f in block["failures"]:
            where = f.get("file") or ""
            if f.get("line") is not None:
                where += f":{f['line']}" + (f":{f['column']}" if f.get("column") is not None else "")
            problem = Text(str(f.get("problem") or ""), style="red")
            table.add_row(*_cells(f.get("type") or "", f.get("name") or "", where, problem))
        console.print(table)
        _more(console, block["failures"], "component failures")


def _render_tests(block: dict[str, Any] | None) -> None:
    if not block:
        return
    console = out_console()
    extra = "".join(f", {block[k]} {k}" for k in ("passed", "skipped") if k in block)
    console.print(f"\nTests: {block['run']} run, {block['failed']} failed{extra}", markup=False)
    for failure in block["failures"]:
        console.print(Text(f"  ✗ {failure['name']}", style="red"))
        if failure.get("message"):
            console.print(f"      {failure['message']}", markup=False)
        if failure.get("stack_trace"):
            console.print(Text(f"      {failure['stack_trace']}", style="dim"))
    _more(console, block["failures"], "test failures")


def _render_coverage(block: dict[str, Any] | None) -> None:
    if not block:
        return
    console = out_console()
    line = f"\nCoverage: {_fmt_pct(block.get('org_wide_pct'))} overall"
    if block.get("test_run_pct") is not None:
        line += f" (this run: {_fmt_pct(block['test_run_pct'])})"
    console.print(line, markup=False)
    if block.get("classes"):
        table = Table("Class", "Lines", "Covered", "%", show_edge=False, header_style="bold")
        for c in block["classes"]:
            style = "red" if (c["pct"] or 0) < 75 else ""
            pct = Text(_fmt_pct(c["pct"]), style)
            table.add_row(*_cells(c["name"], c.get("lines", ""), c.get("covered", ""), pct))
        console.print(table)
        _more(console, block["classes"], "classes")
    for warning in block.get("warnings", []):
        console.print(Text(f"  {warning}", style="yellow"))


def _render_limits(limits: list[dict[str, Any]] | None) -> None:
    if not limits:
        return
    table = Table("Limit", "Used", "Max", "% used", show_edge=False, header_style="bold")
    for x in limits:
        style = "red" if x["used_pct"] >= 80 else "yellow" if x["used_pct"] >= 50 else ""
        table.add_row(*_cells(x["name"], x["used"], x["max"], Text(_fmt_pct(x["used_pct"]), style)))
    out_console().print(table)
    _more(out_console(), limits, "limits")


def _render_query(summary: dict[str, Any]) -> None:
    if summary["kind"] != "query" or "records" not in summary:
        return
    console = out_console()
    console.print(f"\n{summary['total_size']} record(s)" + ("" if summary["done"] else " (not all fetched)"))
    if summary["records"]:
        fields = summary["fields"]
        table = Table(show_edge=False, header_style="bold")
        for header in _cells(*fields):  # Text headers: Table(*headers) would take a Text for a Column
            table.add_column(header)
        for row in summary["records"]:
            table.add_row(*_cells(*[_cell(row.get(field)) for field in fields]))
        console.print(table)
        _more(console, fields, "fields")
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
        table.add_row(*_cells(*[org.get(k) or "" for k in ("alias", "username", "id", "instance_url", "api_version")]))
    out_console().print(table)
    _more(out_console(), orgs, "orgs")


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
        try:  # no name keeps the parsed document alive beside the summary
            summary = explain_document(read_document(file, app_context(ctx).project_dir))
        except NotExplainable as exc:
            raise UsageError(f"{file}: {exc}") from None
        except SfMalformedOutput as exc:
            raise UsageError(f"{file}: {exc.message}") from None
        if output_format == "json":
            json.dump(summary, sys.stdout, indent=2)  # streamed: a 100k-row summary is never one 20 MB string
            sys.stdout.write("\n")
        else:
            render_text(summary)
