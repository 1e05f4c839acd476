"""The CSV rendering: one row per cohort, then a total row, rounded for people and spreadsheets.

Money is shown to the cent, human review minutes to 2 decimals, ratios (ROI,
rates) to 4 decimal places, counts as integers; JSON stays unrounded.

Rounding keeps the CSV adding up: in every additive column (money and minutes)
the total is the unrounded total rounded half away from zero, the unallocated
fixed cost is its amount rounded the same way, and the cohort figures are
rounded up or down by largest remainder so that, to the cent,

    total = sum of the cohorts (+ the unallocated fixed cost in fixed_cost and
            total_cost, - it in net_value).

Every shown figure is within one cent (one unit of its last place) of the
unrounded one. Within a row, identities such as total_cost = token_cost +
review_cost + fixed_cost hold to within a cent or two, not exactly.
"""

from __future__ import annotations

import csv
import io
import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ..domain import ADDITIVE, MONEY_METRICS, PERCENT_METRICS, REPORT_METRICS, display_dimension
from .formula_injection import neutralize
from .frame import INTEGER_METRICS, ReportFrame, json_number

TOTAL_LABEL = "(total)"
MONEY_PLACES = 2
RATIO_PLACES = 4
MINUTES_PLACES = 2
# How the unallocated fixed cost enters a column's total.
UNALLOCATED_SIGN = {"fixed_cost": 1, "total_cost": 1, "net_value": -1}


def places(name: str) -> int:
    if name in MONEY_METRICS or name == "unallocated_fixed_cost":
        return MONEY_PLACES
    if name in PERCENT_METRICS:
        return RATIO_PLACES
    return MINUTES_PLACES


def round_units(value: float, digits: int) -> int:
    """`value` in units of its last shown place (cents for money), rounded half away from zero."""
    return int(Decimal(repr(float(value))).scaleb(digits).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def largest_remainder(values: list[float], target: int, digits: int) -> list[int]:
    """Each value in units of 10**-digits, rounded down or up so that they add up to `target` units:
    the ones with the largest remainders go up (Hamilton's method)."""
    if not values:
        return []
    # round away binary noise first, so 0.29 (28.999999999999996 cents) is 29 cents, not 28 and a remainder
    scaled = [round(value * 10**digits, 6) for value in values]
    units = [math.floor(value) for value in scaled]
    order = sorted(range(len(values)), key=lambda index: (units[index] - scaled[index], index))
    remainder = target - sum(units)
    step = 1 if remainder > 0 else -1
    if step < 0:
        order.reverse()
    for count in range(abs(remainder)):
        units[order[count % len(order)]] += step
    return units


def shown(units: int | None, digits: int) -> str:
    return "" if units is None else format(Decimal(units).scaleb(-digits), f".{digits}f")


def _rounded_columns(frame: ReportFrame, records: list[dict[str, Any]]) -> dict[str, list[int | None]]:
    """Per additive column that is not a count: the cohort figures in units, adding up to the rounded total."""
    columns: dict[str, list[int | None]] = {}
    unallocated = float(frame.totals.get("unallocated_fixed_cost") or 0.0)
    for name in ADDITIVE:
        if name in INTEGER_METRICS:
            continue
        digits = places(name)
        target = round_units(frame.totals[name] or 0.0, digits)
        sign = UNALLOCATED_SIGN.get(name, 0)
        target -= sign * round_units(unallocated, digits)
        columns[name] = list(largest_remainder([float(record[name] or 0.0) for record in records], target, digits))
    return columns


def _figure(name: str, value: Any) -> str:
    number = json_number(name, value)
    if number is None:
        return ""
    if name in INTEGER_METRICS:
        return str(number)
    digits = places(name)
    return shown(round_units(number, digits), digits)


def render_csv(frame: ReportFrame) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    dims = list(frame.group_by) or ["cohort"]
    writer.writerow([*dims, *REPORT_METRICS, "unallocated_fixed_cost"])
    records = frame.cohort_records()
    rounded = _rounded_columns(frame, records)
    for position, record in enumerate(records):
        labels = [neutralize(display_dimension(record["cohort"][name])) for name in frame.group_by] or ["(all)"]
        figures = [shown(rounded[name][position], places(name)) if name in rounded else _figure(name, record[name])
                   for name in REPORT_METRICS]
        writer.writerow([*labels, *figures, ""])
    totals = frame.totals
    label = [TOTAL_LABEL] + [""] * (len(dims) - 1)
    writer.writerow(
        [*label, *(_figure(name, totals[name]) for name in REPORT_METRICS),
         _figure("unallocated_fixed_cost", totals["unallocated_fixed_cost"])]
    )
    return out.getvalue()
