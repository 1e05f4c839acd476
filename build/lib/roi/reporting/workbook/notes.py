"""The Data quality and Definitions sheets as layout data."""

from __future__ import annotations

from ..frame import ReportFrame
from .extras import WorkbookExtras, as_utc_naive
from .figures import METRIC_TITLES, heading
from .layout import Cell, Formula, Sheet, finish

QUALITY_SHEET = "Data quality"
DEFINITIONS_SHEET = "Definitions"


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
        sheet.add(Cell(f"(no batches ingested for {frame.period})", "roi-note"))
    for item in extras.sources:
        sheet.add(Cell(item.source, "roi-text"), Cell(item.batches, "roi-count"), Cell(item.rows_read, "roi-count"),
                  Cell(item.rows_stored, "roi-count"), Cell(item.duplicates, "roi-count"),
                  Cell(item.quarantined, "roi-count"), Cell(item.unpriced, "roi-count"),
                  Cell(as_utc_naive(item.last_ingest), "roi-datetime"))
    sheet.blank()
    sheet.add(Cell("Quarantined rows: the first reasons per source", "roi-section"))
    # the tables share columns: the quarantine's file and reason span several
    sheet.add(heading("Source"), Cell("File", "roi-heading", span=2), None, heading("Line"),
              Cell("Reason", "roi-heading", span=4))
    if not extras.quarantine:
        sheet.add(Cell("(no quarantined rows)", "roi-note"))
    for sample in extras.quarantine:
        sheet.add(Cell(sample.source, "roi-text"), Cell(extras.shown_path(sample.file), "roi-text", span=2), None,
                  Cell(sample.line, "roi-count"), Cell(sample.reason, "roi-text", span=4))
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
                  Cell(item.requests, "roi-count"),
                  Cell(Formula(f'=IF(E{row}>0,D{row}/E{row},"")', item.unpriced / item.requests if item.requests else None),
                       "roi-percent"))
    sheet.repeat_columns = 1
    sheet.widths = {1: 20, 2: 16, 3: 18, 4: 12, 5: 12, 6: 12, 7: 12, 8: 17}
    return finish(sheet, from_row=header)


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
    sheet.repeat_rows = (header, header)
    for name, meaning, formula in DEFINITIONS:
        sheet.add(Cell(METRIC_TITLES[name], "roi-label"), Cell(name, "roi-text"), Cell(meaning, "roi-text"),
                  Cell(formula, "roi-text"))
    sheet.add(Cell("Figures are unrounded here and in JSON; the CSV shows money to the cent and ratios to 4 "
                   "decimal places, rounded so that its cohorts and unallocated fixed cost add up to its totals.",
                   "roi-note"))
    sheet.widths = {1: 24, 2: 36, 3: 50, 4: 40}
    return finish(sheet, from_row=header)


