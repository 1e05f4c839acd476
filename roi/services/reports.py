"""Reports: one function answers a period's report for any grouping and filters, open or closed
month; one renders it in a format. The CLI, the API, the scheduler and the demo all come here.

A closed month asked in the config's grouping without filters is its stored revision, byte for
byte; any other question on it, and every question on an open month, is answered from the
month's valued cells (services.valued) as they stand now.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from ..config import Settings
from ..domain import REPORT_METRICS, UNATTRIBUTED, Period
from ..errors import UsageError
from ..reporting.csv_report import render_csv
from ..reporting.frame import CohortTable, ModelVersionInUse, ReportFrame
from ..reporting.json_report import render_json, report_document
from ..reporting.workbook import MEDIA_TYPE as XLSX_MEDIA_TYPE
from ..store import Store, revisions
from .files import write_atomically
from .periods import PeriodState
from .valued import ValuedMonths
from .workbook import workbook_for

FORMATS = ("xlsx", "csv", "json")
MEDIA_TYPES = {"xlsx": XLSX_MEDIA_TYPE, "csv": "text/csv; charset=utf-8", "json": "application/json"}


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise UsageError(f"format: {fmt!r} is not one of {', '.join(FORMATS)}", "format")
    return fmt


def split_values(text: str) -> list[str]:
    """A filter's values, separated by commas: `\\,` is a comma inside a value and `\\\\` a backslash
    (any other backslash stands for itself), e.g. `Acme\\, Inc.,globex` is "Acme, Inc." and "globex"."""
    values: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            current.append(char if char in ",\\" else "\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            values.append("".join(current))
            current = []
        else:
            current.append(char)
    current.append("\\" if escaped else "")
    values.append("".join(current))
    return values


def parse_filters(settings: Settings, raw: dict[str, str] | None) -> dict[str, list[str]]:
    """`{dimension: "a,b"}` into value lists (`\\,`: a comma inside a value, see split_values); every
    dimension must be stored."""
    filters: dict[str, list[str]] = {}
    for name, text in (raw or {}).items():
        if name not in settings.dimensions:
            raise UsageError(
                f"{name}: not a stored dimension to filter on; allowed: {', '.join(settings.dimensions)}", name
            )
        values = [part.strip() for part in split_values(str(text))]
        if not any(values) and text != "":
            raise UsageError(f"{name}: {text!r} names no value", name)
        filters[name] = ["" if value == UNATTRIBUTED else value for value in values]
    return filters


def grouping(settings: Settings, group_by: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    group = tuple(settings.report.group_by if group_by is None else group_by)
    for name in group:
        if name not in settings.dimensions:
            raise UsageError(
                f"group_by: {name!r} is not a stored dimension; allowed: {', '.join(settings.dimensions)}", "group_by"
            )
    return group


def build_report(
    settings: Settings,
    store: Store,
    period: Period,
    group_by: list[str] | tuple[str, ...] | None = None,
    filters: dict[str, list[str]] | None = None,
    *,
    months: ValuedMonths | None = None,
    version: str | None = None,
    detail: bool = True,
) -> ReportFrame:
    """A month's report frame as its data stands now: the one source of the JSON, CSV and workbook.

    `version`: the store's data version, when the caller knows it; `detail=False` leaves out the
    valuation grain (cohort x model version) and the versions in use, which only the workbook shows."""
    group = grouping(settings, group_by)
    month = (months or ValuedMonths(settings, store)).get(period, version)
    filters = dict(filters or {})
    labels, figures, totals = month.answer(group, filters)
    used = []
    for item in month.versions_used(filters) if detail else ():
        model = settings.value_models[item.model]
        found = next(v for v in model.versions if v.effective_from.isoformat() == item.effective_from)
        used.append(ModelVersionInUse(item.model, model.description, found))
    return ReportFrame(
        period=period,
        currency=settings.service.currency,
        timezone=settings.service.timezone,
        group_by=group,
        config_hash=settings.config_hash,
        data_fingerprint=month.fingerprint,
        generated_at=datetime.now(UTC),
        table=CohortTable(labels, {name: figures[name] for name in REPORT_METRICS}),
        totals=totals,
        detail=month.detail(group, filters) if detail else month.no_detail(group),
        # a filtered report cannot say whose unallocated cost it would be, so it carries none
        unallocated={} if filters else dict(month.unallocated),
        fixed_costs=month.fixed_costs,
        versions=tuple(used),
        filters=filters,
    )


@dataclass(frozen=True, slots=True)
class PeriodReport:
    """The answer to "the report for this period, grouping and filters"."""

    state: PeriodState
    frame: ReportFrame | None  # None: the closed month's stored revision is the answer
    note: str | None = None  # what a person should know about where the figures come from

    @property
    def period(self) -> Period:
        return self.state.period

    @property
    def has_data(self) -> bool:
        """False: the month has no stored data at all (its figures are only fixed costs, unallocated);
        a stored revision always has."""
        return self.frame is None or self.frame.has_data

    @property
    def warning(self) -> str | None:
        """What a person must be warned of: a month with no data is not a month of losses."""
        if self.has_data or self.frame is None:
            return None
        unallocated = sum(self.frame.unallocated.values())
        carried = (f"; its fixed costs ({unallocated:,.2f} {self.frame.currency}) are shown as unallocated"
                   if unallocated else "")
        return f"{self.period} has no data: no cohorts{carried}"


def report(
    settings: Settings,
    store: Store,
    period: Period,
    group_by: list[str] | tuple[str, ...] | None = None,
    filters: dict[str, list[str]] | None = None,
    *,
    months: ValuedMonths | None = None,
    version: str | None = None,
    formats: tuple[str, ...] = FORMATS,
    current: bool = False,
) -> PeriodReport:
    """A period's report: a closed month asked in its revision's grouping without filters is that
    revision; anything else is built from the data and config of now (`current`: a closed month
    too, as the figures that bands are drawn around must be).

    `months` keeps valued months between questions (the API's); `version` is the store's data
    version when the caller knows it; `formats`: what the answer will be rendered as (the
    workbook needs the valuation detail, JSON and CSV do not)."""
    group = grouping(settings, group_by)
    months = months or ValuedMonths(settings, store)
    state = months.state(period, version)
    detail = "xlsx" in formats

    def build() -> ReportFrame:
        return build_report(settings, store, period, group, filters, months=months, version=version, detail=detail)

    if not state.closed:
        return PeriodReport(state, build())
    closed = f"{period} is closed (revision {state.revision}, {state.closed_at:%Y-%m-%d %H:%M} UTC)"
    if filters or group != state.group_by or current:
        what = "this report" if current else "this grouping"
        note = f"{closed}; {what} is computed from today's data and config, not the revision"
        return PeriodReport(state, build(), note)
    if state.late_rows or state.late_cost:
        note = (f"{closed}: {state.late_rows:,} rows and {state.late_cost:,.2f} {settings.service.currency} of "
                f"token cost arrived after the close and are not in this report; "
                f"roi close --period {period} --revise issues revision {state.revision + 1} with them")
    else:
        note = f"{closed}: served as stored"
    return PeriodReport(state, None, note)


def render(settings: Settings, store: Store, frame: ReportFrame, fmt: str, *, revision: Any = None,
           months: ValuedMonths | None = None) -> bytes:
    """A report frame in one of the export formats (the workbook with its trend and data quality)."""
    check_format(fmt)
    if fmt == "json":
        return render_json(frame)
    if fmt == "csv":
        return render_csv(frame).encode()
    return workbook_for(settings, store, frame, revision=revision, months=months)


def content(settings: Settings, store: Store, answer: PeriodReport, fmt: str, *,
            months: ValuedMonths | None = None) -> bytes:
    """The answer's bytes in a format: a stored revision's as stored, a frame rendered now."""
    check_format(fmt)
    if answer.frame is None:
        return revisions.revision_content(store.engine, str(answer.period), answer.state.revision, fmt)
    return render(settings, store, answer.frame, fmt, months=months)


def document(store: Store, answer: PeriodReport, *, sort: str | None = None,
             limit: int | None = None, compact: bool = False) -> tuple[dict[str, Any], int]:
    """The answer as the JSON document (a stored revision's carries state, revision and closed_at),
    its cohorts by `sort` ('-' first: descending, undefined figures last) and only the first
    `limit`; and how many cohorts there are in all (the totals cover them all). `compact`: for
    an answer written without indentation (json_report.report_document)."""
    if answer.frame is None:
        found = json.loads(revisions.revision_content(store.engine, str(answer.period), answer.state.revision,
                                                      "json"))
        total = len(found["cohorts"])
        found["cohorts"] = sort_records(found["cohorts"], sort, limit)
        return found, total
    frame = answer.frame
    total = len(frame.table)
    if sort or limit is not None:
        frame = dataclasses.replace(frame, table=frame.table.ordered(sort, limit), _made={})
    return report_document(frame, compact=compact), total


def sort_records(cohorts: list[dict[str, Any]], sort: str | None, limit: int | None) -> list[dict[str, Any]]:
    """Cohort records as CohortTable.ordered orders a table."""
    if sort:
        name = sort.lstrip("-")
        known = [cohort for cohort in cohorts if cohort[name] is not None]
        unknown = [cohort for cohort in cohorts if cohort[name] is None]
        cohorts = sorted(known, key=lambda cohort: cohort[name], reverse=sort.startswith("-")) + unknown
    return cohorts if limit is None else cohorts[:limit]


@dataclass(frozen=True, slots=True)
class Export:
    """One month's report in one format, ready to send or write."""

    content: bytes
    media_type: str
    filename: str
    etag: str  # unquoted entity tag
    revision: int | None  # the closed revision served, None for an open month built now
    has_data: bool = True  # False: the month has no stored data (no cohorts, fixed costs unallocated)


def export(settings: Settings, store: Store, period: Period, fmt: str, *,
           months: ValuedMonths | None = None) -> Export:
    """A month's report file: a closed month's stored bytes (identical every time, in its revision's
    grouping), an open month built now in the config's grouping."""
    check_format(fmt)
    months = months or ValuedMonths(settings, store)
    state = months.state(period)
    if state.closed:
        answer = PeriodReport(state, None)
    else:
        answer = report(settings, store, period, months=months, formats=(fmt,))
    data = content(settings, store, answer, fmt, months=months)
    if answer.frame is None:
        revision = answer.state.revision
        return Export(data, MEDIA_TYPES[fmt], f"roi-{period}-r{revision}.{fmt}",
                      hashlib.sha256(data).hexdigest()[:32], revision)
    return Export(data, MEDIA_TYPES[fmt], f"roi-{period}.{fmt}", _open_etag(store, answer.frame, fmt), None,
                  answer.has_data)


def _open_etag(store: Store, frame: ReportFrame, fmt: str) -> str:
    """What an open month's export depends on, hashed (its bytes differ by the generation time alone).

    The workbook also shows earlier months (closed ones as stored) and the ingest log, so those are in too.
    """
    parts = [fmt, str(frame.period), ",".join(frame.group_by), frame.config_hash, frame.data_fingerprint,
             version("roi")]
    if fmt == "xlsx":
        parts += [f"{key}:{item.revision}" for key, item in sorted(revisions.latest_revisions(store.engine).items())]
        parts += [f"{batch.id}:{batch.finished_at}:{batch.label}" for batch in store.batches()]  # (a moved file's label)
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def default_report_path(settings: Settings, period: Period, extension: str) -> Path:
    return Path(settings.service.reports_dir) / str(period) / f"roi-{period}.{extension}"


def write_reports(settings: Settings, store: Store, period: Period, formats=("json", "csv", "xlsx")) -> list[Path]:
    """Write a month's reports to reports/YYYY-MM/ (a closed month: its stored revision), each atomically."""
    written = []
    months = ValuedMonths(settings, store)
    for extension in formats:
        path = default_report_path(settings, period, extension)
        write_atomically(path, export(settings, store, period, extension, months=months).content)
        written.append(path)
    return written
