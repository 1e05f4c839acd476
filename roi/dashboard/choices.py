"""A view's choices, all in its URL so it can be bookmarked: period, grouping, filters, sort, page.

`?period=2026-10&group_by=tenant,channel&channel=web,email&sort=-roi&page=2&per_page=50`: a
stored dimension's name filters on its values (comma-separated; `(unattributed)` is the missing
value), as in `GET /api/v1/roi`. A parameter the view does not take is refused, naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from werkzeug.datastructures import MultiDict

from ..config import Settings
from ..domain import Period, parse_group_by
from ..errors import UsageError
from ..services import reports
from ..services.cohort_table import DEFAULT_SORT, PAGE_SIZES, check_sort

COMMON = ("period",)
TABLE = ("period", "group_by", "sort", "page", "per_page")


@dataclass(frozen=True, slots=True)
class Choices:
    period: Period | None  # None: no month has data
    group_by: tuple[str, ...]
    raw_filters: dict[str, str] = field(default_factory=dict)  # as given, for links
    filters: dict[str, list[str]] = field(default_factory=dict)  # '' for (unattributed)
    sort: str = DEFAULT_SORT
    page: int = 1
    per_page: int = 50
    grouped: bool = False  # group_by was given (else the config's grouping)

    def query(self, **changes: object) -> str:
        """This view's query string with some choices changed (None drops one)."""
        params: dict[str, object] = {}
        if self.period is not None:
            params["period"] = str(self.period)
        if self.grouped:
            params["group_by"] = ",".join(self.group_by)
        params.update(self.raw_filters)
        if self.sort != DEFAULT_SORT:
            params["sort"] = self.sort
        if self.page != 1:
            params["page"] = self.page
        if self.per_page != 50:
            params["per_page"] = self.per_page
        params.update(changes)
        return urlencode({key: value for key, value in params.items() if value is not None and value != ""})


def _one(args: MultiDict, name: str) -> str | None:
    values = args.getlist(name)
    if len(values) > 1:
        raise UsageError(f"{name}: given {len(values)} times; give it once, values separated by commas", name)
    return values[0] if values else None


def _number(args: MultiDict, name: str, default: int) -> int:
    text = _one(args, name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{name}: {text!r} is not a whole number", name) from None


def read_choices(settings: Settings, latest: Callable[[], Period | None], args: MultiDict, *,
                 takes: tuple[str, ...], filters: bool = False) -> Choices:
    """The choices of `args` for a view that takes the parameters `takes` (and filters, if `filters`);
    without a period, the latest month with data (`latest()`)."""
    for name in args:
        if name not in takes and not (filters and name in settings.dimensions):
            allowed = ", ".join([*takes, *(settings.dimensions if filters else ())])
            raise UsageError(f"{name}: this page does not take it; it takes {allowed}", name)
    text = _one(args, "period")
    period = Period.parse(text) if text else latest()
    # a form's checkboxes send group_by once per dimension, and a multiple select a filter once per value
    group_text = ",".join(args.getlist("group_by")) if "group_by" in args else None
    if group_text is None:
        group = tuple(settings.report.group_by)
    else:
        group = tuple(parse_group_by(",".join(dict.fromkeys(p for p in group_text.split(",") if p)),
                                     settings.dimensions))
    raw = {name: ",".join(value for value in args.getlist(name) if value)
           for name in settings.dimensions if filters and name in args}
    raw = {name: value for name, value in raw.items() if value != ""}
    parsed = reports.parse_filters(settings, raw)
    sort = check_sort(_one(args, "sort")) if "sort" in takes else DEFAULT_SORT
    per_page = _number(args, "per_page", 50) if "per_page" in takes else 50
    if per_page not in PAGE_SIZES:
        raise UsageError(f"per_page: {per_page} is not one of {', '.join(map(str, PAGE_SIZES))}", "per_page")
    page = _number(args, "page", 1) if "page" in takes else 1
    if page < 1:
        raise UsageError(f"page: {page} is not a page number (1 or more)", "page")
    return Choices(period, group, raw, parsed, sort, page, per_page, grouped=group_text is not None)
