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
    """The revision a new one replaces: its figures, for the Revision changes sheet."""

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


@dataclass(frozen=True, slots=True)
class RiskFigures:
    """Monte Carlo bands (stored values: a sampled figure is no formula), per cohort and in total."""

    draws: int
    seed: int
    outcome_rates: bool
    parameters: tuple[str, ...]
    cohorts: dict[tuple[str, ...], dict[str, float | None]]  # keyed like the Cohorts sheet's rows
    totals: dict[str, float | None]


@dataclass(frozen=True, slots=True)
class ParameterSwing:
    """One uncertain assumption: its range(s) and the total net value at its low and its high."""

    parameter: str
    ranges: str  # as people read it: "2025-01-01: 5 / 6.5 / 8"
    low: float  # of the latest version in use
    point: float
    high: float
    change_low: float  # total net value at its low minus at the point values
    change_high: float


@dataclass(frozen=True, slots=True)
class SensitivityFigures:
    """Tornado data (largest swing first) and, per cohort, the parameter that moves it most."""

    parameters: list[ParameterSwing]
    largest: dict[tuple[str, ...], tuple[str, float]]  # cohort -> (parameter, its swing)


@dataclass(frozen=True, slots=True)
class ChangeFigures:
    """The change bridge from the previous month: per cohort (both months' cohorts) and unallocated."""

    previous_period: Period
    effects: tuple[str, ...]
    cohorts: list[tuple[tuple[str, ...], float, float, dict[str, float]]]  # key, previous, current, effects
    unallocated: tuple[float, float]  # unallocated fixed cost: previous, current (0 for a filtered report)
    # the previous month closed in this grouping: its revision and that revision's total net value, which
    # the Summary and Trend sheets show; the bridge starts from today's data of it, the difference is restated
    closed_previous: tuple[int, float] | None = None


@dataclass(slots=True)
class WorkbookExtras:
    """Everything the workbook shows that is not the month's report frame."""

    trend: list[TrendMonth] = field(default_factory=list)  # earlier months, ascending
    sources: list[SourceQuality] = field(default_factory=list)
    quarantine: list[QuarantineSample] = field(default_factory=list)
    unpriced: list[UnpricedModel] = field(default_factory=list)
    late: list[LateData] = field(default_factory=list)
    revision: RevisionInfo | None = None
    risk: RiskFigures | None = None  # only when an assumption is a range (or outcome rates are drawn)
    sensitivity: SensitivityFigures | None = None  # only when an assumption is a range
    changes: ChangeFigures | None = None
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
