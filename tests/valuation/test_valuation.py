"""Valuation (DESIGN section 4): per-cell models and versions, fixed-cost allocation, sums, ratios."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from roi.config import Assignment, FixedCost, ModelVersion, ValueModel
from roi.errors import ValuationError
from roi.valuation import summarize, totals, value_cells
from tests.conftest import cell_frame

SUPPORT = ValueModel(
    name="support",
    versions=[
        ModelVersion(effective_from=date(2025, 1, 1), value_per_resolution=10.0, escalation_cost=2.0,
                     reopen_cost=3.0, abandonment_cost=1.0, review_cost_per_hour=60.0),
        # starts mid-month
        ModelVersion(effective_from=date(2026, 1, 16), value_per_resolution=20.0, escalation_cost=4.0,
                     reopen_cost=6.0, abandonment_cost=2.0, review_cost_per_hour=120.0),
    ],
)
VOICE = ValueModel(
    name="voice",
    versions=[ModelVersion(effective_from=date(2025, 6, 1), value_per_resolution=100.0, escalation_cost=50.0)],
)
MODELS = {"support": SUPPORT, "voice": VOICE}
CATCH_ALL = [Assignment(match={}, model="support")]


def cells(*rows: dict) -> pd.DataFrame:
    """Cells with every dimension and metric; rows give only what differs from zero / blank."""
    return cell_frame(*rows, counts_as_floats=True)


def value(frame, assignments=CATCH_ALL, fixed_costs=(), models=MODELS):
    return value_cells(frame, models=models, assignments=list(assignments), fixed_costs=list(fixed_costs))


# ------------------------------------------------------------------ models and versions


def test_a_version_starting_mid_month_values_each_cell_with_its_own():
    frame = cells(
        {"day": date(2026, 1, 15), "resolved": 3, "escalated": 1, "reopened": 1, "abandoned": 1,
         "human_review_minutes": 30},
        {"day": date(2026, 1, 16), "resolved": 3, "escalated": 1, "reopened": 1, "abandoned": 1,
         "human_review_minutes": 30},
    )
    valued = value(frame).cells
    assert list(valued["model_version"]) == ["2025-01-01", "2026-01-16"]
    # before: (3 - 1) * 10; after: (3 - 1) * 20
    assert list(valued["value"]) == [20.0, 40.0]
    # before: 1*2 + 1*3 + 1*1; after: 1*4 + 1*6 + 1*2
    assert list(valued["failure_cost"]) == [6.0, 12.0]
    # 30 minutes at 60/h and at 120/h
    assert list(valued["review_cost"]) == [30.0, 60.0]
    summed = summarize(valued, [])
    assert summed["value"].iloc[0] == 60.0
    assert summed["failure_cost"].iloc[0] == 18.0


def test_version_lookup_by_day():
    assert SUPPORT.version_on(date(2024, 12, 31)) is None
    assert SUPPORT.version_on(date(2026, 1, 15)).value_per_resolution == 10.0
    assert SUPPORT.version_on(date(2026, 1, 16)).value_per_resolution == 20.0


def test_versions_are_sorted_whatever_the_file_order():
    model = ValueModel(name="m", versions=[
        ModelVersion(effective_from=date(2026, 3, 1), value_per_resolution=2.0),
        ModelVersion(effective_from=date(2026, 1, 1), value_per_resolution=1.0),
    ])
    frame = cells({"day": date(2026, 2, 1), "resolved": 1}, {"day": date(2026, 3, 1), "resolved": 1})
    valued = value(frame, [Assignment(model="m")], models={"m": model}).cells
    assert list(valued["value"]) == [1.0, 2.0]


def test_a_day_before_the_first_version_is_refused():
    frame = cells({"day": date(2025, 5, 31), "channel": "voice", "resolved": 1})
    rules = [Assignment(match={"channel": "voice"}, model="voice"), *CATCH_ALL]
    with pytest.raises(ValuationError) as caught:
        value(frame, rules)
    assert str(caught.value) == (
        "value model 'voice' has no version effective on 2025-05-31 (its first version starts 2025-06-01)"
    )


def test_first_matching_rule_wins():
    rules = [
        Assignment(match={"channel": "voice", "tenant": "acme"}, model="voice"),
        Assignment(match={"channel": "voice"}, model="support"),
        Assignment(match={"tenant": ["acme", "beta"]}, model="voice"),
        Assignment(match={}, model="support"),
    ]
    frame = cells(
        {"tenant": "acme", "channel": "voice", "resolved": 1},
        {"tenant": "beta", "channel": "voice", "resolved": 1},
        {"tenant": "beta", "channel": "web", "resolved": 1},
        {"tenant": "gamma", "channel": "web", "resolved": 1},
        {"tenant": "", "channel": "", "resolved": 1},
    )
    valued = value(frame, rules).cells
    assert list(valued["value_model"]) == ["voice", "support", "voice", "support", "support"]
    assert list(valued["value"]) == [100.0, 10.0, 100.0, 10.0, 10.0]


def test_a_rule_can_match_the_unattributed_value():
    rules = [Assignment(match={"channel": ""}, model="voice"), *CATCH_ALL]
    valued = value(cells({"channel": "", "resolved": 1}, {"channel": "web", "resolved": 1}), rules).cells
    assert list(valued["value_model"]) == ["voice", "support"]


def test_no_matching_rule_is_an_error_not_a_zero():
    with pytest.raises(ValuationError, match="no assignment rule matches the cell"):
        value(cells({"channel": "web"}), [Assignment(match={"channel": "voice"}, model="voice")])


# ------------------------------------------------------------------ fixed costs


def drivers_frame():
    return cells(
        {"tenant": "a", "channel": "web", "requests": 1, "resolved": 1, "escalated": 1, "token_cost": 1.0},
        {"tenant": "a", "channel": "voice", "requests": 3, "resolved": 3, "abandoned": 1, "token_cost": 3.0},
        {"tenant": "b", "channel": "web", "requests": 6, "resolved": 0, "escalated": 2, "token_cost": 0.0,
         "reopened": 1},
    )


@pytest.mark.parametrize(
    ("allocate_by", "match", "shares"),
    [
        # requests 1, 3, 6 of 10
        ("requests", {}, [0.1, 0.3, 0.6]),
        # cases: 2, 4, 2 of 8 (reopened is no case)
        ("cases", {}, [0.25, 0.5, 0.25]),
        # resolved: 1, 3, 0 of 4
        ("resolved", {}, [0.25, 0.75, 0.0]),
        # token_cost: 1, 3, 0 of 4
        ("token_cost", {}, [0.25, 0.75, 0.0]),
        # requests over web: 1 and 6 of 7
        ("requests", {"channel": "web"}, [1 / 7, 0.0, 6 / 7]),
        ("cases", {"tenant": "a"}, [1 / 3, 2 / 3, 0.0]),
        ("resolved", {"channel": ["voice", "web"], "tenant": "a"}, [0.25, 0.75, 0.0]),
        ("token_cost", {"tenant": "b"}, None),  # b has no token cost: unallocated
    ],
)
def test_fixed_cost_by_each_driver(allocate_by, match, shares):
    cost = FixedCost(name="x", amount=700.0, allocate_by=allocate_by, match=match)
    valuation = value(drivers_frame(), fixed_costs=[cost])
    fixed = valuation.cells["fixed_cost"].to_numpy()
    if shares is None:
        assert list(fixed) == [0.0, 0.0, 0.0]
        assert valuation.unallocated == {"x": 700.0}
    else:
        assert fixed == pytest.approx([700.0 * share for share in shares])
        assert valuation.unallocated == {}
    assert fixed.sum() + valuation.unallocated_total == pytest.approx(700.0)


def test_fixed_costs_add_up_per_cell_and_enter_total_cost():
    costs = [
        FixedCost(name="db", amount=100.0, allocate_by="requests"),
        FixedCost(name="desk", amount=80.0, allocate_by="cases", match={"channel": "web"}),
    ]
    valued = value(drivers_frame(), fixed_costs=costs).cells
    # db: 10, 30, 60; desk: web cases 2 and 2 -> 40, 0, 40
    assert list(valued["fixed_cost"]) == pytest.approx([50.0, 30.0, 100.0])
    assert list(valued["total_cost"]) == pytest.approx([51.0, 33.0, 100.0])


def test_a_fixed_cost_that_matches_nothing_stays_in_the_totals():
    costs = [
        FixedCost(name="db", amount=100.0, allocate_by="requests"),
        FixedCost(name="phone", amount=40.0, allocate_by="requests", match={"channel": "phone"}),
        FixedCost(name="free", amount=0.0, allocate_by="requests", match={"channel": "phone"}),
    ]
    valuation = value(drivers_frame(), fixed_costs=costs)
    assert valuation.unallocated == {"phone": 40.0}
    cohorts = summarize(valuation.cells, ["tenant"])
    summed = totals(valuation.cells, valuation.unallocated_total)
    assert summed["unallocated_fixed_cost"] == 40.0
    assert summed["fixed_cost"] == pytest.approx(cohorts["fixed_cost"].sum() + 40.0) == pytest.approx(140.0)
    assert summed["total_cost"] == pytest.approx(cohorts["total_cost"].sum() + 40.0)
    assert summed["net_value"] == pytest.approx(cohorts["net_value"].sum() - 40.0)
    # other additive figures are the cohorts' sums
    for name in ("requests", "token_cost", "value", "failure_cost", "review_cost", "cases"):
        assert summed[name] == pytest.approx(cohorts[name].sum())


def test_an_empty_month_keeps_every_fixed_cost_unallocated():
    costs = [FixedCost(name="db", amount=100.0), FixedCost(name="desk", amount=5.0, allocate_by="cases")]
    valuation = value(cells(), fixed_costs=costs)
    assert valuation.unallocated == {"db": 100.0, "desk": 5.0}
    summed = totals(valuation.cells, valuation.unallocated_total)
    assert summed["fixed_cost"] == summed["total_cost"] == 105.0
    assert summed["net_value"] == -105.0
    assert summed["roi"] == -1.0
    assert summed["cost_per_resolved_case"] is None
    assert summarize(valuation.cells, ["tenant"]).empty


# ------------------------------------------------------------------ derived figures and ratios


def test_derived_figures_of_one_cell():
    frame = cells({"resolved": 10, "escalated": 3, "abandoned": 2, "reopened": 1, "token_cost": 4.5,
                   "human_review_minutes": 90, "requests": 20})
    row = summarize(value(frame, fixed_costs=[FixedCost(name="f", amount=10.0)]).cells, []).iloc[0]
    assert row["cases"] == 15 and row["net_resolved"] == 9
    assert row["review_cost"] == 90.0  # 1.5 h at 60/h
    assert row["fixed_cost"] == 10.0
    assert row["total_cost"] == 104.5  # 4.5 + 90 + 10
    assert row["failure_cost"] == 11.0  # 3*2 + 1*3 + 2*1
    assert row["value"] == 90.0  # 9 * 10
    assert row["net_value"] == pytest.approx(-25.5)  # 90 - 104.5 - 11
    assert row["roi"] == pytest.approx(-25.5 / 115.5)
    assert row["cost_per_resolved_case"] == pytest.approx(104.5 / 9)
    assert row["fully_loaded_cost_per_resolved_case"] == pytest.approx(115.5 / 9)
    assert row["resolution_rate"] == pytest.approx(9 / 15)
    assert row["escalation_rate"] == pytest.approx(3 / 15)


def test_ratios_are_computed_after_summing():
    frame = cells(
        {"tenant": "a", "resolved": 1, "escalated": 0, "token_cost": 1.0},
        {"tenant": "a", "resolved": 0, "escalated": 3, "token_cost": 9.0},
    )
    row = summarize(value(frame).cells, ["tenant"]).iloc[0]
    # not the mean of the cells' rates (1.0 and 0.0) but 1 / 4
    assert row["resolution_rate"] == 0.25
    assert row["cost_per_resolved_case"] == 10.0


@pytest.mark.parametrize(
    ("row", "nulls"),
    [
        # net_resolved 0: no cost per resolved case
        ({"resolved": 1, "reopened": 1, "token_cost": 1.0},
         {"cost_per_resolved_case", "fully_loaded_cost_per_resolved_case"}),
        # net_resolved negative
        ({"resolved": 1, "reopened": 2, "token_cost": 1.0},
         {"cost_per_resolved_case", "fully_loaded_cost_per_resolved_case"}),
        # no cases: no rates (and no net resolved)
        ({"token_cost": 1.0, "requests": 1},
         {"cost_per_resolved_case", "fully_loaded_cost_per_resolved_case", "resolution_rate", "escalation_rate"}),
        # nothing costs anything: no roi
        ({"resolved": 1}, {"roi"}),
        # only reopenings: no cases, cost of failure only
        ({"reopened": 1},
         {"cost_per_resolved_case", "fully_loaded_cost_per_resolved_case", "resolution_rate", "escalation_rate"}),
    ],
)
def test_undefined_ratios_are_null(row, nulls):
    valuation = value(cells(row))
    summed = summarize(valuation.cells, [])
    result = totals(valuation.cells, 0.0)
    for name in ("roi", "cost_per_resolved_case", "fully_loaded_cost_per_resolved_case", "resolution_rate",
                 "escalation_rate"):
        if name in nulls:
            assert math.isnan(summed[name].iloc[0]), name
            assert result[name] is None, name
        else:
            assert not math.isnan(summed[name].iloc[0]), name
            assert result[name] is not None, name


def test_roi_of_only_failure_cost_and_negative_net_resolved_rate():
    result = totals(value(cells({"resolved": 1, "reopened": 2, "escalated": 1})).cells, 0.0)
    # cases 2, net_resolved -1: the rate is negative, not null
    assert result["resolution_rate"] == -0.5
    # burden is the failure cost alone: 2 + 2*3 = 8; value -10; net -18
    assert result["roi"] == pytest.approx(-18 / 8)


def test_grouping_by_several_dimensions_and_missing_values():
    frame = cells(
        {"tenant": "a", "channel": "web", "resolved": 1},
        {"tenant": "a", "channel": "", "resolved": 2},
        {"tenant": "", "channel": "web", "resolved": 4},
        {"tenant": "a", "channel": "web", "day": date(2026, 1, 20), "resolved": 8},
    )
    summed = summarize(value(frame).cells, ["tenant", "channel"])
    keys = list(zip(summed["tenant"], summed["channel"], strict=True))
    assert keys == [("", "web"), ("a", ""), ("a", "web")]
    assert list(summed["resolved"]) == [4, 2, 9]
    # the last: 1 at v1 (10) + 8 at v2 (20)
    assert list(summed["value"]) == [40.0, 20.0, 170.0]
    assert np.isclose(summed["value"].sum(), totals(value(frame).cells, 0.0)["value"])
