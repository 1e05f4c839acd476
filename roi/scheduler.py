"""APScheduler lives here and nowhere else."""

from __future__ import annotations

from apscheduler.triggers.cron import CronTrigger


def parse_cron(expression: str, timezone: str = "UTC") -> CronTrigger:
    """A five-field crontab expression as a trigger; ValueError names the expression."""
    try:
        return CronTrigger.from_crontab(expression, timezone=timezone)
    except (ValueError, TypeError):
        raise ValueError(f'"{expression}" is not a valid cron expression') from None
