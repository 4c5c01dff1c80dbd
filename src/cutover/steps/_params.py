"""Typed reads of a plan step's `params`: the JSON-like values `cutover.runbook.plan` put there for the executor.

`PlanStep.params` is a plain mapping (it is printed by `cutover plan --json` and stored with the run), so its values
are `object` here; these helpers give the executors typed values with the conversions they always made.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

#: A plan step's params as executors read them.
Params = Mapping[str, object]


def params_of(plan_step: object) -> Params:
    """`plan_step.params`, or an empty mapping when it has none."""
    params = getattr(plan_step, "params", None)
    return params if isinstance(params, Mapping) else {}


def first(params: Params, *names: str, default: object = None) -> object:
    """The value of the first of `names` that is set (not None), else `default`."""
    for name in names:
        value = params.get(name)
        if value is not None:
            return value
    return default


def as_int(value: object) -> int:
    if isinstance(value, int | float | str):
        return int(value)
    raise TypeError(f"expected a number, got {value!r}")


def as_float(value: object) -> float:
    if isinstance(value, int | float | str):
        return float(value)
    raise TypeError(f"expected a number, got {value!r}")


def as_text(value: object) -> str | None:
    """A string value as it is; None stays None; anything else as its string."""
    return None if value is None else value if isinstance(value, str) else str(value)


def as_texts(value: object) -> tuple[str, ...]:
    """A string as a one-item tuple, a list of strings as a tuple, None (or an empty list) as ()."""
    if isinstance(value, str):
        return (value,)
    if not value:
        return ()
    if isinstance(value, Iterable):
        return tuple(item if isinstance(item, str) else str(item) for item in value)
    raise TypeError(f"expected a string or a list of strings, got {value!r}")


def as_mapping(value: object) -> Mapping[str, object]:
    """A mapping value (None or empty as {})."""
    if not value:
        return {}
    if isinstance(value, Mapping):
        return value
    raise TypeError(f"expected a mapping, got {value!r}")


def as_records(value: object) -> list[Mapping[str, object]]:
    """A list of mappings (None or empty as [])."""
    if not value:
        return []
    if isinstance(value, Iterable) and not isinstance(value, str | Mapping):
        return [as_mapping(item) for item in value]
    raise TypeError(f"expected a list of mappings, got {value!r}")


def as_command(value: object) -> str | list[str] | None:
    """A command: a shell-like string or an argv list (None stays None)."""
    return value if value is None or isinstance(value, str) else list(as_texts(value))
