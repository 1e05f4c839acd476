"""The Changes sheet as layout data: why net value changed since the previous month, per cohort.

The previous month's net value and the effects are values (computed by roi with the figures
as reported); this month's net value points at the Cohorts sheet and the change is a formula.
The assumptions effect is the change less the other effects, so the row always adds up: an
assumption edited on the Assumptions sheet shows as an assumptions effect. The previous month is
today's data of it; when it is closed, two rows below the total give its revision's net value (the
one Summary and Trend show) and the difference, restated since the close.
"""

from __future__ import annotations

from ..frame import ReportFrame
from .extras import ChangeFigures
from .figures import TOTAL_LABEL, UNALLOCATED_LABEL, Anchors, heading
from .layout import Cell, Chart, Formula, Series, Sheet, cohort_label, column_letter, finish, ref

BRIDGE_SHEET = "Changes"
EFFECT_TITLES = {"volume": "Volume", "outcome_mix": "Outcome mix", "unit_cost": "Unit cost",
                 "assumptions": "Assumptions", "fixed_cost_share": "Fixed-cost share"}


def build_bridge(frame: ReportFrame, anchors: Anchors, changes: ChangeFigures) -> Sheet:
    sheet = Sheet(BRIDGE_SHEET, tab_color="ED7D31")
    before = str(changes.previous_period)
    sheet.add(Cell(f"What changed: net value from {before} to {frame.period}, per cohort", "roi-title"))
    sheet.add(Cell("Volume: more or fewer cases. Outcome mix: resolution, escalation, abandonment and reopen rates. "
                   "Unit cost: token cost and review minutes per case. Assumptions: value model versions. "
                   "Fixed-cost share: the cohort's share of fixed costs. They add up to the change "
                   "(docs/metrics.md, \"What changed\").", "roi-note"))
    sheet.add(Cell(f"{before} and the effects are values as computed by roi; {frame.period} follows the Cohorts "
                   "sheet, and Assumptions is the change less the other effects.", "roi-note"))
    effects = list(changes.effects)
    header = sheet.add(heading("Cohort"), heading(f"Net value {before}"), heading(f"Net value {frame.period}"),
                       heading("Change"), *(heading(EFFECT_TITLES[name]) for name in effects))
    first = sheet.next_row
    rows = [(cohort_label(key), previous, current, values, anchors.cohort_rows.get(key))
            for key, previous, current, values in changes.cohorts]
    unallocated_effect = -(changes.unallocated[1] - changes.unallocated[0])
    if changes.unallocated != (0.0, 0.0):
        fixed = dict.fromkeys(effects, 0.0) | {"fixed_cost_share": unallocated_effect}
        rows.append((UNALLOCATED_LABEL, -changes.unallocated[0], -changes.unallocated[1], fixed,
                     anchors.unallocated_row))
    for label, previous, current, values, cohort_row in rows:
        row = sheet.next_row
        if cohort_row is not None:
            now = Cell(Formula(f"={anchors.cohort_cell('net_value', cohort_row)}", current), "roi-net")
        else:
            now = Cell(current, "roi-net")
        cells = [Cell(label, "roi-text"), Cell(previous, "roi-net"), now,
                 Cell(Formula(f"=C{row}-B{row}", current - previous), "roi-net")]
        others = "+".join(f"{column_letter(5 + index)}{row}" for index, name in enumerate(effects)
                          if name != "assumptions")
        for name in effects:
            if name == "assumptions":
                cells.append(Cell(Formula(f"=D{row}-({others})", values[name]), "roi-net"))
            else:
                cells.append(Cell(values[name], "roi-net"))
        sheet.rows.append(cells)
    last = sheet.next_row - 1
    total = sheet.next_row
    sums = []
    for column in range(2, 5 + len(effects)):
        letter = column_letter(column)
        result = sum(_number(row[column - 1].value) for row in sheet.rows[first - 1:last])
        sums.append(Cell(Formula(f"=SUM({letter}{first}:{letter}{last})" if last >= first else "=0", result),
                         "roi-total-net"))
    sheet.add(Cell(TOTAL_LABEL, "roi-total-label"), *sums)
    if changes.closed_previous is not None:
        # the Summary and Trend sheets show the previous month as closed; today's data of it may differ
        revision, closed_net_value = changes.closed_previous
        closed_row = sheet.next_row
        sheet.add(Cell(f"{before} as closed (revision {revision}), as Summary and Trend show it", "roi-text"),
                  Cell(closed_net_value, "roi-net"))
        sheet.add(Cell(f"Restated since the close (data that arrived later, or another config): {before} "
                       "above less its revision", "roi-text"),
                  Cell(Formula(f"=B{total}-B{closed_row}", _number(sums[0].value) - closed_net_value), "roi-net"))
    sheet.blank()
    sheet.charts.append(Chart(
        kind="bar", title=f"Change of total net value, {before} to {frame.period}, by effect",
        anchor=f"A{sheet.next_row}", categories=ref(BRIDGE_SHEET, 5, header, 4 + len(effects), header),
        series=[Series("Effect", ref(BRIDGE_SHEET, 5, total, 4 + len(effects), total), title_is_ref=False)],
        y_title=f"Net value ({frame.currency})", y_format="#,##0", width=18, height=9,
    ))
    sheet.freeze = f"B{header + 1}"
    if last >= first:
        sheet.autofilter = f"A{header}:{column_letter(4 + len(effects))}{last}"
    sheet.repeat_rows = (header, header)
    sheet.repeat_columns = 1
    return finish(sheet, from_row=header)


def _number(value) -> float:
    if isinstance(value, Formula):
        return float(value.result or 0.0)
    return float(value or 0.0)
