"""What the workbook's sheet builders share: sheet names, titles, styles per metric, and the anchors
(where each builder put things, and the frame's figures) that later sheets reference."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ...domain import MONEY_METRICS, PERCENT_METRICS
from ..frame import INTEGER_METRICS, ReportFrame
from .layout import Cell, ref

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


def no_data_text(frame: ReportFrame) -> str:
    unallocated = float(frame.totals.get("unallocated_fixed_cost") or 0.0)
    return (f"No data: nothing is stored for {frame.period}, so there are no cohorts. The figures are only the "
            f"fixed costs the month carries ({unallocated:,.2f} {frame.currency}), all unallocated; "
            "this is not a measured loss.")


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
    cohort_figures: dict[tuple[str, ...], dict[str, Any]] = field(default_factory=dict)  # the frame's, per cohort
    totals: dict[str, Any] = field(default_factory=dict)  # the frame's totals
    cohort_first: int = HEADER_ROW + 1
    cohort_last: int = HEADER_ROW
    unallocated_row: int | None = None
    total_row: int = HEADER_ROW + 1
    unallocated_costs: tuple[int, ...] = ()  # indexes of fixed costs nobody carries this month

    def figure(self, metric: str, key: tuple[str, ...] | None) -> float | int | None:
        """The frame's figure of a cohort (key) or of the totals (None), as the workbook shows it."""
        source = self.totals if key is None else self.cohort_figures.get(key, {})
        return number(source.get(metric), metric in INTEGER_METRICS)

    def cohort_cell(self, metric: str, row: int) -> str:
        return ref(COHORTS_SHEET, self.cohort_cols[metric], row)

    def total_cell(self, metric: str) -> str:
        return self.cohort_cell(metric, self.total_row)
