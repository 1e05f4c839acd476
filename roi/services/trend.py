"""The trend: each month's figures per cohort, for the API's series and the workbook's Trend sheet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config import Settings
from ..domain import Period, json_number
from ..valuation.cohorts import ValuedMonth
from .valued import ValuedMonths

DEFAULT_METRICS = ("net_value", "roi", "cost_per_resolved_case")
DEFAULT_MONTHS = 12


@dataclass(slots=True)
class MonthFigures:
    """One month of a trend: per cohort (its dimension values) its figures, and the month's totals."""

    period: Period
    cohorts: dict[tuple[str, ...], dict[str, Any]] = field(default_factory=dict)
    totals: dict[str, Any] = field(default_factory=dict)
    revision: int | None = None  # figures as closed in this revision


def figures_of(month: ValuedMonth, period: Period, group: Sequence[str],
               filters: dict[str, list[str]] | None) -> MonthFigures:
    cohorts = month.cohorts(group, filters)
    rows = {tuple(str(record[name]) for name in group): record for record in cohorts.to_dict("records")}
    return MonthFigures(period, rows, month.totals(filters))


def months_between(first: Period, last: Period) -> list[Period]:
    months = []
    month = first
    while month <= last:
        months.append(month)
        month = month.next()
    return months


def default_range(months: ValuedMonths | None, first: Period | None, last: Period | None,
                  count: int = DEFAULT_MONTHS) -> tuple[Period | None, Period | None]:
    """`to` defaults to the latest month with data, `from` to `count` - 1 months before `to`
    (`months` is asked only when `last` is None)."""
    if last is None:
        with_data = months.months_with_data()
        last = with_data[-1] if with_data else None
    if first is None and last is not None:
        first = last
        for _ in range(count - 1):
            if first > Period(1900, 1):
                first = first.previous()
    return first, last


def _point(period: Period, values: dict[str, Any], metrics: Sequence[str]) -> dict[str, Any]:
    point: dict[str, Any] = {"period": str(period)}
    for name in metrics:
        point[name] = json_number(name, values.get(name))
    return point


def trend(settings: Settings, months: ValuedMonths, first: Period | None, last: Period | None,
          group_by: Sequence[str] | None, filters: dict[str, list[str]], metrics: Sequence[str], *,
          version: str | None = None, with_data: Sequence[Period] | None = None) -> dict[str, Any]:
    """For each cohort one point per month with data from `first` to `last`; the totals every month
    (a month without data still carries its unallocated fixed costs). `version` and `with_data`: the
    store's data version and its months with data, when the caller has them at hand."""
    group = tuple(settings.report.group_by if group_by is None else group_by)
    periods = months_between(first, last) if first and last else []
    version = version or months.store.data_version()
    with_data = set(months.months_with_data() if with_data is None else with_data)
    per_month: list[MonthFigures] = []
    empty: MonthFigures | None = None
    for period in periods:
        if period in with_data:
            per_month.append(figures_of(months.get(period, version), period, group, filters))
        else:
            if empty is None:  # no cells: the same figures for every such month
                empty = figures_of(months.get(period, version), period, group, filters)
            per_month.append(MonthFigures(period, {}, empty.totals))
    cohorts: dict[tuple, dict[str, str]] = {}
    for month in per_month:
        for key in month.cohorts:
            cohorts.setdefault(key, dict(zip(group, key, strict=True)))
    series = [
        {"cohort": cohort,
         "points": [_point(month.period, month.cohorts[key], metrics) for month in per_month if key in month.cohorts]}
        for key, cohort in sorted(cohorts.items())
    ]
    return {
        "from": str(first) if first else None,
        "to": str(last) if last else None,
        "currency": settings.service.currency,
        "group_by": list(group),
        "filters": filters,
        "metrics": list(metrics),
        "config_hash": settings.config_hash,
        "periods": [str(period) for period in periods],
        "series": series,
        "totals": [_point(month.period, month.totals, metrics) for month in per_month],
    }
