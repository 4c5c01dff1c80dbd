"""Tolerant readers for values in `sf --json` output.

The CLI's published schemas say strings where the SOAP runtime gives numbers, XML-to-JSON mocks and older CLIs give
`"true"`/`"27"`/`"0.0"`, and a one-element list can arrive as a bare object (jsforce 1, REST deploy bodies). Every
parser in this package reads through these helpers so one odd value never breaks a whole result.

Counts are the exception: `as_count` refuses a value that cannot be a count (infinite, negative, fractional, a
boolean, a word) with `SfMalformedOutput`, because printing "0 total" for `1e400` or "exit 3" for `3.5` would be a
guess presented as a fact.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from cutover.sf.errors import SfMalformedOutput

_PERCENT = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*%?\s*$")


def as_int(value: Any, default: int = 0) -> int:
    """`3`, `"3"`, `"3.0"`, `3.0` -> 3; anything unreadable (None, "", "testTime") -> `default`."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else default
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                return default
            return int(number) if math.isfinite(number) else default
    return default


def _shown(value: Any) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = type(value).__name__
    return text if len(text) <= 40 else text[:39] + "…"


def _whole_number(value: Any) -> int | None:
    """`3`, `"3"`, `3.0`, `"3.0"` -> 3; a boolean, a fraction, infinity, NaN, a word or a container -> None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    number: float
    if isinstance(value, float):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                return None
    else:
        return None
    return int(number) if math.isfinite(number) and number == int(number) else None


def as_count(value: Any, field: str, default: int = 0, *, minimum: int | None = 0) -> int:
    """A count (`numberComponentsTotal`, `numTestsRun`, ...): a whole number >= `minimum` (None: any sign), given
    as a number or a numeric string. Absent (None, "") -> `default`. Anything else raises SfMalformedOutput naming
    `field`: `1e400` (infinite), `-2`, `3.5`, `true`, `"many"`."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    number = _whole_number(value)
    if number is None or (minimum is not None and number < minimum):
        floor = "" if minimum is None else f" >= {minimum}"
        raise SfMalformedOutput(f"malformed sf result: {field} is {_shown(value)}, not a whole number{floor}")
    return number


def as_exit_status(value: Any, field: str = "status") -> int | None:
    """The envelope's exit status (`status`, `exitCode`): a whole number 0-255, or None when absent. A fraction,
    a boolean, a negative or out-of-range number raises SfMalformedOutput (so `3.5` never reads as "exit 3")."""
    if value is None:
        return None
    number = _whole_number(value)
    if number is None or not 0 <= number <= 255:
        raise SfMalformedOutput(f"malformed sf output: {field} is {_shown(value)}, not an exit status (0-255)")
    return number


def as_float(value: Any, default: float | None = None) -> float | None:
    """Numbers and numeric strings as float; unreadable -> `default`."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else default
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return default
        return number if math.isfinite(number) else default
    return default


def as_bool(value: Any, default: bool = False) -> bool:
    """`True`, `"true"` (any case), `1`, `"1"` -> True; `False`, `"false"`, `0` -> False; else `default`."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no", ""):
            return False
    return default


def as_list(value: Any) -> list[Any]:
    """A list stays a list; None or "" becomes []; a lone object (or scalar) becomes a one-element list."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, tuple):
        return list(value)
    return [value]


def as_dict(value: Any) -> Mapping[str, Any]:
    """A mapping, or an empty one for anything else (None, a string, a list)."""
    return value if isinstance(value, Mapping) else {}


def as_str(value: Any, default: str = "") -> str:
    """Strings as they are; numbers rendered; None and containers -> `default`."""
    if value is None:
        return default
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return default


def as_opt_str(value: Any) -> str | None:
    """Like `as_str` but None (or "") stays None, so "absent" and "empty" read the same."""
    text = as_str(value)
    return text or None


def as_opt_int(value: Any) -> int | None:
    """A whole number when the value is readable as one, else None (optional line/column numbers, times): a
    boolean, a fraction or infinity is not a line number."""
    return _whole_number(value)


def parse_percent(value: Any) -> float | None:
    """`"87%"`, `"87"`, `87`, `"87.5 %"` -> 87.0 / 87.5; unreadable or absent -> None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        match = _PERCENT.match(value)
        if match:
            return float(match.group(1))
    return None


def as_percent(value: Any, field: str) -> float | None:
    """A coverage or pass-rate percentage (`parse_percent`), which must lie in 0-100: `150%`, `-3`, `true` or an
    infinite number raises SfMalformedOutput naming `field` (a gate must not pass on an impossible 150 %).
    Absent or unreadable text ("N/A") -> None."""
    if isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value)):
        raise SfMalformedOutput(f"malformed sf result: {field} is {_shown(value)}, not a percentage (0-100)")
    pct = parse_percent(value)
    if pct is not None and not 0 <= pct <= 100:
        raise SfMalformedOutput(f"malformed sf result: {field} is {_shown(value)}, not a percentage (0-100)")
    return pct


def parse_duration_ms(value: Any) -> int | None:
    """`"53 ms"`, `53`, `"53"` -> 53 (apex test summaries render times as "N ms")."""
    if isinstance(value, str):
        value = value.strip().removesuffix("ms").strip()
    return as_opt_int(value)
