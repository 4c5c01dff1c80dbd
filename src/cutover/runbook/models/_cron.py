"""Validation of Salesforce cron expressions, as `System.schedule` accepts them.

`Seconds Minutes Hours Day_of_month Month Day_of_week [Year]`. Each field is `*`, a value, a range `a-b`, a list
`a,b-c` or an increment `start/step` (`*/step`). Months may be JAN-DEC and days SUN-SAT (1 = Sunday). `?` (no
specific value) is allowed only in Day_of_month and Day_of_week, and exactly one of the two must be `?`. Day_of_month
also takes `L` (last day), `LW` (last weekday) and `nW` (weekday nearest day n); Day_of_week takes `L` (Saturday),
`nL` (last weekday n of the month) and `n#k` (k-th weekday n of the month, k 1-5).
"""

from __future__ import annotations

import re

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("seconds", 0, 59, ()),
    ("minutes", 0, 59, ()),
    ("hours", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of week", 1, 7, _DAYS),
    ("year", 1970, 2099, ()),
)
_TOKEN_RE = re.compile(r"^[0-9A-Za-z]+$")
EXAMPLE = "Seconds Minutes Hours Day_of_month Month Day_of_week [Year], e.g. '0 0 2 * * ?'"


class CronError(ValueError):
    pass


def _value(token: str, low: int, high: int, names: tuple[str, ...], what: str) -> int:
    upper = token.upper()
    if upper in names:
        return names.index(upper) + 1
    if not token.isdigit() or len(token) > 4:
        raise CronError(f"{what}: {token!r} is not a number{' or a name' if names else ''}")
    number = int(token)
    if not low <= number <= high:
        raise CronError(f"{what}: {number} is out of range ({low}-{high})")
    return number


def _field(text: str, index: int) -> None:
    what, low, high, names = _FIELDS[index]
    upper = text.upper()
    if text == "?":
        if index not in (3, 5):
            raise CronError(f"{what}: '?' is only allowed in the day of month or the day of week")
        return
    if index == 3 and (upper in ("L", "LW") or re.fullmatch(r"\d{1,2}W", upper)):
        if upper.endswith("W") and upper != "LW":
            _value(upper[:-1], low, high, names, what)
        return
    if index == 5 and (upper == "L" or re.fullmatch(r"[0-9A-Z]{1,3}L", upper) or "#" in upper):
        if "#" in upper:
            day, _, nth = upper.partition("#")
            _value(day, low, high, names, what)
            if not nth.isdigit() or not 1 <= int(nth) <= 5:
                raise CronError(f"{what}: {text!r}: the number after # must be 1-5")
        elif upper != "L":
            _value(upper[:-1], low, high, names, what)
        return
    for part in text.split(","):
        base, slash, step = part.partition("/")
        if slash and (not step.isdigit() or not 1 <= int(step[:4]) <= high or len(step) > 4):
            raise CronError(f"{what}: {part!r}: the increment after / must be 1-{high}")
        if base == "*" or (slash and base == ""):
            continue
        bounds = base.split("-")
        if len(bounds) > 2 or not all(_TOKEN_RE.match(b) for b in bounds):
            raise CronError(f"{what}: {part!r} is not a value, a range a-b or an increment a/n")
        for bound in bounds:
            _value(bound, low, high, names, what)


def check_cron(value: str) -> str:
    """The expression, unchanged, or a ValueError saying which field is wrong."""
    fields = value.split()
    if len(fields) not in (6, 7):
        raise ValueError(f"{value[:80]!r} is not a Salesforce cron expression ({EXAMPLE}): it needs 6 or 7 fields")
    try:
        for index, text in enumerate(fields):
            _field(text, index)
        if (fields[3] == "?") == (fields[5] == "?"):
            raise CronError("exactly one of the day of month and the day of week must be '?'")
    except CronError as exc:
        raise ValueError(f"{value!r} is not a valid Salesforce cron expression: {exc} ({EXAMPLE})") from None
    return value
