"""A page of the cohort table (a period, grouping, filters, sort) and the file of exactly that page.

The dashboard's Cohorts page and its CSV and xlsx downloads come here, so what is downloaded
is what was shown. The figures are those of `GET /api/v1/roi` with the same period, grouping,
filters and `sort`, and `limit` = the last cohort of the page: the page is that answer's
cohorts from the page's first on (services.reports.report and document, as the API calls them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..domain import MONEY_METRICS, PERCENT_METRICS, REPORT_METRICS, Period, display_dimension
from ..errors import UsageError
from ..reporting.table_file import TableColumn, table_csv, table_xlsx
from ..store import Store
from . import reports
from .valued import ValuedMonths

PAGE_SIZES = (25, 50, 100, 500)
DEFAULT_SORT = "-net_value"

# The metric columns a person reads first, in the order shown.
SHOWN_METRICS = (
    "requests", "cases", "net_resolved", "token_cost", "total_cost", "failure_cost", "value", "net_value", "roi",
    "cost_per_resolved_case", "resolution_rate", "escalation_rate", "unpriced_requests",
)


@dataclass(frozen=True, slots=True)
class CohortPage:
    """The cohorts of one page, the totals over every cohort the filters keep, and how many there are."""

    period: Period
    group_by: tuple[str, ...]
    filters: dict[str, list[str]]
    sort: str
    page: int
    per_page: int
    cohorts: list[dict[str, Any]]  # as the API's records: {"cohort": {...}, metric: value, ...}
    totals: dict[str, Any]
    total: int  # cohorts in all
    currency: str
    config_hash: str
    unallocated: list[dict[str, Any]]
    has_data: bool
    note: str | None
    warning: str | None

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def first(self) -> int:
        """The 1-based number of the page's first cohort."""
        return (self.page - 1) * self.per_page + 1


def check_sort(sort: str | None) -> str:
    sort = sort or DEFAULT_SORT
    if sort.lstrip("-") not in REPORT_METRICS:
        raise UsageError(f"sort: {sort!r} is not a metric (with '-' first for descending)", "sort")
    return sort


def cohort_page(settings: Settings, store: Store, months: ValuedMonths, period: Period,
                group_by: list[str] | tuple[str, ...] | None, filters: dict[str, list[str]], *,
                sort: str | None = None, page: int = 1, per_page: int = 50, version: str | None = None) -> CohortPage:
    sort = check_sort(sort)
    if per_page not in PAGE_SIZES:
        raise UsageError(f"per_page: {per_page} is not one of {', '.join(map(str, PAGE_SIZES))}", "per_page")
    if page < 1:
        raise UsageError(f"page: {page} is not a page number (1 or more)", "page")
    answer = reports.report(settings, store, period, group_by, filters, months=months, version=version,
                            formats=("json",))
    document, total = reports.document(store, answer, sort=sort, limit=page * per_page)
    return CohortPage(
        period=period,
        group_by=tuple(document["group_by"]),
        filters=filters,
        sort=sort,
        page=page,
        per_page=per_page,
        cohorts=list(document["cohorts"][(page - 1) * per_page:]),
        totals=document["totals"],
        total=total,
        currency=document["currency"],
        config_hash=document["config_hash"],
        unallocated=document.get("unallocated_fixed_costs", []),
        has_data=answer.has_data,
        note=answer.note,
        warning=answer.warning,
    )


def _columns(page: CohortPage) -> list[TableColumn]:
    return ([TableColumn(name, name, "text") for name in page.group_by]
            + [TableColumn(name, name, kind_of(name)) for name in SHOWN_METRICS])


def kind_of(name: str) -> str:
    """How a metric is shown: money, percent (a ratio) or count."""
    if name in MONEY_METRICS:
        return "money"
    if name in PERCENT_METRICS:
        return "percent"
    return "count"


def page_file(page: CohortPage, fmt: str) -> tuple[bytes, str, str]:
    """The page as shown (its cohorts, then the totals of every cohort the filters keep) as CSV or xlsx:
    the bytes, the media type and a file name."""
    if fmt not in ("csv", "xlsx"):
        raise UsageError(f"format: {fmt!r} is not csv or xlsx", "format")
    columns = _columns(page)
    rows = [[display_dimension(record["cohort"].get(column.name, "")) if column.kind == "text"
             else record.get(column.name)
             for column in columns] for record in page.cohorts]
    totals: list[Any] = [page.totals.get(column.name) if column.kind != "text" else "" for column in columns]
    if page.group_by:
        totals[0] = f"(total of {page.total} cohorts)"
    name = f"roi-{page.period}-cohorts-p{page.page}.{fmt}"
    if fmt == "csv":
        return table_csv(columns, rows, totals).encode(), reports.MEDIA_TYPES["csv"], name
    title = f"ROI per cohort, {page.period} ({page.currency})"
    return table_xlsx(title, columns, rows, totals), reports.MEDIA_TYPES["xlsx"], name


def month_values(settings: Settings, months: ValuedMonths, period: Period,
                 version: str | None = None) -> dict[str, list[str]]:
    """Each stored dimension's values in the month ('' is unattributed), sorted: what its filters can pick.
    Read from the valued month, which holds them already (no query of the store)."""
    month = months.get(period, version)
    return {name: [str(value) for value in month.dims[name].values] for name in settings.dimensions}
