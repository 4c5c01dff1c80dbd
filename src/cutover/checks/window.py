"""Deployment-window gate: is the (scheduled) start inside the runbook's window?"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from cutover.checks.result import Evidence, GateResult, passed, waiting

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def day_index(name: str) -> int:
    key = name.strip().lower()[:3]
    if key not in DAY_NAMES:
        raise ValueError(f"unknown day {name!r} (use mon..sun)")
    return DAY_NAMES.index(key)


def parse_clock(value: str | time) -> time:
    if isinstance(value, time):
        return value
    hours, _, minutes = str(value).strip().partition(":")
    return time(int(hours), int(minutes or 0))


@dataclass(frozen=True)
class Window:
    timezone: str
    days: tuple[str, ...]  # days on which the window opens
    start: time
    end: time  # may be earlier than start: the window then runs past midnight

    def contains(self, moment: datetime) -> bool:
        local = moment.astimezone(ZoneInfo(self.timezone))
        open_days = {day_index(day) for day in self.days}
        # A window opening on day D may still be open on D+1 when it crosses midnight.
        for opened_days_ago in (0, 1):
            opening_date = (local - timedelta(days=opened_days_ago)).date()
            if opening_date.weekday() not in open_days:
                continue
            opens = datetime.combine(opening_date, self.start, tzinfo=local.tzinfo)
            closes_date = opening_date + timedelta(days=1) if self.end <= self.start else opening_date
            closes = datetime.combine(closes_date, self.end, tzinfo=local.tzinfo)
            if opens <= local < closes:
                return True
        return False

    def describe(self) -> str:
        days = ", ".join(day.strip()[:3].capitalize() for day in self.days)
        return f"{days} {self.start:%H:%M}-{self.end:%H:%M} {self.timezone}"


def check_window(
    gate_id: str,
    title: str,
    window: Window,
    at: datetime,
    *,
    approvers: tuple[str, ...] = (),
    exception_reason: str | None = None,
    exception_by: str | None = None,
) -> GateResult:
    """Pass inside the window; outside it, wait for an exception sign-off (or pass when one is recorded)."""
    local = at.astimezone(ZoneInfo(window.timezone))
    when = f"{local:%a %Y-%m-%d %H:%M %Z}"
    evidence = Evidence.json(
        "window.json", {"at": at.isoformat(), "local": local.isoformat(), "window": window.describe()}
    )
    if window.contains(at):
        return passed(gate_id, title, f"{when} is inside the deployment window ({window.describe()})", evidence)
    if exception_by:
        return passed(
            gate_id,
            title,
            f"{when} is outside the window ({window.describe()}); exception signed off by {exception_by}: "
            f"{exception_reason or 'no reason given'}",
            evidence,
        )
    who = f" by one of: {', '.join(approvers)}" if approvers else ""
    return waiting(
        gate_id,
        title,
        f"{when} is outside the deployment window ({window.describe()}); "
        f"needs an exception sign-off{who} with a reason",
        evidence,
    )
