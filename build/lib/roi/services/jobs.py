"""The jobs the scheduler runs, and how every run is claimed, locked and recorded.

Jobs: ``source:NAME`` pulls one source (services.ingest.pull_source); ``report:monthly``
writes the month just ended as ``reports/YYYY-MM/roi-YYYY-MM.xlsx`` and ``.json``
and closes it when ``[report] close_after_days`` says so.

A run is first *claimed* (a unique row per job and scheduled time: one process of
all those sharing the database wins), then the job is *locked* (no two runs of a job
overlap), then run, then recorded with its counts or its error. No APScheduler here:
the scheduler, the CLI and the API all run jobs through this module.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ..config import Settings
from ..domain import Period
from ..errors import NotFound, RoiError
from ..store import Store, pulls_and_jobs
from . import closing, ingest, reports

log = logging.getLogger("roi.jobs")

REPORT_JOB = "report:monthly"
JOBS_TABLE = "roi_scheduler_jobs"  # where the scheduler (APScheduler's job store) keeps next run times
SOURCE_PREFIX = "source:"


class JobKind(enum.StrEnum):
    SOURCE = "source"  # pull one source
    REPORT = "report"  # the monthly report


@dataclass(frozen=True, slots=True)
class JobSpec:
    id: str
    kind: JobKind
    target: str  # the source's name, or "monthly"
    schedule: str | None  # cron; None: runs only when asked
    description: str


def job_specs(settings: Settings) -> list[JobSpec]:
    """Every job the config defines: one per enabled source, and the monthly report."""
    specs = [
        JobSpec(f"{SOURCE_PREFIX}{source.name}", JobKind.SOURCE, source.name, source.schedule,
                f"pull source {source.name!r} ({source.type})")
        for source in settings.sources
        if source.enabled
    ]
    specs.append(JobSpec(REPORT_JOB, JobKind.REPORT, "monthly", settings.report.schedule,
                         "write the workbook and JSON of the month just ended"))
    return specs


def find_job(settings: Settings, job_id: str) -> JobSpec:
    for spec in job_specs(settings):
        if spec.id == job_id:
            return spec
    known = ", ".join(spec.id for spec in job_specs(settings))
    raise NotFound(f"job: no job named {job_id!r} (jobs: {known})")


@dataclass(slots=True)
class Outcome:
    """What a job did, as recorded on its run."""

    status: str = pulls_and_jobs.SUCCEEDED
    batches: int = 0
    rows: int = 0
    quarantined: int = 0
    error: str | None = None
    detail: str | None = None


class Claim:
    """A firing this process won and a lock on its job; execute() runs it and releases both."""

    def __init__(self, runner: JobRunner, spec: JobSpec, run_id: int, lock: pulls_and_jobs.JobLock, scheduled_for: datetime):
        self.runner = runner
        self.spec = spec
        self.run_id = run_id
        self.lock = lock
        self.scheduled_for = scheduled_for

    def execute(self) -> pulls_and_jobs.JobRunRecord:
        engine = self.runner.store.engine
        try:
            stale = pulls_and_jobs.interrupt_stale_runs(engine, self.spec.id, keep=self.run_id)
            if stale:
                log.warning("job %s: %d earlier run(s) were interrupted (their process stopped)", self.spec.id, stale)
            log.info("job %s: started (run %d, scheduled for %s)", self.spec.id, self.run_id,
                     self.scheduled_for.isoformat())
            try:
                outcome = self.runner.perform(self.spec, self.scheduled_for)
            except Exception as exc:  # noqa: BLE001 - a job's failure is recorded, never lost
                log.exception("job %s: failed", self.spec.id)
                outcome = Outcome(pulls_and_jobs.FAILED, error=str(exc) or exc.__class__.__name__)
            pulls_and_jobs.finish_run(engine, self.run_id, outcome.status, batches=outcome.batches, rows=outcome.rows,
                             quarantined=outcome.quarantined, error=outcome.error, detail=outcome.detail)
            level = {pulls_and_jobs.SUCCEEDED: logging.INFO, pulls_and_jobs.FAILED: logging.ERROR}.get(outcome.status, logging.WARNING)
            log.log(level, "job %s: %s (run %d: %d batches, %d rows, %d quarantined)%s", self.spec.id, outcome.status,
                     self.run_id, outcome.batches, outcome.rows, outcome.quarantined,
                     f": {outcome.error}" if outcome.error else "")
        finally:
            self.lock.release()
        record = pulls_and_jobs.job_run(engine, self.run_id)
        assert record is not None
        return record


class JobBusy(RoiError):
    """Another run of the same job is in progress (recorded as a skipped run)."""

    def __init__(self, message: str, run: pulls_and_jobs.JobRunRecord | None):
        super().__init__(message)
        self.run = run


class JobRunner:
    """Runs the config's jobs against one store; `clock` says what time it is (tests set it)."""

    def __init__(self, settings: Settings, store: Store, *, clock: Callable[[], datetime] | None = None,
                 sleep: Callable[[float], None] | None = None):
        self.settings = settings
        self.store = store
        self.clock = clock or (lambda: datetime.now(UTC))
        self.sleep = sleep
        self.finished: list[pulls_and_jobs.JobRunRecord] = []  # runs made by this runner, oldest first

    # ---------------------------------------------------------------- claiming

    def claim(self, job_id: str, scheduled_for: datetime, trigger: str) -> Claim | None:
        """Win the firing and the job's lock, or None when another process has the firing.

        Raises JobBusy (after recording a skipped run) when the job is already running."""
        spec = find_job(self.settings, job_id)
        engine = self.store.engine
        run_id = pulls_and_jobs.claim_firing(engine, job_id, scheduled_for, trigger)
        if run_id is None:
            log.info("job %s: the firing of %s is run by another process", job_id, scheduled_for.isoformat())
            return None
        lock = pulls_and_jobs.JobLock(engine, job_id)
        if not lock.acquire():
            message = "skipped: another run of this job is still in progress"
            pulls_and_jobs.finish_run(engine, run_id, pulls_and_jobs.SKIPPED, error=message)
            log.warning("job %s: %s", job_id, message)
            raise JobBusy(f"job {job_id}: {message}", pulls_and_jobs.job_run(engine, run_id))
        return Claim(self, spec, run_id, lock, scheduled_for)

    def fire(self, job_id: str, scheduled_for: datetime, trigger: str = "schedule") -> pulls_and_jobs.JobRunRecord | None:
        """Run one firing if this process wins it; None when another process runs it."""
        try:
            claim = self.claim(job_id, scheduled_for, trigger)
        except JobBusy as exc:
            record = exc.run
        else:
            record = None if claim is None else claim.execute()
        if record is not None:
            self.finished.append(record)
        return record

    def run_now(self, job_id: str, trigger: str = "manual") -> pulls_and_jobs.JobRunRecord:
        record = self.fire(job_id, self.clock(), trigger)
        assert record is not None  # a manual run's time is its own: nobody else claims it
        return record

    def record_missed(self, job_id: str, scheduled_for: datetime) -> None:
        """A firing found too late (beyond misfire_grace_seconds): recorded, not run."""
        grace = self.settings.scheduler.misfire_grace_seconds
        pulls_and_jobs.claim_firing(self.store.engine, job_id, scheduled_for, "schedule", status=pulls_and_jobs.MISSED,
                           error=f"missed: the service was not running within {grace}s of the scheduled time")

    # ---------------------------------------------------------------- the jobs

    def perform(self, spec: JobSpec, scheduled_for: datetime) -> Outcome:
        if spec.kind is JobKind.SOURCE:
            return self._pull(spec.target)
        return self._monthly_report(scheduled_for)

    def _pull(self, source_name: str) -> Outcome:
        source = self.settings.source(source_name)
        options = {"sleep": self.sleep} if self.sleep else {}
        result = ingest.pull_source(self.settings, self.store, source, now=self.clock(), **options)
        run = result.run
        window = result.window
        detail = None
        if run.windowed and window is not None:
            detail = f"window {window.start:%Y-%m-%d} to {window.end - timedelta(days=1):%Y-%m-%d}"
            if result.watermark is not None:
                detail += f"; watermark {result.watermark.isoformat()}"
        return Outcome(
            pulls_and_jobs.FAILED if run.failed else pulls_and_jobs.SUCCEEDED,
            batches=run.batches,
            rows=run.rows_read,
            quarantined=run.quarantined,
            error="; ".join(run.errors) or None,
            detail=detail,
        )

    def report_period(self, scheduled_for: datetime) -> Period:
        """The month just ended at the scheduled time, in the configured timezone."""
        local = scheduled_for.astimezone(ZoneInfo(self.settings.service.timezone)).date()
        return Period.of(local).previous()

    def _monthly_report(self, scheduled_for: datetime) -> Outcome:
        settings = self.settings
        period = self.report_period(scheduled_for)
        notes = []
        after = settings.report.close_after_days
        today = self.clock().astimezone(ZoneInfo(settings.service.timezone)).date()
        if after is not None and (today - period.end).days >= after:
            try:
                # its report files are written with the close, or the month is not closed
                outputs = {reports.default_report_path(settings, period, fmt): fmt for fmt in ("xlsx", "json")}
                closed = closing.close_period(settings, self.store, period, outputs=outputs)
                notes.append(f"closed {period} (revision {closed.revision})")
            except closing.AlreadyClosed:
                notes.append(f"{period} was already closed")
            except NotFound as exc:  # a month without data has nothing to close; its report is still written
                notes.append(f"{period} not closed: {exc}")
        written = []
        for path in reports.write_reports(settings, self.store, period, formats=("xlsx", "json")):
            written.append(str(path))
        notes.insert(0, "wrote " + ", ".join(written))
        return Outcome(pulls_and_jobs.SUCCEEDED, detail="; ".join(notes))



def last_runs(store: Store) -> dict[str, pulls_and_jobs.JobRunRecord]:
    """Each job's latest run."""
    return pulls_and_jobs.last_runs(store.engine)


def recent_runs(store: Store, *, job_id: str | None = None, limit: int = 20) -> list[pulls_and_jobs.JobRunRecord]:
    """The latest runs, newest first (of one job, or of all)."""
    return pulls_and_jobs.job_runs(store.engine, job_id=job_id, limit=limit)


def stored_next_runs(store: Store) -> dict[str, datetime | None]:
    """Next run times as the scheduler's job store holds them, without starting anything."""
    return pulls_and_jobs.next_run_times(store.engine, JOBS_TABLE)


def job_run(store: Store, run_id: int) -> pulls_and_jobs.JobRunRecord | None:
    return pulls_and_jobs.job_run(store.engine, run_id)


def source_states(store: Store) -> dict[str, pulls_and_jobs.SourceState]:
    """Each pulled source's last pull, watermark and failures."""
    return pulls_and_jobs.source_states(store.engine)


JobRunRecord = pulls_and_jobs.JobRunRecord
SourceState = pulls_and_jobs.SourceState
