"""One cohort in one month: its figures (as `GET /api/v1/roi` with the cohort's values as filters gives
them), its trend, the value-model versions its cells were valued with, its share of each fixed cost,
and the quarantined rows of the batches behind the month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from ..config import Settings
from ..domain import ASSUMPTIONS, Period, share_column
from ..store import Store
from . import trend as trends
from .quarantine import QuarantinedRow, quarantined
from .reports import build_report, grouping
from .valued import ValuedMonths

TREND_METRICS = ("cost_per_resolved_case", "resolution_rate", "escalation_rate", "net_value")
QUARANTINE_SHOWN = 50


@dataclass(frozen=True, slots=True)
class VersionUsed:
    """A value model version some of the cohort's cells were valued with, over which days."""

    model: str
    effective_from: str
    first_day: date
    last_day: date
    assumptions: dict[str, float]
    net_resolved: float
    value: float


@dataclass(frozen=True, slots=True)
class FixedShare:
    name: str
    amount: float  # the month's amount of the fixed cost
    allocate_by: str
    share: float  # the cohort's fraction of it, 0..1
    carried: float  # share x amount, in the base currency


@dataclass(frozen=True, slots=True)
class CohortProfile:
    period: Period
    group_by: tuple[str, ...]
    cohort: dict[str, str]
    figures: dict[str, Any] | None  # the cohort's record as the API gives it; None: no data this month
    versions: list[VersionUsed]
    fixed_shares: list[FixedShare]
    trend: dict[str, Any]  # as GET /api/v1/roi/trend with the cohort's values as filters
    quarantined: list[QuarantinedRow]
    more_quarantined: bool
    currency: str


def cohort_profile(settings: Settings, store: Store, months: ValuedMonths, period: Period,
                   group_by: list[str] | tuple[str, ...] | None, values: dict[str, str], *,
                   version: str | None = None, with_data: list[Period] | None = None,
                   months_back: int = trends.DEFAULT_MONTHS) -> CohortProfile:
    """The cohort whose grouping dimensions take `values` ('' is unattributed)."""
    group = grouping(settings, group_by)
    filters = {name: [values.get(name, "")] for name in group}
    frame = build_report(settings, store, period, group, filters, months=months, version=version, detail=True)
    records = frame.cohort_records()
    detail = frame.detail
    versions = [
        VersionUsed(str(row["value_model"]), str(row["model_version"]), row["first_day"], row["last_day"],
                    {name: float(row[name]) for name in ASSUMPTIONS}, float(row["net_resolved"]), float(row["value"]))
        for row in detail.to_dict("records")
    ]
    shares = []
    for index, cost in enumerate(frame.fixed_costs):
        column = share_column(index)
        share = float(detail[column].sum()) if column in detail and len(detail) else 0.0
        shares.append(FixedShare(cost.name, float(cost.amount), cost.allocate_by, share, share * float(cost.amount)))
    first, last = trends.default_range(None, None, period, months_back)
    series = trends.trend(settings, months, first, last, group, filters, TREND_METRICS, version=version,
                          with_data=with_data)
    rows, following = quarantined(settings, store, period=period, limit=QUARANTINE_SHOWN)
    return CohortProfile(period, group, {name: values.get(name, "") for name in group},
                         records[0] if records else None, versions, shares, series, rows, following is not None,
                         settings.service.currency)
