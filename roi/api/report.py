"""GET /api/v1/roi and /api/v1/roi/trend: the report of DESIGN section 7, and a series per cohort."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from flask import Response

from .. import closing, services
from ..domain import Period, parse_group_by
from ..reporting.frame import ReportFrame, json_number
from ..reporting.json_report import report_document
from ..valuation import Valuation, filter_cells, summarize, totals
from .context import api_blueprint, cached_answer, data_version, runtime
from .schemas import RoiQuery, RoiReport, Trend, TrendQuery

blueprint = api_blueprint("roi", __name__, "ROI per cohort: one month, or a trend over months.")

DEFAULT_TREND_METRICS = ("net_value", "roi", "cost_per_resolved_case")


def valued_month(period: Period) -> tuple[Valuation, str]:
    """The month valued once per data version; requests then only filter, group and serialize."""
    state = runtime()
    key = (period, state.settings.config_hash, data_version())
    return state.cache.months.get_or_make(key, lambda: services.value_month(state.settings, state.store, period))


def _group_by(text: str | None) -> list[str] | None:
    if text is None:
        return None
    # a name given twice means the same grouping: accepted, like the schema says
    names = list(dict.fromkeys(part for part in text.split(",") if part))
    return parse_group_by(",".join(names), runtime().settings.dimensions)


def _filters(raw: dict[str, str]) -> dict[str, list[str]]:
    return services.parse_filters(runtime().settings, raw) if raw else {}


def frame_for(period: Period, group_by: list[str] | None, filters: dict[str, list[str]]) -> ReportFrame:
    state = runtime()
    return services.build_report(state.settings, state.store, period, group_by, filters,
                                 valued=valued_month(period))


def sort_cohorts(cohorts: list[dict[str, Any]], sort: str | None, limit: int | None) -> list[dict[str, Any]]:
    """Cohorts by a metric ('-' first: descending), nulls last either way; then the first `limit`."""
    if sort:
        name = sort.lstrip("-")
        known = [cohort for cohort in cohorts if cohort[name] is not None]
        unknown = [cohort for cohort in cohorts if cohort[name] is None]
        cohorts = sorted(known, key=lambda cohort: cohort[name], reverse=sort.startswith("-")) + unknown
    return cohorts if limit is None else cohorts[:limit]


def _closed_document(period: Period, group_by: list[str] | None, filters: dict) -> dict[str, Any] | None:
    """A closed month's stored revision, when `roi report` would print it too (its grouping, no filters)."""
    state = runtime()
    settings = state.settings
    if filters or (group_by is not None and tuple(group_by) != tuple(settings.report.group_by)):
        return None
    if not closing.period_state(settings, state.store, period).closed:
        return None
    return json.loads(closing.export_report(settings, state.store, period, "json").content)


@blueprint.get("/roi", summary="One month's ROI per cohort", responses={200: RoiReport})
def roi_report(query: RoiQuery) -> Response:
    """Every metric per cohort, the totals and the config hash; equal to `roi report --format json`.

    A closed month, asked in the config's grouping without filters, is its stored revision
    (with `state`, `revision` and `closed_at`). With `sort` and `limit`, `cohorts` holds the
    first `limit` cohorts after sorting, and `totals` still covers every cohort the filters
    keep (the header X-Total-Count says how many there are)."""
    period = Period.parse(query.period)
    group_by = _group_by(query.group_by)
    filters = _filters(query.filter_values())

    def render() -> dict[str, Any]:
        document = _closed_document(period, group_by, filters)
        if document is None:
            document = report_document(frame_for(period, group_by, filters))
        document["_total"] = len(document["cohorts"])
        document["cohorts"] = sort_cohorts(document["cohorts"], query.sort, query.limit)
        return document

    def headers(document: dict[str, Any]) -> dict[str, str]:
        return {"X-Total-Count": str(document.pop("_total"))}

    key = (period, tuple(group_by) if group_by is not None else None, _frozen(filters), query.sort, query.limit)
    return cached_answer(key, render, headers=headers)


def _frozen(filters: dict[str, list[str]]) -> tuple:
    return tuple(sorted((name, tuple(values)) for name, values in filters.items()))


# ------------------------------------------------------------------ trend


def _months(first: Period, last: Period) -> list[Period]:
    months = []
    month = first
    while month <= last:
        months.append(month)
        month = month.next()
    return months


def _months_with_data() -> set[Period]:
    state = runtime()
    key = ("months", data_version())
    return state.cache.lookups.get_or_make(key, lambda: {Period.of(day) for day in state.store.days_with_data()})


def _point(period: Period, values: dict[str, Any], metrics: list[str]) -> dict[str, Any]:
    point: dict[str, Any] = {"period": str(period)}
    for name in metrics:
        point[name] = json_number(name, values.get(name))
    return point


def _trend_document(first: Period | None, last: Period | None, group_by: list[str] | None,
                    filters: dict[str, list[str]], metrics: list[str]) -> dict[str, Any]:
    state = runtime()
    settings = state.settings
    group = tuple(settings.report.group_by if group_by is None else group_by)
    months = _months(first, last) if first and last else []
    with_data = _months_with_data()
    empty_totals: dict[str, Any] | None = None
    per_month: dict[Period, dict[tuple, dict[str, Any]]] = {}
    total_points = []
    cohorts: dict[tuple, dict[str, str]] = {}
    for month in months:
        if month in with_data:
            summed, month_totals = _month_figures(month, group, filters)
            rows = _cohort_rows(summed, group)
        else:
            # a month without cells still carries the unallocated fixed costs, as `roi report` shows
            if empty_totals is None:
                empty_totals = _month_figures(month, group, filters)[1]
            rows, month_totals = {}, empty_totals
        per_month[month] = rows
        for key in rows:
            cohorts.setdefault(key, dict(zip(group, key, strict=True)))
        total_points.append(_point(month, month_totals, metrics))
    series = [
        {
            "cohort": cohort,
            "points": [_point(month, per_month[month][key], metrics) for month in months if key in per_month[month]],
        }
        for key, cohort in sorted(cohorts.items())
    ]
    return {
        "from": str(first) if first else None,
        "to": str(last) if last else None,
        "currency": settings.service.currency,
        "group_by": list(group),
        "filters": filters,
        "metrics": metrics,
        "config_hash": settings.config_hash,
        "periods": [str(month) for month in months],
        "series": series,
        "totals": total_points,
    }


def _month_figures(month: Period, group: tuple[str, ...], filters: dict[str, list[str]]):
    """A month's cohort sums and totals, as in its report but without the report's detail tables."""
    valuation, _ = valued_month(month)
    cells = valuation.cells
    cells = filter_cells(cells, filters)
    # as in build_report: a filtered report cannot say whose unallocated cost it would be
    unallocated = 0.0 if filters else valuation.unallocated_total
    return summarize(cells, group), totals(cells, unallocated)


def _cohort_rows(cohorts: pd.DataFrame, group: tuple[str, ...]) -> dict[tuple, dict[str, Any]]:
    rows = {}
    for record in cohorts.to_dict("records"):
        rows[tuple(str(record[name]) for name in group)] = record
    return rows


@blueprint.get("/roi/trend", summary="A series per cohort per month", responses={200: Trend})
def roi_trend(query: TrendQuery) -> Response:
    """For each cohort, one point per month from `from` to `to` (inclusive) with the requested metrics.

    A cohort has a point for each month in which it has data; `periods` lists every month
    and `totals` has one point per month, equal to that month's report totals (a month
    without data still carries its unallocated fixed costs). A `from` after `to` gives no months."""
    group_by = _group_by(query.group_by)
    filters = _filters(query.filter_values())
    metrics = list(dict.fromkeys(query.metrics.split(","))) if query.metrics else list(DEFAULT_TREND_METRICS)
    last = Period.parse(query.to, "to") if query.to else None
    if last is None:
        with_data = _months_with_data()
        last = max(with_data) if with_data else None
    first = Period.parse(query.from_, "from") if query.from_ else None
    if first is None and last is not None:
        first = last
        for _ in range(11):
            if first > Period(1900, 1):
                first = first.previous()
    key = (first, last, tuple(group_by) if group_by is not None else None, _frozen(filters), tuple(metrics))
    return cached_answer(key, lambda: _trend_document(first, last, group_by, filters, metrics))

