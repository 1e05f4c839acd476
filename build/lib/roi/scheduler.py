"""APScheduler lives here and nowhere else: the config's jobs on their cron, durably.

- The job store is the service database (table ``roi_scheduler_jobs``), so a firing
  missed while the service was down is still due when it comes back: misfires are
  coalesced into one run, made if it is within ``[scheduler] misfire_grace_seconds``
  (and recorded as ``missed`` otherwise).
- Every replica (``roi serve`` processes, ``roi scheduler``) may run a scheduler on the
  same database: jobs.JobRunner claims each firing with a unique row, so one of them
  runs it, and locks the job so two runs never overlap.
- The executors hand each run the time it was scheduled for, which names the firing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import datetime

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.debug import DebugExecutor
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import ConflictingIdError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler

from .config import Settings
from .cron import parse_cron
from .lifeline import tie_to_parent
from .services.heartbeat import BEAT_SECONDS, RUNNING, STARTING, STOPPED, Heartbeat
from .services.heartbeat import ENV as HEARTBEAT_ENV
from .services.jobs import JOBS_TABLE, JobRunner, job_specs
from .store import Store
from .store.pulls_and_jobs import JobRunRecord

log = logging.getLogger("roi.scheduler")



def fire_job(job_id: str, runner: JobRunner | None = None, scheduled_for: datetime | None = None) -> None:
    """What the job store keeps as every job's function; the executor supplies the last two."""
    if runner is None or scheduled_for is None:
        raise RuntimeError(f"job {job_id}: run outside roi's executor")
    runner.fire(job_id, scheduled_for)


class _TimedJob:
    """The job as handed to APScheduler's run_job, its kwargs completed with the runner and the
    time the firing was scheduled for (APScheduler does not pass it to the function)."""

    def __init__(self, job, runner: JobRunner, run_time: datetime):
        self._job = job
        self.kwargs = {**job.kwargs, "runner": runner, "scheduled_for": run_time}

    def __getattr__(self, name: str):
        return getattr(self._job, name)

    def __str__(self) -> str:
        return str(self._job)


class PoolExecutor(ThreadPoolExecutor):
    """Runs jobs in threads (roi serve, roi scheduler)."""

    def __init__(self, runner: JobRunner, max_workers: int = 4):
        super().__init__(max_workers)
        self.runner = runner

    def _do_submit_job(self, job, run_times):
        # coalesce=True: one run, for the latest missed time
        super()._do_submit_job(_TimedJob(job, self.runner, run_times[-1]), run_times[-1:])


class InlineExecutor(DebugExecutor):
    """Runs jobs in the caller's thread (roi scheduler --once, tests)."""

    def __init__(self, runner: JobRunner):
        super().__init__()
        self.runner = runner

    def _do_submit_job(self, job, run_times):
        super()._do_submit_job(_TimedJob(job, self.runner, run_times[-1]), run_times[-1:])


class StepScheduler(BaseScheduler):
    """A scheduler without a thread of its own: run_pending() runs what is due now, then returns."""

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait)

    def wakeup(self) -> None:
        """Nothing to wake: the caller decides when to look for due jobs."""

    def run_pending(self) -> float | None:
        """Run the due jobs (in this thread); seconds until the next one is due, or None."""
        return self._process_jobs()


class ServiceScheduler:
    """The config's jobs on an APScheduler whose job store is the service database."""

    def __init__(self, settings: Settings, store: Store, *, inline: bool = False,
                 clock: Callable[[], datetime] | None = None, sleep: Callable[[float], None] | None = None):
        self.settings = settings
        self.store = store
        self.runner = JobRunner(settings, store, clock=clock, sleep=sleep)
        self.inline = inline
        executor = InlineExecutor(self.runner) if inline else PoolExecutor(self.runner)
        scheduler_class = StepScheduler if inline else BackgroundScheduler
        self.aps = scheduler_class(
            jobstores={"default": SQLAlchemyJobStore(engine=store.engine, tablename=JOBS_TABLE)},
            executors={"default": executor},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": settings.scheduler.misfire_grace_seconds,
            },
            timezone=settings.service.timezone,
        )
        self.aps.add_listener(self._on_missed, EVENT_JOB_MISSED)

    def _on_missed(self, event: JobExecutionEvent) -> None:
        log.warning("job %s: the firing of %s was missed beyond the grace time; not run",
                    event.job_id, event.scheduled_run_time.isoformat())
        self.runner.record_missed(event.job_id, event.scheduled_run_time)

    def start(self) -> None:
        """Start, bring the stored jobs in line with the config, then begin firing."""
        self.aps.start(paused=True)
        self.sync_jobs()
        self.aps.resume()
        for job in self.aps.get_jobs():
            log.info("job %s: next run at %s", job.id, job.next_run_time.isoformat() if job.next_run_time else "never")

    def shutdown(self, wait: bool = True) -> None:
        if self.aps.running:
            self.aps.shutdown(wait=wait)

    def run_pending(self) -> float | None:
        """Inline schedulers only: run what is due now."""
        assert isinstance(self.aps, StepScheduler), "run_pending() needs ServiceScheduler(inline=True)"
        return self.aps.run_pending()

    def sync_jobs(self) -> None:
        """Stored jobs that still match the config keep their next run time (so a firing missed
        while down still runs); changed schedules are rescheduled; removed jobs are dropped."""
        grace = self.settings.scheduler.misfire_grace_seconds
        timezone = self.settings.service.timezone
        wanted = {spec.id: spec for spec in job_specs(self.settings) if spec.schedule}
        for job in self.aps.get_jobs():
            if job.id not in wanted:
                log.info("job %s: no longer in the config; removed", job.id)
                self.aps.remove_job(job.id)
        for spec in wanted.values():
            trigger = parse_cron(spec.schedule, timezone)
            existing = self.aps.get_job(spec.id)
            if existing is None:
                with contextlib.suppress(ConflictingIdError):  # another replica stored it a moment ago
                    self.aps.add_job(fire_job, trigger=trigger, id=spec.id, name=spec.description,
                                     kwargs={"job_id": spec.id}, misfire_grace_time=grace)
                continue
            if str(existing.trigger) != str(trigger) or str(existing.trigger.timezone) != str(trigger.timezone):
                log.info("job %s: schedule changed to %s", spec.id, spec.schedule)
                self.aps.reschedule_job(spec.id, trigger=trigger)
            if existing.misfire_grace_time != grace or existing.name != spec.description:
                self.aps.modify_job(spec.id, misfire_grace_time=grace, name=spec.description)

    def next_run_times(self) -> dict[str, datetime | None]:
        return {job.id: job.next_run_time for job in self.aps.get_jobs()}


def run_forever(settings: Settings, store: Store, *, stop: threading.Event | None = None,
                parent_pid: int | None = None, heartbeat: Heartbeat | None = None) -> None:
    """For `roi scheduler`: run until SIGTERM or SIGINT (or, given parent_pid, until that process,
    the one that started it, is gone), then let running jobs finish. Given a heartbeat, it says
    every few seconds that the scheduler runs (roi serve's /healthz reads it)."""
    stop = stop or threading.Event()
    scheduler = ServiceScheduler(settings, store)

    def request_stop(signum, _frame) -> None:
        log.info("received %s: stopping after the running jobs", signal.Signals(signum).name)
        stop.set()

    def orphaned() -> bool:
        return parent_pid is not None and os.getppid() != parent_pid

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
    if orphaned():
        log.warning("the process that started the scheduler is gone: not starting")
        return
    if parent_pid is not None:
        tie_to_parent(parent_pid)  # SIGTERM (request_stop) when the server dies, even by SIGKILL
    scheduler.start()
    watching = parent_pid is not None or heartbeat is not None
    try:
        while True:
            if heartbeat is not None and scheduler.aps.running:
                heartbeat.write(RUNNING)
            if stop.wait(BEAT_SECONDS if watching else None):
                break
            if orphaned():
                log.warning("the process that started the scheduler is gone: stopping")
                break
    finally:
        scheduler.shutdown(wait=True)
        if heartbeat is not None:
            heartbeat.write(STOPPED)


class SchedulerProcess:
    """`roi serve` runs the scheduler as one child process of the server's main process: never in the
    workers (one scheduler per service, not per worker), and never as a thread of the main process,
    whose workers may be forked at any time and would inherit its database connections and locks."""

    def __init__(self, config_path: str):
        self.config_path = config_path
        self.process: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    def heartbeat(self) -> Heartbeat | None:
        path = os.environ.get(HEARTBEAT_ENV)  # roi serve sets it before it starts the scheduler
        return Heartbeat(path) if path else None

    def command(self) -> list[str]:
        # `-m roi`, the `roi` command's entry: its process-level tuning applies (roi.process_tuning)
        heartbeat = self.heartbeat()
        return [sys.executable, "-m", "roi", "--config", self.config_path, "scheduler",
                "--parent-pid", str(os.getpid()), *(["--heartbeat", str(heartbeat.path)] if heartbeat else [])]

    def start(self) -> None:
        self._spawn()
        self._watcher = threading.Thread(target=self._watch, name="roi-scheduler-watch", daemon=True)
        self._watcher.start()

    def _spawn(self) -> None:
        heartbeat = self.heartbeat()
        if heartbeat is not None:
            heartbeat.write(STARTING)
        self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL)
        log.info("scheduler started (pid %d)", self.process.pid)

    def _watch(self) -> None:
        """Start it again if it dies (after a pause, so a broken config does not spin)."""
        while not self._stopping.is_set():
            assert self.process is not None
            code = self.process.wait()
            heartbeat = self.heartbeat()
            if heartbeat is not None:
                heartbeat.write(STOPPED)  # /healthz says so at once, not when the beats are stale
            if self._stopping.wait(10.0):
                return
            log.error("scheduler exited with status %d; starting it again", code)
            self._spawn()

    def stop(self, timeout: float = 60.0) -> None:
        self._stopping.set()
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.error("scheduler did not stop within %.0fs; killing it", timeout)
            self.process.kill()
            self.process.wait()


def run_once(settings: Settings, store: Store) -> list[JobRunRecord]:
    """For `roi scheduler --once` (e.g. from a system cron): run what is due now, then return."""
    scheduler = ServiceScheduler(settings, store, inline=True)
    scheduler.start()
    try:
        scheduler.run_pending()
    finally:
        scheduler.shutdown()
    return scheduler.runner.finished
