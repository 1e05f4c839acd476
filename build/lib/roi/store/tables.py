"""SQLModel tables: cells, the batches that wrote them, quarantined rows."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Column, Float, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class BatchRecord(SQLModel, table=True):
    """One ingested unit (a file, an API window). Its key makes re-ingest idempotent."""

    __tablename__ = "roi_batches"
    # AUTOINCREMENT on SQLite: a replaced batch never gets its old id back, so the store's data
    # version (which counts and maxes the ids) changes with every stored batch (databases made before
    # this keep their table; there finished_at still changes it)
    __table_args__ = (UniqueConstraint("source", "batch_key", name="uq_roi_batches_source_key"),
                      {"sqlite_autoincrement": True})

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(index=True)
    batch_key: str
    label: str
    fingerprint: str
    started_at: datetime
    finished_at: datetime
    rows_read: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    rows_stored: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    duplicates: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    quarantined: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    unpriced: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    cells: int = Field(default=0)
    first_day: date | None = None
    last_day: date | None = None


def _count() -> int:
    return Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))


class CellRecord(SQLModel, table=True):
    """A source's additive metrics for one day and one combination of dimensions."""

    __tablename__ = "roi_cells"
    __table_args__ = (Index("ix_roi_cells_day", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="roi_batches.id", index=True, ondelete="CASCADE")
    source: str
    day: date
    tenant: str = ""
    channel: str = ""
    topic: str = ""
    language: str = ""
    plan_tier: str = ""
    provider: str = ""
    model: str = ""
    requests: int = _count()
    input_tokens: int = _count()
    output_tokens: int = _count()
    cached_input_tokens: int = _count()
    token_cost: float = Field(default=0.0, sa_column=Column(Float(precision=53), nullable=False, default=0.0))
    unpriced_requests: int = _count()
    resolved: int = _count()
    escalated: int = _count()
    abandoned: int = _count()
    reopened: int = _count()
    human_review_minutes: float = Field(
        default=0.0, sa_column=Column(Float(precision=53), nullable=False, default=0.0)
    )


class QuarantineRecord(SQLModel, table=True):
    """A row that could not be read, with where it came from and why."""

    __tablename__ = "roi_quarantine"

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="roi_batches.id", index=True, ondelete="CASCADE")
    source: str = Field(index=True)
    file: str
    line: int | None = None
    reason: str = Field(sa_column=Column(Text, nullable=False))
    raw: str = Field(sa_column=Column(Text, nullable=False))
