"""Cron expressions: five-field crontab text read by apscheduler's CronTrigger.

Here, not in the scheduler, so that validating a config does not load the
scheduler (and its store and jobs) to read a schedule.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

# an expression with no firing in this long never fires (29 February fires within 8 years)
FIRES_WITHIN = timedelta(days=8 * 366)


_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _weekday(text: str) -> int:
    """A crontab day of the week: 0 or 7 = Sunday, 1 = Monday, ..., or a name (mon)."""
    if text.isdigit() and int(text) <= 7:
        return int(text) % 7
    if text.lower() in _DAYS:
        return _DAYS.index(text.lower())
    raise ValueError(text)


def _weekdays(field: str) -> str:
    """The crontab day-of-week field in apscheduler's terms.

    apscheduler numbers days from Monday = 0, crontab from Sunday = 0 (or 7), so
    `CronTrigger.from_crontab("0 6 * * 1")` would fire on Tuesdays; the days are
    passed by name instead (`1-5` -> `mon,tue,wed,thu,fri`)."""
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
        if step_text and step is None:
            raise ValueError(part)
        if span == "*":
            first, last = 0, 6
        elif "-" in span:
            start, end = span.split("-", 1)
            first, last = _weekday(start), _weekday(end)
            if end.strip() == "7":
                last = 7  # 5-7: Friday to Sunday
        else:
            first = last = _weekday(span)
            if step:
                last = 6  # 1/2: from Monday, every second day
        if last < first:
            raise ValueError(part)
        days |= {day % 7 for day in range(first, last + 1, step or 1)}
    return ",".join(_DAYS[day] for day in sorted(days))


def parse_cron(expression: str, timezone: str = "UTC") -> CronTrigger:
    """A five-field crontab expression as a trigger; ValueError names the expression.

    As in crontab, day of week 0 and 7 are Sunday and 1 is Monday. Unlike Vixie cron, when both
    the day of month and the day of week are restricted, a day must match both (apscheduler)."""
    try:
        fields = expression.split()
        if len(fields) != 5:
            raise ValueError(expression)
        minute, hour, day, month, weekday = fields
        return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=_weekdays(weekday),
                           timezone=timezone)
    except (ValueError, TypeError):
        raise ValueError(f'"{expression}" is not a valid cron expression') from None


def check_cron(expression: str, timezone: str = "UTC", now: datetime | None = None) -> None:
    """A trigger that fires: ValueError for an invalid expression or one no date matches (`0 6 30 2 *`)."""
    trigger = parse_cron(expression, timezone)
    start = now or datetime.now(UTC)
    trigger.end_date = start + FIRES_WITHIN  # the search stops here instead of running to the year 9999
    if trigger.get_next_fire_time(None, start) is None:
        raise ValueError(f'"{expression}" never fires: no date matches it')
