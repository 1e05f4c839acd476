"""The workbook as plain data: sheets of cells with named styles, charts, print settings.

Nothing here imports a spreadsheet library. The sheet builders (cohorts, summary,
trend, notes) produce a `Layout`; `render.render_layout` is the one renderer that
writes it as an .xlsx file. A plain `str` value is always written as text (never
a formula, whatever it starts with); only a `Formula` is written as a formula,
together with its `result`: the figure the report frame computed, stored as the
cell's cached value so readers that do not recalculate show it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ...domain import display_dimension


class Formula(str):
    """An Excel formula, '=' included, built only from our own references, never from data text.

    `result` is what the formula evaluates to with the report frame's figures: a number, or
    None where the formula gives "" (a ratio with no denominator, a month with no figure).
    """

    result: float | int | None

    def __new__(cls, text: str, result: Any = None) -> Formula:
        formula = super().__new__(cls, text)
        formula.result = _finite(result)
        return formula


def _finite(value: Any) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass(slots=True)
class Cell:
    value: Any = None
    style: str | None = None
    span: int = 1  # columns this cell covers (merged), for text under a table of other widths


Row = list[Cell | None]


@dataclass(frozen=True, slots=True)
class Series:
    title: str  # a cell reference ('Trend'!$A$5) or a literal title
    values: str  # a range reference
    title_is_ref: bool = True
    color: str | None = None  # a bar's fill (default: the workbook's blue)


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
    overlap: int | None = None  # bars of the series drawn over each other (100: a tornado)
    legend: bool = False  # bar charts: show the series' names


@dataclass(slots=True)
class Sheet:
    title: str
    rows: list[Row] = field(default_factory=list)
    widths: dict[int, float] = field(default_factory=dict)  # 1-based column -> width in characters
    freeze: str | None = None
    autofilter: str | None = None
    charts: list[Chart] = field(default_factory=list)
    tab_color: str | None = None
    heights: dict[int, float] = field(default_factory=dict)  # 1-based row -> height in points
    repeat_rows: tuple[int, int] | None = None  # 1-based rows printed at the top of every page
    repeat_columns: int = 0  # the first n columns are printed at the left of every page

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
    """A cell style, e.g. roi-currency: the renderer makes one cell format of each."""

    name: str
    number_format: str = "General"
    bold: bool = False
    italic: bool = False
    size: float | None = None
    color: str | None = None
    fill: str | None = None
    top_border: bool = False
    wrap: bool = False
    align: str | None = None  # "center", "left", ...


@dataclass(slots=True)
class Layout:
    sheets: list[Sheet]
    styles: tuple[StyleSpec, ...]
    properties: dict[str, str] = field(default_factory=dict)
    footer: str = ""  # printed at the left of every page's footer (the report and its period)

    def sheet(self, title: str) -> Sheet:
        return next(sheet for sheet in self.sheets if sheet.title == title)


def workbook_styles(currency: str) -> tuple[StyleSpec, ...]:
    money = f'#,##0.00 "{currency}"'
    unit = money  # cost per resolved case is money like any other: to the cent
    net = f'{money};[Red]-{money}'
    points = '+0.0 "pp";[Red]-0.0 "pp";0.0 "pp"'
    base = [
        StyleSpec("roi-title", bold=True, size=14),
        StyleSpec("roi-heading", bold=True, color="FFFFFF", fill="1F4E78", wrap=True),
        StyleSpec("roi-section", bold=True, size=12, color="1F4E78"),
        StyleSpec("roi-label", bold=True),
        StyleSpec("roi-label-wrap", bold=True, wrap=True),
        StyleSpec("roi-text"),
        StyleSpec("roi-text-wrap", wrap=True),
        StyleSpec("roi-note", italic=True, color="595959"),
        StyleSpec("roi-warning", bold=True, color="C00000"),
        StyleSpec("roi-banner", bold=True, size=12, color="FFFFFF", fill="C00000", wrap=True),
        StyleSpec("roi-number", number_format="0", align="center"),
        StyleSpec("roi-points", number_format=points),
        StyleSpec("roi-date", number_format="yyyy-mm-dd"),
        StyleSpec("roi-datetime", number_format="yyyy-mm-dd hh:mm"),
        # a fact beside its label (Summary): read left to right like the text facts around it
        StyleSpec("roi-fact-count", number_format="#,##0", align="left"),
        StyleSpec("roi-fact-datetime", number_format="yyyy-mm-dd hh:mm", align="left"),
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
                  "share": 11, "date": 12, "datetime": 17, "input": 17, "points": 11, "number": 6,
                  "fact-count": 12, "fact-datetime": 17}
# Text in these styles stands on a row of its own and may run over the empty cells to its right.
_SPILLING = frozenset({"roi-title", "roi-note", "roi-section", "roi-warning", "roi-banner"})
_WRAPPING = {"roi-text": "roi-text-wrap", "roi-label": "roi-label-wrap"}
LINE_POINTS = 15.0  # one line of 11-point text


def _text_width(cell: Cell) -> float:
    text = str(cell.value or "")
    if cell.style == "roi-heading":
        # headers wrap: half their length is enough, but never split a word
        longest = max((len(word) for word in text.split()), default=0)
        return max(len(text) / 2, longest) + 2
    return len(text) + 2


def fit_widths(sheet: Sheet, from_row: int = 1, minimum: float = 6, maximum: float = 50) -> dict[int, float]:
    """Column widths that fit the headers (wrapped), the text and the formatted numbers from `from_row` on."""
    widths: dict[int, float] = {}
    for number_, row in enumerate(sheet.rows, start=1):
        if number_ < from_row:
            continue
        for position, cell in enumerate(row, start=1):
            if cell is None or cell.style in _SPILLING or cell.span > 1 \
                    or (cell.value is None and cell.style != "roi-heading"):
                continue
            if isinstance(cell.value, str) and not isinstance(cell.value, Formula):
                width = _text_width(cell)
            else:
                kind = (cell.style or "roi-decimal").removeprefix("roi-total-").removeprefix("roi-")
                width = _NUMBER_WIDTHS.get(kind, 14)
            if width > widths.get(position, 0):
                widths[position] = width
    return {position: min(max(width, minimum), maximum) for position, width in widths.items()}


def wrapped_lines(text: str, width: float) -> int:
    """How many lines `text` takes in a column `width` characters wide, wrapping at spaces."""
    room = max(int(width), 1)
    lines = 0
    for paragraph in text.split("\n"):
        used, count = 0, 1
        for word in paragraph.split():
            need = len(word) if used == 0 else used + 1 + len(word)
            if need <= room:
                used = need
            else:
                count += 1 + (len(word) - 1) // room
                used = len(word) % room or room
        lines += count
    return lines


def finish(sheet: Sheet, from_row: int = 1) -> Sheet:
    """Widths from the content (keeping any set by the builder), long text wrapped, row heights to match."""
    fitted = fit_widths(sheet, from_row)
    sheet.widths = {**fitted, **sheet.widths}
    for number_, row in enumerate(sheet.rows, start=1):
        lines = 1
        for position, cell in enumerate(row, start=1):
            if cell is None or not isinstance(cell.value, str) or isinstance(cell.value, Formula):
                continue
            width = sum(sheet.widths.get(column, 8.43) for column in range(position, position + cell.span))
            if cell.style in _WRAPPING and len(cell.value) + 1 > width:
                cell.style = _WRAPPING[cell.style]
            if cell.style in ("roi-heading", "roi-text-wrap", "roi-label-wrap"):
                lines = max(lines, wrapped_lines(cell.value, width))
            elif cell.style == "roi-banner":  # 12-point bold: fewer characters to the line
                lines = max(lines, wrapped_lines(cell.value, width * 0.8))
        if lines > 1:
            sheet.heights[number_] = LINE_POINTS * lines + 2
    return sheet


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


