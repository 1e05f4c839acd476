"""The Trend sheet as layout data: up to 12 months per cohort, and a line chart of them.

Earlier months are values (figures as reported); the report's own month points at
the Cohorts sheet, with the frame's figures as cached values. Months before the
first one with data are left out, and the sheet says so.
"""

from __future__ import annotations

from ...domain import Period
from ..frame import ReportFrame
from .extras import TrendMonth, WorkbookExtras
from .figures import TOTAL_LABEL, Anchors, heading, number
from .layout import Cell, Chart, Formula, Series, Sheet, cohort_label, column_letter, finish, ref

TREND_SHEET = "Trend"
TREND_LINES = 5  # cohorts drawn on the Trend chart besides the total
HEADER_ROW = 4


def shown_months(extras: WorkbookExtras) -> tuple[list[TrendMonth], Period | None]:
    """The earlier months shown: the last 11, from the first with data; and the first month left out."""
    months = [*extras.trend][-11:]
    skipped = None
    while months and not months[0].totals:
        skipped = months.pop(0).period
    return months, skipped


def build_trend(frame: ReportFrame, anchors: Anchors, extras: WorkbookExtras) -> Sheet:
    sheet = Sheet(TREND_SHEET)
    months, skipped = shown_months(extras)
    periods = [month.period for month in months] + [frame.period]
    first = periods[0]
    sheet.add(Cell(f"Trend: {len(periods)} month{'s' if len(periods) > 1 else ''} to {frame.period}, per cohort",
                   "roi-title"))
    note = ("Earlier months are figures as reported (a closed month from its closed revision, an open month "
            "from today's data and config); the last month follows the Cohorts sheet.")
    if skipped is not None:
        note += f" No data before {first}: earlier months are left out."
    sheet.add(Cell(note, "roi-note"))
    width = len(periods)
    net_start = 2
    unit_start = net_start + width + 1
    group_row: list[Cell | None] = [None] * (unit_start + width - 1)
    group_row[net_start - 1] = Cell(f"Net value ({frame.currency})", "roi-section")
    group_row[unit_start - 1] = Cell(f"Cost per resolved case ({frame.currency})", "roi-section")
    sheet.rows.append(group_row)
    labels = [month_label(month.period, month.revision) for month in months] + [str(frame.period)]
    grouped = ", ".join(frame.group_by) or "cohort"
    header_row = sheet.add(heading(f"Cohort ({grouped})"), *(heading(label) for label in labels), None,
                           *(heading(label) for label in labels))
    keys = list(anchors.cohort_rows)
    seen = set(keys)
    for month in months:
        for key in sorted(month.cohorts):
            if key not in seen and len(key) == len(frame.group_by):
                seen.add(key)
                keys.append(key)
    first_row = sheet.next_row
    for key in keys:
        cells: list[Cell | None] = [Cell(cohort_label(key), "roi-text")]
        cells += [Cell(number(month.cohorts.get(key, (None, None))[0]), "roi-net") for month in months]
        cells.append(_current(anchors, "net_value", key))
        cells.append(None)
        cells += [Cell(number(month.cohorts.get(key, (None, None))[1]), "roi-currency-unit") for month in months]
        cells.append(_current(anchors, "cost_per_resolved_case", key))
        sheet.rows.append(cells)
    last = sheet.next_row - 1
    total: list[Cell | None] = [Cell(f"{TOTAL_LABEL} (incl. unallocated fixed cost)", "roi-total-label")]
    total += [Cell(number(month.totals.get("net_value")), "roi-total-net") for month in months]
    total.append(Cell(Formula(f"={anchors.total_cell('net_value')}", anchors.figure("net_value", None)),
                      "roi-total-net"))
    total.append(None)
    total += [Cell(number(month.totals.get("cost_per_resolved_case")), "roi-total-currency-unit") for month in months]
    total.append(Cell(Formula(f"={anchors.total_cell('cost_per_resolved_case')}",
                              anchors.figure("cost_per_resolved_case", None)), "roi-total-currency-unit"))
    total_row = sheet.add(*total)
    chosen = _trend_lines(anchors, keys, first_row)
    series = [Series(ref(TREND_SHEET, 1, row), ref(TREND_SHEET, net_start, row, net_start + width - 1, row))
              for row in [total_row, *chosen]]
    sheet.blank()
    sheet.charts.append(Chart(
        kind="line", title=f"Net value by month ({frame.currency}): total and the largest cohorts",
        anchor=f"A{total_row + 2}",
        categories=ref(TREND_SHEET, net_start, header_row, net_start + width - 1, header_row),
        series=series, y_title=f"Net value ({frame.currency})", y_format="#,##0", width=22, height=11,
    ))
    sheet.freeze = f"{column_letter(net_start)}{header_row + 1}"
    if last >= first_row:
        sheet.autofilter = f"A{header_row}:{column_letter(unit_start + width - 1)}{last}"
    sheet.repeat_rows = (header_row, header_row)
    sheet.repeat_columns = 1
    return finish(sheet, from_row=header_row)


def month_label(period: Period, revision: int | None) -> str:
    return f"{period} (r{revision})" if revision else str(period)


def _current(anchors: Anchors, metric: str, key: tuple[str, ...]) -> Cell:
    row = anchors.cohort_rows.get(key)
    style = "roi-net" if metric == "net_value" else "roi-currency-unit"
    if not row:
        return Cell(None, style)
    return Cell(Formula(f"={anchors.cohort_cell(metric, row)}", anchors.figure(metric, key)), style)


def _trend_lines(anchors: Anchors, keys: list[tuple[str, ...]], first: int) -> list[int]:
    """Rows of the cohorts with the largest net value this month (a chart of 1,000 lines says nothing)."""
    current = [key for key in keys if key in anchors.cohort_rows]
    if len(keys) <= 1 or not current:
        return []
    size = {key: abs(anchors.figure("net_value", key) or 0.0) for key in current}
    chosen = sorted(current, key=lambda key: -size[key])[:TREND_LINES]
    return sorted(first + keys.index(key) for key in chosen)
