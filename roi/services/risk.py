"""Beyond a single number: bands, sensitivity, break-even and the change bridge of a question.

Each answers the same question as services.reports.report (a period, a grouping, filters)
from the same valued months (services.valued), so their point figures are the report's.
A closed month is answered from the data and config of now, like any grouping of it other
than its revision's; the documents say `"basis": "current"`. A report with bands is built the
same way (services.analysis), so each band surrounds the figure beside it, never a stored revision's.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from ..config import Settings
from ..domain import Period, json_number
from ..store import Store
from ..valuation.changes import EFFECTS, ChangeBridge, bridge
from ..valuation.linear import linear_form
from ..valuation.sensitivity import Sensitivity, sensitivity
from ..valuation.uncertainty import BAND_METRICS, Bands, simulate
from .valued import ValuedMonths

__all__ = ["BAND_METRICS", "EFFECTS", "bands", "change_bridge", "changes_document", "merge_bands",
           "sensitivity_document", "tornado"]


def grouping(settings: Settings, group_by: Sequence[str] | None) -> tuple[str, ...]:
    """The question's grouping (checked by its caller: services.reports.grouping, the API's parser)."""
    return tuple(settings.report.group_by if group_by is None else group_by)


def _month(settings: Settings, store: Store, period: Period, months: ValuedMonths | None, version: str | None):
    return (months or ValuedMonths(settings, store)).get(period, version)


def bands(settings: Settings, store: Store, period: Period, group_by: Sequence[str] | None = None,
          filters: dict[str, list[str]] | None = None, *, months: ValuedMonths | None = None,
          version: str | None = None, only: Collection[tuple[str, ...]] | None = None) -> Bands:
    """Monte Carlo bands of net value and ROI per cohort and in total ([uncertainty] draws, seed).
    `only`: the cohorts (their values in the grouping's order) whose bands are wanted, e.g. a page of
    a table; the others' are NaN, the totals and theirs the same as without `only`."""
    group = grouping(settings, group_by)
    month = _month(settings, store, period, months, version)
    form = linear_form(month, settings.value_models, group, filters)
    options = settings.uncertainty
    unallocated = 0.0 if filters else float(sum(month.unallocated.values()))
    mask = None
    if only is not None:
        wanted = set(only)
        keys = zip(*(form.labels[name].tolist() for name in group), strict=True) if group else iter([()] * len(form))
        mask = np.fromiter((key in wanted for key in keys), dtype=bool, count=len(form))
    return simulate(form, draws=options.draws, seed=options.seed, outcome_rates=options.outcome_rates,
                    unallocated=unallocated, only=mask)


def tornado(settings: Settings, store: Store, period: Period, group_by: Sequence[str] | None = None,
            filters: dict[str, list[str]] | None = None, *, months: ValuedMonths | None = None,
            version: str | None = None) -> Sensitivity:
    """Net value at each uncertain parameter's low and high, and break-even per cohort."""
    group = grouping(settings, group_by)
    month = _month(settings, store, period, months, version)
    form = linear_form(month, settings.value_models, group, filters)
    return sensitivity(form, float(month.totals(filters)["net_value"]))


def change_bridge(settings: Settings, store: Store, period: Period, group_by: Sequence[str] | None = None,
                  filters: dict[str, list[str]] | None = None, *, months: ValuedMonths | None = None,
                  version: str | None = None) -> ChangeBridge:
    """The change in net value per cohort since the previous month, split into effects."""
    group = grouping(settings, group_by)
    months = months or ValuedMonths(settings, store)
    return bridge(months.get(period.previous(), version), months.get(period, version), group, filters)


# ------------------------------------------------------------------ JSON documents


def _cohorts(labels: dict[str, np.ndarray], group: Sequence[str], count: int) -> list[dict[str, str]]:
    columns = [labels[name].tolist() for name in group]
    return [dict(zip(group, key, strict=True)) for key in zip(*columns, strict=True)] if group \
        else [{} for _ in range(count)]


def _head(settings: Settings, period: Period, group: Sequence[str], filters: dict[str, list[str]] | None) -> dict:
    return {"period": str(period), "currency": settings.service.currency, "group_by": list(group),
            "filters": dict(filters or {}), "config_hash": settings.config_hash, "basis": "current"}


def _number(value: Any) -> float | None:
    return json_number("net_value", value)


def bands_meta(result: Bands) -> dict[str, Any]:
    return {"draws": result.draws, "seed": result.seed, "outcome_rates": result.outcome_rates,
            "parameters": list(result.parameters), "quantiles": [5, 50, 95], "basis": "current"}


def merge_bands(document: dict[str, Any], result: Bands, group: Sequence[str]) -> dict[str, Any]:
    """A report document with each cohort's and the totals' bands (null for a cohort the bands lack)."""
    keys = _cohorts(result.labels, group, len(next(iter(result.figures.values()))))
    position = {tuple(key[name] for name in group): index for index, key in enumerate(keys)}
    columns = {name: values.tolist() for name, values in result.figures.items()}
    for record in document["cohorts"]:
        index = position.get(tuple(record["cohort"].get(name, "") for name in group))
        for name in BAND_METRICS:
            record[name] = None if index is None else _number(columns[name][index])
    document["totals"].update({name: _number(value) for name, value in result.totals.items()})
    document["uncertainty"] = bands_meta(result)
    return document


def sensitivity_document(settings: Settings, period: Period, group_by: Sequence[str] | None, filters,
                         result: Sensitivity) -> dict[str, Any]:
    group = grouping(settings, group_by)
    parameters = [{
        "parameter": swing.parameter, "model": swing.model, "assumption": swing.assumption,
        "versions": [{"effective_from": effective, "low": low, "point": point, "high": high}
                     for effective, low, point, high in swing.ranges],
        "net_value_low": swing.total_low, "net_value_high": swing.total_high, "swing": swing.total_swing,
    } for swing in result.swings]
    cohorts = []
    for index, key in enumerate(_cohorts(result.labels, group, len(result.net_value))):
        rows = []
        for position in result.cohort_order(index):
            swing = result.swings[position]
            low, high = float(swing.net_value_low[index]), float(swing.net_value_high[index])
            rows.append({"parameter": swing.parameter, "net_value_low": low, "net_value_high": high,
                         "swing": abs(high - low)})
        cohorts.append({"cohort": key, "net_value": _number(result.net_value[index]),
                        "break_even_value_per_resolution": _number(result.break_even[index]), "tornado": rows})
    return {**_head(settings, period, group, filters), "parameters": parameters,
            "totals": {"net_value": result.total_net_value}, "cohorts": cohorts}


def changes_document(settings: Settings, period: Period, group_by: Sequence[str] | None, filters,
                     result: ChangeBridge) -> dict[str, Any]:
    group = grouping(settings, group_by)
    columns = {"net_value_previous": result.previous.tolist(), "net_value": result.current.tolist(),
               "change": result.change.tolist(), **{name: result.effects[name].tolist() for name in EFFECTS}}
    cohorts = [{"cohort": key, **{name: values[index] for name, values in columns.items()}}
               for index, key in enumerate(_cohorts(result.labels, group, len(result.previous)))]
    totals = result.totals
    return {**_head(settings, period, group, filters), "previous_period": str(period.previous()),
            "effects": list(EFFECTS), "cohorts": cohorts,
            "totals": {"net_value_previous": totals["previous"], "net_value": totals["current"],
                       "change": totals["change"], **{name: totals[name] for name in EFFECTS}}}
