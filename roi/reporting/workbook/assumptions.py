"""The Assumptions sheet as layout data: the yellow input cells every formula of the workbook reaches."""

from __future__ import annotations

from ...config import FixedCost
from ...domain import ASSUMPTIONS, display_dimension, share_column
from ..frame import ReportFrame
from .figures import ASSUMPTION_TITLES, ASSUMPTIONS_SHEET, Anchors, heading
from .layout import Cell, Sheet, finish


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
        sheet.add(Cell(f"(no data in {frame.period}, so no value model version is in use)", "roi-note"))
    for used in frame.versions:
        version = used.version
        row = sheet.add(
            Cell(used.model, "roi-text"),
            Cell(version.effective_from, "roi-date"),
            *(Cell(version.point(name), "roi-input") for name in ASSUMPTIONS),
            Cell(used.description, "roi-text"),
            Cell(version.notes, "roi-text"),
        )
        anchors.version_rows[(used.model, version.effective_from.isoformat())] = row
    sheet.blank()
    sheet.add(Cell("Fixed costs: monthly amounts shared among the cells they match", "roi-section"))
    # the three tables share the columns the value models need: the text of the others spans several
    sheet.add(heading("Fixed cost"), heading("Amount per month"), heading("Allocated by"),
              Cell("Shared among", "roi-heading", span=2), None, Cell("This month", "roi-heading", span=2), None,
              Cell("Description", "roi-heading", span=2))
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
                        Cell(cost.allocate_by, "roi-text"), Cell(_match_text(cost), "roi-text", span=2), None,
                        Cell(status, "roi-text", span=2), None, Cell(cost.description, "roi-text", span=2))
        anchors.fixed_rows.append(row)
    sheet.blank()
    sheet.add(Cell("What each assumption means", "roi-section"))
    sheet.add(heading("Assumption"), Cell("Meaning", "roi-heading", span=6), None, None, None, None, None,
              Cell("Used in", "roi-heading", span=2))
    used_in = {
        "value_per_resolution": "value = (resolved - reopened) x value per resolution",
        "escalation_cost": "failure cost",
        "reopen_cost": "failure cost",
        "abandonment_cost": "failure cost",
        "review_cost_per_hour": "review cost = human review minutes / 60 x review cost per hour",
    }
    for name in ASSUMPTIONS:
        title, meaning = ASSUMPTION_TITLES[name]
        sheet.add(Cell(title, "roi-label"), Cell(meaning, "roi-text", span=6), None, None, None, None, None,
                  Cell(used_in[name], "roi-text", span=2))
    sheet.add(Cell("Amount per month", "roi-label"),
              Cell("A fixed monthly cost, shared among the cells it matches in proportion to its driver.", "roi-text",
                   span=6), None, None, None, None, None, Cell("fixed cost", "roi-text", span=2))
    sheet.freeze = "B4"
    sheet.repeat_columns = 1
    sheet.widths = {1: 22, 2: 13, **{column: 14 for column in range(3, 3 + len(ASSUMPTIONS))}, 8: 36, 9: 36}
    return finish(sheet, from_row=5)
