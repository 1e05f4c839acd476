"""The store: the only package that imports sqlmodel / SQLAlchemy."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Float, case, cast, delete, event, func, insert, inspect, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError
from sqlmodel import SQLModel, create_engine

from ..dictionary_codes import dictionary_codes
from ..domain import CELL_METRICS, DIMENSIONS, FLOAT_METRICS, Reject
from ..errors import RoiError
from . import pulls_and_jobs, signed_out_sessions  # noqa: F401  (their tables: watermarks, job runs; signed-out sessions)
from .cell_reads import read_cells
from .revisions import PeriodRevisionRecord  # noqa: F401  (so create_all makes closed months' table)
from .tables import BatchRecord, CellRecord, QuarantineRecord

if TYPE_CHECKING:  # pandas loads only where a function needs it
    import pandas as pd

__all__ = ["Store", "BatchResult", "BatchRecord", "DatabaseError", "DatabaseUnavailable", "database_failure",
           "open_store"]

# What the database layer raises, named for the layers above that must not import SQLAlchemy
DatabaseError = SQLAlchemyError  # anything the database or its driver refused
DatabaseUnavailable = OperationalError  # the database cannot be reached or is locked

_INSERT_ROWS = 5_000
_SCHEMA_LOCK = 0x726F69  # PostgreSQL advisory lock key held while the schema is made ("roi")
_SCHEMA_TRIES = 20  # a new SQLite store another process is making: looks, 0.05 s more apart each time (10 s in all)
_CONCURRENT_TRIES = 3  # a batch stored by another ingest meanwhile: look again this many times

log = logging.getLogger("roi.store")


def _batch_key_taken(exc: IntegrityError) -> bool:
    """The unique (source, batch_key) of roi_batches, as SQLite and PostgreSQL word it."""
    text = str(exc.orig)
    return "roi_batches.source, roi_batches.batch_key" in text or "uq_roi_batches_source_key" in text

# Fractional metrics are summed as whole nano-units (floor(x * 1e9 + 0.5), the same float on both
# databases): a sum of whole numbers below 2**53 (9 million units) is exact, so the same cells give
# the same bits in whatever order the database meets them, on SQLite and PostgreSQL alike.
_NANO = 1_000_000_000
_FRACTIONAL = frozenset(FLOAT_METRICS)


@dataclass(slots=True)
class BatchResult:
    rows_read: int = 0
    rows_stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    unpriced: int = 0


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_read_only_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _read_only_sqlite(url: str) -> str | None:
    """The SQLite URI to open a database file this process may read but not write, else None.

    Opened as usual, SQLite would write on connect (the WAL pragma, the shared-memory file)
    and fail even a read; opened read-only, reading commands work and writing ones fail
    naming the database. `immutable` (no locking, no shared memory) only where the folder
    cannot hold the shared-memory file either: then nobody can be writing the database."""
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = os.path.abspath(database)
    if not os.path.isfile(path) or os.access(path, os.W_OK) or not os.access(path, os.R_OK):
        return None
    immutable = not os.access(os.path.dirname(path), os.W_OK) and not os.path.exists(path + "-shm")
    return f"sqlite:///file:{quote(path)}?mode=ro" + ("&immutable=1" if immutable else "") + "&uri=true"


def make_engine(url: str) -> Engine:
    try:
        read_only = _read_only_sqlite(url) if url.startswith("sqlite") else None
        if read_only is not None:
            engine = create_engine(read_only, connect_args={"check_same_thread": False})
            event.listen(engine, "connect", _sqlite_read_only_pragmas)
        elif url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"check_same_thread": False})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise RoiError(f"database_url: cannot use {_safe_url(url)}: {exc}") from None
    return engine


def database_url_problem(url: str) -> str | None:
    """Why SQLAlchemy could not use `url` (unknown dialect, driver not installed), or None; never connects."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    hint = "e.g. sqlite:///roi.db or postgresql+psycopg://user@host/db"
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return f"not a database URL; {hint}"
    shown = parsed.render_as_string(hide_password=True)
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        return f"{shown}: no database type {parsed.drivername!r}; {hint}"
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        return f"{shown}: the driver for {parsed.drivername!r} is not installed ({exc}); {hint}"
    return None


def database_failure(url: str, exc: BaseException) -> str:
    """One line for a database error: which database, and what it said (first line, no SQL)."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    reason = reason[0] if reason else type(exc).__name__
    if "readonly database" in reason or "read-only transaction" in reason:
        reason += " (the database is read-only here: reading commands work, this one writes)"
    return f"database {_safe_url(url)}: {reason}"


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only for a message
        return "the configured URL"


class Store:
    def __init__(self, engine: Engine):
        self.engine = engine

    def create_schema(self) -> None:
        """Make the tables a new store lacks; nothing is written to a store that has them all.

        Two processes opening a new store at once (two `roi ingest`, the API's workers) take turns:
        on PostgreSQL under an advisory lock; on SQLite, when a table is missing, in one immediate
        transaction, so one makes them all and the other finds them made. SQLite may still refuse
        the other at once ("database is locked": switching a new file to WAL, or a read lock that
        cannot be upgraded, does not wait out the busy timeout); it then looks again shortly."""
        for attempt in range(_SCHEMA_TRIES):
            try:
                with self.engine.connect() as connection:
                    if connection.dialect.name == "postgresql":
                        with connection.begin():
                            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
                            SQLModel.metadata.create_all(connection)
                    elif set(SQLModel.metadata.tables) - set(inspect(connection).get_table_names()):
                        connection.exec_driver_sql("BEGIN IMMEDIATE")
                        SQLModel.metadata.create_all(connection)  # (it looks again, under the lock)
                        connection.commit()
                return
            except (OperationalError, IntegrityError, ProgrammingError) as exc:
                reason = str(exc.orig)
                if ("database is locked" in reason or "already exists" in reason) and attempt + 1 < _SCHEMA_TRIES:
                    time.sleep(0.05 * (attempt + 1))
                    continue
                raise RoiError(f"database: cannot open {_safe_url(str(self.engine.url))}: {exc.orig}") from None

    def close(self) -> None:
        """Close every pooled connection (a CLI command's store ends with the command)."""
        self.engine.dispose()

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def data_version(self) -> str:
        """Changes whenever a batch is stored or replaced or a month is closed: a cheap key for caches.

        finished_at is in it because SQLite may give a replaced batch its old id back."""
        # plain SQL: asked often by the API, so SQLAlchemy's statement building is skipped
        batches, closed = BatchRecord.__tablename__, PeriodRevisionRecord.__tablename__
        query = (
            f"SELECT (SELECT count(id) FROM {batches}), (SELECT max(id) FROM {batches}), "
            f"(SELECT max(finished_at) FROM {batches}), (SELECT max(id) FROM {closed})"
        )
        with self.engine.connect() as connection:
            count, last_id, last_finished, last_revision = connection.exec_driver_sql(query).one()
        return f"{count}:{last_id}:{last_finished}:{last_revision}"

    # ------------------------------------------------------------- batches

    def batch_fingerprint(self, source: str, key: str) -> str | None:
        with self.engine.connect() as connection:
            return connection.execute(
                select(BatchRecord.fingerprint).where(BatchRecord.source == source, BatchRecord.batch_key == key)
            ).scalar_one_or_none()

    def upgrade_batch_fingerprint(self, source: str, key: str, fingerprint: str) -> None:
        """Record an unchanged batch's fingerprint in the current form (with its content's), which
        a batch stored by an earlier version lacks: a later rename of its file is then recognised."""
        with self.engine.begin() as connection:
            connection.execute(update(BatchRecord)
                               .where(BatchRecord.source == source, BatchRecord.batch_key == key)
                               .values(fingerprint=fingerprint))

    def replace_batch(
        self,
        *,
        source: str,
        key: str,
        label: str,
        fingerprint: str,
        started_at: datetime,
        cells: pd.DataFrame | pa.Table | Iterable[pa.Table],
        rejects: list[Reject],
        result: BatchResult,
    ) -> int | None:
        """Store a batch in one transaction, replacing what the same key stored before.

        `cells`: a table or frame, or tables one after another (a big batch's partitions, read as
        they are stored: an iterable that can be gone through again, in case the store tries again).

        Two ingests of the same batch at once (two `roi ingest`, a manual run beside the
        scheduler): the second one's insert waits for the first's transaction (SQLite's write
        lock, PostgreSQL's unique index), then finds the batch stored. It then stores nothing if
        the first stored the same content (None: skipped), else replaces it, as a later ingest
        would. Either way the batch is stored once."""
        parts = [cells] if isinstance(cells, pa.Table) or hasattr(cells, "iloc") else cells  # (iloc: a DataFrame)
        for attempt in range(_CONCURRENT_TRIES):
            try:
                with self.engine.begin() as connection:
                    old = connection.execute(
                        select(BatchRecord.id, BatchRecord.fingerprint)
                        .where(BatchRecord.source == source, BatchRecord.batch_key == key)
                    ).one_or_none()
                    if old is not None and attempt and old.fingerprint == fingerprint:
                        log.warning("source %s: batch %s was stored by another ingest meanwhile, with the same "
                                    "content: skipped here", source, label)
                        return None
                    if old is not None:
                        connection.execute(delete(CellRecord).where(CellRecord.batch_id == old.id))
                        connection.execute(delete(QuarantineRecord).where(QuarantineRecord.batch_id == old.id))
                        connection.execute(delete(BatchRecord).where(BatchRecord.id == old.id))
                    batch_id = self._insert_batch(connection, source, key, label, fingerprint, started_at, parts,
                                                  rejects, result)
            except IntegrityError as exc:
                if attempt + 1 == _CONCURRENT_TRIES or not _batch_key_taken(exc):
                    raise
                log.info("source %s: batch %s was being stored by another ingest: waited for it", source, label)
                continue
            if attempt:
                log.warning("source %s: batch %s was stored by another ingest meanwhile, with other content: "
                            "replaced by this one's", source, label)
            return batch_id
        raise AssertionError("unreachable")

    @staticmethod
    def _insert_batch(connection, source, key, label, fingerprint, started_at, parts, rejects, result) -> int:
        batch_id = connection.execute(
            insert(BatchRecord)
            .values(
                source=source,
                batch_key=key,
                label=label,
                fingerprint=fingerprint,
                started_at=started_at,
                finished_at=datetime.now(UTC),
                rows_read=result.rows_read,
                rows_stored=result.rows_stored,
                duplicates=result.duplicates,
                quarantined=result.quarantined,
                unpriced=result.unpriced,
            )
            .returning(BatchRecord.id)
        ).scalar_one()
        count, first_day, last_day = _insert_cells(connection, (_as_cell_table(part) for part in parts), batch_id,
                                                   source)
        if count:  # known once the cells are in (a big batch's come partition by partition)
            connection.execute(update(BatchRecord).where(BatchRecord.id == batch_id)
                               .values(cells=count, first_day=first_day, last_day=last_day))
        quarantine = (
            {"batch_id": batch_id, "source": source, "file": r.file, "line": r.line, "reason": r.reason,
             "raw": r.raw}
            for r in rejects
        )
        for rows in _chunks(quarantine):
            connection.execute(insert(QuarantineRecord), rows)
        return batch_id

    # ------------------------------------------------------------- cells

    def cells(self, start: date, end: date) -> pd.DataFrame:
        """Cells with day in [start, end), summed over sources and batches.

        The rows are read as stored (an index range scan, straight into Arrow: store.cell_reads)
        and summed here only where two batches hold the same day and dimensions: a GROUP BY in
        the database sorts every row of the month first, which costs more than the read."""
        return _cell_frame(read_cells(self.engine, start, end))

    def _in_code_point_order(self, columns: list) -> list:
        """Text columns ordered by code point, as Python orders str, whatever the database's collation."""
        if self.engine.dialect.name == "postgresql":
            return [column.collate("C") for column in columns]
        return columns  # SQLite compares text as bytes (BINARY): UTF-8 byte order is code point order

    def cells_by(self, start: date, end: date, dimensions: Iterable[str], breaks: Iterable[date] = ()) -> pd.DataFrame:
        """Like cells(), summed over the dimensions not named (left "") and over the days between breaks.

        Each row's day is the first day of its part: valuing these rows equals valuing the daily
        cells when the named dimensions are all that assignment rules, fixed-cost matches and the
        grouping look at, and the breaks are every value-model version change inside [start, end).
        """
        import pandas as pd

        kept = [name for name in DIMENSIONS if name in set(dimensions)]
        edges = sorted({day for day in breaks if start < day < end})
        parts = [case(*((CellRecord.day < edge, index) for index, edge in enumerate(edges)), else_=len(edges))] \
            if edges else []
        dims = [getattr(CellRecord, name) for name in kept]
        first_day = func.min(CellRecord.day)
        query = (
            select(first_day, *dims, *_sums())
            .where(CellRecord.day >= start, CellRecord.day < end)
            .group_by(*parts, *dims)
            .order_by(first_day, *self._in_code_point_order(dims))
        )
        with self.engine.connect() as connection:
            # without a GROUP BY column an empty month still yields one row of NULLs
            rows = [tuple(row) for row in connection.execute(query) if row[0] is not None]
        frame = pd.DataFrame.from_records(rows, columns=["day", *kept, *CELL_METRICS])
        _metric_columns(frame)
        frame["day"] = pd.to_datetime(frame["day"]).dt.date if len(frame) else pd.Series([], dtype=object)
        for name in DIMENSIONS:
            frame[name] = frame[name].astype(object) if name in kept else ""
        return frame[["day", *DIMENSIONS, *CELL_METRICS]]

    def days_with_data(self) -> list[date]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(CellRecord.day).distinct().order_by(CellRecord.day)).scalars().all()
        return [value if isinstance(value, date) else date.fromisoformat(str(value)) for value in rows]

    def dimension_values(self, names: Iterable[str]) -> dict[str, list[str]]:
        found = {}
        with self.engine.connect() as connection:
            for name in names:
                column = getattr(CellRecord, name)
                found[name] = list(connection.execute(select(column).distinct().order_by(column)).scalars())
        return found

    # ------------------------------------------------------------- status

    def batches(self, source: str | None = None) -> list[BatchRecord]:
        query = select(BatchRecord).order_by(BatchRecord.source, BatchRecord.label)
        if source is not None:
            query = query.where(BatchRecord.source == source)
        with self.engine.connect() as connection:
            return [BatchRecord.model_validate(row._mapping) for row in connection.execute(query)]

    def job_run_summary(self) -> list[tuple[str, str, int, datetime | None]]:
        """Per job and status: how many runs there were and when the latest finished (for /metrics)."""
        runs = pulls_and_jobs.JobRunRecord
        query = select(runs.job_id, runs.status, func.count(runs.id), func.max(runs.finished_at)).group_by(
            runs.job_id, runs.status
        )
        with self.engine.connect() as connection:
            return [(job, status, int(count), last) for job, status, count, last in connection.execute(query)]

    def quarantine(self, source: str | None = None, after_id: int = 0, limit: int = 100) -> list[QuarantineRecord]:
        query = select(QuarantineRecord).where(QuarantineRecord.id > after_id).order_by(QuarantineRecord.id)
        if source is not None:
            query = query.where(QuarantineRecord.source == source)
        with self.engine.connect() as connection:
            rows = connection.execute(query.limit(limit)).all()
        return [QuarantineRecord.model_validate(row._mapping) for row in rows]

    def unpriced_by_model(self, start: date, end: date) -> list[tuple[str, str, str, int, int]]:
        """(source, provider, model, unpriced requests, requests) with day in [start, end), where any is unpriced."""
        unpriced = _count_sum(CellRecord.unpriced_requests)
        query = (
            select(CellRecord.source, CellRecord.provider, CellRecord.model, unpriced, _count_sum(CellRecord.requests))
            .where(CellRecord.day >= start, CellRecord.day < end)
            .group_by(CellRecord.source, CellRecord.provider, CellRecord.model)
            .having(unpriced > 0)
            .order_by(CellRecord.source, unpriced.desc(), CellRecord.provider, CellRecord.model)
        )
        with self.engine.connect() as connection:
            return [(s, p, m, int(u), int(r)) for s, p, m, u, r in connection.execute(query)]


def _cell_frame(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """Stored rows as cells: the same day and dimensions of two batches summed; days as dates, the
    dimensions as str objects, the metrics as float64 (the rows' order is the database's:
    valuation orders cells itself, valuation.cohorts)."""
    import pandas as pd

    for name in _FRACTIONAL:  # whole nano-units: sums exact in any order (see _NANO)
        columns[name] = np.floor(columns[name] * _NANO + 0.5)
    keys = ["day", *DIMENSIONS]
    # object Series: pandas would infer its str dtype, and the cells' users compare Python values
    frame = pd.DataFrame({name: pd.Series(columns[name], dtype=object if name in keys else None, copy=False)
                          for name in [*keys, *CELL_METRICS]})
    if _shared_days(columns["day"], columns["batch_id"]) and frame.duplicated(keys).any():
        # two batches hold cells of one day, and the same day and dimensions are in both
        frame = frame.groupby(keys, sort=False, as_index=False)[list(CELL_METRICS)].sum()
        frame = frame.astype({name: object for name in keys})  # the keys as read, not inferred
    for name in _FRACTIONAL:
        frame[name] = frame[name] / _NANO
    return frame


def _shared_days(days: np.ndarray, batch_ids: np.ndarray) -> bool:
    """Whether any day has cells of more than one batch."""
    import pandas as pd

    if len(np.unique(batch_ids)) <= 1:
        return False
    pairs = pd.DataFrame({"day": days, "batch": batch_ids}).drop_duplicates()
    return len(pairs) > pairs["day"].nunique()


_CELL_COLUMNS = ("batch_id", "source", "day", *DIMENSIONS, *CELL_METRICS)

_DICTIONARY = pa.dictionary(pa.int32(), pa.string())


def _count_sum(column):
    """A count column summed as a float: exact up to 2^53, and no "integer overflow" from SQLite when
    the cells of several batches add up beyond int64 (each batch is held below 2^62: roi.ingestion)."""
    return func.sum(cast(column, Float))


def _sums() -> list:
    """Each metric summed over the rows of a group: counts as floats (_count_sum), fractions in whole nano-units."""
    return [
        func.sum(func.floor(getattr(CellRecord, name) * _NANO + 0.5)).label(name)
        if name in _FRACTIONAL else _count_sum(getattr(CellRecord, name)).label(name)
        for name in CELL_METRICS
    ]


def _metric_columns(frame: pd.DataFrame) -> None:
    """The summed metrics as float64 (fractions back from nano-units: the same integer, the same float)."""
    import pandas as pd

    for name in CELL_METRICS:
        values = pd.to_numeric(frame[name]).astype("float64")
        frame[name] = values / _NANO if name in _FRACTIONAL else values


def _as_cell_table(cells: pd.DataFrame | pa.Table) -> pa.Table:
    """Cells as an Arrow table with the stored columns (day as date32, dimensions as dictionaries)."""
    if not isinstance(cells, pa.Table):  # a pandas DataFrame
        cells = pa.Table.from_pandas(cells[["day", *DIMENSIONS, *CELL_METRICS]], preserve_index=False)
    columns = {"day": pc.cast(cells.column("day"), pa.date32())}
    for name in DIMENSIONS:
        # kept (or made) dictionary-encoded: inserts make one Python string per distinct value
        columns[name] = pc.cast(cells.column(name), _DICTIONARY).fill_null("")
    for name in CELL_METRICS:
        columns[name] = pc.cast(cells.column(name), pa.float64() if name in FLOAT_METRICS else pa.int64())
    return pa.table(columns)


class _Decoded:
    """A column of few distinct values, decoded once: one Python object per distinct value.

    Through a dictionary, a few thousand strings are made instead of one per cell; the
    slices of it then share them."""

    def __init__(self, column: pa.ChunkedArray):
        if pa.types.is_date(column.type):  # days go in as ISO text: only the distinct ones are cast
            encoded = column.combine_chunks().dictionary_encode()
            column = pa.DictionaryArray.from_arrays(encoded.indices, pc.cast(encoded.dictionary, pa.string()))
        # the cell table's own indices, not an int64 copy: 8 bytes per cell and column less (58 MB for 905k cells)
        self.codes, self.values = dictionary_codes(column, widen=False)

    def slice(self, start: int, stop: int) -> list:
        return list(map(self.values.__getitem__, self.codes[start:stop].tolist()))


def _cell_slices(cells: pa.Table, batch_id: int, source: str) -> Iterable[tuple[int, list[list]]]:
    """Cells as Python values, one list per column in _CELL_COLUMNS order, _SLICE cells at a time."""
    decoded = [_Decoded(cells.column(name)) for name in ("day", *DIMENSIONS)]
    for start in range(0, cells.num_rows, _SLICE):
        stop = min(start + _SLICE, cells.num_rows)
        count = stop - start
        columns: list[list] = [[batch_id] * count, [source] * count]
        columns.extend(column.slice(start, stop) for column in decoded)
        part = cells.slice(start, count)
        columns.extend(part.column(name).to_numpy().tolist() for name in CELL_METRICS)
        yield count, columns


_PER_STATEMENT = 400  # rows per INSERT: SQLite spends most of an executemany on per-statement work
# cells turned into Python values at a time: whole statements, and few enough that a slice's objects
# stay small (20,000 cells held about 25 MB of them at 10M rows' cells)
_SLICE = 12 * _PER_STATEMENT


class _Counted:
    """Tables passing by, counted: their rows, and their first and last day."""

    def __init__(self, tables: Iterable[pa.Table]):
        self.tables = tables
        self.rows = 0
        self.first_day: date | None = None
        self.last_day: date | None = None

    def __iter__(self) -> Iterator[pa.Table]:
        for table in self.tables:
            if table.num_rows:
                low, high = (value.as_py() for value in pc.min_max(table.column("day")).values())
                self.first_day = low if self.first_day is None else min(self.first_day, low)
                self.last_day = high if self.last_day is None else max(self.last_day, high)
                self.rows += table.num_rows
                yield table


def _insert_cells(connection, tables: Iterable[pa.Table], batch_id: int, source: str
                  ) -> tuple[int, date | None, date | None]:
    """The cells of these tables inserted; how many there were, and their first and last day."""
    counted = _Counted(tables)
    slices = (piece for cells in counted for piece in _cell_slices(cells, batch_id, source))
    names = ", ".join(_CELL_COLUMNS)
    if connection.dialect.name == "postgresql":
        # COPY is an order of magnitude faster than INSERT for many rows
        cursor = connection.connection.cursor()
        with cursor.copy(f"COPY roi_cells ({names}) FROM STDIN") as copy:
            for _, columns in slices:
                for row in zip(*columns, strict=True):
                    copy.write_row(row)
        return counted.rows, counted.first_day, counted.last_day
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    row = "(" + ", ".join(mark for _ in _CELL_COLUMNS) + ")"
    cursor = connection.connection.cursor()
    full = f"INSERT INTO roi_cells ({names}) VALUES " + ", ".join([row] * _PER_STATEMENT)
    width = len(_CELL_COLUMNS)
    for count, columns in slices:
        # the parameters row after row, interleaved by slice assignment (no tuple per row)
        flat: list = [None] * (count * width)
        for index, column in enumerate(columns):
            flat[index::width] = column
        whole = count - count % _PER_STATEMENT
        step = _PER_STATEMENT * width
        if whole:
            cursor.executemany(full, [tuple(flat[i : i + step]) for i in range(0, whole * width, step)])
        if whole < count:
            rest = count - whole
            cursor.execute(f"INSERT INTO roi_cells ({names}) VALUES " + ", ".join([row] * rest), flat[whole * width :])
    return counted.rows, counted.first_day, counted.last_day


def _chunks(rows: Iterable[dict]) -> Iterable[list[dict]]:
    chunk: list[dict] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= _INSERT_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def open_store(database_url: str) -> Store:
    store = Store(make_engine(database_url))
    store.create_schema()
    return store
