from datetime import UTC, datetime, time

from cutover.checks.result import GateStatus
from cutover.checks.window import Window, check_window

FRIDAY_EVENING = Window("America/New_York", ("friday",), time(18), time(22))


def test_inside_and_outside_the_window():
    inside = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)  # Fri 18:30 EST
    before = datetime(2026, 11, 27, 22, 59, tzinfo=UTC)  # Fri 17:59 EST
    saturday = datetime(2026, 11, 28, 19, 0, tzinfo=UTC)
    assert FRIDAY_EVENING.contains(inside)
    assert not FRIDAY_EVENING.contains(before)
    assert not FRIDAY_EVENING.contains(saturday)


def test_daylight_saving_time_is_followed():
    # July: New York is UTC-4, so 18:00 local is 22:00 UTC.
    assert FRIDAY_EVENING.contains(datetime(2026, 7, 3, 22, 0, tzinfo=UTC))
    assert not FRIDAY_EVENING.contains(datetime(2026, 7, 3, 21, 59, tzinfo=UTC))


def test_window_across_midnight_belongs_to_its_start_day():
    late = Window("UTC", ("friday",), time(22), time(2))
    assert late.contains(datetime(2026, 11, 28, 1, 0, tzinfo=UTC))  # Saturday 01:00, opened Friday
    assert not late.contains(datetime(2026, 11, 27, 1, 0, tzinfo=UTC))  # Friday 01:00: Thursday's window


def test_outside_waits_for_an_exception():
    result = check_window(
        "preflight.window",
        "Window",
        FRIDAY_EVENING,
        datetime(2026, 11, 25, 15, 0, tzinfo=UTC),
        approvers=("Deployment Lead",),
    )
    assert result.status == GateStatus.WAITING_SIGNOFF
    assert "outside the deployment window (Fri 18:00-22:00 America/New_York)" in result.detail
    assert "Deployment Lead" in result.detail


def test_recorded_exception_passes_with_reason():
    result = check_window(
        "w",
        "t",
        FRIDAY_EVENING,
        datetime(2026, 11, 25, 15, 0, tzinfo=UTC),
        exception_by="Avery",
        exception_reason="hotfix",
    )
    assert result.status == GateStatus.PASSED and "Avery: hotfix" in result.detail
