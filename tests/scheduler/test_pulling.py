"""The windowed pull: windows, watermarks, all-or-nothing windows, retries, backfills."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from roi.config import SourceConfig
from roi.errors import RoiError
from roi.services.ingest import plan_window, pull_source, split_window
from roi.store import pulls_and_jobs

NOW = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)


def _source(**options) -> SourceConfig:
    return SourceConfig(name="api", type="test-daily", **options)


def _utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_a_source_never_pulled_starts_initial_lookback_days_back_and_ends_after_today():
    window = plan_window(_source(initial_lookback_days=7), watermark=None, now=NOW)
    assert (window.start, window.end) == (_utc(2026, 3, 3), _utc(2026, 3, 11))


def test_a_pulled_source_re_pulls_lookback_days_before_its_watermark():
    window = plan_window(_source(lookback_days=2), watermark=_utc(2026, 3, 8, 9, 15), now=NOW)
    assert (window.start, window.end) == (_utc(2026, 3, 6), _utc(2026, 3, 11))


def test_since_and_until_are_local_days_covered_by_whole_utc_days():
    window = plan_window(_source(), watermark=_utc(2026, 3, 8), now=NOW, timezone="Europe/Paris",
                         since=date(2026, 2, 1), until=date(2026, 2, 28))
    # local Feb 1 00:00 is Jan 31 23:00 UTC; local Mar 1 00:00 is Feb 28 23:00 UTC
    assert (window.start, window.end) == (_utc(2026, 1, 31), _utc(2026, 3, 1))
    utc = plan_window(_source(), watermark=None, now=NOW, since=date(2026, 2, 1), until=date(2026, 2, 28))
    assert (utc.start, utc.end) == (_utc(2026, 2, 1), _utc(2026, 3, 1))


def test_an_empty_window_is_refused_with_the_source_named():
    with pytest.raises(RoiError, match="source 'api': the window 2026-03-20 to 2026-03-11 is empty"):
        plan_window(_source(), watermark=None, now=NOW, since=date(2026, 3, 20))


def test_long_windows_split_in_steps_that_cover_them_exactly():
    window = plan_window(_source(), watermark=None, now=NOW, since=date(2025, 12, 1), until=date(2026, 2, 28))
    steps = split_window(window, 31)
    assert [(step.end - step.start).days for step in steps] == [31, 31, 28]
    assert steps[0].start == window.start and steps[-1].end == window.end
    assert all(a.end == b.start for a, b in zip(steps, steps[1:], strict=False))


def _cells(store, start=date(2026, 1, 1), end=date(2026, 12, 31)):
    frame = store.cells(start, end)
    return frame.sort_values(["day", "tenant"]).reset_index(drop=True)


def test_first_pull_lands_its_window_and_sets_the_watermark_then_overlaps_never_double_count(any_project, upstream, open_store):
    for day in ("2026-03-07", "2026-03-08", "2026-03-09", "2026-03-10"):
        upstream.put_day(day)
    settings = any_project.settings()
    store = open_store(settings)
    source = settings.source("api")

    first = pull_source(settings, store, source, now=NOW)
    assert not first.failed
    assert (first.window.start, first.window.end) == (_utc(2026, 3, 7), _utc(2026, 3, 11))
    assert first.run.batches == 4 and first.run.rows_read == 16
    assert pulls_and_jobs.watermark(store.engine, "api") == NOW
    before = _cells(store)
    assert before["requests"].sum() == 16

    later = NOW + timedelta(minutes=15)
    upstream.put_day("2026-03-10", count=2, tenant="late")  # arrived after the first pull
    second = pull_source(settings, store, source, now=later)
    # lookback 1: the watermark's day and the one before are pulled again
    assert (second.window.start, second.window.end) == (_utc(2026, 3, 9), _utc(2026, 3, 11))
    after = _cells(store)
    assert after["requests"].sum() == 18  # 16 once, plus the 2 late ones: nothing counted twice
    assert after.loc[after["tenant"] == "late", "requests"].sum() == 2
    assert pulls_and_jobs.watermark(store.engine, "api") == later
    assert len(store.batches("api")) == 4


def test_a_pull_that_fails_half_way_leaves_the_store_and_the_watermark_as_they_were(any_project, upstream, open_store):
    for day in ("2026-03-07", "2026-03-08", "2026-03-09", "2026-03-10"):
        upstream.put_day(day)
    settings = any_project.settings()
    store = open_store(settings)
    source = settings.source("api")
    pull_source(settings, store, source, now=NOW)
    cells_before = _cells(store)
    batches_before = [(b.batch_key, b.fingerprint, b.rows_read) for b in store.batches("api")]
    mark_before = pulls_and_jobs.watermark(store.engine, "api")

    # new data upstream on every day of the next window, and the middle day fails after its first chunk
    for day in ("2026-03-09", "2026-03-10", "2026-03-11"):
        upstream.put_day(day, count=3, tenant="new")
    upstream.fail("2026-03-10")
    failed = pull_source(settings, store, source, now=NOW + timedelta(days=1))

    assert failed.failed and "upstream refused 2026-03-10" in failed.run.errors[0]
    assert failed.run.batches == 0
    assert _cells(store).equals(cells_before)
    assert [(b.batch_key, b.fingerprint, b.rows_read) for b in store.batches("api")] == batches_before
    assert pulls_and_jobs.watermark(store.engine, "api") == mark_before
    status = pulls_and_jobs.source_states(store.engine)["api"]
    assert status.consecutive_failures == 1 and "upstream refused" in status.last_error

    upstream.heal("2026-03-10")
    healed = pull_source(settings, store, source, now=NOW + timedelta(days=1, minutes=15))
    assert not healed.failed
    assert _cells(store)["requests"].sum() == 16 + 9
    assert pulls_and_jobs.watermark(store.engine, "api") == NOW + timedelta(days=1, minutes=15)
    status = pulls_and_jobs.source_states(store.engine)["api"]
    assert status.consecutive_failures == 0 and status.last_error is None


def test_transient_errors_are_retried_with_backoff_and_then_land(project, sqlite_upstream, open_store):
    sqlite_upstream.put_day("2026-03-10")
    sqlite_upstream.fail("2026-03-10", kind="transient", times=2)
    settings = project.settings()
    store = open_store(settings)
    slept: list[float] = []
    result = pull_source(settings, store, settings.source("api"), now=NOW, since=date(2026, 3, 10),
                         sleep=slept.append)
    assert not result.failed
    assert slept == [2.0, 4.0]  # exponential backoff, nobody waited for real
    assert _cells(store)["requests"].sum() == 4  # the retried day counted once, not once per attempt


def test_a_day_still_failing_after_the_retries_fails_the_pull(project, sqlite_upstream, open_store):
    sqlite_upstream.put_day("2026-03-10")
    sqlite_upstream.fail("2026-03-10", kind="transient", times=5)
    settings = project.settings()
    store = open_store(settings)
    slept: list[float] = []
    result = pull_source(settings, store, settings.source("api"), now=NOW, since=date(2026, 3, 10),
                         sleep=slept.append)
    assert result.failed and "timed out on 2026-03-10" in result.run.errors[0]
    assert len(slept) == 2  # three attempts
    assert store.batches("api") == []
    assert pulls_and_jobs.watermark(store.engine, "api") is None


def test_a_backfill_of_90_days_equals_90_daily_pulls(tmp_path, project, sqlite_upstream, open_store):
    start = date(2025, 11, 1)
    days = [start + timedelta(days=offset) for offset in range(90)]
    for index, day in enumerate(days):
        sqlite_upstream.put_day(day.isoformat(), count=1 + index % 5, tenant=f"t{index % 3}", cost=0.25 * (1 + index % 4))
    settings = project.settings()
    store = open_store(settings)
    source = settings.source("api")

    backfill = pull_source(settings, store, source, now=NOW, since=days[0], until=days[-1])
    assert not backfill.failed and len(backfill.steps) == 3 and backfill.run.batches == 90
    backfilled = _cells(store, days[0], days[-1] + timedelta(days=1))

    # the same days pulled one at a time into a second store
    other = open_store(settings.model_copy(update={"service": settings.service.model_copy(
        update={"database_url": f"sqlite:///{tmp_path / 'daily.db'}"})}))
    for day in days:
        assert not pull_source(settings, other, source, now=NOW, since=day, until=day).failed
    daily = _cells(other, days[0], days[-1] + timedelta(days=1))

    assert len(backfilled) == 90 * 1 and backfilled.equals(daily)
    assert len(other.batches("api")) == len(store.batches("api")) == 90


def test_a_backfill_after_a_gap_does_not_move_the_watermark_over_the_gap(project, sqlite_upstream, open_store):
    settings = project.settings()
    store = open_store(settings)
    source = settings.source("api")
    sqlite_upstream.put_day("2026-03-01")
    pull_source(settings, store, source, now=_utc(2026, 3, 1, 12), since=date(2026, 3, 1))
    assert pulls_and_jobs.watermark(store.engine, "api") == _utc(2026, 3, 1, 12)
    result = pull_source(settings, store, source, now=NOW, since=date(2026, 3, 5), until=date(2026, 3, 6))
    assert not result.failed
    assert pulls_and_jobs.watermark(store.engine, "api") == _utc(2026, 3, 1, 12)  # 2 to 4 March never landed


def test_a_file_source_ignores_windows_and_has_no_watermark(project, open_store):
    project.write_data("a.csv", """
        event_id,ts,tenant,input_tokens,output_tokens,cost_usd
        e1,2026-01-10T10:00:00Z,acme,100,10,0.5
        """)
    settings = project.settings()
    store = open_store(settings)
    result = pull_source(settings, store, settings.source("bot"), now=NOW, since=date(2026, 3, 1))
    assert not result.failed and not result.run.windowed and result.run.batches == 1
    assert len(result.steps) == 1
    assert store.cells(date(2026, 1, 1), date(2026, 2, 1))["token_cost"].sum() == pytest.approx(0.5)
    status = pulls_and_jobs.source_states(store.engine)["bot"]
    assert status.watermark is None and status.last_success_at == NOW


def test_an_unexpected_error_in_a_pulled_day_fails_that_pull_in_one_line(project, sqlite_upstream, runner):
    """Not a traceback: the window is not stored, the error names the day's batch, exit 1."""
    from roi.cli import main

    for day in ("2026-03-09", "2026-03-10"):
        sqlite_upstream.put_day(day)
    sqlite_upstream.fail("2026-03-10", kind="bug")
    result = runner.invoke(main, ["--config", str(project.config_path), "ingest", "--since", "2026-03-09",
                                  "--until", "2026-03-10"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "error: api 2026-03-10: cannot be read: KeyError: 'cost_usd'" in result.stderr.splitlines()
