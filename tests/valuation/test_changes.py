"""The change bridge: per cohort, effects that add up to the change in net value."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roi.config import Assignment, FixedCost, ModelVersion, ValueModel
from roi.domain import CELL_METRICS, DIMENSIONS
from roi.valuation import value_cells
from roi.valuation.changes import EFFECTS, bridge
from roi.valuation.cohorts import ValuedMonth

MODELS = {
    "support": ValueModel(name="support", versions=[
        ModelVersion(effective_from=date(2026, 1, 1), value_per_resolution=6.5, escalation_cost=2.0, reopen_cost=9.0,
                     abandonment_cost=0.5, review_cost_per_hour=45.0),
        ModelVersion(effective_from=date(2026, 2, 15), value_per_resolution=7.25, escalation_cost=2.25,
                     reopen_cost=10.0, abandonment_cost=0.0, review_cost_per_hour=48.0)]),
    "voice": ValueModel(name="voice", versions=[
        ModelVersion(effective_from=date(2025, 1, 1), value_per_resolution=20.0, escalation_cost=8.0)]),
}
RULES = [Assignment(match={"channel": "voice"}, model="voice"), Assignment(match={}, model="support")]
FIXED = [FixedCost(name="db", amount=900.0, allocate_by="requests", match={"channel": "web"}),
         FixedCost(name="ops", amount=300.0, allocate_by="cases"),
         FixedCost(name="idle", amount=40.0, allocate_by="resolved", match={"tenant": "nobody"})]


def _month(rows: list[dict], fixed=FIXED) -> ValuedMonth:
    cells = []
    for row in rows:
        cell = {name: "" for name in DIMENSIONS} | {name: 0.0 for name in CELL_METRICS} | row
        cells.append(cell)
    frame = pd.DataFrame(cells, columns=["day", *DIMENSIONS, *CELL_METRICS])
    for name in CELL_METRICS:
        frame[name] = frame[name].astype("float64")
    return ValuedMonth.of(value_cells(frame, models=MODELS, assignments=RULES, fixed_costs=fixed), "x")


def _cell(month_start: date):
    return st.fixed_dictionaries({
        "day": st.integers(0, 27).map(lambda offset: month_start + timedelta(days=offset)),
        "tenant": st.sampled_from(["acme", "globex", "", "nobody"]),
        "channel": st.sampled_from(["web", "voice", "email"]),
        **{name: st.integers(0, 60) for name in ("requests", "resolved", "escalated", "abandoned", "reopened")},
        "token_cost": st.floats(0, 200, allow_nan=False),
        "human_review_minutes": st.floats(0, 90, allow_nan=False),
    })


@settings(max_examples=80, deadline=None)
@given(st.lists(_cell(date(2026, 1, 1)), max_size=25), st.lists(_cell(date(2026, 2, 1)), max_size=25),
       st.lists(st.sampled_from(["tenant", "channel"]), unique=True),
       st.sampled_from([{}, {"channel": ["web", "voice"]}]))
def test_the_effects_add_up_to_the_change_in_net_value(before, after, group, filters):
    previous, current = _month(before), _month(after)
    result = bridge(previous, current, group, filters)
    summed = sum(result.effects[name] for name in EFFECTS)
    scale = 1.0 + np.abs(result.previous) + np.abs(result.current)
    assert np.all(np.abs(summed - result.change) <= 1e-9 * scale)
    # the cohorts' net values are the reports' and the totals reconcile, unallocated fixed cost included
    for month, side in ((previous, result.previous), (current, result.current)):
        _, figures = month.cohort_columns(group, filters)
        assert np.isclose(side.sum(), figures["net_value"].sum(), atol=1e-6)
    totals = result.totals
    assert totals["previous"] == pytest.approx(previous.totals(filters)["net_value"], abs=1e-6)
    assert totals["current"] == pytest.approx(current.totals(filters)["net_value"], abs=1e-6)
    assert sum(totals[name] for name in EFFECTS) == pytest.approx(totals["change"], abs=1e-6)


def test_a_worked_change_splits_as_computed_by_hand():
    model = {"support": ValueModel(name="support", versions=[
        ModelVersion(effective_from=date(2026, 1, 1), value_per_resolution=5.0),
        ModelVersion(effective_from=date(2026, 2, 1), value_per_resolution=6.0)])}
    rules = [Assignment(match={}, model="support")]

    def month(day: date, resolved: int, escalated: int, tokens: float) -> ValuedMonth:
        row = {name: "" for name in DIMENSIONS} | {name: 0.0 for name in CELL_METRICS}
        row |= {"day": day, "tenant": "acme", "resolved": resolved, "escalated": escalated, "token_cost": tokens}
        frame = pd.DataFrame([row], columns=["day", *DIMENSIONS, *CELL_METRICS])
        return ValuedMonth.of(value_cells(frame, models=model, assignments=rules, fixed_costs=[]), "x")

    # January: 100 cases, 80 resolved at 5.00, tokens 40 (0.40 a case); February: 200 cases, 150 at 6.00, tokens 100
    result = bridge(month(date(2026, 1, 9), 80, 20, 40.0), month(date(2026, 2, 9), 150, 50, 100.0), ["tenant"])
    assert result.change.tolist() == [800.0 - 360.0]
    effects = {name: float(values[0]) for name, values in result.effects.items()}
    # value: price (6 - 5) x (80 + 150) / 2 = 115; volume 100 x (0.8 + 0.75) / 2 x 5.5 = 426.25; mix the rest
    # tokens: volume -(100 x (0.4 + 0.5) / 2) = -45; unit cost -(60 - 45) = -15
    assert effects == pytest.approx({"volume": 426.25 - 45.0, "outcome_mix": 500 - 115 - 426.25,
                                     "unit_cost": -15.0, "assumptions": 115.0, "fixed_cost_share": 0.0})


def test_a_new_cohort_is_all_volume_and_a_fixed_cost_nobody_carried_is_in_the_totals():
    before = _month([{"day": date(2026, 1, 3), "tenant": "acme", "channel": "email", "resolved": 10, "requests": 5}])
    after = _month([{"day": date(2026, 2, 3), "tenant": "acme", "channel": "email", "resolved": 10, "requests": 5},
                    {"day": date(2026, 2, 4), "tenant": "globex", "channel": "email", "resolved": 4, "requests": 2,
                     "token_cost": 3.0}])
    result = bridge(before, after, ["tenant"])
    assert result.labels["tenant"].tolist() == ["acme", "globex"]
    globex = {name: float(values[1]) for name, values in result.effects.items()}
    # a cohort new this month: its net value before fixed costs is all volume (4 x 6.50 - 3.00)
    assert globex["volume"] == pytest.approx(4 * 6.5 - 3.0)
    assert globex["volume"] + globex["fixed_cost_share"] == pytest.approx(result.current[1])
    assert globex["outcome_mix"] == pytest.approx(0.0) and globex["unit_cost"] == pytest.approx(0.0)
    # 'db' (web) and 'idle' (nobody) had no driver in either month: unallocated both times, no effect
    assert result.totals["fixed_cost_share"] == pytest.approx(float(result.effects["fixed_cost_share"].sum()))


def test_the_docs_worked_example():
    # docs/metrics.md, "What changed": acme / web from September to October
    models = {"s": ValueModel(name="s", versions=[
        ModelVersion(effective_from=date(2026, 1, 1), value_per_resolution=6.5, escalation_cost=2.0, reopen_cost=9.0,
                     abandonment_cost=0.5, review_cost_per_hour=45.0),
        ModelVersion(effective_from=date(2026, 10, 1), value_per_resolution=7.25, escalation_cost=2.25,
                     reopen_cost=10.0, abandonment_cost=0.5, review_cost_per_hour=48.0)])}

    def month(day, resolved, escalated, abandoned, reopened, tokens, minutes, fixed):
        row = {name: "" for name in DIMENSIONS} | {name: 0.0 for name in CELL_METRICS}
        row |= {"day": day, "tenant": "acme", "channel": "web", "resolved": resolved, "escalated": escalated,
                "abandoned": abandoned, "reopened": reopened, "token_cost": tokens, "human_review_minutes": minutes,
                "requests": 1}
        frame = pd.DataFrame([row], columns=["day", *DIMENSIONS, *CELL_METRICS])
        valued = value_cells(frame, models=models, assignments=[Assignment(match={}, model="s")],
                             fixed_costs=[FixedCost(name="platform", amount=fixed)])
        return ValuedMonth.of(valued, "x")

    result = bridge(month(date(2026, 9, 5), 100, 30, 10, 4, 28.0, 60.0, 20.0),
                    month(date(2026, 10, 5), 150, 35, 15, 6, 44.0, 80.0, 25.0), ["tenant", "channel"])
    assert (result.previous[0], result.current[0]) == pytest.approx((430.0, 764.75))
    shown = {name: round(float(values[0]), 2) for name, values in result.effects.items()}
    assert shown == {"volume": 214.36, "outcome_mix": 51.65, "unit_cost": 0.36, "assumptions": 73.38,
                     "fixed_cost_share": -5.0}


def test_a_shift_between_value_models_is_not_an_assumptions_effect():
    # acme: 10 web (model support) + 10 voice (model voice) cases, then 5 web + 15 voice; both months
    # in the same versions (support's February version starts on the 15th: both months before it)
    def month(day: date, web: int, voice: int) -> ValuedMonth:
        return _month([{"day": day, "tenant": "acme", "channel": "web", "resolved": web, "requests": web},
                       {"day": day, "tenant": "acme", "channel": "voice", "resolved": voice, "requests": voice}],
                      fixed=[])

    previous, current = month(date(2026, 1, 5), 10, 10), month(date(2026, 1, 20), 5, 15)
    result = bridge(previous, current, ["tenant"])
    assert result.labels["tenant"].tolist() == ["acme"]
    assert round(float(result.effects["assumptions"][0]), 2) == 0.0
    summed = sum(float(result.effects[name][0]) for name in EFFECTS)
    assert summed == pytest.approx(float(result.change[0]), abs=1e-9)
    # by hand: 5 resolutions at 6.50 fewer on web, 5 at 20.00 more on voice, all of it volume of each model
    assert float(result.change[0]) == pytest.approx(-5 * 6.5 + 5 * 20.0)
    assert float(result.effects["volume"][0]) == pytest.approx(-5 * 6.5 + 5 * 20.0)
    # a real change of price within one model still is one: support's February version
    later = bridge(previous, month(date(2026, 2, 20), 5, 15), ["tenant"])
    assert float(later.effects["assumptions"][0]) == pytest.approx((7.25 - 6.5) * (10 + 5) / 2)


@settings(max_examples=40, deadline=None)
@given(st.lists(_cell(date(2026, 1, 1)), max_size=25), st.lists(_cell(date(2026, 2, 1)), max_size=25),
       st.lists(st.sampled_from(["tenant", "channel"]), unique=True))
def test_joining_the_months_in_python_or_by_pandas_gives_the_same_bridge(before, after, group):
    """Few cohorts are joined in Python, many by pandas' merge: the same rows in the same order."""
    from roi.valuation import changes

    previous, current = _month(before), _month(after)
    small = bridge(previous, current, group)
    original = changes.SMALL_UNION
    changes.SMALL_UNION = -1  # every size by pandas
    try:
        large = bridge(previous, current, group)
    finally:
        changes.SMALL_UNION = original
    assert {name: values.tolist() for name, values in small.labels.items()} == {
        name: values.tolist() for name, values in large.labels.items()}
    for name in ("previous", "current", "change"):
        np.testing.assert_array_equal(getattr(small, name), getattr(large, name))
    for name in EFFECTS:
        np.testing.assert_array_equal(small.effects[name], large.effects[name])
