"""What the workbook shows beyond the month's report frame: trend, data quality, closed-month notes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ...domain import Period


@dataclass(frozen=True, slots=True)
class TrendMonth:
    """One earlier month of the trend: per cohort (net value, cost per resolved case) and its totals."""

    period: Period
    cohorts: dict[tuple[str, ...], tuple[float | None, float | None]]
    totals: dict[str, float | None]
    revision: int | None = None  # the closed revision these figures come from, if any


@dataclass(frozen=True, slots=True)
class SourceQuality:
    source: str
    batches: int
    rows_read: int
    rows_stored: int
    duplicates: int
    quarantined: int
    unpriced: int
    last_ingest: datetime | None


@dataclass(frozen=True, slots=True)
class QuarantineSample:
    source: str
    file: str
    line: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class UnpricedModel:
    source: str
    provider: str
    model: str
    unpriced: int
    requests: int


@dataclass(frozen=True, slots=True)
class LateData:
    """Data for a closed month that arrived after its close (not in that month's figures)."""

    period: Period
    revision: int
    closed_at: datetime
    rows: int
    cost: float


@dataclass(frozen=True, slots=True)
class PriorRevision:
    """The revision a new one replaces: its figures, for the Changes sheet."""

    revision: int
    closed_at: datetime
    config_hash: str
    data_fingerprint: str
    group_by: tuple[str, ...]
    cohorts: list[dict[str, Any]]  # JSON cohort records
    totals: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RevisionInfo:
    revision: int
    closed_at: datetime
    previous: PriorRevision | None = None
    late: LateData | None = None  # what arrived after the previous revision's close, now included


@dataclass(slots=True)
class WorkbookExtras:
    """Everything the workbook shows that is not the month's report frame."""

    trend: list[TrendMonth] = field(default_factory=list)  # earlier months, ascending
    sources: list[SourceQuality] = field(default_factory=list)
    quarantine: list[QuarantineSample] = field(default_factory=list)
    unpriced: list[UnpricedModel] = field(default_factory=list)
    late: list[LateData] = field(default_factory=list)
    revision: RevisionInfo | None = None
    # the config's folder: file paths on Data quality are shown relative to it, as batch keys are
    files_relative_to: Path | None = None

    def shown_path(self, file: str) -> str:
        """A quarantined row's file as the reader should see it: never an absolute server path."""
        if not file or self.files_relative_to is None or not os.path.isabs(file):
            return file
        return Path(os.path.relpath(file, self.files_relative_to)).as_posix()


def as_utc_naive(moment: datetime | None) -> datetime | None:
    """Excel has no timezones: timestamps are shown in UTC (naive ones are stored as UTC already)."""
    if moment is not None and moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def utc_text(moment: datetime | None) -> str:
    shown = as_utc_naive(moment)
    return "" if shown is None else shown.strftime("%Y-%m-%d %H:%M UTC")
