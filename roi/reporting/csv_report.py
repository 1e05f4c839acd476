"""The CSV rendering: one row per cohort, then a total row. Figures unrounded."""

from __future__ import annotations

import csv
import io

from ..domain import REPORT_METRICS, display_dimension
from .frame import ReportFrame, json_number
from .safety import neutralize

TOTAL_LABEL = "(total)"


def _cell(name: str, value: object) -> str:
    number = json_number(name, value)
    return "" if number is None else repr(number)


def render_csv(frame: ReportFrame) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    dims = list(frame.group_by) or ["cohort"]
    writer.writerow([*dims, *REPORT_METRICS, "unallocated_fixed_cost"])
    for record in frame.cohort_records():
        labels = [neutralize(display_dimension(record["cohort"][name])) for name in frame.group_by] or ["(all)"]
        writer.writerow([*labels, *(_cell(name, record[name]) for name in REPORT_METRICS), ""])
    totals = frame.totals
    label = [TOTAL_LABEL] + [""] * (len(dims) - 1)
    writer.writerow(
        [*label, *(_cell(name, totals[name]) for name in REPORT_METRICS),
         _cell("unallocated_fixed_cost", totals["unallocated_fixed_cost"])]
    )
    return out.getvalue()
