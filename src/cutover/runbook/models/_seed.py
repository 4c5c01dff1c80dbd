"""The Elaro seed runbook (`templates/elaro.yaml`) as data: where the models' project-specific defaults come from, so
that no Elaro name is written in code. `seed("security", "crud_guards")` is a fresh copy of that value."""

from __future__ import annotations

import copy
from functools import cache
from importlib.resources import files

import yaml

#: A YAML value (mapping, list or scalar) of the seed runbook.
SeedValue = dict[str, "SeedValue"] | list["SeedValue"] | str | int | float | bool | None


@cache
def _document() -> dict[str, SeedValue]:
    text = (files("cutover.runbook") / "templates" / "elaro.yaml").read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    if not isinstance(document, dict):  # a packaging mistake, not a user error
        raise RuntimeError("templates/elaro.yaml is not a YAML mapping")
    return document


def seed(*path: str) -> SeedValue:
    """The seed runbook's value at `path` (keys), as a copy the caller may keep."""
    node: SeedValue = _document()
    for key in path:
        if not isinstance(node, dict) or key not in node:
            raise RuntimeError(f"templates/elaro.yaml has no {'.'.join(path)}")
        node = node[key]
    return copy.deepcopy(node)


def seed_list(*path: str) -> list[SeedValue]:
    value = seed(*path)
    if not isinstance(value, list):
        raise RuntimeError(f"templates/elaro.yaml: {'.'.join(path)} is not a list")
    return value


def seed_text(*path: str) -> str:
    value = seed(*path)
    if not isinstance(value, str):
        raise RuntimeError(f"templates/elaro.yaml: {'.'.join(path)} is not text")
    return value
