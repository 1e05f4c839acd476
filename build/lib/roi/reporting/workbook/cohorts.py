"""The formula core of the workbook: Detail and Cohorts as layout data (Assumptions: assumptions.py).

Every formula carries the figure the report frame computed for it (Formula.result),
written as the cell's cached value.

Counts, tokens and token cost are facts and written as values. Every figure
derived from an assumption is a formula that reaches the Assumptions sheet
(DESIGN section 4, term by term), so a finance user who edits an assumption
sees every dependent figure follow:

    Detail row   review_cost  = minutes / 60 * review_cost_per_hour
                 fixed_cost   = sum_i share_i * amount_i
                 failure_cost = escalated * esc + reopened * reopen + abandoned * abandon
                 value        = (resolved - reopened) * value_per_resolution
    Cohorts row  SUMIF over the Detail rows carrying its cohort number, then
                 total/net/ratios in the row with IF guards for a null.
"""

from __future__ import annotations

from typing import Any

from ...domain import ASSUMPTIONS, CELL_METRICS, REPORT_METRICS, display_dimension, share_column
from ..frame import INTEGER_METRICS, ReportFrame
from .figures import (
    ASSUMPTION_TITLES,
    ASSUMPTIONS_SHEET,
    COHORTS_SHEET,
    DETAIL_SHEET,
    HEADER_ROW,
    METRIC_TITLES,
    TOTAL_LABEL,
    UNALLOCATED_LABEL,
    Anchors,
    as_date,
    heading,
    metric_style,
    no_data_text,
    number,
)
from .layout import Cell, Formula, Sheet, column_letter, finish, ref


def _dimension_cells(values: tuple[str, ...]) -> list[Cell]:
    return [Cell(display_dimension(value), "roi-text") for value in values]


def build_detail(frame: ReportFrame, anchors: Anchors) -> Sheet:
    sheet = Sheet(DETAIL_SHEET)
    dims = list(frame.group_by)
    sheet.add(Cell(f"Detail for {frame.period}: cohort x value model x model version", "roi-title"))
    sheet.add(Cell("The rows each cohort is summed from (the Cohorts sheet adds up the rows with its cohort #). "
                   "Counts are data; assumptions come from the Assumptions sheet.", "roi-note"))
    shares = [share_column(index) for index in range(len(frame.fixed_costs))]
    names = ["cohort", *dims, "value_model", "model_version", "first_day", "last_day", *ASSUMPTIONS,
             *CELL_METRICS, "cases", "net_resolved", "review_cost", *shares,
             "fixed_cost", "total_cost", "failure_cost", "value", "net_value"]
    cols = {name: position + 1 for position, name in enumerate(names)}
    anchors.detail_cols = cols
    titles = {"cohort": "Cohort #", "value_model": "Value model", "model_version": "Version (effective from)",
              "first_day": "First day", "last_day": "Last day",
              **{name: ASSUMPTION_TITLES[name][0] for name in ASSUMPTIONS},
              **{share_column(index): f"Share of {cost.name}" for index, cost in enumerate(frame.fixed_costs)}}
    sheet.add(*(heading(titles.get(name) or METRIC_TITLES.get(name) or name.replace("_", " ").capitalize())
                for name in names))
    letter = {name: column_letter(position) for name, position in cols.items()}
    cohort_numbers = {key: number + 1 for number, key in enumerate(_cohort_keys(frame))}
    detail = frame.detail
    records = detail.to_dict("records") if len(detail) else []
    for record in records:
        row = sheet.next_row
        key = tuple(str(record[name]) for name in dims)
        version_row = anchors.version_rows[(str(record["value_model"]), str(record["model_version"]))]
        cells = [Cell(cohort_numbers[key], "roi-number"), *_dimension_cells(key),
                 Cell(str(record["value_model"]), "roi-text"), Cell(as_date(record["model_version"]), "roi-date"),
                 Cell(as_date(record["first_day"]), "roi-date"), Cell(as_date(record["last_day"]), "roi-date")]
        for name in ASSUMPTIONS:
            target = ref(ASSUMPTIONS_SHEET, anchors.assumption_cols[name], version_row)
            cells.append(Cell(Formula(f"={target}", number(record[name])), "roi-currency"))
        for name in CELL_METRICS:
            cells.append(Cell(number(record[name], name in INTEGER_METRICS), metric_style(name)))
        at = {name: f"{letter[name]}{row}" for name in names}

        def computed(text: str, name: str, record: dict = record) -> Formula:
            return Formula(text, number(record[name], name in INTEGER_METRICS))

        cells.append(Cell(computed(f"={at['resolved']}+{at['escalated']}+{at['abandoned']}", "cases"), "roi-count"))
        cells.append(Cell(computed(f"={at['resolved']}-{at['reopened']}", "net_resolved"), "roi-count"))
        cells.append(Cell(computed(f"={at['human_review_minutes']}/60*{at['review_cost_per_hour']}", "review_cost"),
                          "roi-currency"))
        for column in shares:
            cells.append(Cell(number(record[column]), "roi-share"))
        terms = [f"{at[column]}*{ref(ASSUMPTIONS_SHEET, anchors.amount_col, anchors.fixed_rows[index])}"
                 for index, column in enumerate(shares) if index not in anchors.unallocated_costs]
        cells.append(Cell(computed("=" + "+".join(terms), "fixed_cost") if terms else 0.0, "roi-currency"))
        cells.append(Cell(computed(f"={at['token_cost']}+{at['review_cost']}+{at['fixed_cost']}", "total_cost"),
                          "roi-currency"))
        cells.append(Cell(computed(
            f"={at['escalated']}*{at['escalation_cost']}+{at['reopened']}*{at['reopen_cost']}"
            f"+{at['abandoned']}*{at['abandonment_cost']}", "failure_cost"), "roi-currency"))
        cells.append(Cell(computed(f"=({at['resolved']}-{at['reopened']})*{at['value_per_resolution']}", "value"),
                          "roi-currency"))
        cells.append(Cell(computed(f"={at['value']}-{at['total_cost']}-{at['failure_cost']}", "net_value"),
                          "roi-net"))
        sheet.rows.append(cells)
    anchors.detail_last = len(sheet.rows)
    last_col = column_letter(len(names))
    sheet.freeze = f"{column_letter(cols['first_day'])}{HEADER_ROW + 1}"
    sheet.autofilter = f"A{HEADER_ROW}:{last_col}{max(anchors.detail_last, HEADER_ROW + 1)}"
    sheet.repeat_rows = (HEADER_ROW, HEADER_ROW)
    sheet.repeat_columns = cols["cohort"] + len(dims)
    if not records:
        sheet.add(Cell(f"(no data in {frame.period})", "roi-note"))
    return finish(sheet, from_row=HEADER_ROW)


def _cohort_keys(frame: ReportFrame) -> list[tuple[str, ...]]:
    dims = list(frame.group_by)
    if not len(frame.cohorts):
        return []
    if not dims:
        return [()]
    return [tuple(str(value) for value in values) for values in frame.cohorts[dims].itertuples(index=False)]


def _ratio_formulas(at: dict[str, str]) -> dict[str, str]:
    """The ratios of a row from its sums; "" (null in JSON) where the denominator makes one undefined."""
    burden = f"({at['total_cost']}+{at['failure_cost']})"
    return {
        "roi": f'=IF({burden}=0,"",{at["net_value"]}/{burden})',
        "cost_per_resolved_case": f'=IF({at["net_resolved"]}>0,{at["total_cost"]}/{at["net_resolved"]},"")',
        "fully_loaded_cost_per_resolved_case": f'=IF({at["net_resolved"]}>0,{burden}/{at["net_resolved"]},"")',
        "resolution_rate": f'=IF({at["cases"]}>0,{at["net_resolved"]}/{at["cases"]},"")',
        "escalation_rate": f'=IF({at["cases"]}>0,{at["escalated"]}/{at["cases"]},"")',
    }


def build_cohorts(frame: ReportFrame, anchors: Anchors) -> Sheet:
    sheet = Sheet(COHORTS_SHEET, tab_color="1F4E78")
    dims = list(frame.group_by)
    grouped = ", ".join(dims) if dims else "nothing (one cohort: everything)"
    sheet.add(Cell(f"Cohorts for {frame.period}, grouped by {grouped}", "roi-title"))
    sheet.add(Cell("Counts and token cost are data; every other figure is a formula over the Detail and "
                   "Assumptions sheets. The total row includes fixed cost no cohort carries.", "roi-note"))
    names = ["cohort", *(dims or ["label"]), *REPORT_METRICS]
    cols = {name: position + 1 for position, name in enumerate(names)}
    anchors.cohort_cols = cols
    letter = {name: column_letter(position) for name, position in cols.items()}
    header = [heading("#"), *(heading(name.replace("_", " ").capitalize()) for name in (dims or ["cohort"]))]
    header += [heading(METRIC_TITLES[name]) for name in REPORT_METRICS]
    sheet.add(*header)
    detail = anchors.detail_cols
    first, last = anchors.detail_first, anchors.detail_last

    def summed(metric: str, row: int, result: Any) -> Formula | float:
        if last < first:
            return 0.0
        keys = ref(DETAIL_SHEET, detail["cohort"], first, detail["cohort"], last)
        values = ref(DETAIL_SHEET, detail[metric], first, detail[metric], last)
        return Formula(f"=SUMIF({keys},$A{row},{values})", result)

    keys = _cohort_keys(frame)
    records = frame.cohorts.to_dict("records") if len(frame.cohorts) else []
    for number_, (key, record) in enumerate(zip(keys, records, strict=True), start=1):
        row = sheet.next_row
        anchors.cohort_rows[key] = row
        anchors.cohort_figures[key] = record
        at = {name: f"{letter[name]}{row}" for name in REPORT_METRICS}
        labels = _dimension_cells(key) if dims else [Cell("(all)", "roi-text")]
        cells = [Cell(number_, "roi-number"), *labels]
        cells += [Cell(number(record[name], name in INTEGER_METRICS), metric_style(name)) for name in CELL_METRICS]
        formulas = {
            "cases": f"={at['resolved']}+{at['escalated']}+{at['abandoned']}",
            "net_resolved": f"={at['resolved']}-{at['reopened']}",
            "total_cost": f"={at['token_cost']}+{at['review_cost']}+{at['fixed_cost']}",
            "net_value": f"={at['value']}-{at['total_cost']}-{at['failure_cost']}",
            **_ratio_formulas(at),
        }
        for name in REPORT_METRICS[len(CELL_METRICS):]:
            result = number(record[name], name in INTEGER_METRICS)
            content = Formula(formulas[name], result) if name in formulas else summed(name, row, result)
            cells.append(Cell(content, metric_style(name)))
        sheet.rows.append(cells)
    anchors.cohort_last = len(sheet.rows)
    label_col = cols[dims[0]] if dims else cols["label"]
    if anchors.unallocated_costs:
        row = sheet.next_row
        anchors.unallocated_row = row
        cells: list[Cell | None] = [None] * len(names)
        cells[label_col - 1] = Cell(UNALLOCATED_LABEL, "roi-label")
        amounts = "+".join(ref(ASSUMPTIONS_SHEET, anchors.amount_col, anchors.fixed_rows[index])
                           for index in anchors.unallocated_costs)
        amount = sum(float(frame.fixed_costs[index].amount) for index in anchors.unallocated_costs)
        cells[cols["fixed_cost"] - 1] = Cell(Formula(f"={amounts}", amount), "roi-currency")
        cells[cols["total_cost"] - 1] = Cell(Formula(f"={letter['fixed_cost']}{row}", amount), "roi-currency")
        cells[cols["net_value"] - 1] = Cell(Formula(f"=-{letter['total_cost']}{row}", -amount), "roi-net")
        sheet.rows.append(cells)
    row = sheet.next_row
    anchors.total_row = row
    anchors.totals = dict(frame.totals)
    at = {name: f"{letter[name]}{row}" for name in REPORT_METRICS}
    ratios = _ratio_formulas(at)
    cells = [Cell(None, "roi-total-label")] * len(names)
    cells = list(cells)
    cells[label_col - 1] = Cell(TOTAL_LABEL, "roi-total-label")
    for name in REPORT_METRICS:
        result = number(frame.totals[name], name in INTEGER_METRICS)
        if name in ratios:
            content: Any = Formula(ratios[name], result)
        elif row - 1 >= anchors.cohort_first:
            content = Formula(f"=SUM({letter[name]}{anchors.cohort_first}:{letter[name]}{row - 1})", result)
        else:
            content = 0
        cells[cols[name] - 1] = Cell(content, metric_style(name, total=True))
    sheet.rows.append(cells)
    if not frame.has_data:
        sheet.blank()
        sheet.add(Cell(no_data_text(frame), "roi-warning"))
    sheet.freeze = f"{column_letter(len(dims or ['label']) + 2)}{HEADER_ROW + 1}"
    sheet.autofilter = f"A{HEADER_ROW}:{column_letter(len(names))}{max(anchors.cohort_last, HEADER_ROW + 1)}"
    sheet.repeat_rows = (HEADER_ROW, HEADER_ROW)
    sheet.repeat_columns = len(dims or ["label"]) + 1
    return finish(sheet, from_row=HEADER_ROW)
