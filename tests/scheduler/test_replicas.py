"""Two real `roi scheduler` processes on one PostgreSQL database run each firing once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from roi import services
from roi.scheduler import ServiceScheduler
from roi.store import pulls_and_jobs

DAILY_EVENTS = """
[[sources]]
name = "nightly"
type = "events"
path = "data/*.csv"
schedule = "0 0 * * *"
"""


def _roi(config, *args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "roi.cli", "--config", str(config), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ},
    )


def test_two_scheduler_processes_on_postgresql_run_a_due_firing_once(any_project, open_store):
    if not any_project.database_url.startswith("postgresql"):
        pytest.skip("replicas share a PostgreSQL database")
    any_project.write_config(DAILY_EVENTS)
    any_project.write_data("a.csv", """
        event_id,ts,tenant,input_tokens,output_tokens,cost_usd
        e1,2026-01-10T10:00:00Z,acme,100,10,0.5
        e2,2026-01-11T10:00:00Z,acme,100,10,0.25
        """)
    settings = any_project.settings()
    store = open_store(settings)
    # The service last ran two days ago: tonight's midnight firing is due (and within a day's grace).
    with time_machine.travel(datetime.now(UTC) - timedelta(days=2), tick=False):
        scheduler = ServiceScheduler(settings, store, inline=True)
        scheduler.start()
        scheduler.shutdown()
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)

    replicas = [_roi(any_project.config_path, "scheduler", "--once") for _ in range(2)]
    outputs = [replica.communicate(timeout=120) for replica in replicas]
    assert [replica.returncode for replica in replicas] == [0, 0], outputs

    runs = pulls_and_jobs.job_runs(store.engine, job_id="source:nightly")
    assert [(run.scheduled_for, run.status) for run in runs] == [(today, "succeeded")]
    assert sum(1 for out, _ in outputs if "source:nightly succeeded" in out) == 1
    assert len(store.batches("nightly")) == 1
    assert store.cells(datetime(2026, 1, 1).date(), datetime(2026, 2, 1).date())["token_cost"].sum() == 0.75
    # not on a terminal, the scheduler logs one JSON object per line
    for _, err in outputs:
        lines = [line for line in err.splitlines() if line.strip()]
        assert lines and all(json.loads(line)["level"] in ("info", "warning") for line in lines), err


def _replica(config_path, barrier, results, fire_at) -> None:
    """A forked process with its own engine, released with the others at the barrier."""
    from roi.config import load_config
    from roi.scheduler import run_once
    from roi.services.jobs import JobRunner

    settings = load_config(config_path)
    store = services.store_for(settings)
    barrier.wait(timeout=60)
    if fire_at is None:
        results.put(sum(1 for run in run_once(settings, store) if run.job_id == "source:nightly"))
    else:
        record = JobRunner(settings, store).fire("source:nightly", fire_at)
        results.put(0 if record is None else 1)
    store.engine.dispose()


# The replicas' clock is pinned (forked processes keep the parent's time-machine travel): at each of
# these instants, the nightly firing is due once; so is the monthly report (06:00 on the 2nd) on the 2nd.
PINNED = {
    "the 1st": ("2026-03-01T00:30:00+00:00", "UTC"),
    "the 2nd at 07:00": ("2026-03-02T07:00:00+00:00", "UTC"),
    "a DST change": ("2026-03-29T03:30:00+02:00", "Europe/Berlin"),
    "31 December": ("2026-12-31T23:30:00+00:00", "UTC"),
}


@pytest.mark.parametrize("mode", ["scheduler", "claim"])
@pytest.mark.parametrize("pinned", list(PINNED))
def test_replicas_released_at_the_same_instant_still_run_a_firing_once(any_project, open_store, mode, pinned):
    import multiprocessing

    moment, timezone = PINNED[pinned]
    now = datetime.fromisoformat(moment)
    any_project.write_config(DAILY_EVENTS, timezone=timezone)
    any_project.write_data("a.csv", """
        event_id,ts,tenant,input_tokens,output_tokens,cost_usd
        e1,2026-01-10T10:00:00Z,acme,100,10,0.5
        """)
    settings = any_project.settings()
    store = open_store(settings)
    with time_machine.travel(now - timedelta(days=2), tick=False):
        scheduler = ServiceScheduler(settings, store, inline=True)
        scheduler.start()  # the service last ran two days ago
        scheduler.shutdown()
    store.engine.dispose()  # nothing open crosses the fork
    fire_at = datetime(2026, 3, 2, 0, 0, tzinfo=UTC) if mode == "claim" else None

    context = multiprocessing.get_context("fork")
    with time_machine.travel(now, tick=True):
        barrier, results = context.Barrier(3), context.Queue()
        replicas = [context.Process(target=_replica, args=(str(any_project.config_path), barrier, results, fire_at))
                    for _ in range(3)]
        for replica in replicas:
            replica.start()
        counts = [results.get(timeout=120) for _ in replicas]
        for replica in replicas:
            replica.join(timeout=60)
    assert [replica.exitcode for replica in replicas] == [0, 0, 0]
    assert sorted(counts) == [0, 0, 1]
    runs = pulls_and_jobs.job_runs(store.engine, job_id="source:nightly")
    assert len(runs) == 1 and runs[0].status == "succeeded"
    assert len(store.batches("nightly")) == 1
    if mode == "scheduler":
        local = now.astimezone(ZoneInfo(timezone))
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        assert runs[0].scheduled_for == midnight.astimezone(UTC).replace(tzinfo=runs[0].scheduled_for.tzinfo)
        reports = pulls_and_jobs.job_runs(store.engine, job_id="report:monthly")
        assert len(reports) == (1 if pinned == "the 2nd at 07:00" else 0)  # due once, run once
