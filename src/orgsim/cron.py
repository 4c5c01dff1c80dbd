"""Salesforce cron expressions (`Seconds Minutes Hours Day_of_month Month Day_of_week [Year]`) and next fire times.

Enough of the syntax for scheduled Apex: numbers, `*`, `?`, lists, ranges, `/` increments and month/day names.
`L`, `W` and `#` are rejected with a clear message rather than guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

_MONTHS = {
    name: index
    for index, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1
    )
}
_DAYS = {name: index for index, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}


class CronError(ValueError):
    """An expression orgsim cannot schedule; the message reads like Salesforce's."""


@dataclass(frozen=True)
class CronSchedule:
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int] | None  # None means '?'/'*': any day
    months: frozenset[int]
    days_of_week: frozenset[int] | None  # 1 = Sunday, as in Salesforce
    years: frozenset[int] | None

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months or (self.years is not None and day.year not in self.years):
            return False
        if self.days_of_month is not None and day.day not in self.days_of_month:
            return False
        salesforce_weekday = (day.isoweekday() % 7) + 1  # Monday=2 ... Sunday=1
        return self.days_of_week is None or salesforce_weekday in self.days_of_week


def _parse_field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int] | None:
    if text in ("*", "?"):
        return None
    if any(marker in text.upper() for marker in ("L", "W", "#")) and not (names and text.upper()[:3] in names):
        raise CronError(f"orgsim does not support the cron field {text!r} (L, W and # are not emulated)")
    values: set[int] = set()

    def number(token: str) -> int:
        token = token.upper()
        if names and token in names:
            return names[token]
        if not token.isdigit():
            raise CronError(f"invalid cron field value {token!r}")
        return int(token)

    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = number(step_text)
            if step <= 0:
                raise CronError(f"invalid cron increment {step_text!r}")
        if part in ("*", "?", ""):
            start, end = low, high
        elif "-" in part:
            start_text, end_text = part.split("-", 1)
            start, end = number(start_text), number(end_text)
        else:
            start = number(part)
            end = high if step != 1 else start
        if not (low <= start <= high and low <= end <= high):
            raise CronError(f"cron value out of range in {text!r} (allowed {low}-{high})")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def parse_cron(expression: str) -> CronSchedule:
    fields = expression.split()
    if len(fields) not in (6, 7):
        raise CronError(
            f"cron expression {expression!r} must have 6 or 7 fields (seconds to day of week, year optional)"
        )
    seconds = _parse_field(fields[0], 0, 59) or frozenset(range(60))
    minutes = _parse_field(fields[1], 0, 59) or frozenset(range(60))
    hours = _parse_field(fields[2], 0, 23) or frozenset(range(24))
    days_of_month = _parse_field(fields[3], 1, 31)
    months = _parse_field(fields[4], 1, 12, _MONTHS) or frozenset(range(1, 13))
    days_of_week = _parse_field(fields[5], 1, 7, _DAYS)
    if fields[3] != "?" and fields[5] != "?":
        raise CronError("Support for specifying both a day-of-week AND a day-of-month parameter is not implemented.")
    years = _parse_field(fields[6], 1970, 2099) if len(fields) == 7 else None
    return CronSchedule(seconds, minutes, hours, days_of_month, months, days_of_week, years)


def next_fire_time(expression: str | CronSchedule, after: datetime) -> datetime | None:
    """The first moment strictly after `after` that the expression fires (UTC), or None if never (past years)."""
    schedule = parse_cron(expression) if isinstance(expression, str) else expression
    after = after.astimezone(UTC).replace(microsecond=0)
    day = after.date()
    for _ in range(366 * 8):
        if schedule.matches_day(day):
            for hour in sorted(schedule.hours):
                for minute in sorted(schedule.minutes):
                    for second in sorted(schedule.seconds):
                        moment = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)
                        if moment > after:
                            return moment
        day += timedelta(days=1)
    return None
