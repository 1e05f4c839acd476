"""The reader's sheets of the workbook as layout data: Summary, Trend, Data quality, Definitions, Changes.

They show figures of the Cohorts sheet through formulas (so they follow an
edited assumption) and earlier months, sources and old revisions as values.
"""

from __future__ import annotations

from typing import Any

from ..domain import Period, display_dimension
from .excel_sheets import (
    METRIC_TITLES,
    TOTAL_LABEL,
    Anchors,
    heading,
    metric_style,
    number,
)
from .frame import INTEGER_METRICS, ReportFrame
from .workbook_layout import (
    Cell,
    Chart,
    Formula,
    PriorRevision,
    Series,
    Sheet,
    WorkbookExtras,
    as_utc_naive,
    cohort_label,
    column_letter,
    fit_widths,
    ref,
    utc_text,
)

SUMMARY_SHEET = "Summary"
TREND_SHEET = "Trend"
QUALITY_SHEET = "Data quality"
DEFINITIONS_SHEET = "Definitions"
CHANGES_SHEET = "Changes"
KPIS = ("total_cost", "failure_cost", "value", "net_value", "roi", "cost_per_resolved_case", "resolution_rate")
CHART_COHORTS = 20  # the Summary chart shows at most this many cohorts (largest and smallest net value)
TREND_LINES = 5  # cohorts drawn on the Trend chart besides the total
CHANGE_METRICS = ("requests", "net_resolved", "token_cost", "total_cost", "failure_cost", "value", "net_value")


def build_summary(frame: ReportFrame, anchors: Anchors, extras: WorkbookExtras) -> Sheet:
    sheet = Sheet(SUMMARY_SHEET, tab_color="70AD47")
    sheet.add(Cell(f"AI ROI report for {frame.period}", "roi-title"))
    revision = extras.revision
    if revision is not None:
        status = f"Closed month: revision {revision.revision}, closed {utc_text(revision.closed_at)}. " \
                 "These figures do not change when data or config change later."
    else:
        status = "Open month: figures follow the data and config until the month is closed (roi close)."
    sheet.add(Cell(status, "roi-note"))
    sheet.blank()
    facts: list[tuple[str, Any, str]] = [
        ("Period", str(frame.period), "roi-text"),
        ("Currency", frame.currency, "roi-text"),
        ("Timezone", frame.timezone, "roi-text"),
        ("Generated at (UTC)", as_utc_naive(frame.generated_at), "roi-datetime"),
        ("Config hash", frame.config_hash, "roi-text"),
        ("Data fingerprint", frame.data_fingerprint, "roi-text"),
        ("Grouped by", ", ".join(frame.group_by) or "(nothing)", "roi-text"),
        ("Cohorts", len(frame.cohorts), "roi-count"),
    ]
    if frame.filters:
        shown = "; ".join(f"{name} = {', '.join(values)}" for name, values in sorted(frame.filters.items()))
        facts.append(("Filters", shown, "roi-text"))
    if revision is not None:
        facts.append(("Revision", revision.revision, "roi-count"))
        facts.append(("Closed at (UTC)", as_utc_naive(revision.closed_at), "roi-datetime"))
    for label, value, style in facts:
        sheet.add(Cell(label, "roi-label"), Cell(value, style))
    notes = _late_notes(frame, extras)
    if notes:
        sheet.blank()
        for note in notes:
            sheet.add(Cell(note, "roi-warning"))
    sheet.blank()
    previous = extras.trend[-1] if extras.trend and extras.trend[-1].period == frame.period.previous() else None
    kpi_header = sheet.add(heading("Key figure"), heading(str(frame.period)),
                           heading(str(frame.period.previous())), heading("Change"), heading("Change %"))
    for name in KPIS:
        row = sheet.next_row
        before = number(previous.totals.get(name)) if previous is not None else None
        sheet.add(
            Cell(METRIC_TITLES[name], "roi-label"),
            Cell(Formula(f"={anchors.total_cell(name)}"), metric_style(name)),
            Cell(before, metric_style(name)),
            Cell(Formula(f'=IF(OR(B{row}="",C{row}=""),"",B{row}-C{row})'), metric_style(name)),
            Cell(Formula(f'=IF(OR(B{row}="",C{row}="",C{row}=0),"",(B{row}-C{row})/ABS(C{row}))'), "roi-percent"),
        )
    if previous is None:
        sheet.add(Cell(f"No figures for {frame.period.previous()} to compare with.", "roi-note"))
    elif previous.revision is not None:
        sheet.add(Cell(f"{previous.period} as closed in revision {previous.revision}.", "roi-note"))
    sheet.blank()
    _net_value_chart(sheet, frame, anchors, kpi_header)
    sheet.widths = {1: 34, 2: 22, 3: 20, 4: 18, 5: 12}
    return sheet


def _late_notes(frame: ReportFrame, extras: WorkbookExtras) -> list[str]:
    notes = []
    currency = frame.currency
    revision = extras.revision
    if revision is not None and revision.late is not None and revision.previous is not None:
        late = revision.late
        notes.append(f"Since revision {revision.previous.revision} (closed {utc_text(revision.previous.closed_at)}), "
                     f"{late.rows:,} rows and {late.cost:,.2f} {currency} of token cost arrived; "
                     "they are included here.")
    for late in extras.late:
        if late.rows or late.cost:
            notes.append(f"{late.period} is closed (revision {late.revision}, {utc_text(late.closed_at)}): "
                         f"{late.rows:,} rows and {late.cost:,.2f} {currency} of token cost arrived after the close "
                         f"and are not in its figures; roi close --period {late.period} --revise includes them.")
    return notes


def _net_value_chart(sheet: Sheet, frame: ReportFrame, anchors: Anchors, anchor_row: int) -> None:
    rows = sorted(anchors.cohort_rows.items(), key=lambda item: item[1])
    if not rows:
        return
    if len(rows) > CHART_COHORTS:
        values = frame.cohorts["net_value"].to_numpy()
        order = sorted(range(len(rows)), key=lambda position: -values[position])
        half = CHART_COHORTS // 2
        chosen = order[:half] + order[-half:]
        rows = [rows[position] for position in chosen]
        title = f"Net value: the {half} highest and {half} lowest of {len(frame.cohorts):,} cohorts"
    else:
        title = "Net value by cohort"
    sheet.add(Cell(title, "roi-section"))
    header = sheet.add(heading("Cohort"), heading("Net value"))
    for key, cohort_row in rows:
        sheet.add(Cell(cohort_label(key), "roi-text"),
                  Cell(Formula(f"={anchors.cohort_cell('net_value', cohort_row)}"), "roi-net"))
    last = sheet.next_row - 1
    sheet.charts.append(Chart(
        kind="bar", title=title, anchor=f"G{anchor_row}", horizontal=True,
        categories=ref(SUMMARY_SHEET, 1, header + 1, 1, last),
        series=[Series(ref(SUMMARY_SHEET, 2, header), ref(SUMMARY_SHEET, 2, header + 1, 2, last))],
        y_title=f"Net value ({frame.currency})", y_format="#,##0",
        height=max(8.0, min(30.0, 0.6 * len(rows) + 3)),
    ))


def build_trend(frame: ReportFrame, anchors: Anchors, extras: WorkbookExtras) -> Sheet:
    sheet = Sheet(TREND_SHEET)
    months = [*extras.trend][-11:]
    periods = [month.period for month in months] + [frame.period]
    sheet.add(Cell(f"Trend: the {len(periods)} months to {frame.period}, per cohort", "roi-title"))
    sheet.add(Cell("Earlier months are figures as reported (a closed month from its closed revision, an open month "
                   "from today's data and config); the last month follows the Cohorts sheet.", "roi-note"))
    dims = list(frame.group_by)
    label_count = max(len(dims), 1)
    width = len(periods)
    net_start = label_count + 1
    unit_start = net_start + width + 1
    group_row = [None] * (unit_start + width - 1)
    group_row[net_start - 1] = Cell(f"Net value ({frame.currency})", "roi-section")
    group_row[unit_start - 1] = Cell(f"Cost per resolved case ({frame.currency})", "roi-section")
    sheet.rows.append(group_row)
    labels = [month_label(month.period, month.revision) for month in months] + [str(frame.period)]
    header_row = sheet.add(*(heading(name.replace("_", " ").capitalize()) for name in (dims or ["cohort"])),
                           *(heading(label) for label in labels), None, *(heading(label) for label in labels))
    keys = list(anchors.cohort_rows)
    seen = set(keys)
    for month in months:
        for key in sorted(month.cohorts):
            if key not in seen and len(key) == len(dims):
                seen.add(key)
                keys.append(key)
    first = sheet.next_row
    for key in keys:
        cells: list[Cell | None] = [Cell(display_dimension(value), "roi-text") for value in key] or \
            [Cell("(all)", "roi-text")]
        cells += [Cell(number(month.cohorts.get(key, (None, None))[0]), "roi-net") for month in months]
        cells.append(_current(anchors, "net_value", key))
        cells.append(None)
        cells += [Cell(number(month.cohorts.get(key, (None, None))[1]), "roi-currency-unit") for month in months]
        cells.append(_current(anchors, "cost_per_resolved_case", key))
        sheet.rows.append(cells)
    last = sheet.next_row - 1
    total: list[Cell | None] = [Cell(f"{TOTAL_LABEL} (incl. unallocated fixed cost)", "roi-total-label")]
    total += [Cell(None, "roi-total-label")] * (label_count - 1)
    total += [Cell(number(month.totals.get("net_value")), "roi-total-net") for month in months]
    total.append(Cell(Formula(f"={anchors.total_cell('net_value')}"), "roi-total-net"))
    total.append(None)
    total += [Cell(number(month.totals.get("cost_per_resolved_case")), "roi-total-currency-unit") for month in months]
    total.append(Cell(Formula(f"={anchors.total_cell('cost_per_resolved_case')}"), "roi-total-currency-unit"))
    total_row = sheet.add(*total)
    chosen = _trend_lines(frame, anchors, keys, first)
    series = [Series(ref(TREND_SHEET, 1, total_row), ref(TREND_SHEET, net_start, total_row,
                                                        net_start + width - 1, total_row))]
    for row in chosen:
        series.append(Series(ref(TREND_SHEET, 1, row), ref(TREND_SHEET, net_start, row, net_start + width - 1, row)))
    sheet.charts.append(Chart(
        kind="line", title=f"Net value by month ({frame.currency}): total and the largest cohorts",
        anchor=f"{column_letter(1)}{total_row + 2}",
        categories=ref(TREND_SHEET, net_start, header_row, net_start + width - 1, header_row),
        series=series, y_title=f"Net value ({frame.currency})", y_format="#,##0", width=26, height=13,
    ))
    sheet.freeze = f"{column_letter(net_start)}{header_row + 1}"
    if last >= first:
        sheet.autofilter = f"A{header_row}:{column_letter(unit_start + width - 1)}{last}"
    sheet.widths = fit_widths(sheet, header_row)
    return sheet


def month_label(period: Period, revision: int | None) -> str:
    return f"{period} (r{revision})" if revision else str(period)


def _current(anchors: Anchors, metric: str, key: tuple[str, ...]) -> Cell:
    row = anchors.cohort_rows.get(key)
    style = "roi-net" if metric == "net_value" else "roi-currency-unit"
    return Cell(Formula(f"={anchors.cohort_cell(metric, row)}") if row else None, style)


def _trend_lines(frame: ReportFrame, anchors: Anchors, keys: list[tuple[str, ...]], first: int) -> list[int]:
    """Rows of the cohorts with the largest net value this month (a chart of 1,000 lines says nothing)."""
    if not len(frame.cohorts) or len(keys) <= 1:
        return []
    values = frame.cohorts["net_value"].to_numpy()
    order = sorted(range(len(values)), key=lambda position: -abs(values[position]))[:TREND_LINES]
    return [first + position for position in sorted(order)]


def build_quality(frame: ReportFrame, extras: WorkbookExtras) -> Sheet:
    sheet = Sheet(QUALITY_SHEET)
    sheet.add(Cell(f"Data quality: the sources behind {frame.period}", "roi-title"))
    sheet.add(Cell("Batches whose days overlap the month, and batches with no readable row at all.", "roi-note"))
    sheet.blank()
    sheet.add(Cell("Sources", "roi-section"))
    header = sheet.add(heading("Source"), heading("Batches"), heading("Rows read"), heading("Rows stored"),
                       heading("Duplicates"), heading("Quarantined rows"), heading("Unpriced requests"),
                       heading("Last ingest (UTC)"))
    if not extras.sources:
        sheet.add(Cell("(no batches ingested for this month)", "roi-note"))
    for item in extras.sources:
        sheet.add(Cell(item.source, "roi-text"), Cell(item.batches, "roi-count"), Cell(item.rows_read, "roi-count"),
                  Cell(item.rows_stored, "roi-count"), Cell(item.duplicates, "roi-count"),
                  Cell(item.quarantined, "roi-count"), Cell(item.unpriced, "roi-count"),
                  Cell(as_utc_naive(item.last_ingest), "roi-datetime"))
    sheet.blank()
    sheet.add(Cell("Quarantined rows: the first reasons per source", "roi-section"))
    sheet.add(heading("Source"), heading("File"), heading("Line"), heading("Reason"))
    if not extras.quarantine:
        sheet.add(Cell("(no quarantined rows)", "roi-note"))
    for sample in extras.quarantine:
        sheet.add(Cell(sample.source, "roi-text"), Cell(sample.file, "roi-text"),
                  Cell(sample.line, "roi-count"), Cell(sample.reason, "roi-text"))
    sheet.blank()
    sheet.add(Cell(f"Unpriced requests in {frame.period}, by model (their cost is not in token cost)", "roi-section"))
    sheet.add(heading("Source"), heading("Provider"), heading("Model"), heading("Unpriced requests"),
              heading("Requests"), heading("Share unpriced"))
    if not extras.unpriced:
        sheet.add(Cell("(every request is priced)", "roi-note"))
    for item in extras.unpriced:
        row = sheet.next_row
        sheet.add(Cell(item.source, "roi-text"), Cell(item.provider or "(unattributed)", "roi-text"),
                  Cell(item.model or "(unattributed)", "roi-text"), Cell(item.unpriced, "roi-count"),
                  Cell(item.requests, "roi-count"), Cell(Formula(f'=IF(E{row}>0,D{row}/E{row},"")'), "roi-percent"))
    sheet.widths = fit_widths(sheet, header)
    sheet.widths[4] = min(max(sheet.widths.get(4, 12), 40), 80)
    return sheet


DEFINITIONS: tuple[tuple[str, str, str], ...] = (
    ("requests", "Model calls: event rows with tokens or a cost (an outcome-only row is not a request).", "data"),
    ("input_tokens", "Input tokens, including the cached ones.", "data"),
    ("output_tokens", "Output tokens.", "data"),
    ("cached_input_tokens", "Input tokens served from the provider's cache.", "data"),
    ("token_cost", "Cost of the priced requests: the source's cost, else the config's price overrides, else "
                   "the maintained price database.", "data"),
    ("unpriced_requests", "Requests whose cost could not be determined (not in token cost).", "data"),
    ("resolved", "Cases the AI resolved without a human.", "data"),
    ("escalated", "Cases handed to a human.", "data"),
    ("abandoned", "Cases the user left unresolved.", "data"),
    ("reopened", "Previously resolved cases reopened (counted when it happens).", "data"),
    ("human_review_minutes", "Minutes humans spent reviewing AI output.", "data"),
    ("cases", "Cases decided in the month.", "resolved + escalated + abandoned"),
    ("net_resolved", "Resolutions that stuck.", "resolved - reopened"),
    ("review_cost", "What human review cost.", "human_review_minutes / 60 x review_cost_per_hour"),
    ("fixed_cost", "This cohort's share of the monthly fixed costs, in proportion to each cost's driver.",
     "sum of share x amount"),
    ("total_cost", "What running the AI cost.", "token_cost + review_cost + fixed_cost"),
    ("failure_cost", "What the AI's failures cost.",
     "escalated x escalation_cost + reopened x reopen_cost + abandoned x abandonment_cost"),
    ("value", "What the resolutions are worth.", "net_resolved x value_per_resolution"),
    ("net_value", "Value after every cost.", "value - total_cost - failure_cost"),
    ("roi", "Net value per unit of cost; blank when the costs are 0.", "net_value / (total_cost + failure_cost)"),
    ("cost_per_resolved_case", "Running cost per resolution that stuck; blank unless net_resolved > 0.",
     "total_cost / net_resolved"),
    ("fully_loaded_cost_per_resolved_case", "Cost per resolution including failures: the break-even value per "
     "resolution; blank unless net_resolved > 0.", "(total_cost + failure_cost) / net_resolved"),
    ("resolution_rate", "Share of cases resolved for good; blank when there are no cases.", "net_resolved / cases"),
    ("escalation_rate", "Share of cases handed to a human; blank when there are no cases.", "escalated / cases"),
    ("unallocated_fixed_cost", "Fixed cost whose driver totals 0 in the month: no cohort carries it, the totals do.",
     "amount of each such fixed cost"),
)


def build_definitions(frame: ReportFrame) -> Sheet:
    sheet = Sheet(DEFINITIONS_SHEET)
    sheet.add(Cell("Definitions: the metric dictionary", "roi-title"))
    sheet.add(Cell(f"Money is in {frame.currency}, unrounded until shown; days and months are in {frame.timezone}. "
                   "A missing dimension value shows as (unattributed).", "roi-note"))
    header = sheet.add(heading("Metric"), heading("Column (JSON, CSV)"), heading("Meaning"), heading("Formula"))
    for name, meaning, formula in DEFINITIONS:
        sheet.add(Cell(METRIC_TITLES[name], "roi-label"), Cell(name, "roi-text"), Cell(meaning, "roi-text"),
                  Cell(formula, "roi-text"))
    sheet.widths = fit_widths(sheet, header)
    return sheet


def build_changes(frame: ReportFrame, anchors: Anchors, prior: PriorRevision, revision: int) -> Sheet:
    sheet = Sheet(CHANGES_SHEET, tab_color="C00000")
    sheet.add(Cell(f"Changes in revision {revision} of {frame.period} against revision {prior.revision}", "roi-title"))
    sheet.add(Cell(f"Revision {prior.revision} was closed {utc_text(prior.closed_at)}; config hash "
                   f"{prior.config_hash} -> {frame.config_hash}; data fingerprint {prior.data_fingerprint} -> "
                   f"{frame.data_fingerprint}.", "roi-note"))
    header: list[Cell | None] = [heading("Cohort")]
    for name in CHANGE_METRICS:
        title = METRIC_TITLES[name]
        header += [heading(f"{title} r{prior.revision}"), heading(f"{title} r{revision}"), heading(f"{title} change")]
    header_row = sheet.add(*header)
    old = {_record_key(record["cohort"]): record for record in prior.cohorts}
    keys = [tuple(zip(frame.group_by, key, strict=True)) for key in anchors.cohort_rows]
    keys += [key for key in old if key not in set(keys)]
    for key in keys:
        row = sheet.next_row
        cells: list[Cell | None] = [Cell(cohort_label(tuple(value for _name, value in key)), "roi-text")]
        current = anchors.cohort_rows.get(tuple(value for _name, value in key)) \
            if tuple(name for name, _value in key) == tuple(frame.group_by) else None
        cells += _change_cells(row, old.get(key), current, anchors)
        sheet.rows.append(cells)
    row = sheet.next_row
    cells = [Cell(TOTAL_LABEL, "roi-total-label")]
    cells += _change_cells(row, prior.totals, anchors.total_row, anchors, total=True)
    sheet.rows.append(cells)
    sheet.freeze = f"B{header_row + 1}"
    sheet.widths = fit_widths(sheet, header_row)
    return sheet


def _record_key(cohort: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((name, str(value)) for name, value in cohort.items())


def _change_cells(row: int, old: dict[str, Any] | None, current_row: int | None, anchors: Anchors,
                  total: bool = False) -> list[Cell | None]:
    cells: list[Cell | None] = []
    column = 2
    for name in CHANGE_METRICS:
        style = metric_style(name, total=total)
        before = number((old or {}).get(name), name in INTEGER_METRICS)
        after: Any = Formula(f"={anchors.cohort_cell(name, current_row)}") if current_row else None
        old_cell, new_cell = column_letter(column), column_letter(column + 1)
        difference = Formula(f"=N({new_cell}{row})-N({old_cell}{row})")
        cells += [Cell(before, style), Cell(after, style), Cell(difference, style)]
        column += 3
    return cells

