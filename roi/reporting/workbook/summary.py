"""The Summary and Revision changes sheets as layout data.

They show figures of the Cohorts sheet through formulas (so they follow an edited
assumption), each with the frame's figure as its cached value; the previous month
and an old revision are values.
"""

from __future__ import annotations

from typing import Any

from ..frame import INTEGER_METRICS, ReportFrame
from .extras import PriorRevision, WorkbookExtras, as_utc_naive, utc_text
from .figures import METRIC_TITLES, TOTAL_LABEL, Anchors, heading, metric_style, no_data_text, number
from .layout import Cell, Chart, Formula, Series, Sheet, cohort_label, column_letter, finish, ref

SUMMARY_SHEET = "Summary"
CHANGES_SHEET = "Revision changes"
KPIS = ("total_cost", "failure_cost", "value", "net_value", "roi", "cost_per_resolved_case", "resolution_rate")
# Ratios shown as percentages: their change is a difference in percentage points, not a relative change.
POINT_METRICS = frozenset({"roi", "resolution_rate", "escalation_rate"})
CHART_COHORTS = 20  # the Summary chart shows at most this many cohorts (largest and smallest net value)
CHANGE_METRICS = ("requests", "net_resolved", "token_cost", "total_cost", "failure_cost", "value", "net_value")
CM_PIXELS = 96 / 2.54


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
    if not frame.has_data:
        sheet.add(Cell(no_data_text(frame), "roi-banner", span=5))
    sheet.blank()
    facts: list[tuple[str, Any, str]] = [
        ("Period", str(frame.period), "roi-text"),
        ("Currency", frame.currency, "roi-text"),
        ("Timezone", frame.timezone, "roi-text"),
        ("Grouped by", ", ".join(frame.group_by) or "(nothing)", "roi-text"),
        ("Cohorts", len(frame.cohorts), "roi-fact-count"),
    ]
    if frame.filters:
        shown = "; ".join(f"{name} = {', '.join(values)}" for name, values in sorted(frame.filters.items()))
        facts.append(("Filters", shown, "roi-text"))
    if revision is not None:
        facts.append(("Revision", revision.revision, "roi-fact-count"))
        facts.append(("Closed at (UTC)", as_utc_naive(revision.closed_at), "roi-fact-datetime"))
    for label, value, style in facts:
        sheet.add(Cell(label, "roi-label"), Cell(value, style))
    notes = _late_notes(frame, extras)
    if notes:
        sheet.blank()
        for note in notes:
            sheet.add(Cell(note, "roi-warning"))
    sheet.blank()
    _key_figures(sheet, frame, anchors, extras)
    sheet.blank()
    _net_value_chart(sheet, frame, anchors)
    sheet.blank()
    sheet.add(Cell("About this report", "roi-section"))
    for label, value, style in (
        ("Generated at (UTC)", as_utc_naive(frame.generated_at), "roi-fact-datetime"),
        ("Config hash", frame.config_hash, "roi-text"),
        ("Data fingerprint", frame.data_fingerprint, "roi-text"),
    ):
        sheet.add(Cell(label, "roi-label"), Cell(value, style))
    sheet.add(Cell("The config hash and data fingerprint identify the config and the stored data these figures "
                   "come from; equal hashes mean equal figures.", "roi-note"))
    sheet.widths = {1: 30, 2: 20, 3: 20, 4: 16, 5: 11}
    return finish(sheet)


def _key_figures(sheet: Sheet, frame: ReportFrame, anchors: Anchors, extras: WorkbookExtras) -> None:
    previous = extras.trend[-1] if extras.trend and extras.trend[-1].period == frame.period.previous() else None
    if previous is not None and not previous.totals:
        previous = None  # a month with no data has no figures to compare with
    sheet.add(heading("Key figure"), heading(str(frame.period)), heading(str(frame.period.previous())),
              heading("Change"), heading("Change %"))
    for name in KPIS:
        row = sheet.next_row
        now = anchors.figure(name, None)
        before = number(previous.totals.get(name)) if previous is not None else None
        both = now is not None and before is not None
        if name in POINT_METRICS:
            change = Cell(Formula(f'=IF(OR(B{row}="",C{row}=""),"",(B{row}-C{row})*100)',
                                  (now - before) * 100 if both else None), "roi-points")
            relative = Cell(None)
        else:
            change = Cell(Formula(f'=IF(OR(B{row}="",C{row}=""),"",B{row}-C{row})', now - before if both else None),
                          metric_style(name))
            relative = Cell(Formula(f'=IF(OR(B{row}="",C{row}="",C{row}=0),"",(B{row}-C{row})/ABS(C{row}))',
                                    (now - before) / abs(before) if both and before else None), "roi-percent")
        sheet.add(Cell(METRIC_TITLES[name], "roi-label"),
                  Cell(Formula(f"={anchors.total_cell(name)}", now), metric_style(name)),
                  Cell(before, metric_style(name)), change, relative)
    if previous is None:
        sheet.add(Cell(f"No figures for {frame.period.previous()} to compare with.", "roi-note"))
    elif previous.revision is not None:
        sheet.add(Cell(f"{previous.period} as closed in revision {previous.revision}.", "roi-note"))
    sheet.add(Cell("The change in ROI and resolution rate is in percentage points (pp).", "roi-note"))


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


def _net_value_chart(sheet: Sheet, frame: ReportFrame, anchors: Anchors) -> None:
    """The cohorts by net value, largest first, and a bar chart of them (the largest at the top)."""
    keys = list(anchors.cohort_rows)
    if not keys:
        return
    net = {key: anchors.figure("net_value", key) or 0.0 for key in keys}
    ordered = sorted(keys, key=lambda key: (-net[key], anchors.cohort_rows[key]))
    if len(ordered) > CHART_COHORTS:
        half = CHART_COHORTS // 2
        ordered = ordered[:half] + ordered[-half:]
        title = f"Net value: the {half} highest and {half} lowest of {len(keys):,} cohorts"
    else:
        title = "Net value by cohort, largest first"
    sheet.add(Cell(title, "roi-section"))
    header = sheet.add(heading("Cohort"), heading(f"Net value ({frame.currency})"))
    for key in ordered:
        sheet.add(Cell(cohort_label(key), "roi-text"),
                  Cell(Formula(f"={anchors.cohort_cell('net_value', anchors.cohort_rows[key])}", net[key]), "roi-net"))
    last = sheet.next_row - 1
    sheet.charts.append(Chart(
        kind="bar", title="", anchor=f"C{header}", horizontal=True,
        categories=ref(SUMMARY_SHEET, 1, header + 1, 1, last),
        series=[Series(ref(SUMMARY_SHEET, 2, header), ref(SUMMARY_SHEET, 2, header + 1, 2, last))],
        y_title=f"Net value ({frame.currency})", y_format="#,##0",
        width=13.5, height=max(5.0, min(22.0, 0.5 * len(ordered) + 2.0)),
    ))
    rows_needed = int(sheet.charts[-1].height * CM_PIXELS / 20) + 1
    while sheet.next_row < header + rows_needed:
        sheet.blank()  # keep what follows below the chart


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
        values = tuple(value for _name, value in key)
        current = values if tuple(name for name, _value in key) == tuple(frame.group_by) \
            and values in anchors.cohort_rows else None
        cells: list[Cell | None] = [Cell(cohort_label(values), "roi-text")]
        cells += _change_cells(row, old.get(key), current, anchors)
        sheet.rows.append(cells)
    row = sheet.next_row
    cells = [Cell(TOTAL_LABEL, "roi-total-label")]
    cells += _change_cells(row, prior.totals, None, anchors, total=True)
    sheet.rows.append(cells)
    sheet.freeze = f"B{header_row + 1}"
    sheet.repeat_rows = (header_row, header_row)
    sheet.repeat_columns = 1
    return finish(sheet, from_row=header_row)


def _record_key(cohort: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((name, str(value)) for name, value in cohort.items())


def _change_cells(row: int, old: dict[str, Any] | None, key: tuple[str, ...] | None, anchors: Anchors,
                  total: bool = False) -> list[Cell | None]:
    """Old value, new value (a formula on Cohorts) and the difference, per metric; `key` None with
    total=True is the total row, None without it a cohort that is gone."""
    cells: list[Cell | None] = []
    column = 2
    current_row = anchors.total_row if total else anchors.cohort_rows.get(key) if key is not None else None
    for name in CHANGE_METRICS:
        style = metric_style(name, total=total)
        before = number((old or {}).get(name), name in INTEGER_METRICS)
        now = anchors.figure(name, None if total else key) if current_row else None
        after: Any = Formula(f"={anchors.cohort_cell(name, current_row)}", now) if current_row else None
        old_cell, new_cell = column_letter(column), column_letter(column + 1)
        difference = Formula(f"=N({new_cell}{row})-N({old_cell}{row})", (now or 0) - (before or 0))
        cells += [Cell(before, style), Cell(after, style), Cell(difference, style)]
        column += 3
    return cells
