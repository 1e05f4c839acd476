"""Reports with what lies beyond the single number: bands, sensitivity and the change bridge.

Bands surround the figures of today's data and config, so a report that carries them is built
from those for a closed month too, never taken from its stored revision (whose data may differ:
late rows, another config). The API's `/roi?uncertainty=true`, `roi report --uncertainty` and the
dashboard's Risk page all get their report here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..config import Settings
from ..domain import Period
from ..store import Store
from . import reports
from .risk import bands as drawn_bands
from .risk import change_bridge, changes_document, grouping, merge_bands, sensitivity_document, tornado
from .valued import ValuedMonths


def current_report(settings: Settings, store: Store, period: Period, group_by: Sequence[str] | None,
                   filters: dict[str, list[str]] | None, *, months: ValuedMonths | None = None,
                   version: str | None = None) -> reports.PeriodReport:
    """The report that bands, sensitivity and the bridge describe: from today's data and config,
    for a closed month too (its stored revision may hold other data: late rows, another config)."""
    return reports.report(settings, store, period, group_by, filters, months=months, version=version,
                          formats=("json",), current=True)


def banded_report(settings: Settings, store: Store, period: Period, group_by: Sequence[str] | None,
                  filters: dict[str, list[str]] | None, *, months: ValuedMonths | None = None,
                  version: str | None = None, sort: str | None = None,
                  limit: int | None = None) -> tuple[reports.PeriodReport, dict[str, Any], int]:
    """The report document with each cohort's and the totals' bands (`/roi?uncertainty=true`):
    the answer, the document and how many cohorts it has before `limit`."""
    group = grouping(settings, group_by)
    months = months or ValuedMonths(settings, store)
    answer = current_report(settings, store, period, group, filters, months=months, version=version)
    document, total = reports.document(store, answer, sort=sort, limit=limit)
    merge_bands(document, drawn_bands(settings, store, period, group, filters, months=months, version=version), group)
    return answer, document, total


def analysis_report(settings: Settings, store: Store, period: Period, group_by: Sequence[str] | None,
                    filters: dict[str, list[str]] | None, *, sort: str | None = None,
                    limit: int | None = None) -> tuple[reports.PeriodReport, dict[str, Any]]:
    """Everything beyond the single number (`roi report --uncertainty`): the banded report with
    `sensitivity` and `changes` as the API's documents give them."""
    group = grouping(settings, group_by)
    months = ValuedMonths(settings, store)
    answer, document, _total = banded_report(settings, store, period, group, filters, months=months, sort=sort,
                                             limit=limit)
    found = sensitivity_document(settings, period, group, filters,
                                 tornado(settings, store, period, group, filters, months=months))
    document["sensitivity"] = {"parameters": found["parameters"], "cohorts": found["cohorts"]}
    found = changes_document(settings, period, group, filters,
                             change_bridge(settings, store, period, group, filters, months=months))
    document["changes"] = {name: found[name] for name in ("previous_period", "effects", "cohorts", "totals")}
    return answer, document
