"""Load `cutover.yaml` into a `Runbook`, with errors that name `file:line: key: message` on one line.

ruamel.yaml keeps the line of every key, so a pydantic error location such as `("signoffs", 3, "role")` is mapped
back to the line of that key (or of its nearest existing ancestor when the key is missing).
"""

from __future__ import annotations

import datetime
import difflib
import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.composer import MaxDepthExceededError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

from cutover.errors import UsageError
from cutover.runbook.bounded_yaml import (
    MAX_BYTES,
    MAX_DEPTH,
    FileRefused,
    YamlLimit,
    bounded_yaml,
    check_regular,
    decode_utf8,
    read_regular,
    text_too_large,
)
from cutover.runbook.models import LocatedValueError, Runbook

RUNBOOK_FILENAME = "cutover.yaml"


class RunbookError(UsageError):
    """The runbook file is missing or invalid. The message is `file:line: key: message`."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        path: Path | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.path = path
        self.line = line
        self.key = key


def find_runbook(project_dir: Path) -> Path:
    """`cutover.yaml` in the project folder, or a UsageError that says how to create one."""
    path = Path(project_dir) / RUNBOOK_FILENAME
    try:
        check_regular(path)
    except FileRefused as exc:  # there is something, but not a file cutover can read: say what
        raise RunbookError(f"{display_path(path)} {exc}", path=path) from None
    except OSError:
        pass
    if not path.is_file():
        raise RunbookError(
            f"no {RUNBOOK_FILENAME} in {display_path(Path(project_dir))}",
            hint=f"`cutover init --target-org ALIAS` writes one for this project ({RUNBOOK_FILENAME}); "
            "then fill in the people (roles) and the expected org (target.expect)",
            path=path,
        )
    return path


def load_runbook(path: Path | str) -> Runbook:
    path = Path(path)
    try:
        data = read_regular(path)
    except FileNotFoundError:
        raise RunbookError(f"{display_path(path)}: no such file", hint="`cutover init` writes one", path=path) from None
    except FileRefused as exc:
        raise RunbookError(f"{display_path(path)}: {exc}", path=path) from None
    except OSError as exc:
        raise RunbookError(f"{display_path(path)}: cannot read: {exc.strerror or exc}", path=path) from None
    text, line, problem = decode_utf8(data)
    if problem is not None:
        raise RunbookError(_format(path, line, None, problem), path=path, line=line)
    return parse_runbook(text, path)


def parse_runbook(text: str, path: Path | str = RUNBOOK_FILENAME) -> Runbook:
    """Parse runbook YAML text; `path` only names the file in error messages."""
    path = Path(path)
    if text_too_large(text):
        raise RunbookError(_format(path, None, None, f"the file is larger than the limit ({MAX_BYTES:,} bytes)"))
    yaml = bounded_yaml()
    try:
        document = yaml.load(text)
    except YamlLimit as exc:
        raise RunbookError(_format(path, exc.line, exc.key or None, exc.message), path=path, line=exc.line) from None
    except MaxDepthExceededError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        message = f"lists or mappings nest more than {MAX_DEPTH} levels deep (the limit)"
        raise RunbookError(_format(path, line, None, message), path=path, line=line) from None
    except ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1 if isinstance(exc.position, int) else None
        char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        problem = f"the character U+{char:04X} is not allowed in YAML (write it as an escape in double quotes)"
        raise RunbookError(_format(path, line, None, problem), path=path, line=line) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        if "duplicate key" in problem or "found duplicate key" in str(exc):
            problem = _duplicate_key_message(exc)
        raise RunbookError(_format(path, line, None, f"YAML syntax error: {problem}"), path=path, line=line) from None
    except YAMLError as exc:
        raise RunbookError(_format(path, None, None, f"YAML error: {exc}"), path=path) from None
    except RecursionError:  # ruamel composes nested nodes recursively
        raise RunbookError(_format(path, None, None, _TOO_DEEP), path=path) from None
    except ValueError as exc:  # ruamel converts scalars without marks: an impossible date, a 5000-digit number
        line, problem = _unconvertible_scalar(text, exc)
        raise RunbookError(_format(path, line, None, f"YAML error: {problem}"), path=path, line=line) from None
    if document is None:
        raise RunbookError(
            _format(path, 1, None, "the file is empty (it needs at least `target: {alias: production}`)"),
            path=path,
            line=1,
        )
    if not isinstance(document, CommentedMap):
        raise RunbookError(_format(path, 1, None, "the top level must be a mapping of keys"), path=path, line=1)
    unknown = _first_unknown_key(document)  # before anything is expanded: aliases under unknown keys never are
    if unknown is not None:
        line, _ = _line_of(document, unknown)
        message = _message({"type": "extra_forbidden"}, unknown)
        key = _dotted(unknown)
        raise RunbookError(_format(path, line, key, message), path=path, line=line, key=key)
    try:
        return Runbook.model_validate(_plain(document))
    except ValidationError as exc:
        raise _to_runbook_error(exc, document, path) from None
    except RecursionError:
        raise RunbookError(_format(path, None, None, _TOO_DEEP), path=path) from None


_TOO_DEEP = "YAML error: lists or mappings nest too deeply to read"


def _unconvertible_scalar(text: str, exc: ValueError) -> tuple[int | None, str]:
    """(line, problem) for a scalar ruamel recognised but could not convert; it says neither where nor which."""

    def line_at(offset: int) -> int:
        return text.count("\n", 0, offset) + 1

    long_number = re.search(r"\d{1000,}", text)
    if long_number:
        return line_at(long_number.start()), "a number too long to read"
    for found in re.finditer(
        r"(?<![\w.-])(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt]|[ \t]+)(\d{1,2}):(\d{2}):(\d{2}))?", text
    ):
        try:
            datetime.datetime(*(int(part) for part in found.groups() if part is not None))
        except ValueError:
            what = "date and time" if found[4] is not None else "date"
            return line_at(found.start()), f"{found[0]} is not a valid {what} (quote it if it is meant as text)"
    return None, " ".join(str(exc).split())


def _short_repr(value: object) -> str:
    """repr() of a value for a message: at most 80 characters, and never an error (a 5000-digit int cannot be
    printed in full)."""
    try:
        text = repr(value)
    except ValueError:
        return "a number too long to print"
    return text if len(text) <= 80 else text[:77] + "..."


# ---------------------------------------------------------------------------------------------------------------------


def display_path(path: Path) -> str:
    """The path as the user most likely typed it: relative to the current folder when inside it."""
    try:
        return os.path.relpath(path) if Path(path).resolve().is_relative_to(Path.cwd().resolve()) else str(path)
    except (OSError, ValueError):
        return str(path)


def _format(path: Path, line: int | None, key: str | None, message: str) -> str:
    where = f"{display_path(path)}:{line}" if line is not None else display_path(path)
    text = f"{where}: {key}: {message}" if key else f"{where}: {message}"
    return _printable(text)


def _printable(text: str) -> str:
    """One line of printable text: control characters and lone surrogates as escapes, at most 2,000 characters."""
    if text.isprintable():
        return text if len(text) <= 2000 else text[:2000] + "..."
    cleaned = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    return cleaned if len(cleaned) <= 2000 else cleaned[:2000] + "..."


def _first_unknown_key(document: CommentedMap) -> tuple[str | int, ...] | None:
    """Where the first (by line) key the models do not know sits. Each YAML node is walked once, so aliases are
    never expanded here."""
    seen: set[tuple[int, type]] = set()
    stack: list[tuple[Any, type[BaseModel], tuple[str | int, ...]]] = [(document, Runbook, ())]
    unknown: list[tuple[str | int, ...]] = []
    while stack:
        node, model, loc = stack.pop()
        if not isinstance(node, dict) or (id(node), model) in seen:
            continue
        seen.add((id(node), model))
        fields = {field.alias or name: field for name, field in model.model_fields.items()}
        for key, value in node.items():
            field = fields.get(key) if isinstance(key, str) else None
            if field is None:
                unknown.append((*loc, key if isinstance(key, str) else str(key)))
                continue
            inner = _inner_model(field.annotation)
            if inner is None:
                continue
            origin = getattr(field.annotation, "__origin__", None)
            if origin is list and isinstance(value, list):
                stack.extend((item, inner, (*loc, key, i)) for i, item in enumerate(value))
            elif origin is dict and isinstance(value, dict):
                stack.extend((item, inner, (*loc, key, sub)) for sub, item in value.items() if isinstance(sub, str))
            elif origin not in (list, dict):
                stack.append((value, inner, (*loc, key)))
    return min(unknown, key=lambda loc: _line_of(document, loc)[0]) if unknown else None


def _duplicate_key_message(exc: MarkedYAMLError) -> str:
    # ruamel's message repeats both values in full; the key and where it first appeared are what people need.
    match = re.search(r'duplicate key "([^"]*)"', exc.problem or "") or re.search(r'duplicate key "([^"]*)"', str(exc))
    key = f' "{match[1]}"' if match else ""
    first = f" (first defined on line {exc.context_mark.line + 1})" if exc.context_mark is not None else ""
    return f"duplicate key{key}{first}"


def _plain(node: Any) -> Any:
    """ruamel round-trip nodes → plain dict/list/str/int/float/bool, so pydantic sees ordinary values."""
    if isinstance(node, dict):
        return {
            str(key) if not isinstance(key, (int, float, bool)) else key: _plain(value) for key, value in node.items()
        }
    if isinstance(node, list):
        return [_plain(value) for value in node]
    if isinstance(node, TaggedScalar):  # an explicit `!!str` (other tags are refused while composing)
        return str(node.value)
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def _line_of(document: CommentedMap, loc: tuple[str | int, ...]) -> tuple[int | None, tuple[str | int, ...]]:
    """Line (1-based) of the deepest part of `loc` present in the YAML, and the part of `loc` that matched."""
    node: Any = document
    line: int | None = None
    matched: list[str | int] = []
    for part in loc:
        if isinstance(node, CommentedMap) and not isinstance(part, int) and part in node:
            try:
                line = node.lc.key(part)[0] + 1
            except (KeyError, TypeError, AttributeError):
                pass
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            try:
                line = node.lc.item(part)[0] + 1
            except (KeyError, TypeError, AttributeError, IndexError):
                pass
            node = node[part]
        elif isinstance(node, CommentedMap) and isinstance(part, int) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        else:
            break
        matched.append(part)
    if line is None:
        line = 1
    return line, tuple(matched)


def _dotted(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def _model_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The pydantic model class that owns the last key of `loc` (for 'did you mean' on unknown keys)."""
    model: Any = Runbook
    mapping_key_next = False  # after a `dict[str, Model]` field, the next part is a user-chosen key (a role id)
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        if mapping_key_next:
            mapping_key_next = False
            continue
        if isinstance(model, type) and issubclass(model, BaseModel):
            field = model.model_fields.get(str(part)) or next(
                (f for f in model.model_fields.values() if f.alias == part), None
            )
            if field is None:
                return None
            mapping_key_next = getattr(field.annotation, "__origin__", None) is dict
            model = _inner_model(field.annotation)
        else:
            return None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    """The BaseModel inside an annotation like `Role`, `list[Signoff]` or `dict[str, Role]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    metadata_origin = getattr(annotation, "__origin__", None)
    if metadata_origin is not None and metadata_origin is not annotation:
        return _inner_model(metadata_origin)
    return None


def _clean_loc(loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    """Drop pydantic's union/validator tags (`str`, `list[str]`, `function-after[...]`) that are not YAML keys."""
    cleaned: list[str | int] = []
    for part in loc:
        if isinstance(part, str) and ("[" in part or part in {"str", "list", "int", "float", "bool"}):
            continue
        cleaned.append(part)
    return tuple(cleaned)


def _message(error: dict[str, Any], loc: tuple[str | int, ...]) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        model = _model_at(loc)
        key = str(loc[-1]) if loc else "?"
        if model is not None:
            allowed = [f.alias or name for name, f in model.model_fields.items()]
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            return f"unknown key ({hint}allowed: {', '.join(allowed)})"
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    ctx = error.get("ctx") or {}
    got = f" (got {_short_repr(error.get('input'))})"
    last = str(loc[-1]) if loc and not isinstance(loc[-1], int) else ""
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}{got}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}{got}"
    if kind == "greater_than":
        return f"must be more than {ctx.get('gt')}{got}"
    if kind == "less_than":
        return f"must be less than {ctx.get('lt')}{got}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}{got}"
    if kind == "string_pattern_mismatch":
        return _PATTERN_MESSAGES.get(last, f"does not match the expected format {ctx.get('pattern')}") + got
    if kind in _TYPE_MESSAGES:
        return _TYPE_MESSAGES[kind] + got
    if kind in {"too_short", "too_long"}:
        return str(error.get("msg", "wrong length")).replace("List", "the list").replace("String", "the text")
    message = str(error.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    return message


_TYPE_MESSAGES = {
    "list_type": "expected a list",
    "dict_type": "expected a mapping of keys",
    "model_type": "expected a mapping of keys",
    "model_attributes_type": "expected a mapping of keys",
    "string_type": "expected a text value",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
}
_PATTERN_MESSAGES = {
    "org_id": "not a Salesforce org id (00D followed by 12 or 15 letters or digits)",
    "instance_url": "not an http(s) URL",
    "api_version": "not an API version such as 62.0",
    "alias": "not an sf alias or username (no spaces)",
}


def _to_runbook_error(exc: ValidationError, document: CommentedMap, path: Path) -> RunbookError:
    located: list[tuple[int, str, str]] = []
    for error in exc.errors():
        loc = _clean_loc(tuple(error.get("loc", ())))
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, LocatedValueError):
            loc = loc + cause.loc
        line, matched = _line_of(document, loc)
        # A missing key is reported at its nearest existing ancestor's line, but named in full.
        key = _dotted(loc) or "(top level)"
        message = _message(error, loc)
        if isinstance(cause, LocatedValueError) and loc and not matched:
            # The problem is in a section the file leaves to its default (e.g. the default sign-offs naming
            # qa_lead) and was caused by something the file does set (usually `roles`): point there.
            hint = ": write that section or keep the role in `roles`" if "unknown role" in message else ""
            message += f" (in the default `{loc[0]}`{hint})"
            if "roles" in document:
                line = document.lc.key("roles")[0] + 1
        located.append((line or 1, key, message))
    # Report the first problem in the file; mention how many more so nobody fixes one and is surprised.
    # On one line, an unknown key beats the "missing" it causes (`rol: x` is both), as it says what to fix.
    located.sort(key=lambda item: (item[0], "unknown key" not in item[2]))
    line, key, message = located[0]
    more = len({(ln, k) for ln, k, _ in located}) - 1
    if more > 0:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return RunbookError(_format(path, line, key, message), path=path, line=line, key=key)
