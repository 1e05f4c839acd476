"""The Excel workbook: the only module that imports openpyxl.

`build_layout` assembles the sheets as plain data (excel_sheets, excel_pages);
`render_layout` is the one renderer that turns a layout into openpyxl calls,
streaming rows in write-only mode so a thousand cohorts stay fast and small.
"""

from __future__ import annotations

import io
import math
import re
from copy import copy

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, LineChart, Reference, Series
from openpyxl.chart.data_source import AxDataSource, StrRef
from openpyxl.chart.series import SeriesLabel
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side

from .excel_pages import (
    build_changes,
    build_definitions,
    build_quality,
    build_summary,
    build_trend,
)
from .excel_sheets import Anchors, build_assumptions, build_cohorts, build_detail
from .frame import ReportFrame
from .safety import is_formula_like
from .workbook_layout import Chart, Formula, Layout, StyleSpec, WorkbookExtras, column_letter, workbook_styles

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# XML 1.0 cannot carry these; openpyxl would refuse the whole workbook for one bad cohort name.
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_MAX_TEXT = 32_767  # Excel's limit for one cell


def build_layout(frame: ReportFrame, extras: WorkbookExtras | None = None) -> Layout:
    """The workbook of one report frame as data: sheets in reading order."""
    extras = extras or WorkbookExtras()
    anchors = Anchors()
    assumptions = build_assumptions(frame, anchors)
    detail = build_detail(frame, anchors)
    cohorts = build_cohorts(frame, anchors)
    summary = build_summary(frame, anchors, extras)
    sheets = [summary]
    revision = extras.revision
    if revision is not None and revision.previous is not None:
        sheets.append(build_changes(frame, anchors, revision.previous, revision.revision))
    sheets += [cohorts, detail, assumptions, build_trend(frame, anchors, extras), build_quality(frame, extras),
               build_definitions(frame)]
    properties = {"title": f"AI ROI report {frame.period}", "subject": f"config {frame.config_hash}",
                  "keywords": f"data {frame.data_fingerprint}"}
    return Layout(sheets, workbook_styles(frame.currency), properties)


def render_workbook(frame: ReportFrame, extras: WorkbookExtras | None = None) -> bytes:
    return render_layout(build_layout(frame, extras))


# ------------------------------------------------------------------ the renderer


def _named_style(spec: StyleSpec) -> NamedStyle:
    style = NamedStyle(name=spec.name, number_format=spec.number_format)
    style.font = Font(bold=spec.bold, italic=spec.italic, size=spec.size or 11, color=spec.color)
    if spec.fill:
        style.fill = PatternFill("solid", start_color=spec.fill, end_color=spec.fill)
    if spec.top_border:
        style.border = Border(top=Side(style="thin"), bottom=Side(style="double"))
    style.alignment = Alignment(wrap_text=spec.wrap, vertical="top" if spec.wrap else None)
    return style


def _text(value: str) -> str:
    cleaned = _ILLEGAL.sub("\ufffd", value)
    return cleaned[:_MAX_TEXT]


class _CellFactory:
    """Turns layout cells into openpyxl cells with one shared style array per named style."""

    def __init__(self, workbook: Workbook, sheet, styles: tuple[StyleSpec, ...]):
        self.sheet = sheet
        self.arrays = {}
        for spec in styles:
            probe = WriteOnlyCell(sheet)
            probe.style = spec.name
            self.arrays[spec.name] = probe._style

    def make(self, item):
        if item is None:
            return None
        value = item.value
        if value == "" or (isinstance(value, float) and not math.isfinite(value)):
            # an empty inline string and a NaN are both things Excel "repairs"; a blank cell is what we mean
            value = None
        cell = WriteOnlyCell(self.sheet)
        if isinstance(value, Formula):
            cell.value = str(value)
        elif isinstance(value, str):
            text = _text(value)
            cell.value = text
            # data text is text whatever it starts with: never a formula (see reporting.safety)
            cell.data_type = "s"
            if is_formula_like(text):
                cell._style = copy(self.arrays[item.style or "roi-text"])
                cell.quotePrefix = True
                return cell
        else:
            cell.value = value
        if item.style:
            cell._style = self.arrays[item.style]
        return cell


def _reference(text: str) -> Reference:
    return Reference(range_string=text)


def _chart(spec: Chart):
    if spec.kind == "bar":
        chart = BarChart()
        chart.type = "bar" if spec.horizontal else "col"
        chart.legend = None
    else:
        chart = LineChart()
        chart.legend.position = "b"
    chart.title = spec.title
    chart.y_axis.title = spec.y_title or None
    chart.x_axis.title = spec.x_title or None
    chart.y_axis.number_format = spec.y_format
    # openpyxl 3.1 hides axes unless told otherwise
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.width = spec.width
    chart.height = spec.height
    for item in spec.series:
        series = Series(_reference(item.values))
        series.tx = SeriesLabel(strRef=StrRef(f=item.title)) if item.title_is_ref else SeriesLabel(v=item.title)
        chart.series.append(series)
    for series in chart.series:
        # the categories are text (cohorts, months): a string reference, so Excel shows them as labels
        series.cat = AxDataSource(strRef=StrRef(f=spec.categories))
    return chart


def render_layout(layout: Layout) -> bytes:
    workbook = Workbook(write_only=True)
    for spec in layout.styles:
        workbook.add_named_style(_named_style(spec))
    for name, value in layout.properties.items():
        setattr(workbook.properties, name, value)
    workbook.properties.creator = "roi"
    for sheet in layout.sheets:
        target = workbook.create_sheet(sheet.title)
        if sheet.tab_color:
            target.sheet_properties.tabColor = sheet.tab_color
        for position, width in sorted(sheet.widths.items()):
            target.column_dimensions[column_letter(position)].width = width
        if sheet.freeze:
            target.freeze_panes = sheet.freeze
        if sheet.autofilter:
            target.auto_filter.ref = sheet.autofilter
        # printed or exported to PDF, every sheet is landscape and one page wide
        target.page_setup.orientation = "landscape"
        target.page_setup.fitToWidth = 1
        target.page_setup.fitToHeight = 0
        target.sheet_properties.pageSetUpPr.fitToPage = True
        factory = _CellFactory(workbook, target, layout.styles)
        make = factory.make
        for row in sheet.rows:
            target.append([make(item) for item in row])
        for spec in sheet.charts:
            target.add_chart(_chart(spec), spec.anchor)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
