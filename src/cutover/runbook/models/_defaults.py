"""The generic runbook template (`templates/generic.yaml`) as data: where the models' list and text defaults come
from, so that a three-line `cutover.yaml` means exactly what `cutover init` writes for a project it knows nothing
about, and no project's names are written in code. `default("security", "crud_guards")` is a fresh copy."""

from __future__ import annotations

import copy
from functools import cache
from importlib.resources import files

import yaml

#: A YAML value (mapping, list or scalar) of the generic template.
TemplateValue = dict[str, "TemplateValue"] | list["TemplateValue"] | str | int | float | bool | None

_TEMPLATE = "generic.yaml"


@cache
def _document() -> dict[str, TemplateValue]:
    text = (files("cutover.runbook") / "templates" / _TEMPLATE).read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    if not isinstance(document, dict):  # a packaging mistake, not a user error
        raise RuntimeError(f"templates/{_TEMPLATE} is not a YAML mapping")
    return document


def default(*path: str) -> TemplateValue:
    """The generic template's value at `path` (keys), as a copy the caller may keep."""
    node: TemplateValue = _document()
    for key in path:
        if not isinstance(node, dict) or key not in node:
            raise RuntimeError(f"templates/{_TEMPLATE} has no {'.'.join(path)}")
        node = node[key]
    return copy.deepcopy(node)


def default_list(*path: str) -> list[TemplateValue]:
    value = default(*path)
    if not isinstance(value, list):
        raise RuntimeError(f"templates/{_TEMPLATE}: {'.'.join(path)} is not a list")
    return value


def default_dict(*path: str) -> dict[str, TemplateValue]:
    value = default(*path)
    if not isinstance(value, dict):
        raise RuntimeError(f"templates/{_TEMPLATE}: {'.'.join(path)} is not a mapping")
    return value


def default_text(*path: str) -> str:
    value = default(*path)
    if not isinstance(value, str):
        raise RuntimeError(f"templates/{_TEMPLATE}: {'.'.join(path)} is not text")
    return value
