"""Service state beside the data: per-source watermarks, job runs, and the locks that keep
replicas from running one firing twice.

Two mechanisms, both honoured by SQLite and PostgreSQL:

- a firing is *claimed* by inserting its (job, scheduled for) row; the unique constraint lets
  exactly one process win, however many schedulers share the database;
- a job is *locked* while it runs, so two runs of one job never overlap (a scheduled pull and a
  manual one, or a firing that outlives the next): a PostgreSQL session advisory lock, or an
  flock on a file beside the SQLite database. Both die with the process that holds them, so a
  killed service never leaves a job locked.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Column, Text, UniqueConstraint, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel

RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
SKIPPED = "skipped"
MISSED = "missed"
INTERRUPTED = "interrupted"


class WatermarkRecord(SQLModel, table=True):
    """How far a pulled source has landed, and how its last pulls went."""

    __tablename__ = "roi_watermarks"

    source: str = Field(primary_key=True)
    # everything before this instant (UTC) has been pulled completely
    watermark: datetime | None = None
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    consecutive_failures: int = 0


class JobRunRecord(SQLModel, table=True):
    """One firing of a job (or one manual run): who ran it, when, and what it did."""

    __tablename__ = "roi_job_runs"
    __table_args__ = (UniqueConstraint("job_id", "scheduled_for", name="uq_roi_job_runs_firing"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(index=True)
    trigger: str  # schedule | manual | cli
    scheduled_for: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    status: str = RUNNING
    batches: int = 0
    rows: int = 0
    quarantined: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    owner: str = ""


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every instant here is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _aware(value: datetime | None) -> datetime | None:
    """Stored as UTC instants (the columns are timezone-aware)."""
    return None if value is None else value.astimezone(UTC)


def _now() -> datetime:
    return _aware(datetime.now(UTC))


def owner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# ------------------------------------------------------------------ watermarks


@dataclass(frozen=True, slots=True)
class SourceState:
    source: str
    watermark: datetime | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: str | None
    consecutive_failures: int


def _state(record: WatermarkRecord) -> SourceState:
    return SourceState(
        record.source,
        _utc(record.watermark),
        _utc(record.last_success_at),
        _utc(record.last_failure_at),
        record.last_error,
        record.consecutive_failures,
    )


def source_states(engine: Engine) -> dict[str, SourceState]:
    """Every source's watermark and failure streak, for status pages and the API."""
    with engine.connect() as connection:
        rows = connection.execute(select(WatermarkRecord)).all()
    return {row.source: _state(WatermarkRecord.model_validate(row._mapping)) for row in rows}


def watermark(engine: Engine, source: str) -> datetime | None:
    with engine.connect() as connection:
        value = connection.execute(
            select(WatermarkRecord.watermark).where(WatermarkRecord.source == source)
        ).scalar_one_or_none()
    return _utc(value)


def _upsert(connection: Connection, source: str, values: dict) -> None:
    done = connection.execute(update(WatermarkRecord).where(WatermarkRecord.source == source).values(**values))
    if done.rowcount == 0:
        try:
            with connection.begin_nested():
                connection.execute(insert(WatermarkRecord).values(source=source, **values))
        except IntegrityError:  # another process inserted it first
            connection.execute(update(WatermarkRecord).where(WatermarkRecord.source == source).values(**values))


def record_pull_success(engine: Engine, source: str, new_watermark: datetime | None, at: datetime) -> None:
    """A pull landed completely: move the watermark forward (never back) and clear the failure streak."""
    with engine.begin() as connection:
        current = _utc(
            connection.execute(
                select(WatermarkRecord.watermark).where(WatermarkRecord.source == source)
            ).scalar_one_or_none()
        )
        values: dict = {"last_success_at": _aware(at), "consecutive_failures": 0, "last_error": None}
        if new_watermark is not None and (current is None or new_watermark > current):
            values["watermark"] = _aware(new_watermark)
        _upsert(connection, source, values)


def record_pull_failure(engine: Engine, source: str, error: str, at: datetime) -> None:
    """A pull failed: the watermark stays; the error and the streak are kept for status pages."""
    with engine.begin() as connection:
        streak = connection.execute(
            select(WatermarkRecord.consecutive_failures).where(WatermarkRecord.source == source)
        ).scalar_one_or_none()
        _upsert(
            connection,
            source,
            {"last_failure_at": _aware(at), "last_error": error[:4000], "consecutive_failures": (streak or 0) + 1},
        )


# ------------------------------------------------------------------ job runs


def claim_firing(
    engine: Engine, job_id: str, scheduled_for: datetime, trigger: str, *, status: str = RUNNING,
    error: str | None = None,
) -> int | None:
    """Insert the firing's row; None when another process already claimed it."""
    now = _now()
    try:
        with engine.begin() as connection:
            return connection.execute(
                insert(JobRunRecord)
                .values(
                    job_id=job_id,
                    trigger=trigger,
                    scheduled_for=_aware(scheduled_for),
                    started_at=now,
                    finished_at=None if status == RUNNING else now,
                    status=status,
                    error=error,
                    owner=owner_name(),
                )
                .returning(JobRunRecord.id)
            ).scalar_one()
    except IntegrityError:
        return None


def finish_run(
    engine: Engine, run_id: int, status: str, *, batches: int = 0, rows: int = 0, quarantined: int = 0,
    error: str | None = None, detail: str | None = None,
) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(JobRunRecord)
            .where(JobRunRecord.id == run_id)
            .values(
                status=status, finished_at=_now(), batches=batches, rows=rows,
                quarantined=quarantined, error=None if error is None else error[:4000], detail=detail,
            )
        )


def interrupt_stale_runs(engine: Engine, job_id: str, keep: int) -> int:
    """Runs of a job still marked running while we hold its lock: their process died mid-run."""
    with engine.begin() as connection:
        done = connection.execute(
            update(JobRunRecord)
            .where(JobRunRecord.job_id == job_id, JobRunRecord.status == RUNNING, JobRunRecord.id != keep)
            .values(
                status=INTERRUPTED,
                finished_at=_now(),
                error="the process running it stopped before it finished; nothing of it was half-stored",
            )
        )
    return done.rowcount


def _run(record_row) -> JobRunRecord:
    record = JobRunRecord.model_validate(record_row._mapping)
    record.scheduled_for = _utc(record.scheduled_for)
    record.started_at = _utc(record.started_at)
    record.finished_at = _utc(record.finished_at)
    return record


def job_runs(engine: Engine, *, job_id: str | None = None, limit: int = 50) -> list[JobRunRecord]:
    """Latest runs first."""
    query = select(JobRunRecord).order_by(JobRunRecord.started_at.desc(), JobRunRecord.id.desc())
    if job_id is not None:
        query = query.where(JobRunRecord.job_id == job_id)
    with engine.connect() as connection:
        return [_run(row) for row in connection.execute(query.limit(limit))]


def job_run(engine: Engine, run_id: int) -> JobRunRecord | None:
    with engine.connect() as connection:
        row = connection.execute(select(JobRunRecord).where(JobRunRecord.id == run_id)).first()
    return None if row is None else _run(row)


def last_runs(engine: Engine) -> dict[str, JobRunRecord]:
    """The latest run of each job (skipped and missed firings included)."""
    found: dict[str, JobRunRecord] = {}
    for record in job_runs(engine, limit=1000):
        found.setdefault(record.job_id, record)
    return found


def next_run_times(engine: Engine, table: str) -> dict[str, datetime | None]:
    """Each stored job's next run, read from APScheduler's table without unpickling a job."""
    from sqlalchemy import inspect, text

    if not inspect(engine).has_table(table):
        return {}
    with engine.connect() as connection:
        rows = connection.execute(text(f"SELECT id, next_run_time FROM {table}")).all()  # noqa: S608 - our constant
    return {
        job_id: None if moment is None else datetime.fromtimestamp(float(moment), UTC)
        for job_id, moment in rows
    }


# ------------------------------------------------------------------ job locks


def _lock_key(job_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"roi-job:{job_id}".encode(), digest_size=8).digest(), "big", signed=True)


_process_locks: dict[tuple[str, str], threading.Lock] = {}
_process_locks_guard = threading.Lock()


class JobLock:
    """Held while a job runs; release() may be called from another thread than acquire()."""

    def __init__(self, engine: Engine, job_id: str):
        self.engine = engine
        self.job_id = job_id
        self._connection: Connection | None = None
        self._handle = None
        self._local: threading.Lock | None = None

    def acquire(self) -> bool:
        key = (str(self.engine.url), self.job_id)
        with _process_locks_guard:
            local = _process_locks.setdefault(key, threading.Lock())
        if not local.acquire(blocking=False):
            return False
        try:
            held = self._acquire_database()
        except BaseException:
            local.release()
            raise
        if not held:
            local.release()
            return False
        self._local = local
        return True

    def _acquire_database(self) -> bool:
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            connection = self.engine.connect()
            held = connection.exec_driver_sql(
                "SELECT pg_try_advisory_lock(%(key)s)", {"key": _lock_key(self.job_id)}
            ).scalar_one()
            connection.commit()
            if not held:
                connection.close()
                return False
            self._connection = connection
            return True
        database = self.engine.url.database
        if dialect == "sqlite" and database and database != ":memory:":
            path = Path(f"{database}.job-{_lock_key(self.job_id) & 0xFFFFFFFF:08x}.lock")
            handle = open(path, "a+")  # noqa: SIM115 - held open for the life of the lock
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                return False
            self._handle = handle
        return True

    def release(self) -> None:
        if self._connection is not None:
            try:
                self._connection.exec_driver_sql(
                    "SELECT pg_advisory_unlock(%(key)s)", {"key": _lock_key(self.job_id)}
                )
                self._connection.commit()
            finally:
                self._connection.close()
                self._connection = None
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
        if self._local is not None:
            self._local.release()
            self._local = None
