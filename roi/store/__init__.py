"""The store: the only package that imports sqlmodel / SQLAlchemy."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pandas as pd
from sqlalchemy import delete, event, func, insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlmodel import SQLModel, create_engine

from ..domain import CELL_METRICS, DIMENSIONS, Reject
from ..errors import RoiError
from .tables import BatchRecord, CellRecord, QuarantineRecord

__all__ = ["Store", "BatchResult", "BatchRecord", "open_store"]

_INSERT_ROWS = 5_000


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


def make_engine(url: str) -> Engine:
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"check_same_thread": False})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise RoiError(f"database_url: cannot use {_safe_url(url)}: {exc}") from None
    return engine


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
        try:
            SQLModel.metadata.create_all(self.engine)
        except OperationalError as exc:
            raise RoiError(f"database: cannot open {_safe_url(str(self.engine.url))}: {exc.orig}") from None

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    # ------------------------------------------------------------- batches

    def batch_fingerprint(self, source: str, key: str) -> str | None:
        with self.engine.connect() as connection:
            return connection.execute(
                select(BatchRecord.fingerprint).where(BatchRecord.source == source, BatchRecord.batch_key == key)
            ).scalar_one_or_none()

    def replace_batch(
        self,
        *,
        source: str,
        key: str,
        label: str,
        fingerprint: str,
        started_at: datetime,
        cells: pd.DataFrame,
        rejects: list[Reject],
        result: BatchResult,
    ) -> int:
        """Store a batch in one transaction, replacing what the same key stored before."""
        days = cells["day"] if len(cells) else pd.Series([], dtype=object)
        with self.engine.begin() as connection:
            old = connection.execute(
                select(BatchRecord.id).where(BatchRecord.source == source, BatchRecord.batch_key == key)
            ).scalar_one_or_none()
            if old is not None:
                connection.execute(delete(CellRecord).where(CellRecord.batch_id == old))
                connection.execute(delete(QuarantineRecord).where(QuarantineRecord.batch_id == old))
                connection.execute(delete(BatchRecord).where(BatchRecord.id == old))
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
                    cells=len(cells),
                    first_day=min(days) if len(days) else None,
                    last_day=max(days) if len(days) else None,
                )
                .returning(BatchRecord.id)
            ).scalar_one()
            for rows in _chunks(_cell_rows(cells, batch_id, source)):
                connection.execute(insert(CellRecord), rows)
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
        """Cells with day in [start, end), summed over sources and batches."""
        dims = [getattr(CellRecord, name) for name in DIMENSIONS]
        sums = [func.sum(getattr(CellRecord, name)).label(name) for name in CELL_METRICS]
        query = (
            select(CellRecord.day, *dims, *sums)
            .where(CellRecord.day >= start, CellRecord.day < end)
            .group_by(CellRecord.day, *dims)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        frame = pd.DataFrame(rows, columns=["day", *DIMENSIONS, *CELL_METRICS])
        for name in CELL_METRICS:
            frame[name] = pd.to_numeric(frame[name]).astype("float64")
        frame["day"] = pd.to_datetime(frame["day"]).dt.date if len(frame) else pd.Series([], dtype=object)
        for name in DIMENSIONS:
            frame[name] = frame[name].astype(object)
        return frame

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

    def quarantine(self, source: str | None = None, after_id: int = 0, limit: int = 100) -> list[QuarantineRecord]:
        query = select(QuarantineRecord).where(QuarantineRecord.id > after_id).order_by(QuarantineRecord.id)
        if source is not None:
            query = query.where(QuarantineRecord.source == source)
        with self.engine.connect() as connection:
            rows = connection.execute(query.limit(limit)).all()
        return [QuarantineRecord.model_validate(row._mapping) for row in rows]


def _cell_rows(cells: pd.DataFrame, batch_id: int, source: str) -> Iterable[dict]:
    if not len(cells):
        return
    columns = ["day", *DIMENSIONS, *CELL_METRICS]
    integer = {name for name in CELL_METRICS if name not in ("token_cost", "human_review_minutes")}
    for values in cells[columns].itertuples(index=False, name=None):
        row = dict(zip(columns, values, strict=True))
        for name in integer:
            row[name] = int(row[name])
        row["token_cost"] = float(row["token_cost"])
        row["human_review_minutes"] = float(row["human_review_minutes"])
        row["batch_id"] = batch_id
        row["source"] = source
        yield row


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
