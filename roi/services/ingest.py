"""Ingest: every source once now, and the windowed pull: which days a pulled source fetches, retries, and its watermark.

A pulled source (an HTTP API, a SQL warehouse) is fetched in one batch per UTC day
(``day:YYYY-MM-DD``); pulling a day again replaces it, so overlaps never double count.

- The window starts ``lookback_days`` before the day of the watermark (to catch late data),
  or ``initial_lookback_days`` before today for a source never pulled, or at ``--since``;
  it ends after today, or after ``--until``. Dates given by a person are days in the
  configured timezone; the window covers them with whole UTC days.
- A window lands whole or not at all (see batches.ingest_source); long windows (backfills)
  land in steps of at most STEP_DAYS days, each step a complete pull of its own.
- The watermark (everything before it has landed) moves only after a step landed completely
  and only when the step starts at or before it, so a gap is never skipped over.
- Transient errors (TransientError: timeouts, dropped connections, 429/5xx) are retried by the
  one policy of connectors.retry, at one level only: an HTTP source per request, any other
  source per day (batches.ingest_source); anything else fails the pull at once.

File sources (events, otlp) ignore windows and have no watermark.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

from ..config import Settings, SourceConfig
from ..connectors import Window
from ..errors import RoiError
from ..store import Store, pulls_and_jobs
from ..temporary_files import temporary_folder
from .batches import Progress, SourceRun, ingest_source

log = logging.getLogger("roi.pulling")

STEP_DAYS = 31
_DAY = timedelta(days=1)


def floor_day(moment: datetime) -> datetime:
    """Midnight UTC of the UTC day holding `moment`."""
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


def _ceil_day(moment: datetime) -> datetime:
    floor = floor_day(moment)
    return floor if floor == moment else floor + _DAY


def local_midnight(day: date, timezone: str) -> datetime:
    return datetime.combine(day, clock_time(), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def plan_window(
    source: SourceConfig,
    *,
    watermark: datetime | None,
    now: datetime,
    timezone: str = "UTC",
    since: date | None = None,
    until: date | None = None,
) -> Window:
    """The whole UTC days a pull covers: start inclusive, end exclusive."""
    if since is not None:
        start = floor_day(local_midnight(since, timezone))
    elif watermark is not None:
        start = floor_day(watermark) - source.lookback_days * _DAY
    else:
        start = floor_day(now) - source.initial_lookback_days * _DAY
    end = _ceil_day(local_midnight(until + _DAY, timezone)) if until is not None else floor_day(now) + _DAY
    if end <= start:
        raise RoiError(f"source {source.name!r}: the window {start:%Y-%m-%d} to {end:%Y-%m-%d} is empty")
    return Window(start, end)


def split_window(window: Window, step_days: int = STEP_DAYS) -> list[Window]:
    steps = []
    start = window.start
    while start < window.end:
        end = min(start + step_days * _DAY, window.end)
        steps.append(Window(start, end))
        start = end
    return steps


def window_days(window: Window) -> int:
    return (window.end - window.start) // _DAY


@dataclass(slots=True)
class PullResult:
    """One source's pull: what landed, over which window, and the watermark after it."""

    run: SourceRun
    window: Window | None = None
    watermark: datetime | None = None
    steps: list[Window] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.run.failed


def _merge(total: SourceRun, part: SourceRun) -> None:
    for name in ("files", "batches", "unchanged", "rows_read", "stored", "duplicates", "quarantined", "unpriced"):
        setattr(total, name, getattr(total, name) + getattr(part, name))
    total.errors.extend(part.errors)
    total.moved.extend(part.moved)
    total.windowed = total.windowed or part.windowed


def pull_source(
    settings: Settings,
    store: Store,
    source: SourceConfig,
    *,
    since: date | None = None,
    until: date | None = None,
    now: datetime | None = None,
    force: bool = False,
    progress: Progress | None = None,
    on_batch: Callable[[str, str, int, int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> PullResult:
    """Pull one source over its window (from its watermark, or --since/--until) and record how it went.

    `on_batch(source, batch_key, done, window_days)` follows each batch read (progress)."""
    now = now or datetime.now(UTC)
    mark = pulls_and_jobs.watermark(store.engine, source.name)
    window = plan_window(
        source, watermark=mark, now=now, timezone=settings.service.timezone, since=since, until=until
    )
    result = PullResult(SourceRun(source.name), window, mark)
    total = window_days(window)
    done = 0

    def batch_read(key: str) -> None:
        nonlocal done
        done += 1
        if on_batch:
            on_batch(source.name, key, done, total)

    for step in split_window(window):
        part = ingest_source(
            settings, store, source, window=step, force=force, progress=progress, sleep=sleep, on_batch=batch_read
        )
        _merge(result.run, part)
        result.steps.append(step)
        if not part.windowed or part.failed:
            break  # a file source ignores windows: one pass is all; a failed step ends the pull
        if mark is None or step.start <= mark:
            reached = min(step.end, now)
            mark = reached if mark is None else max(mark, reached)
            pulls_and_jobs.record_pull_success(store.engine, source.name, mark, now)
            log.info("source %s: landed %s to %s; watermark %s", source.name, f"{step.start:%Y-%m-%d}",
                     f"{step.end - _DAY:%Y-%m-%d}", mark.isoformat())
    result.watermark = mark
    if result.failed:
        pulls_and_jobs.record_pull_failure(store.engine, source.name, "; ".join(result.run.errors), now)
    else:
        pulls_and_jobs.record_pull_success(store.engine, source.name, mark if result.run.windowed else None, now)
    return result


def pull(
    settings: Settings,
    store: Store,
    source_name: str | None = None,
    **options: Any,
) -> list[PullResult]:
    """Pull one source, or every enabled one; a failing source never stops the others."""
    if source_name is not None:
        sources = [settings.source(source_name)]
    else:
        sources = [source for source in settings.sources if source.enabled]
    if not sources:
        raise RoiError(f"{settings.path}: no sources to ingest; add a [[sources]] table")
    temporary_folder()  # a $TMPDIR that cannot be used stops the ingest before it starts, naming it
    return [pull_source(settings, store, source, **options) for source in sources]


def ingest(
    settings: Settings,
    store: Store,
    source_name: str | None = None,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> list[SourceRun]:
    """Every enabled source (or one) once now; pulled sources over their window."""
    return [result.run for result in pull(settings, store, source_name, force=force, progress=progress)]
