from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orgsim.cron import (
    MAX_COUNTED_FIRES,
    CronError,
    catch_up,
    next_fire_time,
    parse_cron,
    previous_fire_time,
    refresh_triggers,
)

NOW = datetime(2026, 11, 27, 17, 5, 30, tzinfo=UTC)  # a Friday


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0 0 * * * ?", datetime(2026, 11, 27, 18, 0, tzinfo=UTC)),
        ("0 0,15,30,45 * * * ?", datetime(2026, 11, 27, 17, 15, tzinfo=UTC)),
        ("0 0 2 * * ?", datetime(2026, 11, 28, 2, 0, tzinfo=UTC)),
        ("0 0 9 15 1 ? *", datetime(2027, 1, 15, 9, 0, tzinfo=UTC)),
        ("0 30 8 ? * MON-FRI", datetime(2026, 11, 30, 8, 30, tzinfo=UTC)),
        ("0 0 12 ? * 1", datetime(2026, 11, 29, 12, 0, tzinfo=UTC)),  # 1 = Sunday
        ("0 0/20 * * * ?", datetime(2026, 11, 27, 17, 20, tzinfo=UTC)),
        ("0 0 0 1 JAN ? 2027", datetime(2027, 1, 1, 0, 0, tzinfo=UTC)),
    ],
)
def test_next_fire_time(expression: str, expected: datetime) -> None:
    assert next_fire_time(expression, NOW) == expected


def test_expression_in_the_past_never_fires() -> None:
    assert next_fire_time("0 0 0 1 1 ? 2020", NOW) is None


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 0 * * *", "6 or 7 fields"),
        ("0 0 25 * * ?", "out of range"),
        ("0 0 2 1 * MON", "both a day-of-week AND a day-of-month"),
        ("0 0 2 L * ?", "not support"),
        ("0 x 2 * * ?", "invalid cron field value"),
    ],
)
def test_bad_expressions(expression: str, message: str) -> None:
    with pytest.raises(CronError, match=message):
        parse_cron(expression)


# -- NextFireTime is always after now (issue 11: 21:30:00 was shown at 21:30:24 and failed verify.scheduled-jobs) ----
QUARTERS = "0 0,15,30,45 * * * ?"


def at(hour: int, minute: int, second: int = 0, micro: int = 0, day: int = 27) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, micro, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "expected_next"),
    [
        (at(21, 30), at(21, 45)),  # read exactly on the boundary it fired at
        (at(21, 30, 24), at(21, 45)),  # read 24 s later
        (at(21, 29, 59, 600_000), at(21, 45)),  # within the second before: counts as fired, so a read later in
        # the same request never sees 21:30:00 already past
    ],
)
def test_catch_up_moves_next_fire_time_after_now(now: datetime, expected_next: datetime) -> None:
    update = catch_up(QUARTERS, at(21, 30), now)
    assert update is not None
    assert update.next_fire_time == expected_next and update.next_fire_time > now
    assert update.previous_fire_time == at(21, 30) and update.fires == 1


def test_catch_up_leaves_a_future_fire_time_alone() -> None:
    assert catch_up(QUARTERS, at(21, 45), at(21, 30, 24)) is None
    assert catch_up(QUARTERS, at(21, 45), at(21, 44, 58, 999_999)) is None


def test_catch_up_counts_missed_fires_while_the_clock_jumped() -> None:
    update = catch_up(QUARTERS, at(21, 30), at(0, 50, day=28))
    assert update is not None
    assert update.fires == 14  # 21:30 ... 00:45
    assert update.previous_fire_time == at(0, 45, day=28) and update.next_fire_time == at(1, 0, day=28)


def test_catch_up_of_an_every_second_job_a_year_late_is_bounded() -> None:
    now = datetime(2027, 11, 27, 21, 30, 0, 500_000, tzinfo=UTC)
    update = catch_up("* * * * * ?", at(21, 30), now)
    assert update is not None
    assert update.fires == MAX_COUNTED_FIRES
    assert update.next_fire_time is not None and update.next_fire_time > now
    assert update.previous_fire_time <= update.next_fire_time


def test_previous_fire_time_is_at_or_before() -> None:
    assert previous_fire_time(QUARTERS, at(21, 30)) == at(21, 30)
    assert previous_fire_time(QUARTERS, at(21, 29, 59)) == at(21, 15)
    assert previous_fire_time("0 0 2 * * ?", at(1, 0)) == at(2, 0, day=26)


def test_a_job_that_never_fires_again_has_no_next_fire_time() -> None:
    update = catch_up("0 0 9 27 NOV ? 2026", at(9, 0), at(10, 0))
    assert update is not None and update.next_fire_time is None and update.previous_fire_time == at(9, 0)


class _Clock:
    moment = at(21, 20)


class _FrozenDatetime(datetime):
    @classmethod
    def now(cls, tz=None):  # type: ignore[override]
        return _Clock.moment


@pytest.fixture
def org_at_2120(tmp_path, monkeypatch):
    import orgsim.org
    from orgsim.org import Org

    monkeypatch.setattr(_Clock, "moment", at(21, 20))
    monkeypatch.setattr(orgsim.org, "datetime", _FrozenDatetime)
    org = Org(tmp_path / "org", {})
    org.schedule_job("Poller", "Poller", QUARTERS)
    org.schedule_job("Paused", "Paused", QUARTERS, state="PAUSED", next_fire_time="2026-11-27T21:30:00.000+0000")
    return org


def _trigger(org, name: str) -> dict:
    trigger = org.scheduled_job_named(name)
    assert trigger is not None
    return trigger


def test_org_tick_keeps_next_fire_time_after_now_on_boundaries_and_clock_advances(org_at_2120, monkeypatch) -> None:
    from orgsim.store import parse_datetime

    org = org_at_2120
    assert _trigger(org, "Poller")["NextFireTime"].startswith("2026-11-27T21:30:00")
    for moment in (at(21, 30), at(21, 30, 24)):
        monkeypatch.setattr(_Clock, "moment", moment)
        org.tick()
        trigger = _trigger(org, "Poller")
        assert parse_datetime(trigger["NextFireTime"]) > org.now(), (moment, trigger)
        assert trigger["PreviousFireTime"].startswith("2026-11-27T21:30:00")
        assert trigger["TimesTriggered"] == 1
    org.advance_clock(3 * 3600)  # the orgsim clock moved: 00:30:24 the next day
    org.tick()
    trigger = _trigger(org, "Poller")
    assert trigger["NextFireTime"].startswith("2026-11-28T00:45:00")
    assert trigger["PreviousFireTime"].startswith("2026-11-28T00:30:00")
    assert trigger["TimesTriggered"] == 13
    paused = _trigger(org, "Paused")
    assert paused["NextFireTime"] == "2026-11-27T21:30:00.000+0000" and paused["TimesTriggered"] == 0  # not live


def test_refresh_skips_triggers_it_cannot_read() -> None:
    class Store:
        def __init__(self) -> None:
            self.rows = [
                {
                    "Id": "08e1",
                    "State": "WAITING",
                    "CronExpression": "0 0 2 L * ?",
                    "NextFireTime": "2026-11-27T00:00:00.000+0000",
                },
                {"Id": "08e2", "State": "WAITING", "CronExpression": QUARTERS, "NextFireTime": "not a time"},
                {
                    "Id": "08e3",
                    "State": "WAITING",
                    "CronExpression": QUARTERS,
                    "NextFireTime": "2026-11-27T21:30:00.000+0000",
                    "TimesTriggered": True,
                },
            ]
            self.updates: list = []

        def list(self, sobject: str) -> list[dict]:
            return self.rows

        def update(self, record_id: str, fields: dict) -> None:
            self.updates.append((record_id, fields))

    store = Store()
    assert refresh_triggers(store, at(21, 31)) == 1
    (record_id, fields) = store.updates[0]
    assert record_id == "08e3" and fields["TimesTriggered"] == 1
    assert fields["NextFireTime"] == "2026-11-27T21:45:00.000+0000"
