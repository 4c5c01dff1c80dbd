"""docs/runbook.md and docs/commands.md must follow the code: a key, command or option added, renamed or removed
without the docs following fails here.

docs/runbook.md lists keys as dotted paths in the first column of tables headed `| key |` (`release.version`,
`roles.<id>.title`, `signoffs[].id`); that set must equal the set derived from the pydantic models. docs/commands.md
has one `### \\`cutover ...\\`` section per command, which must mention each of the command's options.
"""

from __future__ import annotations

import re
import textwrap
import types
import typing
from pathlib import Path

import click
import pytest
import typer
from pydantic import BaseModel

from cutover.cli import app
from cutover.runbook import Runbook, parse_runbook, template_text
from cutover.runbook.plan import build_plan, build_rollback_plan

DOCS = Path(__file__).resolve().parents[2] / "docs"
RUNBOOK_DOC = DOCS / "runbook.md"
COMMANDS_DOC = DOCS / "commands.md"

_KEY_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|")


# ---------------------------------------------------------------------------------------------------------------------
# docs/runbook.md
# ---------------------------------------------------------------------------------------------------------------------


def _unwrap(annotation: typing.Any) -> typing.Any:
    """Strip Annotated[...] and `X | None` down to the type that decides the shape."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _unwrap(members[0])
    return annotation


def _model_in(annotation: typing.Any) -> tuple[type[BaseModel] | None, str]:
    """(section model, path suffix) of a field: `Role` and `.<id>` for dict[str, Role], `Signoff` and `[]` for
    list[Signoff], the model and "" for a nested mapping, (None, "") for a plain value."""
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, ""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list and args:
        inner = _unwrap(args[0])
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return inner, "[]"
    if origin is dict and len(args) == 2:
        inner = _unwrap(args[1])
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return inner, ".<id>"
    return None, ""


def model_key_paths(model: type[BaseModel] = Runbook, prefix: str = "") -> set[str]:
    """Every key the file accepts, as the docs write it. A dict of models (roles) is documented by its members
    (`roles.<id>.title`), so its `roles.<id>` level is not a key of its own."""
    paths: set[str] = set()
    for name, field in model.model_fields.items():
        key = prefix + (field.alias or name)
        paths.add(key)
        sub, suffix = _model_in(field.annotation)
        if sub is not None:
            paths |= model_key_paths(sub, key + suffix + ".")
    return paths


def documented_key_paths(text: str) -> set[str]:
    """First-column backticked cells of every table whose header's first cell is `key`."""
    keys: set[str] = set()
    in_key_table = False
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("|"):
            in_key_table = False
            continue
        cells = [c.strip() for c in stripped.strip("|").split("|")]
        if cells and cells[0] == "key":
            in_key_table = True
            continue
        if in_key_table:
            match = _KEY_ROW.match(stripped)
            if match:
                keys.add(match.group(1))
    return keys


@pytest.fixture(scope="module")
def runbook_doc() -> str:
    return RUNBOOK_DOC.read_text(encoding="utf-8")


def test_model_walk_sees_nested_sections() -> None:
    # Guards the walker itself: if it stopped descending, the comparison below would pass on top-level keys only.
    paths = model_key_paths()
    for expected in ("target.expect.org_id", "roles.<id>.title", "signoffs[].role", "monitoring.metrics[].check"):
        assert expected in paths
    assert "scheduled_jobs[].class" in paths  # the alias, as written in YAML, not the Python name class_name


def test_every_model_key_is_documented(runbook_doc: str) -> None:
    missing = sorted(model_key_paths() - documented_key_paths(runbook_doc))
    assert not missing, f"keys of the Runbook models not documented in docs/runbook.md: {missing}"


def test_every_documented_key_exists_in_the_models(runbook_doc: str) -> None:
    unknown = sorted(documented_key_paths(runbook_doc) - model_key_paths())
    assert not unknown, f"docs/runbook.md documents keys the models do not have: {unknown}"


def test_every_top_level_key_has_a_section_or_row(runbook_doc: str) -> None:
    top = documented_key_paths(runbook_doc)
    for name, field in Runbook.model_fields.items():
        assert (field.alias or name) in top


def test_yaml_examples_are_valid_runbooks(runbook_doc: str) -> None:
    """Every ```yaml example is a fragment of a valid file (a `target` is added when the fragment has none)."""
    blocks = re.findall(r"(?ms)^( *)```yaml\n(.*?)^\1```", runbook_doc)
    assert len(blocks) >= 15, "expected a YAML example per section"
    for number, (_indent, block) in enumerate(blocks, 1):
        text = textwrap.dedent(block)
        if not re.search(r"(?m)^target:", text):
            text = "target:\n  alias: production\n" + text
        parse_runbook(text, f"docs/runbook.md example {number}")  # raises RunbookError naming the key


def test_every_plan_step_of_the_template_is_documented(runbook_doc: str) -> None:
    runbook = parse_runbook(template_text(), "elaro.yaml")
    ids = [step.id for step in build_plan(runbook) + build_rollback_plan(runbook)]
    missing = [step_id for step_id in ids if f"`{step_id}`" not in runbook_doc]
    assert not missing, f"plan step ids not in docs/runbook.md: {missing}"


def test_error_format_is_the_one_documented(runbook_doc: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from cutover.cli import main

    assert "cutover: error: FILE:LINE: KEY: MESSAGE" in runbook_doc
    (tmp_path / "cutover.yaml").write_text("target:\n  alias: production\nthresholds:\n  apex_coverge: 90\n")
    assert main(["-C", str(tmp_path), "plan"]) == 2
    err = capsys.readouterr().err
    assert re.search(r"cutover: error: \S*cutover\.yaml:4: thresholds\.apex_coverge: unknown key", err), err
    # The documented example is the message cutover prints for that file, word for word after the file name.
    documented = re.search(r"cutover\.yaml:4: thresholds\.apex_coverge: .*", runbook_doc)
    assert documented is not None and documented.group(0) in err


# ---------------------------------------------------------------------------------------------------------------------
# docs/commands.md
# ---------------------------------------------------------------------------------------------------------------------


def registered_commands() -> list[tuple[str, click.Command]]:
    """("cutover audit verify", command) for every command and sub-command, groups included."""
    found: list[tuple[str, click.Command]] = []

    def walk(command: click.Command, path: str) -> None:
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                found.append((f"{path} {name}", sub))
                walk(sub, f"{path} {name}")

    walk(typer.main.get_command(app), "cutover")
    return found


def command_sections(text: str) -> dict[str, str]:
    """`### \\`cutover X\\`` heading → the text up to the next heading."""
    sections: dict[str, str] = {}
    for match in re.finditer(r"(?ms)^###\s+`(cutover [^`]+)`\s*\n(.*?)(?=^#{1,3}\s|\Z)", text):
        sections[match.group(1)] = match.group(2)
    return sections


@pytest.fixture(scope="module")
def commands_doc() -> str:
    return COMMANDS_DOC.read_text(encoding="utf-8")


def test_walk_finds_subcommands() -> None:
    names = {name for name, _ in registered_commands()}
    for expected in (
        "cutover run",
        "cutover audit verify",
        "cutover lock break",
        "cutover scan apex",
        "cutover target pin",
    ):
        assert expected in names


@pytest.mark.parametrize("name,command", registered_commands(), ids=lambda v: v if isinstance(v, str) else "")
def test_command_has_help(name: str, command: click.Command) -> None:
    assert (command.help or command.short_help or "").strip(), f"{name} has no help text"


@pytest.mark.parametrize("name,command", registered_commands(), ids=lambda v: v if isinstance(v, str) else "")
def test_command_is_documented_with_its_options(name: str, command: click.Command, commands_doc: str) -> None:
    assert name in commands_doc, f"{name} is not in docs/commands.md"
    if isinstance(command, click.Group):
        return  # a group is documented by its sub-commands' sections
    sections = command_sections(commands_doc)
    assert name in sections, f"docs/commands.md has no `### \\`{name}\\`` section"
    section = sections[name]
    for param in command.params:
        if isinstance(param, click.Option):
            if param.hidden:
                continue
            longest = max(param.opts, key=len)
            assert f"`{longest}" in section, f"{name}: option {longest} is not documented"
            for secondary in param.secondary_opts:  # --record/--no-record
                assert f"`{secondary}" in section, f"{name}: option {secondary} is not documented"
        else:
            metavar = (param.metavar or param.name or "").strip("[].").upper()
            assert f"`{metavar}" in section or f"`{param.name.upper()}" in section, (
                f"{name}: argument {param.name} is not documented"
            )


def test_no_section_for_a_command_that_does_not_exist(commands_doc: str) -> None:
    names = {name for name, _ in registered_commands()}
    stale = sorted(set(command_sections(commands_doc)) - names)
    assert not stale, f"docs/commands.md documents commands that are not registered: {stale}"


def test_global_options_are_documented(commands_doc: str) -> None:
    root = typer.main.get_command(app)
    for param in root.params:
        if isinstance(param, click.Option):
            assert f"`{max(param.opts, key=len)}" in commands_doc
