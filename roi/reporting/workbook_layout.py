"""The workbook as plain data: sheets of cells with named styles, charts, and what feeds them.

Nothing here imports openpyxl. The sheet builders (excel_sheets, excel_pages)
produce a `Layout`; `excel.render_layout` is the one renderer that turns it
into openpyxl calls. A plain `str` value is always written as text (never a
formula, whatever it starts with); only a `Formula` is written as a formula.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..domain import Period, display_dimension


class Formula(str):
    """An Excel formula, '=' included. Built only from our own references, never from data text."""

    __slots__ = ()


@dataclass(slots=True)
class Cell:
    value: Any = None
    style: str | None = None


Row = list[Cell | None]


@dataclass(frozen=True, slots=True)
class Series:
    title: str  # a cell reference ('Trend'!$A$5) or a literal title
    values: str  # a range reference
    title_is_ref: bool = True


@dataclass(slots=True)
class Chart:
    kind: str  # "bar" | "line"
    title: str
    anchor: str
    categories: str
    series: list[Series]
    y_title: str = ""
    x_title: str = ""
    y_format: str = "General"
    width: float = 24.0  # centimetres
    height: float = 12.0
    horizontal: bool = False


@dataclass(slots=True)
class Sheet:
    title: str
    rows: list[Row] = field(default_factory=list)
    widths: dict[int, float] = field(default_factory=dict)  # 1-based column -> width in characters
    freeze: str | None = None
    autofilter: str | None = None
    charts: list[Chart] = field(default_factory=list)
    tab_color: str | None = None

    def add(self, *cells: Cell | None) -> int:
        """Append a row; returns its 1-based row number."""
        self.rows.append(list(cells))
        return len(self.rows)

    def blank(self) -> int:
        self.rows.append([])
        return len(self.rows)

    @property
    def next_row(self) -> int:
        return len(self.rows) + 1


@dataclass(frozen=True, slots=True)
class StyleSpec:
    """A named cell style, e.g. roi-currency: the renderer registers one openpyxl NamedStyle each."""

    name: str
    number_format: str = "General"
    bold: bool = False
    italic: bool = False
    size: float | None = None
    color: str | None = None
    fill: str | None = None
    top_border: bool = False
    wrap: bool = False


@dataclass(slots=True)
class Layout:
    sheets: list[Sheet]
    styles: tuple[StyleSpec, ...]
    properties: dict[str, str] = field(default_factory=dict)

    def sheet(self, title: str) -> Sheet:
        return next(sheet for sheet in self.sheets if sheet.title == title)


def workbook_styles(currency: str) -> tuple[StyleSpec, ...]:
    money = f'#,##0.00 "{currency}"'
    unit = f'#,##0.0000 "{currency}"'
    net = f'{money};[Red]-{money}'
    base = [
        StyleSpec("roi-title", bold=True, size=14),
        StyleSpec("roi-heading", bold=True, color="FFFFFF", fill="1F4E78", wrap=True),
        StyleSpec("roi-section", bold=True, size=12, color="1F4E78"),
        StyleSpec("roi-label", bold=True),
        StyleSpec("roi-text"),
        StyleSpec("roi-note", italic=True, color="595959"),
        StyleSpec("roi-warning", bold=True, color="C00000"),
        StyleSpec("roi-date", number_format="yyyy-mm-dd"),
        StyleSpec("roi-datetime", number_format="yyyy-mm-dd hh:mm"),
        StyleSpec("roi-count", number_format="#,##0"),
        StyleSpec("roi-decimal", number_format="#,##0.00"),
        StyleSpec("roi-currency", number_format=money),
        StyleSpec("roi-currency-unit", number_format=unit),
        StyleSpec("roi-net", number_format=net),
        StyleSpec("roi-percent", number_format="0.0%"),
        StyleSpec("roi-share", number_format="0.000%"),
        StyleSpec("roi-input", number_format=money, fill="FFF2CC"),
    ]
    totals = [
        StyleSpec(f"roi-total-{kind}", number_format=fmt, bold=True, top_border=True)
        for kind, fmt in (
            ("label", "General"),
            ("count", "#,##0"),
            ("decimal", "#,##0.00"),
            ("currency", money),
            ("currency-unit", unit),
            ("net", net),
            ("percent", "0.0%"),
        )
    ]
    return tuple(base + totals)


# Widths by style for numbers (characters): enough for 999,999,999.99 and a currency code.
_NUMBER_WIDTHS = {"count": 12, "decimal": 14, "currency": 17, "currency-unit": 17, "net": 17, "percent": 10,
                  "share": 11, "date": 12, "datetime": 17, "input": 17}


def fit_widths(sheet: Sheet, header_row: int, minimum: float = 8, maximum: float = 60) -> dict[int, float]:
    """Column widths that fit the text under the header and the formatted numbers."""
    widths: dict[int, float] = {}
    for number_, row in enumerate(sheet.rows, start=1):
        if number_ < header_row:
            continue
        for position, cell in enumerate(row, start=1):
            if cell is None:
                continue
            if number_ == header_row:
                # headers wrap: half their length is enough, but never split a word
                longest = max((len(word) for word in str(cell.value or "").split()), default=0)
                width = max(len(str(cell.value or "")) / 2, longest) + 2
            elif isinstance(cell.value, str) and not isinstance(cell.value, Formula):
                width = len(cell.value) + 2
            else:
                kind = (cell.style or "roi-decimal").removeprefix("roi-total-").removeprefix("roi-")
                width = _NUMBER_WIDTHS.get(kind, 14)
            if width > widths.get(position, 0):
                widths[position] = width
    return {position: min(max(width, minimum), maximum) for position, width in widths.items()}


# ------------------------------------------------------------------ references


def column_letter(index: int) -> str:
    """1 -> A, 27 -> AA."""
    letters = ""
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def quote_sheet(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def ref(sheet: str, column: int, row: int, column2: int | None = None, row2: int | None = None) -> str:
    """An absolute reference such as 'Cohorts'!$B$5 or 'Cohorts'!$B$5:$B$9."""
    first = f"${column_letter(column)}${row}"
    if column2 is None and row2 is None:
        return f"{quote_sheet(sheet)}!{first}"
    last = f"${column_letter(column2 or column)}${row2 or row}"
    return f"{quote_sheet(sheet)}!{first}:{last}"


def cohort_label(values: tuple[str, ...]) -> str:
    return " / ".join(display_dimension(value) for value in values) or "(all)"


# ------------------------------------------------------------------ what feeds the sheets beyond the frame


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
    """The revision a new one replaces: its figures, for the Changes sheet."""

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


@dataclass(slots=True)
class WorkbookExtras:
    """Everything the workbook shows that is not the month's report frame."""

    trend: list[TrendMonth] = field(default_factory=list)  # earlier months, ascending
    sources: list[SourceQuality] = field(default_factory=list)
    quarantine: list[QuarantineSample] = field(default_factory=list)
    unpriced: list[UnpricedModel] = field(default_factory=list)
    late: list[LateData] = field(default_factory=list)
    revision: RevisionInfo | None = None


def as_utc_naive(moment: datetime | None) -> datetime | None:
    """Excel has no timezones: timestamps are shown in UTC (naive ones are stored as UTC already)."""
    if moment is not None and moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def utc_text(moment: datetime | None) -> str:
    shown = as_utc_naive(moment)
    return "" if shown is None else shown.strftime("%Y-%m-%d %H:%M UTC")
