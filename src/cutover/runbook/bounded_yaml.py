"""Reading `cutover.yaml` within bounds: only a regular file, at most MAX_BYTES, valid UTF-8 (reported by line), and
YAML composed with a node budget so that nested aliases (a "billion laughs" file), huge lists, deep nesting, recursive
aliases and tags are refused while composing, before anything is expanded or converted.

Every refusal is a `YamlLimit` (or `FileRefused`) naming the limit and, when known, the line and the key.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.events import AliasEvent, ScalarEvent
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

#: The largest runbook file read (bytes).
MAX_BYTES = 1024 * 1024
#: The most YAML nodes (scalars, lists, mappings) a runbook may hold, counting every alias as the nodes it repeats.
MAX_NODES = 100_000
#: The most items in any one YAML list, and keys in any one mapping.
MAX_ITEMS = 1_000
#: The deepest nesting of lists and mappings.
MAX_DEPTH = 50

_STANDARD = "tag:yaml.org,2002:"
_ALLOWED_TAGS = frozenset(
    _STANDARD + name for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp", "merge")
)

#: Explicitly tagged scalars of these types must read as that type (`!!bool force-app` is refused, not a KeyError).
_TYPED = frozenset(_STANDARD + name for name in ("int", "float", "bool", "null", "timestamp"))


class YamlLimit(Exception):
    """The YAML text breaks a bound or uses a feature cutover.yaml does not allow. `line` is 1-based."""

    def __init__(self, message: str, line: int | None = None, key: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.key = key


class FileRefused(Exception):
    """The path is not a regular file cutover may read (directory, FIFO, device, broken link, too large...)."""


def _dotted(parts: list[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else ("." if text else "") + part
    return text


def _tag(node: Node) -> str:
    tag = node.tag
    return tag if isinstance(tag, str) else str(getattr(tag, "value", tag))


class BoundedComposer(Composer):
    """ruamel's composer with a budget: list length, node count (aliases counted in full), no recursive aliases,
    only the standard YAML tags. Sizes are memoised per node, so counting an alias costs nothing."""

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader=loader)
        self._sizes: dict[int, int] = {}
        self._path: list[str | int] = []

    def _where(self) -> str:
        return _dotted(self._path)

    def compose_node(self, parent: Any, index: Any) -> Any:
        if isinstance(parent, (SequenceNode, MappingNode)) and len(parent.value) >= MAX_ITEMS:
            kind = "list" if isinstance(parent, SequenceNode) else "mapping"
            what = "items" if kind == "list" else "keys"
            raise YamlLimit(
                f"this {kind} has more than {MAX_ITEMS:,} {what} (the limit for any {kind} in cutover.yaml)",
                parent.start_mark.line + 1,
                self._where(),
            )
        alias = self.parser.check_event(AliasEvent)
        event = self.parser.peek_event()
        mark = event.start_mark
        explicit = isinstance(event, ScalarEvent) and event.tag not in (None, "!")
        pushed = True
        if isinstance(parent, MappingNode) and index is not None:
            self._path.append(str(index.value)[:80] if isinstance(index, ScalarNode) else "?")
        elif isinstance(parent, SequenceNode):
            self._path.append(int(index))
        else:
            pushed = False  # the root, or a mapping key
        try:
            node = super().compose_node(parent, index)
            if alias:
                size = self._sizes.get(id(node))
                if size is None:
                    raise YamlLimit(
                        "an alias refers to the list or mapping that contains it (a recursive alias)",
                        mark.line + 1,
                        self._where(),
                    )
                return node
            size = 1 + self._children_size(node)
            tag = _tag(node)
            if tag not in _ALLOWED_TAGS:
                raise YamlLimit(
                    f"the YAML tag {tag.replace(_STANDARD, '!!')!r} is not allowed: cutover.yaml holds plain values "
                    "(text, numbers, true/false, lists and mappings); remove the tag",
                    node.start_mark.line + 1,
                    self._where(),
                )
            if explicit and tag in _TYPED and self.resolver.resolve(ScalarNode, node.value, (True, False)) != tag:
                raise YamlLimit(
                    f"{str(node.value)[:40]!r} is not a {tag.replace(_STANDARD, '!!')} value: remove the tag",
                    node.start_mark.line + 1,
                    self._where(),
                )
            self._sizes[id(node)] = size
            if size > MAX_NODES:
                raise YamlLimit(
                    f"the file expands to more than {MAX_NODES:,} YAML nodes (the limit; aliases count as the "
                    "values they repeat)",
                    node.start_mark.line + 1,
                    self._where(),
                )
            return node
        finally:
            if pushed:
                self._path.pop()

    def _children_size(self, node: Node) -> int:
        if isinstance(node, SequenceNode):
            return sum(self._sizes.get(id(child), 1) for child in node.value)
        if isinstance(node, MappingNode):
            return sum(self._sizes.get(id(k), 1) + self._sizes.get(id(v), 1) for k, v in node.value)
        return 0


def bounded_yaml() -> YAML:
    """A round-trip YAML reader (keeps lines) with the bounds above."""
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    yaml.max_depth = MAX_DEPTH
    yaml.Composer = BoundedComposer
    return yaml


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def check_regular(path: Path) -> None:
    """FileRefused unless `path` is (a link to) a regular file of at most MAX_BYTES. FileNotFoundError when absent."""
    try:
        info = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise FileRefused(
                f"is a broken symbolic link (it points to {os.readlink(path)}, which does not exist)"
            ) from None
        raise
    if not stat.S_ISREG(info.st_mode):
        raise FileRefused(f"is {_kind(info.st_mode)}, not a regular file: cutover reads the runbook only from a file")
    if info.st_size > MAX_BYTES:
        raise FileRefused(_too_large(info.st_size))


def _too_large(size: int | None) -> str:
    got = f" ({size:,} bytes)" if size is not None else ""
    return f"is too large{got}: the limit for cutover.yaml is {MAX_BYTES:,} bytes (1 MiB)"


def read_regular(path: Path) -> bytes:
    """The bytes of a regular file, read without blocking (a FIFO or device is refused, never opened for long)."""
    check_regular(path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):  # swapped after the check
            raise FileRefused(f"is {_kind(info.st_mode)}, not a regular file")
        data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise FileRefused(_too_large(None))
    return data


def decode_utf8(data: bytes) -> tuple[str, int | None, str | None]:
    """(text, None, None), or ("", line, problem) when the bytes are not UTF-8."""
    try:
        return data.decode("utf-8"), None, None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        problem = f"not valid UTF-8 (byte 0x{data[exc.start]:02x} in column {column}): save the file as UTF-8"
        return "", line, problem


def text_too_large(text: str) -> bool:
    return len(text) > MAX_BYTES or (len(text) > MAX_BYTES // 4 and len(text.encode("utf-8", "replace")) > MAX_BYTES)
