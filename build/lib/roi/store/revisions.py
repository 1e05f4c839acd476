"""Closed months: each revision of a month's report, stored once and served as stored forever.

A revision keeps the exported bytes (workbook, JSON, CSV), the config hash and
data fingerprint they were made from, and a snapshot of the month's cells, so
data that arrives after the close can be measured instead of folded in.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Column, DateTime, LargeBinary, UniqueConstraint, delete, func, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel

from ..domain import CELL_METRICS, DIMENSIONS, OUTCOMES
from ..errors import RoiError
from .tables import BatchRecord

if TYPE_CHECKING:  # pandas loads only where a function needs it
    import pandas as pd

CONTENT_COLUMNS = {"xlsx": "workbook", "json": "report_json", "csv": "report_csv"}


class PeriodRevisionRecord(SQLModel, table=True):
    """One revision of a closed month."""

    __tablename__ = "roi_period_revisions"
    __table_args__ = (UniqueConstraint("period", "revision", name="uq_roi_period_revisions_period_revision"),)

    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(index=True)  # YYYY-MM
    revision: int
    closed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    config_hash: str
    data_fingerprint: str
    group_by: str  # comma separated
    workbook: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    report_json: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    report_csv: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    snapshot: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class RevisionBatchesRecord(SQLModel, table=True):
    """The signature of the batches behind a revision's month at its close (see batch_signatures).

    A table of its own, so stores made before it existed gain it from create_all, no migration."""

    __tablename__ = "roi_period_revision_batches"

    period: str = Field(primary_key=True)
    revision: int = Field(primary_key=True)
    signature: str


class RevisionConflict(RoiError):
    """Another close stored the same revision of the month first."""


@dataclass(frozen=True, slots=True)
class Revision:
    """What is known of a revision without its (large) contents."""

    period: str
    revision: int
    closed_at: datetime
    config_hash: str
    data_fingerprint: str
    group_by: tuple[str, ...]
    batches: str  # "" when unknown: then the month's cells are compared with the snapshot


_META = (
    PeriodRevisionRecord.period,
    PeriodRevisionRecord.revision,
    PeriodRevisionRecord.closed_at,
    PeriodRevisionRecord.config_hash,
    PeriodRevisionRecord.data_fingerprint,
    PeriodRevisionRecord.group_by,
    RevisionBatchesRecord.signature,
)


def _with_batches(query):
    return query.outerjoin(
        RevisionBatchesRecord,
        (RevisionBatchesRecord.period == PeriodRevisionRecord.period)
        & (RevisionBatchesRecord.revision == PeriodRevisionRecord.revision),
    )


def _utc(moment: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; we only ever store UTC
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _revision(row) -> Revision:
    period, number, closed_at, config_hash, fingerprint, group_by, batches = row
    return Revision(period, int(number), _utc(closed_at), config_hash, fingerprint,
                    tuple(name for name in group_by.split(",") if name), batches or "")


def add_revision(
    engine: Engine,
    *,
    period: str,
    revision: int,
    closed_at: datetime,
    config_hash: str,
    data_fingerprint: str,
    group_by: tuple[str, ...],
    batches: str,
    contents: dict[str, bytes],
    snapshot: bytes,
) -> Revision:
    """Store a revision; RevisionConflict if that revision of the month exists already."""
    values = {
        "period": period,
        "revision": revision,
        "closed_at": closed_at,
        "config_hash": config_hash,
        "data_fingerprint": data_fingerprint,
        "group_by": ",".join(group_by),
        "snapshot": snapshot,
        **{column: contents[fmt] for fmt, column in CONTENT_COLUMNS.items()},
    }
    try:
        with engine.begin() as connection:
            connection.execute(insert(PeriodRevisionRecord).values(**values))
            connection.execute(
                insert(RevisionBatchesRecord).values(period=period, revision=revision, signature=batches)
            )
    except IntegrityError:
        raise RevisionConflict(f"period {period}: revision {revision} was stored by another close meanwhile") from None
    return Revision(period, revision, _utc(closed_at), config_hash, data_fingerprint, tuple(group_by), batches)


def remove_revision(engine: Engine, period: str, revision: int) -> None:
    """Take back a revision just stored (its close could not write its files)."""
    with engine.begin() as connection:
        connection.execute(delete(RevisionBatchesRecord).where(
            RevisionBatchesRecord.period == period, RevisionBatchesRecord.revision == revision))
        connection.execute(delete(PeriodRevisionRecord).where(
            PeriodRevisionRecord.period == period, PeriodRevisionRecord.revision == revision))


def latest_revisions(engine: Engine) -> dict[str, Revision]:
    """The newest revision of every closed month, by period."""
    newest = (
        select(PeriodRevisionRecord.period, func.max(PeriodRevisionRecord.revision).label("revision"))
        .group_by(PeriodRevisionRecord.period)
        .subquery()
    )
    query = _with_batches(select(*_META).select_from(PeriodRevisionRecord)).join(
        newest,
        (PeriodRevisionRecord.period == newest.c.period) & (PeriodRevisionRecord.revision == newest.c.revision),
    )
    with engine.connect() as connection:
        return {row[0]: _revision(row) for row in connection.execute(query)}


def latest_revision(engine: Engine, period: str) -> Revision | None:
    query = (
        _with_batches(select(*_META).select_from(PeriodRevisionRecord))
        .where(PeriodRevisionRecord.period == period)
        .order_by(PeriodRevisionRecord.revision.desc())
        .limit(1)
    )
    with engine.connect() as connection:
        row = connection.execute(query).first()
    return _revision(row) if row is not None else None


def revision_content(engine: Engine, period: str, revision: int, fmt: str) -> bytes:
    """The stored bytes of one export ("xlsx", "json" or "csv") of a revision."""
    column = getattr(PeriodRevisionRecord, CONTENT_COLUMNS[fmt])
    query = select(column).where(PeriodRevisionRecord.period == period, PeriodRevisionRecord.revision == revision)
    with engine.connect() as connection:
        content = connection.execute(query).scalar_one()
    return bytes(content)


def revision_snapshot(engine: Engine, period: str, revision: int) -> bytes:
    query = select(PeriodRevisionRecord.snapshot).where(
        PeriodRevisionRecord.period == period, PeriodRevisionRecord.revision == revision
    )
    with engine.connect() as connection:
        return bytes(connection.execute(query).scalar_one())


# ------------------------------------------------------------------ data that arrived after a close


def batch_signatures(engine: Engine, periods: Iterable[tuple[str, date, date]]) -> dict[str, str]:
    """Per month (label, start, end): a hash of the batches whose days overlap it.

    Storing or replacing a batch gives it a new id or finish time and removing one drops it, so
    an unchanged signature proves the month's cells are unchanged: no need to read them.
    """
    periods = list(periods)
    if not periods:
        return {}
    query = (
        select(BatchRecord.id, BatchRecord.finished_at, BatchRecord.first_day, BatchRecord.last_day)
        .where(BatchRecord.first_day < max(end for _label, _start, end in periods),
               BatchRecord.last_day >= min(start for _label, start, _end in periods))
        .order_by(BatchRecord.id)
    )
    with engine.connect() as connection:
        batches = connection.execute(query).all()
    found = {}
    for label, start, end in periods:
        digest = hashlib.sha256()
        for batch_id, finished_at, first_day, last_day in batches:
            if _as_date(first_day) < end and _as_date(last_day) >= start:
                digest.update(f"{batch_id}:{finished_at};".encode())
        found[label] = digest.hexdigest()[:32]
    return found


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


_KEYS = ["day", *DIMENSIONS]


def _normalized(cells: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame({"day": [str(day) for day in cells["day"]]}) if len(cells) else pd.DataFrame({"day": []})
    for name in DIMENSIONS:
        frame[name] = cells[name].astype(str).to_numpy() if len(cells) else []
    for name in CELL_METRICS:
        frame[name] = cells[name].to_numpy(dtype=np.float64) if len(cells) else np.zeros(0)
    return frame.astype({"day": object, **{name: object for name in DIMENSIONS}})


def encode_snapshot(cells: pd.DataFrame) -> bytes:
    """The month's cells (as Store.cells returns them) in a compact columnar form."""
    out = io.BytesIO()
    _normalized(cells).to_parquet(out, index=False)
    return out.getvalue()


def late_data(cells: pd.DataFrame, snapshot: bytes) -> tuple[int, float]:
    """How many rows and how much token cost the month's cells gained (or lost) since the snapshot.

    Cells are daily sums, so rows are counted per changed cell as the larger change of
    requests and of outcomes (at least 1 for a cell that changed otherwise): exact when
    each event row is a call or an outcome, a lower bound when rows carry both kinds
    on the same day and cohort.
    """
    import pandas as pd

    before = _normalized(pd.read_parquet(io.BytesIO(snapshot)))
    now = _normalized(cells)
    if not len(before) and not len(now):
        return 0, 0.0
    merged = now.merge(before, on=_KEYS, how="outer", suffixes=("", "_before"))
    metrics = merged[[*CELL_METRICS, *(f"{name}_before" for name in CELL_METRICS)]].fillna(0.0)
    delta = {name: metrics[name].to_numpy() - metrics[f"{name}_before"].to_numpy() for name in CELL_METRICS}
    changed = np.zeros(len(merged), dtype=bool)
    for name in CELL_METRICS:
        changed |= np.abs(delta[name]) > 1e-9
    outcomes = sum(delta[name] for name in OUTCOMES)
    rows = np.maximum(np.maximum(np.abs(delta["requests"]), np.abs(outcomes)), 1.0)
    late_rows = int(round(float(rows[changed].sum())))
    late_cost = float(delta["token_cost"].sum())
    return late_rows, late_cost if abs(late_cost) > 1e-12 else 0.0
