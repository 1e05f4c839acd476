"""Cron expressions: five-field crontab text read by apscheduler's CronTrigger.

Here, not in the scheduler, so that validating a config does not load the
scheduler (and its store and jobs) to read a schedule.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

# an expression with no firing in this long never fires (29 February fires within 8 years)
FIRES_WITHIN = timedelta(days=8 * 366)


def parse_cron(expression: str, timezone: str = "UTC") -> CronTrigger:
    """A five-field crontab expression as a trigger; ValueError names the expression."""
    try:
        return CronTrigger.from_crontab(expression, timezone=timezone)
    except (ValueError, TypeError):
        raise ValueError(f'"{expression}" is not a valid cron expression') from None


def check_cron(expression: str, timezone: str = "UTC", now: datetime | None = None) -> None:
    """A trigger that fires: ValueError for an invalid expression or one no date matches (`0 6 30 2 *`)."""
    trigger = parse_cron(expression, timezone)
    start = now or datetime.now(UTC)
    trigger.end_date = start + FIRES_WITHIN  # the search stops here instead of running to the year 9999
    if trigger.get_next_fire_time(None, start) is None:
        raise ValueError(f'"{expression}" never fires: no date matches it')
