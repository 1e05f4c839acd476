"""GET /api/v1/roi and /api/v1/roi/trend: the report of DESIGN section 7, and a series per cohort."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response

from ..domain import Period, parse_group_by
from ..services import analysis, reports, risk, trend
from .context import api_blueprint, cached_answer, data_version, runtime
from .risk_schemas import ChangesReport, SensitivityReport
from .schemas import AnalysisQuery, RoiQuery, RoiReport, Trend, TrendQuery

blueprint = api_blueprint("roi", __name__, "ROI per cohort: one month, or a trend over months.")


def _group_by(text: str | None) -> list[str] | None:
    if text is None:
        return None
    # a name given twice means the same grouping: accepted, like the schema says
    names = list(dict.fromkeys(part for part in text.split(",") if part))
    return parse_group_by(",".join(names), runtime().settings.dimensions)


def _filters(raw: dict[str, str]) -> dict[str, list[str]]:
    return reports.parse_filters(runtime().settings, raw) if raw else {}


@blueprint.get("/roi", summary="One month's ROI per cohort", responses={200: RoiReport})
def roi_report(query: RoiQuery) -> Response:
    """Every metric per cohort, the totals and the config hash; equal to `roi report --format json`.

    A closed month, asked in the config's grouping without filters, is its stored revision
    (with `state`, `revision` and `closed_at`). With `sort` and `limit`, `cohorts` holds the
    first `limit` cohorts after sorting, and `totals` still covers every cohort the filters
    keep (the header X-Total-Count says how many there are). With `uncertainty=true`, each cohort
    and the totals carry Monte Carlo bands of net value and ROI and the probability that net value
    is above 0 (docs/metrics.md, "Uncertainty"), computed from today's data and config: a closed
    month's report is then built from them too (`uncertainty.basis` is "current"), so each band
    surrounds the figure beside it."""
    period = Period.parse(query.period)
    group_by = _group_by(query.group_by)
    filters = _filters(query.filter_values())

    def render() -> dict[str, Any]:
        state = runtime()
        if query.uncertainty:  # (a closed month too is built from today's data: the bands' figures)
            _answer, document, total = analysis.banded_report(state.settings, state.store, period, group_by, filters,
                                                          months=state.months, version=data_version(),
                                                          sort=query.sort, limit=query.limit)
        else:
            answer = reports.report(state.settings, state.store, period, group_by, filters, months=state.months,
                                    version=data_version(), formats=("json",))
            document, total = reports.document(state.store, answer, sort=query.sort, limit=query.limit,
                                               compact=True)
        document["_total"] = total
        return document

    def headers(document: dict[str, Any]) -> dict[str, str]:
        return {"X-Total-Count": str(document.pop("_total"))}

    key = (period, tuple(group_by) if group_by is not None else None, _frozen(filters), query.sort, query.limit,
           _uncertainty_key() if query.uncertainty else None)
    return cached_answer(key, render, headers=headers)


def _uncertainty_key() -> tuple:
    options = runtime().settings.uncertainty
    return (options.draws, options.seed, options.outcome_rates)


@blueprint.get("/roi/sensitivity", summary="Tornado data and break-even per cohort",
               responses={200: SensitivityReport})
def roi_sensitivity(query: AnalysisQuery) -> Response:
    """For each uncertain assumption (a value model's range), the total and each cohort's net value at
    its low and at its high with every other assumption at its point value, largest swing first;
    and per cohort the value per resolution at which its net value is 0."""
    return _analysis(query, risk.tornado, risk.sensitivity_document)


@blueprint.get("/roi/changes", summary="Why net value changed since the previous month",
               responses={200: ChangesReport})
def roi_changes(query: AnalysisQuery) -> Response:
    """Per cohort, the change in net value from the previous month split into effects that add up to
    it: volume, outcome mix, unit cost, assumptions and fixed-cost share (docs/metrics.md, "What
    changed"). A cohort in only one of the months has 0 for the other."""
    return _analysis(query, risk.change_bridge, risk.changes_document)


def _analysis(query: AnalysisQuery, compute: Callable[..., Any],
              document: Callable[..., dict[str, Any]]) -> Response:
    """One analysis of the valued months for a period, grouping and filters, as a cached JSON answer."""
    period = Period.parse(query.period)
    group_by = _group_by(query.group_by)
    filters = _filters(query.filter_values())

    def render() -> dict[str, Any]:
        state = runtime()
        result = compute(state.settings, state.store, period, group_by, filters, months=state.months,
                         version=data_version())
        return document(state.settings, period, group_by, filters, result)

    key = (period, tuple(group_by) if group_by is not None else None, _frozen(filters))
    return cached_answer(key, render)


def _frozen(filters: dict[str, list[str]]) -> tuple:
    return tuple(sorted((name, tuple(values)) for name, values in filters.items()))


# ------------------------------------------------------------------ trend


@blueprint.get("/roi/trend", summary="A series per cohort per month", responses={200: Trend})
def roi_trend(query: TrendQuery) -> Response:
    """For each cohort, one point per month from `from` to `to` (inclusive) with the requested metrics.

    A cohort has a point for each month in which it has data; `periods` lists every month
    and `totals` has one point per month, equal to that month's report totals (a month
    without data still carries its unallocated fixed costs). A `from` after `to` gives no months."""
    group_by = _group_by(query.group_by)
    filters = _filters(query.filter_values())
    metrics = list(dict.fromkeys(query.metrics.split(","))) if query.metrics else list(trend.DEFAULT_METRICS)
    state = runtime()
    last = Period.parse(query.to, "to") if query.to else None
    first = Period.parse(query.from_, "from") if query.from_ else None
    first, last = trend.default_range(state.months, first, last)
    key = (first, last, tuple(group_by) if group_by is not None else None, _frozen(filters), tuple(metrics))
    return cached_answer(key, lambda: trend.trend(state.settings, state.months, first, last, group_by, filters,
                                                  metrics))

