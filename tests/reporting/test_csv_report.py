"""The CSV for finance: money to the cent, ratios to 4 places, and its columns add up to its totals."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from roi.domain import REPORT_METRICS, Period
from roi.reporting.csv_report import UNALLOCATED_SIGN, largest_remainder, render_csv
from roi.reporting.frame import INTEGER_METRICS, CohortTable, ReportFrame

MONEY = ("token_cost", "review_cost", "fixed_cost", "total_cost", "failure_cost", "value", "net_value")


def _frame(money: list[float], unallocated: float) -> ReportFrame:
    """A frame whose additive money columns are `money` (scaled per column) and whose totals are their
    unrounded sums plus the unallocated fixed cost."""
    cohorts = pd.DataFrame({"tenant": [f"t{index:03d}" for index in range(len(money))]})
    for name in REPORT_METRICS:
        if name in MONEY:
            factor = 1 + MONEY.index(name) / 7
            cohorts[name] = [value * factor for value in money]
        elif name in INTEGER_METRICS:
            cohorts[name] = 3.0
        else:
            cohorts[name] = 1 / 3  # ratios, minutes
    totals = {name: float(cohorts[name].sum()) for name in REPORT_METRICS}
    for name, sign in UNALLOCATED_SIGN.items():
        totals[name] += sign * unallocated
    totals.update(roi=0.123456789, resolution_rate=2 / 3, escalation_rate=None, cost_per_resolved_case=1 / 7,
                  fully_loaded_cost_per_resolved_case=2 / 7, unallocated_fixed_cost=unallocated)
    return ReportFrame(period=Period(2026, 3), currency="EUR", timezone="UTC", group_by=("tenant",),
                       config_hash="c", data_fingerprint="d", generated_at=datetime(2026, 4, 1, tzinfo=UTC),
                       table=CohortTable.of_frame(cohorts, ("tenant",)), totals=totals, detail=pd.DataFrame(), unallocated={"x": unallocated},
                       fixed_costs=(), versions=())


def _rows(frame: ReportFrame) -> tuple[list[dict[str, str]], dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(render_csv(frame))))
    return rows[:-1], rows[-1]


def _half_up(value: float, places: int) -> Decimal:
    from decimal import ROUND_HALF_UP

    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def test_three_thirds_add_up_to_the_whole_where_rounding_each_would_lose_a_cent():
    frame = _frame([1 / 3, 1 / 3, 1 / 3], 0.0)
    cohorts, total = _rows(frame)
    shown = [row["token_cost"] for row in cohorts]
    assert total["token_cost"] == "1.00"
    assert sorted(shown) == ["0.33", "0.33", "0.34"]  # not 0.33 three times, which sums to 0.99
    assert total["roi"] == "0.1235" and total["resolution_rate"] == "0.6667" and total["escalation_rate"] == ""
    assert total["cost_per_resolved_case"] == "0.14"  # money, so to the cent
    assert cohorts[0]["requests"] == "3"


def test_largest_remainder_moves_the_cents_with_the_largest_remainders():
    assert largest_remainder([0.004, 0.006, 0.005], 2, 2) == [0, 1, 1]
    assert largest_remainder([-0.004, -0.006, -0.005], -2, 2) == [0, -1, -1]
    assert largest_remainder([0.29, 0.29], 58, 2) == [29, 29]  # 0.29 * 100 is 28.999999999999996
    assert largest_remainder([], 0, 2) == []


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), min_size=1, max_size=40),
    st.floats(0, 1e5, allow_nan=False, allow_infinity=False),
)
def test_every_money_column_adds_up_to_its_total_at_the_cent(money, unallocated):
    frame = _frame(money, unallocated)
    cohorts, total = _rows(frame)
    shown_unallocated = Decimal(total["unallocated_fixed_cost"])
    assert shown_unallocated == _half_up(unallocated, 2)
    for name in MONEY:
        parts = [Decimal(row[name]) for row in cohorts]
        assert Decimal(total[name]) == _half_up(frame.totals[name], 2), name
        assert sum(parts) + UNALLOCATED_SIGN.get(name, 0) * shown_unallocated == Decimal(total[name]), name
        for part, row in zip(parts, frame.cohorts[name], strict=True):
            assert abs(float(part) - row) <= 0.01 + 1e-6 * abs(row), f"{name}: {part} shown for {row}"
        assert all(len(row[name].split(".")[1]) == 2 for row in cohorts)
