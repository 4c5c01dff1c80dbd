"""Date literals (`TODAY`, `LAST_N_DAYS:7`, `THIS_YEAR`, ...) as half-open date ranges.

The org's time zone is UTC: "today" is the UTC calendar day of the org clock. Weeks start on Sunday (the
en_US locale); the fiscal year is the calendar year (Salesforce's default), so FISCAL literals equal the
calendar ones.
"""

from __future__ import annotations

from datetime import date, timedelta

PLAIN_DATE_LITERALS = frozenset(
    {
        "YESTERDAY", "TODAY", "TOMORROW",
        "LAST_WEEK", "THIS_WEEK", "NEXT_WEEK",
        "LAST_MONTH", "THIS_MONTH", "NEXT_MONTH",
        "LAST_90_DAYS", "NEXT_90_DAYS",
        "LAST_QUARTER", "THIS_QUARTER", "NEXT_QUARTER",
        "LAST_FISCAL_QUARTER", "THIS_FISCAL_QUARTER", "NEXT_FISCAL_QUARTER",
        "LAST_YEAR", "THIS_YEAR", "NEXT_YEAR",
        "LAST_FISCAL_YEAR", "THIS_FISCAL_YEAR", "NEXT_FISCAL_YEAR",
    }
)  # fmt: skip
N_DATE_LITERALS = frozenset(
    {
        "LAST_N_DAYS", "NEXT_N_DAYS", "N_DAYS_AGO",
        "LAST_N_WEEKS", "NEXT_N_WEEKS", "N_WEEKS_AGO",
        "LAST_N_MONTHS", "NEXT_N_MONTHS", "N_MONTHS_AGO",
        "LAST_N_QUARTERS", "NEXT_N_QUARTERS", "N_QUARTERS_AGO",
        "LAST_N_FISCAL_QUARTERS", "NEXT_N_FISCAL_QUARTERS", "N_FISCAL_QUARTERS_AGO",
        "LAST_N_YEARS", "NEXT_N_YEARS", "N_YEARS_AGO",
        "LAST_N_FISCAL_YEARS", "NEXT_N_FISCAL_YEARS", "N_FISCAL_YEARS_AGO",
    }
)  # fmt: skip
MAX_N = 10_000  # keeps the arithmetic inside Python's date range; Salesforce's own limits are lower


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def _period(unit: str, today: date) -> tuple[date, int]:
    """Start of the current period and its length in the unit's step (days for weeks, months otherwise)."""
    if unit == "DAY":
        return today, 1
    if unit == "WEEK":
        return today - timedelta(days=(today.weekday() + 1) % 7), 7
    if unit == "MONTH":
        return today.replace(day=1), 1
    if unit == "QUARTER":
        return date(today.year, (today.month - 1) // 3 * 3 + 1, 1), 3
    return date(today.year, 1, 1), 12


def _shift(start: date, unit: str, steps: int) -> date:
    if unit in ("DAY", "WEEK"):
        return start + timedelta(days=steps)
    return _add_months(start, steps)


def date_range(literal: str, n: int | None, today: date) -> tuple[date, date]:
    """[start, end) of the date literal relative to `today`. Raises ValueError if out of range."""
    if n is not None and n > MAX_N:
        raise ValueError(f"{literal}:{n} is out of range")
    name = literal.upper().replace("_FISCAL", "")
    if name in ("YESTERDAY", "TODAY", "TOMORROW"):
        offset = {"YESTERDAY": -1, "TODAY": 0, "TOMORROW": 1}[name]
        start = today + timedelta(days=offset)
        return start, start + timedelta(days=1)
    if name == "LAST_90_DAYS":
        name, n = "LAST_N_DAYS", 90
    elif name == "NEXT_90_DAYS":
        name, n = "NEXT_N_DAYS", 90
    if n is None:
        which, unit = name.split("_")
        start, step = _period(unit, today)
        delta = {"LAST": -1, "THIS": 0, "NEXT": 1}[which] * step
        start = _shift(start, unit, delta)
        return start, _shift(start, unit, step)
    unit = name.removesuffix("S_AGO").removesuffix("S").rsplit("_", 1)[-1]
    start, step = _period(unit, today)
    if name.startswith("LAST_N_"):
        if unit == "DAY":
            # LAST_N_DAYS:n covers the past n days and today.
            return today - timedelta(days=n), today + timedelta(days=1)
        return _shift(start, unit, -n * step), start
    if name.startswith("NEXT_N_"):
        begin = _shift(start, unit, step)
        return begin, _shift(begin, unit, n * step)
    begin = _shift(start, unit, -n * step)  # N_<unit>S_AGO:n is the single period n periods back
    return begin, _shift(begin, unit, step)
