"""Jobs on a controllable clock (time-machine moves the clock APScheduler and roi read; nobody sleeps)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import time_machine

from roi.scheduler import ServiceScheduler
from roi.services import ingest as ingesting
from roi.services import periods
from roi.services.jobs import REPORT_JOB, JobRunner
from roi.store import pulls_and_jobs

from .conftest import PULLED

SOURCE_JOB = "source:api"


def _at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _runs(store, job_id=None):
    return sorted(pulls_and_jobs.job_runs(store.engine, job_id=job_id, limit=1000), key=lambda run: run.id)


def _scheduler(settings, store) -> ServiceScheduler:
    scheduler = ServiceScheduler(settings, store, inline=True, sleep=lambda seconds: None)
    scheduler.start()
    return scheduler


def test_jobs_fire_at_their_cron_times_and_not_between(project, sqlite_upstream, open_store):
    sqlite_upstream.put_day("2026-03-02")
    settings = project.settings()
    store = open_store(settings)
    with time_machine.travel(_at(2026, 3, 1, 23, 58), tick=False) as clock:
        scheduler = _scheduler(settings, store)
        assert scheduler.next_run_times()[SOURCE_JOB] == _at(2026, 3, 2, 0, 0)
        assert scheduler.next_run_times()[REPORT_JOB] == _at(2026, 3, 2, 6, 0)
        scheduler.run_pending()
        assert _runs(store) == []

        clock.move_to(_at(2026, 3, 2, 0, 0, 20))
        scheduler.run_pending()
        clock.move_to(_at(2026, 3, 2, 0, 14, 59))
        scheduler.run_pending()
        assert [(run.job_id, run.scheduled_for, run.status) for run in _runs(store)] == [
            (SOURCE_JOB, _at(2026, 3, 2, 0, 0), "succeeded")
        ]
        clock.move_to(_at(2026, 3, 2, 0, 15, 1))
        scheduler.run_pending()
        assert [run.scheduled_for for run in _runs(store, SOURCE_JOB)] == [_at(2026, 3, 2, 0, 0), _at(2026, 3, 2, 0, 15)]
        first = _runs(store, SOURCE_JOB)[0]
        assert (first.batches, first.rows, first.trigger) == (4, 4, "schedule")  # 3 days back + today
        scheduler.shutdown()
    assert not (project.root / "reports").exists()


def test_the_monthly_report_missed_while_down_runs_once_within_grace(project, sqlite_upstream, open_store):
    project.write_data("a.csv", """
        event_id,ts,tenant,channel,input_tokens,output_tokens,cost_usd,outcome
        e1,2026-02-10T10:00:00Z,acme,web,100,10,0.75,resolved
        """)
    settings = project.settings()
    store = open_store(settings)
    from roi.services import ingest as ingesting
    from roi.services import reports

    ingesting.ingest(settings, store, "bot")
    with time_machine.travel(_at(2026, 3, 1, 12, 0), tick=False) as clock:
        _scheduler(settings, store).shutdown()  # the service ran on the 1st, then went down

        clock.move_to(_at(2026, 3, 2, 9, 0))  # back at 09:00 on the 2nd; the report was due at 06:00
        scheduler = _scheduler(settings, store)
        scheduler.run_pending()
        scheduler.run_pending()
        reports = _runs(store, REPORT_JOB)
        assert [(run.scheduled_for, run.status) for run in reports] == [(_at(2026, 3, 2, 6, 0), "succeeded")]
        # the source's 84 missed quarter hours are coalesced into one run, for the latest of them
        assert [run.scheduled_for for run in _runs(store, SOURCE_JOB)] == [_at(2026, 3, 2, 9, 0)]
        assert scheduler.next_run_times()[REPORT_JOB] == _at(2026, 4, 2, 6, 0)
        scheduler.shutdown()
    folder = project.root / "reports" / "2026-02"
    assert (folder / "roi-2026-02.xlsx").read_bytes()[:2] == b"PK"
    document = json.loads((folder / "roi-2026-02.json").read_text())
    assert document["period"] == "2026-02" and document["totals"]["token_cost"] == 0.75
    assert "wrote" in reports[0].detail


def test_a_firing_missed_beyond_grace_is_recorded_and_not_run(project, open_store):
    project.write_config("[scheduler]\nmisfire_grace_seconds = 3600\n")
    settings = project.settings()
    store = open_store(settings)
    with time_machine.travel(_at(2026, 3, 1, 12, 0), tick=False) as clock:
        _scheduler(settings, store).shutdown()
        clock.move_to(_at(2026, 3, 2, 9, 0))  # three hours late, one hour of grace
        scheduler = _scheduler(settings, store)
        scheduler.run_pending()
        scheduler.shutdown()
    (missed,) = _runs(store, REPORT_JOB)
    assert (missed.status, missed.scheduled_for) == ("missed", _at(2026, 3, 2, 6, 0))
    assert "3600s" in missed.error
    assert not (project.root / "reports").exists()


def test_the_monthly_report_closes_the_month_when_close_after_days_says_so(project, open_store):
    from tests.conftest import BASE_CONFIG

    body = BASE_CONFIG.format(database_url=project.database_url, timezone="UTC")
    project.write_config(body=body.replace('[report]\n', '[report]\nclose_after_days = 1\n'))
    settings = project.settings()
    store = open_store(settings)
    travel = time_machine.travel(_at(2026, 3, 2, 6, 0, 5), tick=False)
    travel.start()
    runner = JobRunner(settings, store)
    empty = runner.fire(REPORT_JOB, _at(2026, 2, 2, 6, 0))
    assert empty.status == "succeeded" and "2026-01 not closed: period 2026-01: no data" in empty.detail
    project.write_data("a.csv", """
        event_id,ts,tenant,channel,input_tokens,output_tokens,cost_usd,outcome
        e1,2026-02-10T10:00:00Z,acme,web,100,10,0.75,resolved
        """)

    ingesting.ingest(settings, store, "bot")
    run = runner.fire(REPORT_JOB, _at(2026, 3, 2, 6, 0))
    assert run.status == "succeeded", run.error
    assert "closed 2026-02 (revision 1)" in run.detail
    from roi.domain import Period

    assert periods.period_state(store, Period(2026, 2)).state == "closed"
    again = runner.fire(REPORT_JOB, _at(2026, 3, 2, 7, 0))
    travel.stop()
    assert "2026-02 was already closed" in again.detail


def test_a_changed_schedule_is_rescheduled_and_a_removed_job_dropped(project, sqlite_upstream, open_store):
    settings = project.settings()
    store = open_store(settings)
    with time_machine.travel(_at(2026, 3, 1, 10, 7), tick=False):
        scheduler = _scheduler(settings, store)
        assert scheduler.next_run_times()[SOURCE_JOB] == _at(2026, 3, 1, 10, 15)
        scheduler.shutdown()
        project.write_config(PULLED.format(initial=3, lookback=1).replace("*/15 * * * *", "0 * * * *"))
        scheduler = _scheduler(project.settings(), store)
        assert scheduler.next_run_times()[SOURCE_JOB] == _at(2026, 3, 1, 11, 0)
        scheduler.shutdown()
        project.write_config()
        scheduler = _scheduler(project.settings(), store)
        assert set(scheduler.next_run_times()) == {REPORT_JOB}
        scheduler.shutdown()


def test_two_schedulers_on_one_database_run_each_firing_once(any_project, upstream, open_store):
    upstream.put_day("2026-03-02")
    settings = any_project.settings()
    first, second = open_store(settings), open_store(settings)  # two engines, as two replicas have
    with time_machine.travel(_at(2026, 3, 1, 23, 50), tick=False) as clock:
        one, two = _scheduler(settings, first), _scheduler(settings, second)
        clock.move_to(_at(2026, 3, 2, 0, 0, 30))
        one.run_pending()
        two.run_pending()
        clock.move_to(_at(2026, 3, 2, 0, 15, 30))
        two.run_pending()
        one.run_pending()
        one.shutdown()
        two.shutdown()
    runs = _runs(first, SOURCE_JOB)
    assert [run.scheduled_for for run in runs] == [_at(2026, 3, 2, 0, 0), _at(2026, 3, 2, 0, 15)]
    assert len(one.runner.finished) + len(two.runner.finished) == 2
    assert len(first.batches("api")) == 4


def test_a_job_already_running_is_skipped_and_says_so(project, sqlite_upstream, open_store):
    settings = project.settings()
    store = open_store(settings)
    lock = pulls_and_jobs.JobLock(store.engine, SOURCE_JOB)
    assert lock.acquire()
    try:
        run = JobRunner(settings, store).fire(SOURCE_JOB, _at(2026, 3, 2, 0, 0))
    finally:
        lock.release()
    assert run.status == "skipped" and "still in progress" in run.error
    assert store.batches("api") == []


def test_a_run_left_running_by_a_killed_process_is_marked_interrupted(project, sqlite_upstream, open_store):
    settings = project.settings()
    store = open_store(settings)
    dead = pulls_and_jobs.claim_firing(store.engine, SOURCE_JOB, _at(2026, 3, 2, 0, 0), "schedule")
    runner = JobRunner(settings, store, clock=lambda: _at(2026, 3, 2, 0, 15, 2), sleep=lambda s: None)
    run = runner.fire(SOURCE_JOB, _at(2026, 3, 2, 0, 15))
    assert run.status == "succeeded"
    stale = pulls_and_jobs.job_run(store.engine, dead)
    assert stale.status == "interrupted" and "stopped before it finished" in stale.error


def test_a_failing_source_is_recorded_and_the_other_jobs_keep_running(project, sqlite_upstream, open_store):
    sqlite_upstream.put_day("2026-03-02")
    sqlite_upstream.fail("2026-03-02")
    settings = project.settings()
    store = open_store(settings)
    runner = JobRunner(settings, store, clock=lambda: _at(2026, 3, 2, 6, 0, 1), sleep=lambda s: None)
    failed = runner.fire(SOURCE_JOB, _at(2026, 3, 2, 6, 0))
    report = runner.fire(REPORT_JOB, _at(2026, 3, 2, 6, 0))
    assert failed.status == "failed" and "upstream refused 2026-03-02" in failed.error
    assert report.status == "succeeded"
    assert pulls_and_jobs.source_states(store.engine)["api"].consecutive_failures == 1


def test_a_failed_run_is_logged_as_an_error_and_a_retried_attempt_as_a_warning(project, sqlite_upstream,
                                                                                 open_store, caplog):
    sqlite_upstream.put_day("2026-03-02")
    sqlite_upstream.fail("2026-03-02", kind="transient", times=1)  # one retry, then it lands
    sqlite_upstream.put_day("2026-03-03")
    settings = project.settings()
    store = open_store(settings)
    runner = JobRunner(settings, store, clock=lambda: _at(2026, 3, 2, 6, 0, 1), sleep=lambda s: None)
    with caplog.at_level("INFO"):
        landed = runner.fire(SOURCE_JOB, _at(2026, 3, 2, 6, 0))
    assert landed.status == "succeeded"
    levels = {record.getMessage(): record.levelname for record in caplog.records}
    retried = [message for message in levels if "transient error, attempt 1 of 3" in message]
    assert retried and levels[retried[0]] == "WARNING"
    finished = [message for message in levels if message.startswith(f"job {SOURCE_JOB}: succeeded")]
    assert finished and levels[finished[0]] == "INFO"

    caplog.clear()
    sqlite_upstream.fail("2026-03-03")  # refused: the run fails
    runner.clock = lambda: _at(2026, 3, 3, 6, 0, 1)
    with caplog.at_level("INFO"):
        failed = runner.fire(SOURCE_JOB, _at(2026, 3, 3, 6, 0))
    assert failed.status == "failed"
    ending = [record for record in caplog.records if record.getMessage().startswith(f"job {SOURCE_JOB}: failed")]
    assert [record.levelname for record in ending] == ["ERROR"]
    assert "upstream refused 2026-03-03" in ending[0].getMessage()
