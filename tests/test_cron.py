"""Cron expressions read as crontab reads them (Sunday = 0 or 7), and ones that never fire refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from roi.cron import check_cron, parse_cron

SUNDAY = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)  # a Sunday, after 06:00


def firings(expression: str, count: int) -> list[str]:
    trigger, now, found = parse_cron(expression), SUNDAY, []
    for _ in range(count):
        fired = trigger.get_next_fire_time(None, now)
        found.append(fired.strftime("%a %d"))
        now = fired + timedelta(seconds=1)
    return found


@pytest.mark.parametrize(
    ("weekdays", "expected"),
    [
        ("1", ["Mon 09", "Mon 16"]),  # apscheduler's from_crontab would say Tuesday
        ("0", ["Sun 15", "Sun 22"]),
        ("7", ["Sun 15", "Sun 22"]),
        ("1-5", ["Mon 09", "Tue 10", "Wed 11", "Thu 12", "Fri 13", "Mon 16"]),
        ("mon-fri", ["Mon 09", "Tue 10", "Wed 11", "Thu 12", "Fri 13", "Mon 16"]),
        ("5-7", ["Fri 13", "Sat 14", "Sun 15", "Fri 20"]),
        ("*/2", ["Tue 10", "Thu 12", "Sat 14", "Sun 15"]),
        ("0,6", ["Sat 14", "Sun 15", "Sat 21"]),
    ],
)
def test_days_of_the_week_follow_crontab(weekdays, expected):
    assert firings(f"0 6 * * {weekdays}", len(expected)) == expected


@pytest.mark.parametrize("expression", ["0 6 * * 8", "0 6 * * 5-1", "0 6 * * x", "*/75 * * * *", "0 6 * *",
                                        "0 6 * * 1/0", "0 6 * * * *"])
def test_invalid_expressions_name_themselves(expression):
    with pytest.raises(ValueError) as caught:
        parse_cron(expression)
    assert str(caught.value) == f'"{expression}" is not a valid cron expression'


@pytest.mark.parametrize("expression", ["0 6 30 2 *", "0 6 31 11 *", "0 0 31 4,6,9,11 *"])
def test_a_cron_no_date_matches_never_fires(expression):
    with pytest.raises(ValueError) as caught:
        check_cron(expression, now=SUNDAY)
    assert str(caught.value) == f'"{expression}" never fires: no date matches it'


@pytest.mark.parametrize("expression", ["0 6 29 2 *", "0 6 2 * *", "*/15 * * * *", "0 6 13 * 5"])
def test_a_cron_that_fires_within_eight_years_is_accepted(expression):
    check_cron(expression, now=datetime(2029, 3, 1, tzinfo=UTC))  # 29 February: next in 2032
