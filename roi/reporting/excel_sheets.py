"""The formula core of the workbook: Assumptions, Detail and Cohorts as layout data.

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

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..config import FixedCost
from ..domain import (
    ASSUMPTIONS,
    CELL_METRICS,
    MONEY_METRICS,
    PERCENT_METRICS,
    REPORT_METRICS,
    display_dimension,
    share_column,
)
from .frame import INTEGER_METRICS, ReportFrame
from .workbook_layout import Cell, Formula, Sheet, column_letter, fit_widths, ref

ASSUMPTIONS_SHEET = "Assumptions"
DETAIL_SHEET = "Detail"
COHORTS_SHEET = "Cohorts"
HEADER_ROW = 3  # header of the tables on Detail and Cohorts; data starts on the next row

METRIC_TITLES: dict[str, str] = {
    "requests": "Requests",
    "input_tokens": "Input tokens",
    "output_tokens": "Output tokens",
    "cached_input_tokens": "Cached input tokens",
    "token_cost": "Token cost",
    "unpriced_requests": "Unpriced requests",
    "resolved": "Resolved",
    "escalated": "Escalated",
    "abandoned": "Abandoned",
    "reopened": "Reopened",
    "human_review_minutes": "Human review minutes",
    "cases": "Cases",
    "net_resolved": "Net resolved",
    "review_cost": "Review cost",
    "fixed_cost": "Fixed cost",
    "total_cost": "Total cost",
    "failure_cost": "Failure cost",
    "value": "Value",
    "net_value": "Net value",
    "roi": "ROI",
    "cost_per_resolved_case": "Cost per resolved case",
    "fully_loaded_cost_per_resolved_case": "Fully loaded cost per resolved case",
    "resolution_rate": "Resolution rate",
    "escalation_rate": "Escalation rate",
    "unallocated_fixed_cost": "Unallocated fixed cost",
}
ASSUMPTION_TITLES: dict[str, tuple[str, str]] = {
    "value_per_resolution": ("Value per resolution", "What one case resolved without a human is worth."),
    "escalation_cost": ("Escalation cost", "What a case handed to a human costs."),
    "reopen_cost": ("Reopen cost", "What a resolved case that is reopened costs."),
    "abandonment_cost": ("Abandonment cost", "What a case the user leaves unresolved costs."),
    "review_cost_per_hour": ("Review cost per hour", "Hourly cost of humans reviewing AI output."),
}
UNIT_METRICS = frozenset({"cost_per_resolved_case", "fully_loaded_cost_per_resolved_case"})
TOTAL_LABEL = "Total"
UNALLOCATED_LABEL = "(unallocated fixed cost)"


def metric_style(name: str, total: bool = False) -> str:
    if name == "net_value":
        kind = "net"
    elif name in UNIT_METRICS:
        kind = "currency-unit"
    elif name in MONEY_METRICS:
        kind = "currency"
    elif name in PERCENT_METRICS:
        kind = "percent"
    elif name in INTEGER_METRICS:
        kind = "count"
    else:
        kind = "decimal"
    return f"roi-total-{kind}" if total else f"roi-{kind}"


def number(value: Any, integer: bool = False) -> float | int | None:
    """A figure as written: None for a null/NaN, int for counts, unrounded float otherwise."""
    if value is None:
        return None
    figure = float(value)
    if math.isnan(figure) or math.isinf(figure):
        return None
    return int(round(figure)) if integer else figure


def as_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    if hasattr(value, "date"):
        return value.date()
    return date.fromisoformat(str(value)[:10])


def heading(text: str) -> Cell:
    return Cell(text, "roi-heading")


@dataclass(slots=True)
class Anchors:
    """Where the builders put things, so later sheets can reference them."""

    version_rows: dict[tuple[str, str], int] = field(default_factory=dict)
    assumption_cols: dict[str, int] = field(default_factory=dict)
    fixed_rows: list[int] = field(default_factory=list)
    amount_col: int = 2
    detail_cols: dict[str, int] = field(default_factory=dict)
    detail_first: int = HEADER_ROW + 1
    detail_last: int = HEADER_ROW  # < detail_first when there are no rows
    cohort_cols: dict[str, int] = field(default_factory=dict)
    cohort_rows: dict[tuple[str, ...], int] = field(default_factory=dict)
    cohort_first: int = HEADER_ROW + 1
    cohort_last: int = HEADER_ROW
    unallocated_row: int | None = None
    total_row: int = HEADER_ROW + 1
    unallocated_costs: tuple[int, ...] = ()  # indexes of fixed costs nobody carries this month

    def cohort_cell(self, metric: str, row: int) -> str:
        return ref(COHORTS_SHEET, self.cohort_cols[metric], row)

    def total_cell(self, metric: str) -> str:
        return self.cohort_cell(metric, self.total_row)


def _match_text(cost: FixedCost) -> str:
    parts = []
    for name, wanted in cost.match.items():
        values = [wanted] if isinstance(wanted, str) else list(wanted)
        parts.append(f"{name} = {', '.join(display_dimension(value) for value in values)}")
    return "; ".join(parts) or "every cell"


def unallocated_costs(frame: ReportFrame) -> tuple[int, ...]:
    """Fixed costs whose driver totals 0 in the month: the whole amount stays unallocated.

    Judged on the shares rather than on frame.unallocated, so a cost whose amount is 0 in
    the TOML still moves to the unallocated row when a user types an amount for it.
    """
    if frame.filters:
        # a filtered report cannot tell whose unallocated cost it would be; frame.unallocated is empty
        return ()
    found = []
    for index, _cost in enumerate(frame.fixed_costs):
        column = share_column(index)
        total = float(frame.detail[column].sum()) if column in frame.detail and len(frame.detail) else 0.0
        if total <= 0:
            found.append(index)
    return tuple(found)


def build_assumptions(frame: ReportFrame, anchors: Anchors) -> Sheet:
    sheet = Sheet(ASSUMPTIONS_SHEET, tab_color="FFC000")
    sheet.add(Cell(f"Assumptions for {frame.period}", "roi-title"))
    sheet.add(Cell("Edit the yellow cells: every figure that depends on them (Detail, Cohorts, Trend, Summary, "
                   "charts) follows, and nothing else changes.", "roi-note"))
    sheet.blank()
    sheet.add(Cell("Value models: the versions effective in the month", "roi-section"))
    sheet.add(heading("Value model"), heading("Effective from"),
              *(heading(ASSUMPTION_TITLES[name][0]) for name in ASSUMPTIONS),
              heading("Description"), heading("Notes"))
    anchors.assumption_cols = {name: 3 + position for position, name in enumerate(ASSUMPTIONS)}
    if not frame.versions:
        sheet.add(Cell("(no data in the month, so no value model version is in use)", "roi-note"))
    for used in frame.versions:
        version = used.version
        row = sheet.add(
            Cell(used.model, "roi-text"),
            Cell(version.effective_from, "roi-date"),
            *(Cell(float(getattr(version, name)), "roi-input") for name in ASSUMPTIONS),
            Cell(used.description, "roi-text"),
            Cell(version.notes, "roi-text"),
        )
        anchors.version_rows[(used.model, version.effective_from.isoformat())] = row
    sheet.blank()
    sheet.add(Cell("Fixed costs: monthly amounts shared among the cells they match", "roi-section"))
    sheet.add(heading("Fixed cost"), heading("Amount per month"), heading("Allocated by"), heading("Shared among"),
              heading("This month"), heading("Description"))
    anchors.amount_col = 2
    anchors.unallocated_costs = unallocated_costs(frame)
    if not frame.fixed_costs:
        sheet.add(Cell("(no fixed costs configured)", "roi-note"))
    for index, cost in enumerate(frame.fixed_costs):
        if index in anchors.unallocated_costs:
            status = "unallocated: its driver totals 0 this month, so the whole amount shows on its own row"
        else:
            status = f"shared in proportion to {cost.allocate_by} (Detail: share of {cost.name})"
        row = sheet.add(Cell(cost.name, "roi-text"), Cell(float(cost.amount), "roi-input"),
                        Cell(cost.allocate_by, "roi-text"), Cell(_match_text(cost), "roi-text"),
                        Cell(status, "roi-text"), Cell(cost.description, "roi-text"))
        anchors.fixed_rows.append(row)
    sheet.blank()
    sheet.add(Cell("What each assumption means", "roi-section"))
    sheet.add(heading("Assumption"), heading("Meaning"), heading("Used in"))
    used_in = {
        "value_per_resolution": "value = (resolved - reopened) x value per resolution",
        "escalation_cost": "failure cost",
        "reopen_cost": "failure cost",
        "abandonment_cost": "failure cost",
        "review_cost_per_hour": "review cost = human review minutes / 60 x review cost per hour",
    }
    for name in ASSUMPTIONS:
        title, meaning = ASSUMPTION_TITLES[name]
        sheet.add(Cell(title, "roi-label"), Cell(meaning, "roi-text"), Cell(used_in[name], "roi-text"))
    sheet.add(Cell("Amount per month", "roi-label"),
              Cell("A fixed monthly cost, shared among the cells it matches in proportion to its driver.", "roi-text"),
              Cell("fixed cost", "roi-text"))
    sheet.widths = {1: 24, 2: 16, 3: 16, 4: 16, 5: 16, 6: 16, 7: 16, 8: 48, 9: 40}
    sheet.freeze = "A4"
    return sheet


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
        cells = [Cell(cohort_numbers[key], "roi-count"), *_dimension_cells(key),
                 Cell(str(record["value_model"]), "roi-text"), Cell(as_date(record["model_version"]), "roi-date"),
                 Cell(as_date(record["first_day"]), "roi-date"), Cell(as_date(record["last_day"]), "roi-date")]
        for name in ASSUMPTIONS:
            target = ref(ASSUMPTIONS_SHEET, anchors.assumption_cols[name], version_row)
            cells.append(Cell(Formula(f"={target}"), "roi-currency"))
        for name in CELL_METRICS:
            cells.append(Cell(number(record[name], name in INTEGER_METRICS), metric_style(name)))
        at = {name: f"{letter[name]}{row}" for name in names}
        cells.append(Cell(Formula(f"={at['resolved']}+{at['escalated']}+{at['abandoned']}"), "roi-count"))
        cells.append(Cell(Formula(f"={at['resolved']}-{at['reopened']}"), "roi-count"))
        cells.append(Cell(Formula(f"={at['human_review_minutes']}/60*{at['review_cost_per_hour']}"), "roi-currency"))
        for column in shares:
            cells.append(Cell(number(record[column]), "roi-share"))
        terms = [f"{at[column]}*{ref(ASSUMPTIONS_SHEET, anchors.amount_col, anchors.fixed_rows[index])}"
                 for index, column in enumerate(shares) if index not in anchors.unallocated_costs]
        cells.append(Cell(Formula("=" + "+".join(terms)) if terms else 0.0, "roi-currency"))
        cells.append(Cell(Formula(f"={at['token_cost']}+{at['review_cost']}+{at['fixed_cost']}"), "roi-currency"))
        cells.append(Cell(Formula(
            f"={at['escalated']}*{at['escalation_cost']}+{at['reopened']}*{at['reopen_cost']}"
            f"+{at['abandoned']}*{at['abandonment_cost']}"), "roi-currency"))
        cells.append(Cell(Formula(f"=({at['resolved']}-{at['reopened']})*{at['value_per_resolution']}"),
                          "roi-currency"))
        cells.append(Cell(Formula(f"={at['value']}-{at['total_cost']}-{at['failure_cost']}"), "roi-net"))
        sheet.rows.append(cells)
    anchors.detail_last = len(sheet.rows)
    last_col = column_letter(len(names))
    sheet.freeze = f"{column_letter(cols['first_day'])}{HEADER_ROW + 1}"
    sheet.autofilter = f"A{HEADER_ROW}:{last_col}{max(anchors.detail_last, HEADER_ROW + 1)}"
    sheet.widths = fit_widths(sheet, HEADER_ROW)
    return sheet


def _cohort_keys(frame: ReportFrame) -> list[tuple[str, ...]]:
    dims = list(frame.group_by)
    if not len(frame.cohorts):
        return []
    if not dims:
        return [()]
    return [tuple(str(value) for value in values) for values in frame.cohorts[dims].itertuples(index=False)]


def _ratio_formulas(at: dict[str, str]) -> dict[str, str]:
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

    def summed(metric: str, row: int) -> Formula | float:
        if last < first:
            return 0.0
        keys = ref(DETAIL_SHEET, detail["cohort"], first, detail["cohort"], last)
        values = ref(DETAIL_SHEET, detail[metric], first, detail[metric], last)
        return Formula(f"=SUMIF({keys},$A{row},{values})")

    keys = _cohort_keys(frame)
    records = frame.cohorts.to_dict("records") if len(frame.cohorts) else []
    for number_, (key, record) in enumerate(zip(keys, records, strict=True), start=1):
        row = sheet.next_row
        anchors.cohort_rows[key] = row
        at = {name: f"{letter[name]}{row}" for name in REPORT_METRICS}
        labels = _dimension_cells(key) if dims else [Cell("(all)", "roi-text")]
        cells = [Cell(number_, "roi-count"), *labels]
        cells += [Cell(number(record[name], name in INTEGER_METRICS), metric_style(name)) for name in CELL_METRICS]
        formulas = {
            "cases": f"={at['resolved']}+{at['escalated']}+{at['abandoned']}",
            "net_resolved": f"={at['resolved']}-{at['reopened']}",
            "total_cost": f"={at['token_cost']}+{at['review_cost']}+{at['fixed_cost']}",
            "net_value": f"={at['value']}-{at['total_cost']}-{at['failure_cost']}",
            **_ratio_formulas(at),
        }
        for name in REPORT_METRICS[len(CELL_METRICS):]:
            content = Formula(formulas[name]) if name in formulas else summed(name, row)
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
        cells[cols["fixed_cost"] - 1] = Cell(Formula(f"={amounts}"), "roi-currency")
        cells[cols["total_cost"] - 1] = Cell(Formula(f"={letter['fixed_cost']}{row}"), "roi-currency")
        cells[cols["net_value"] - 1] = Cell(Formula(f"=-{letter['total_cost']}{row}"), "roi-net")
        sheet.rows.append(cells)
    row = sheet.next_row
    anchors.total_row = row
    at = {name: f"{letter[name]}{row}" for name in REPORT_METRICS}
    ratios = _ratio_formulas(at)
    cells = [Cell(None, "roi-total-label")] * len(names)
    cells = list(cells)
    cells[label_col - 1] = Cell(TOTAL_LABEL, "roi-total-label")
    for name in REPORT_METRICS:
        if name in ratios:
            content: Any = Formula(ratios[name])
        elif row - 1 >= anchors.cohort_first:
            content = Formula(f"=SUM({letter[name]}{anchors.cohort_first}:{letter[name]}{row - 1})")
        else:
            content = 0
        cells[cols[name] - 1] = Cell(content, metric_style(name, total=True))
    sheet.rows.append(cells)
    sheet.freeze = f"{column_letter(len(dims or ['label']) + 2)}{HEADER_ROW + 1}"
    sheet.autofilter = f"A{HEADER_ROW}:{column_letter(len(names))}{max(anchors.cohort_last, HEADER_ROW + 1)}"
    sheet.widths = fit_widths(sheet, HEADER_ROW)
    return sheet
