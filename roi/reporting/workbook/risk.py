"""The Risk and Sensitivity sheets as layout data.

Monte Carlo bands are sampled, so they are stored values, and the Risk sheet says so; the
point figures beside them point at the Cohorts sheet. On Sensitivity, the change of net
value at each parameter's low and high is a value (exact: net value is linear in the
assumptions) and the net values are formulas on the Cohorts total; break-even points at
the Cohorts sheet's fully loaded cost per resolved case, so both follow an edited assumption.
"""

from __future__ import annotations

from ..frame import ReportFrame
from .extras import RiskFigures, SensitivityFigures
from .figures import TOTAL_LABEL, Anchors, heading, number
from .layout import Cell, Chart, Formula, Series, Sheet, cohort_label, finish, ref

RISK_SHEET = "Risk"
SENSITIVITY_SHEET = "Sensitivity"
_BANDS = (("net_value_p5", "Net value p5", "roi-net"), ("net_value_p50", "Net value p50", "roi-net"),
          ("net_value_p95", "Net value p95", "roi-net"), ("roi_p5", "ROI p5", "roi-percent"),
          ("roi_p50", "ROI p50", "roi-percent"), ("roi_p95", "ROI p95", "roi-percent"),
          ("probability_net_value_positive", "P(net value > 0)", "roi-percent"))


def build_risk(frame: ReportFrame, anchors: Anchors, risk: RiskFigures) -> Sheet:
    sheet = Sheet(RISK_SHEET, tab_color="7030A0")
    sheet.add(Cell(f"Risk for {frame.period}: how sure is each net value?", "roi-title"))
    drawn = ", ".join(risk.parameters) or "none"
    rates = "; each cohort's resolution rate drawn too (Beta on its counts)" if risk.outcome_rates else ""
    sheet.add(Cell(f"Monte Carlo: {risk.draws:,} draws (seed {risk.seed}) of the value models' ranges: {drawn}"
                   f"{rates}. One draw of a model holds for every cohort.", "roi-note"))
    sheet.add(Cell("The bands are stored values computed by roi, not formulas: they do not follow an edit on the "
                   "Assumptions sheet (the net value column does).", "roi-note"))
    header = sheet.add(heading("Cohort"), heading(f"Net value ({frame.currency})"),
                       *(heading(title) for _, title, _ in _BANDS))
    for key, row in anchors.cohort_rows.items():
        figures = risk.cohorts.get(key, {})
        sheet.add(Cell(cohort_label(key), "roi-text"),
                  Cell(Formula(f"={anchors.cohort_cell('net_value', row)}", anchors.figure("net_value", key)),
                       "roi-net"),
                  *(Cell(number(figures.get(name)), style) for name, _, style in _BANDS))
    sheet.add(Cell(f"{TOTAL_LABEL} (incl. unallocated fixed cost)", "roi-total-label"),
              Cell(Formula(f"={anchors.total_cell('net_value')}", anchors.figure("net_value", None)),
                   "roi-total-net"),
              *(Cell(number(risk.totals.get(name)), style.replace("roi-", "roi-total-"))
                for name, _, style in _BANDS))
    sheet.blank()
    sheet.add(Cell("p5 / p50 / p95: 5 % of the draws fall below p5, half below p50, 95 % below p95. An ROI band "
                   "is empty where the cost can be 0.", "roi-note"))
    sheet.freeze = f"B{header + 1}"
    sheet.repeat_rows = (header, header)
    sheet.repeat_columns = 1
    return finish(sheet, from_row=header)


def build_sensitivity(frame: ReportFrame, anchors: Anchors, figures: SensitivityFigures) -> Sheet:
    sheet = Sheet(SENSITIVITY_SHEET, tab_color="7030A0")
    sheet.add(Cell(f"Sensitivity for {frame.period}: which assumption moves net value most", "roi-title"))
    sheet.add(Cell("Each uncertain assumption at its low and at its high (a triangle's ends; a normal's 5th and 95th "
                   "percentiles), every other assumption at its point value; largest swing first.", "roi-note"))
    header = sheet.add(heading("Parameter"), heading("Range"), heading("Low"), heading("Point"), heading("High"),
                       heading(f"Change at low ({frame.currency})"), heading(f"Change at high ({frame.currency})"),
                       heading("Net value at low"), heading("Net value at high"), heading("Swing"))
    total = anchors.total_cell("net_value")
    point = anchors.figure("net_value", None) or 0.0
    for item in figures.parameters:
        row = sheet.next_row
        sheet.add(Cell(item.parameter, "roi-text"), Cell(item.ranges, "roi-text"),
                  Cell(item.low, "roi-decimal"), Cell(item.point, "roi-decimal"), Cell(item.high, "roi-decimal"),
                  Cell(item.change_low, "roi-net"), Cell(item.change_high, "roi-net"),
                  Cell(Formula(f"={total}+F{row}", point + item.change_low), "roi-net"),
                  Cell(Formula(f"={total}+G{row}", point + item.change_high), "roi-net"),
                  Cell(Formula(f"=ABS(G{row}-F{row})", abs(item.change_high - item.change_low)), "roi-currency"))
    last = sheet.next_row - 1
    if not figures.parameters:
        sheet.add(Cell("No assumption of the models in use is a range: give one as { low, mode, high } or "
                       "{ mean, sd } in its model's TOML.", "roi-note"))
    else:
        sheet.blank()
        sheet.charts.append(Chart(
            kind="bar", horizontal=True, overlap=100, legend=True, title="Tornado: change of total net value",
            anchor=f"A{sheet.next_row}", categories=ref(SENSITIVITY_SHEET, 1, header + 1, 1, last),
            series=[Series(ref(SENSITIVITY_SHEET, 6, header), ref(SENSITIVITY_SHEET, 6, header + 1, 6, last),
                           color="C00000"),
                    Series(ref(SENSITIVITY_SHEET, 7, header), ref(SENSITIVITY_SHEET, 7, header + 1, 7, last),
                           color="70AD47")],
            y_title=f"Change of net value ({frame.currency})", y_format="#,##0",
            width=20, height=max(6.0, min(20.0, 1.0 * len(figures.parameters) + 4.0)),
        ))
        for _ in range(int(sheet.charts[-1].height * 96 / 2.54 / 20) + 2):
            sheet.blank()  # keep the break-even table below the chart
    sheet.add(Cell("Break-even per cohort", "roi-section"))
    sheet.add(Cell("The value per resolution at which the cohort's net value is 0: its fully loaded cost per "
                   "resolved case (empty when net resolved is 0 or less). It follows the Assumptions sheet.",
                   "roi-note"))
    table = sheet.add(heading("Cohort"), heading("Net resolved"), heading(f"Net value ({frame.currency})"),
                      heading("Break-even value per resolution"), heading("Moved most by"), heading("Its swing"))
    for key, row in anchors.cohort_rows.items():
        parameter, swing = figures.largest.get(key, ("", None))
        sheet.add(Cell(cohort_label(key), "roi-text"),
                  Cell(Formula(f"={anchors.cohort_cell('net_resolved', row)}", anchors.figure("net_resolved", key)),
                       "roi-count"),
                  Cell(Formula(f"={anchors.cohort_cell('net_value', row)}", anchors.figure("net_value", key)),
                       "roi-net"),
                  Cell(Formula(f"={anchors.cohort_cell('fully_loaded_cost_per_resolved_case', row)}",
                               anchors.figure("fully_loaded_cost_per_resolved_case", key)), "roi-currency-unit"),
                  Cell(parameter, "roi-text"), Cell(number(swing), "roi-currency"))
    sheet.freeze = f"B{header + 1}"
    sheet.repeat_columns = 1
    sheet.widths = {1: 34, 2: 30}
    return finish(sheet, from_row=min(header, table))
