from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orgsim.cron import CronError, next_fire_time, parse_cron

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
