"""Salesforce cron expressions (`Seconds Minutes Hours Day_of_month Month Day_of_week [Year]`) and next fire times.

Enough of the syntax for scheduled Apex: numbers, `*`, `?`, lists, ranges, `/` increments and month/day names.
`L`, `W` and `#` are rejected with a clear message rather than guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from orgsim.store import format_datetime, parse_datetime

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
    exact = after.astimezone(UTC)
    after = exact.replace(microsecond=0)
    first_day = after.date()
    day = first_day
    hours, minutes, seconds = sorted(schedule.hours), sorted(schedule.minutes), sorted(schedule.seconds)
    for _ in range(366 * 8):
        if schedule.matches_day(day):
            today = day == first_day
            for hour in hours:
                if today and hour < after.hour:
                    continue
                for minute in minutes:
                    if today and hour == after.hour and minute < after.minute:
                        continue
                    for second in seconds:
                        moment = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)
                        if moment > exact:
                            return moment
        day += timedelta(days=1)
    return None


def previous_fire_time(expression: str | CronSchedule, at: datetime) -> datetime | None:
    """The last moment at or before `at` that the expression fired (UTC), or None within the 8 years before."""
    schedule = parse_cron(expression) if isinstance(expression, str) else expression
    at = at.astimezone(UTC)
    last_day = at.date()
    day = last_day
    hours = sorted(schedule.hours, reverse=True)
    minutes, seconds = sorted(schedule.minutes, reverse=True), sorted(schedule.seconds, reverse=True)
    for _ in range(366 * 8):
        if schedule.matches_day(day):
            today = day == last_day
            for hour in hours:
                if today and hour > at.hour:
                    continue
                for minute in minutes:
                    if today and hour == at.hour and minute > at.minute:
                        continue
                    for second in seconds:
                        moment = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)
                        if moment <= at:
                            return moment
        day -= timedelta(days=1)
    return None


# -- keeping live triggers current ------------------------------------------------------------------------------------
LIVE_STATES = frozenset({"WAITING", "ACQUIRED", "EXECUTING"})
MAX_COUNTED_FIRES = 1000  # missed fires counted one by one into TimesTriggered; beyond that, jump to now


@dataclass(frozen=True)
class CatchUp:
    """What a trigger due at some time looks like at `now`: it fired `fires` times, last at `previous`."""

    next_fire_time: datetime | None
    previous_fire_time: datetime
    fires: int


def _horizon(now: datetime) -> datetime:
    """`now` rounded up to the whole second. Fire times are whole seconds, so a trigger due within this second
    counts as fired: the NextFireTime shown stays after the moment of reading, also later in the same request."""
    now = now.astimezone(UTC)
    whole = now.replace(microsecond=0)
    return whole if whole == now else whole + timedelta(seconds=1)


def catch_up(expression: str | CronSchedule, due: datetime, now: datetime) -> CatchUp | None:
    """None while `due` (the stored NextFireTime) is still after `now`; else the fires since then and the next fire
    time, strictly after `now` (None when the expression never fires again)."""
    horizon = _horizon(now)
    if due > horizon:
        return None
    schedule = parse_cron(expression) if isinstance(expression, str) else expression
    fires, last = 0, due
    upcoming: datetime | None = due
    while upcoming is not None and upcoming <= horizon and fires < MAX_COUNTED_FIRES:
        fires, last = fires + 1, upcoming
        upcoming = next_fire_time(schedule, upcoming)
    if upcoming is not None and upcoming <= horizon:  # more missed fires than we count: jump to now
        last = previous_fire_time(schedule, horizon) or last
        upcoming = next_fire_time(schedule, horizon)
    return CatchUp(upcoming, last, fires)


class _Store(Protocol):
    def list(self, sobject: str) -> list[dict[str, Any]]: ...

    def update(self, record_id: str, fields: dict[str, Any]) -> None: ...


def refresh_triggers(store: _Store, now: datetime) -> int:
    """Bring every live CronTrigger whose NextFireTime is not after `now` up to date, as the scheduler would have:
    PreviousFireTime, TimesTriggered and a NextFireTime strictly after now. Called from `Org.tick()` before each
    request, so it holds on a boundary and after the org clock was advanced. Returns how many triggers changed."""
    changed = 0
    for trigger in store.list("CronTrigger"):
        due_text = trigger.get("NextFireTime")
        if trigger.get("State") not in LIVE_STATES or not isinstance(due_text, str) or not trigger.get("Id"):
            continue
        try:
            update = catch_up(str(trigger.get("CronExpression") or ""), parse_datetime(due_text), now)
        except (CronError, ValueError):
            continue  # a trigger orgsim cannot read is left as the scenario wrote it
        if update is None:
            continue
        times = trigger.get("TimesTriggered")
        store.update(
            str(trigger["Id"]),
            {
                "NextFireTime": format_datetime(update.next_fire_time) if update.next_fire_time else None,
                "PreviousFireTime": format_datetime(update.previous_fire_time),
                "TimesTriggered": (times if isinstance(times, int) and not isinstance(times, bool) else 0)
                + update.fires,
            },
        )
        changed += 1
    return changed
