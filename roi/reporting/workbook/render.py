"""The one workbook renderer: a Layout written as .xlsx with XlsxWriter (the only module importing it).

Every formula is written with its cached result (the report frame's figure), so
readers that do not recalculate (pandas.read_excel, mail previews, Quick Look)
show the same figures as Excel and LibreOffice. XlsxWriter writes both and is
faster than openpyxl's write-only mode (docs/performance.md).

Printing: every sheet is landscape A4 with the header rows and label columns
repeated on each page, the report and period at the left of the footer, the
sheet in the middle and "Page n of m" at the right. A sheet that fits one page
wide at READABLE_SCALE or more is scaled to the page width (as many pages tall
as it needs); a wider one is scaled to fit as few pages across as keep it at
READABLE_SCALE or more (Cohorts and Detail), each repeating the label columns.
"""

from __future__ import annotations

import io
import math
import re
from datetime import date, datetime
from typing import Any

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from ..formula_injection import is_formula_like
from .layout import Chart, Formula, Layout, Sheet, StyleSpec

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# XML 1.0 cannot carry these; a workbook with one would not open.
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_MAX_TEXT = 32_767  # Excel's limit for one cell
PAPER_A4 = 9
READABLE_SCALE = 70  # percent: below this, 11-point text is too small to read on paper
# Landscape A4 less the margins below, in column-width characters at 100% as LibreOffice prints them.
PAGE_CHARACTERS = 125
DEFAULT_WIDTH = 8.43
CM_PIXELS = 96 / 2.54


class _Worksheet(Worksheet):
    """XlsxWriter's worksheet without its scan of every formula for Excel 365 functions to prefix.

    The workbook's formulas use only functions every Excel since 2007 has (SUM, SUMIF, IF, OR,
    ABS, N), so there is nothing to prefix; the scan (about 30 regular expressions per formula)
    was half the rendering time of a 1,000-cohort workbook.
    """

    def _prepare_formula(self, formula, expand_future_functions=False):  # noqa: ARG002 - XlsxWriter's signature
        return formula[1:] if formula.startswith("=") else formula


def _format_properties(spec: StyleSpec, quote: bool = False) -> dict[str, Any]:
    properties: dict[str, Any] = {"num_format": spec.number_format, "bold": spec.bold, "italic": spec.italic,
                                  "font_size": spec.size or 11}
    if spec.color:
        properties["font_color"] = "#" + spec.color
    if spec.fill:
        properties.update(pattern=1, bg_color="#" + spec.fill)
    if spec.top_border:
        properties.update(top=1, bottom=6)  # thin above, double below
    properties["valign"] = "top"  # a row made tall by wrapped text reads from its top
    if spec.wrap:
        properties["text_wrap"] = True
    if spec.align:
        properties["align"] = spec.align
    if quote:
        properties["quote_prefix"] = True
    return properties


def _text(value: str) -> str:
    return _ILLEGAL.sub("\ufffd", value)[:_MAX_TEXT]


class _Formats:
    """One XlsxWriter format per named style, and a quote-prefixed twin made when first needed."""

    def __init__(self, book: xlsxwriter.Workbook, styles: tuple[StyleSpec, ...]):
        self.book = book
        self.specs = {spec.name: spec for spec in styles}
        self.plain = {spec.name: book.add_format(_format_properties(spec)) for spec in styles}
        self.quoted: dict[str | None, Any] = {}

    def get(self, name: str | None):
        return self.plain[name] if name else None

    def quote(self, name: str | None):
        if name not in self.quoted:
            spec = self.specs.get(name or "roi-text") or StyleSpec("roi-text")
            self.quoted[name] = self.book.add_format(_format_properties(spec, quote=True))
        return self.quoted[name]


def _write_row(target, formats: _Formats, row: int, cells: list) -> None:
    for column, item in enumerate(cells):
        if item is None:
            continue
        value, style = item.value, formats.get(item.style)
        if isinstance(value, Formula):
            result = value.result
            target.write_formula(row, column, str(value), style, "" if result is None else result)
        elif isinstance(value, str):
            if value == "":
                target.write_blank(row, column, None, style)
                continue
            text = _text(value)
            # data text is text whatever it starts with: never a formula (see reporting.formula_injection)
            style = formats.quote(item.style) if is_formula_like(text) else style
            if item.span > 1:
                target.merge_range(row, column, row, column + item.span - 1, "", style)
            target.write_string(row, column, text, style)
        elif isinstance(value, datetime | date):
            target.write_datetime(row, column, value, style)
        elif isinstance(value, bool):
            target.write_boolean(row, column, value, style)
        elif isinstance(value, int | float) and math.isfinite(value):
            target.write_number(row, column, value, style)
        else:
            # None, NaN: a blank cell (with its style, e.g. a total row's border)
            target.write_blank(row, column, None, style)


def _chart(book: xlsxwriter.Workbook, spec: Chart):
    if spec.kind == "bar":
        chart = book.add_chart({"type": "bar" if spec.horizontal else "column"})
        chart.set_legend({"position": "bottom"} if spec.legend else {"none": True})
    else:
        chart = book.add_chart({"type": "line"})
        chart.set_legend({"position": "bottom"})
    if spec.title:
        chart.set_title({"name": spec.title, "name_font": {"size": 12, "bold": True}})
    else:
        chart.set_title({"none": True})
    for item in spec.series:
        series: dict[str, Any] = {"categories": "=" + spec.categories, "values": "=" + item.values}
        series["name"] = "=" + item.title if item.title_is_ref else item.title
        if spec.kind == "line":
            series.update(smooth=False, marker={"type": "circle", "size": 5})
        else:
            series.update(invert_if_negative=False, fill={"color": "#" + (item.color or "1F4E78")})
            if spec.overlap is not None:
                series.update(overlap=spec.overlap, gap=60)
        chart.add_series(series)
    values = {"num_format": spec.y_format, "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}}}
    if spec.y_title:
        values["name"] = spec.y_title
    categories: dict[str, Any] = {"name": spec.x_title} if spec.x_title else {}
    if spec.kind == "bar" and spec.horizontal:
        # a bar chart's vertical axis holds the categories: list them top-down in the table's order,
        # with the value axis at the bottom
        chart.set_x_axis(values)
        chart.set_y_axis({**categories, "reverse": True, "crossing": "max"})
    else:
        chart.set_x_axis({**categories, "label_position": "low"})
        chart.set_y_axis(values)
    chart.set_size({"width": round(spec.width * CM_PIXELS), "height": round(spec.height * CM_PIXELS)})
    return chart


def _print_setup(target, sheet: Sheet, footer: str) -> None:
    target.set_landscape()
    target.set_paper(PAPER_A4)
    target.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.7)
    if sheet.repeat_rows:
        target.repeat_rows(sheet.repeat_rows[0] - 1, sheet.repeat_rows[1] - 1)
    if sheet.repeat_columns:
        target.repeat_columns(0, sheet.repeat_columns - 1)
    target.fit_to_pages(pages_across(sheet), 0)  # as many pages tall as needed
    target.set_footer(f"&L{_header_text(footer)}&C&A&RPage &P of &N", {"margin": 0.3})


def pages_across(sheet: Sheet) -> int:
    """Pages the sheet is printed across: one if it fits at READABLE_SCALE, else as few as keep that scale,
    counting the label columns every page repeats."""
    width = _printed_width(sheet)
    room = PAGE_CHARACTERS * 100 / READABLE_SCALE
    if width <= room:
        return 1
    repeated = sum(sheet.widths.get(column, DEFAULT_WIDTH) for column in range(1, sheet.repeat_columns + 1))
    return 1 + math.ceil((width - room) / max(room - repeated, 1))


def _printed_width(sheet: Sheet) -> float:
    """The sheet's width in characters: its columns, or further right where a chart ends."""
    def left_of(column: int) -> float:
        return sum(sheet.widths.get(position, DEFAULT_WIDTH) for position in range(1, column))

    used = max((len(row) for row in sheet.rows), default=1)
    width = left_of(used + 1)
    for chart in sheet.charts:
        column = 0
        for letter in re.match(r"[A-Z]+", chart.anchor).group():
            column = column * 26 + ord(letter) - 64
        width = max(width, left_of(column) + chart.width * CM_PIXELS / 7)
    return width


def _header_text(text: str) -> str:
    return text.replace("&", "&&")


def render_layout(layout: Layout) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
                                     "strings_to_urls": False})
    book.set_properties({**layout.properties, "author": "roi", "comments": "Written by roi"})
    formats = _Formats(book, layout.styles)
    for sheet in layout.sheets:
        target = book.add_worksheet(sheet.title, worksheet_class=_Worksheet)
        if sheet.tab_color:
            target.set_tab_color("#" + sheet.tab_color)
        for position, width in sorted(sheet.widths.items()):
            target.set_column(position - 1, position - 1, width)
        for row, height in sheet.heights.items():
            target.set_row(row - 1, height)
        if sheet.freeze:
            target.freeze_panes(sheet.freeze)
        if sheet.autofilter:
            target.autofilter(sheet.autofilter)
        _print_setup(target, sheet, layout.footer)
        for row, cells in enumerate(sheet.rows):
            _write_row(target, formats, row, cells)
        for spec in sheet.charts:
            target.insert_chart(spec.anchor, _chart(book, spec), {"object_position": 1})
    book.close()
    return out.getvalue()
