"""ValuedMonth: any grouping and filter of a month's valued cells equals summing the valued cells directly."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roi.config import Assignment, FixedCost, ModelVersion, ValueModel
from roi.domain import ADDITIVE, ASSUMPTIONS, CELL_METRICS, DIMENSIONS, RATIO_METRICS, share_column
from roi.valuation import filter_cells, summarize, totals, value_cells
from roi.valuation.cohorts import ValuedMonth

SUPPORT = ValueModel(name="support", versions=[
    ModelVersion(effective_from=date(2025, 1, 1), value_per_resolution=10.0, escalation_cost=2.0, reopen_cost=3.0,
                 abandonment_cost=1.0, review_cost_per_hour=60.0),
    ModelVersion(effective_from=date(2026, 1, 16), value_per_resolution=20.0, escalation_cost=4.0, reopen_cost=6.0,
                 abandonment_cost=2.0, review_cost_per_hour=120.0),
])
VOICE = ValueModel(name="voice", versions=[
    ModelVersion(effective_from=date(2025, 6, 1), value_per_resolution=100.0, escalation_cost=50.0)])
MODELS = {"support": SUPPORT, "voice": VOICE}
ASSIGNMENTS = [Assignment(match={"channel": "voice"}, model="voice"), Assignment(match={}, model="support")]
FIXED = [FixedCost(name="db", amount=900.0, allocate_by="requests", match={"channel": "web"}),
         FixedCost(name="ops", amount=300.0, allocate_by="cases"),
         FixedCost(name="idle", amount=50.0, allocate_by="resolved", match={"tenant": "nobody"})]
VALUES = {"tenant": ["acme", "globex", "", "ünï"], "channel": ["web", "voice", "email"], "topic": ["a", "b"],
          "language": ["en", "de"], "plan_tier": ["", "pro"], "provider": ["openai"], "model": ["m1", "m2", ""]}

cell = st.fixed_dictionaries({
    "day": st.integers(0, 30).map(lambda offset: date(2026, 1, 1) + timedelta(days=offset)),
    **{name: st.sampled_from(VALUES[name]) for name in DIMENSIONS},
    **{name: st.integers(0, 50) for name in CELL_METRICS if name not in ("token_cost", "human_review_minutes")},
    "token_cost": st.floats(0, 100, allow_nan=False),
    "human_review_minutes": st.floats(0, 30, allow_nan=False),
})
grouping = st.lists(st.sampled_from(DIMENSIONS), unique=True, max_size=3)
filters = st.dictionaries(st.sampled_from(["tenant", "channel", "model"]),
                          st.lists(st.sampled_from(["acme", "web", "voice", "m1", "", "missing"]), min_size=1,
                                   max_size=2, unique=True), max_size=2)


def _month(rows: list[dict]):
    frame = pd.DataFrame(rows, columns=["day", *DIMENSIONS, *CELL_METRICS])
    for name in CELL_METRICS:
        frame[name] = frame[name].astype("float64")
    valuation = value_cells(frame, models=MODELS, assignments=ASSIGNMENTS, fixed_costs=FIXED)
    return valuation, ValuedMonth.of(valuation, "fingerprint")


def _close(left, right) -> None:
    np.testing.assert_allclose(np.asarray(left, dtype=float), np.asarray(right, dtype=float), rtol=1e-12,
                               atol=1e-9, equal_nan=True)


@settings(max_examples=60, deadline=None)
@given(st.lists(cell, min_size=0, max_size=40), grouping, filters)
def test_cohorts_and_totals_equal_summing_the_valued_cells(rows, group, wanted):
    valuation, month = _month(rows)
    kept = filter_cells(valuation.cells, wanted)
    expected = summarize(kept, group)
    got = month.cohorts(group, wanted)
    assert len(got) == len(expected)
    for name in group:
        assert got[name].tolist() == expected[name].astype(str).tolist()
    for name in (*ADDITIVE, *RATIO_METRICS):
        _close(got[name], expected[name])
    unallocated = 0.0 if wanted else valuation.unallocated_total
    expected_totals = totals(kept, unallocated)
    got_totals = month.totals(wanted)
    for name, value in expected_totals.items():
        _close([np.nan if got_totals[name] is None else got_totals[name]],
               [np.nan if value is None else value])


@settings(max_examples=40, deadline=None)
@given(st.lists(cell, min_size=1, max_size=40), grouping)
def test_detail_rows_are_the_cohorts_split_by_model_version(rows, group):
    valuation, month = _month(rows)
    detail = month.detail(group)
    keys = [*group, "value_model", "model_version"]
    expected = valuation.cells.groupby(keys, sort=True)
    assert len(detail) == expected.ngroups
    first = expected["day"].min().tolist()
    assert detail["first_day"].tolist() == first
    assert detail["last_day"].tolist() == expected["day"].max().tolist()
    for name in (*ADDITIVE, *(share_column(i) for i in range(len(FIXED)))):
        _close(detail[name], expected[name].sum())
    for name in ASSUMPTIONS:
        _close(detail[name], expected[name].first())
    # the cohorts' additive figures are the detail rows summed
    summed = detail.groupby(group, sort=True)[list(ADDITIVE)].sum() if group else detail[list(ADDITIVE)].sum()
    cohorts = month.cohorts(group)
    for name in ADDITIVE:
        _close(np.ravel(summed[name]), cohorts[name])


def test_sums_do_not_depend_on_the_order_cells_arrive_in():
    """Cells (one per day and dimensions, as the store gives them) in any order: the same bits."""
    rows = [{"day": date(2026, 1, 1 + i % 28), **{name: VALUES[name][i % len(VALUES[name])] for name in DIMENSIONS},
             **{name: float(i % 7) for name in CELL_METRICS}, "token_cost": 0.1 * i + 1e-7,
             "human_review_minutes": 0.37 * i} for i in range(300)]
    unique = {tuple(row[name] for name in ("day", *DIMENSIONS)): row for row in rows}
    rows = list(unique.values())
    assert len(rows) > 80
    _, forward = _month(rows)
    _, backward = _month(rows[::-1])
    for group in ([], ["tenant"], ["channel", "model"]):
        left, right = forward.cohorts(group), backward.cohorts(group)
        for name in ADDITIVE:
            assert left[name].to_numpy().tobytes() == right[name].to_numpy().tobytes(), (group, name)


def test_a_filter_on_a_value_that_never_occurs_selects_nothing_and_an_empty_month_answers():
    _, month = _month([{"day": date(2026, 1, 5), **{name: "" for name in DIMENSIONS},
                        **{name: 1.0 for name in CELL_METRICS}}])
    assert month.cohorts(["tenant"], {"tenant": ["nobody"]}).empty
    assert month.totals({"tenant": ["nobody"]})["net_value"] == 0.0
    _, empty = _month([])
    assert empty.cohorts(["tenant", "channel"]).empty
    assert empty.totals()["unallocated_fixed_cost"] == 1250.0  # every fixed cost: no cell carries any
    assert empty.detail(["tenant"]).empty


def test_groupings_with_more_combinations_than_an_integer_key_holds_are_still_exact():
    """600 distinct values in each of 7 dimensions: 600**7 combinations overflow a 64-bit key."""
    rows = [{"day": date(2026, 1, 1 + i % 28), **{name: f"{name}-{(i * (3 + k)) % 600:03d}"
                                                 for k, name in enumerate(DIMENSIONS)},
             **{name: float(1 + i % 5) for name in CELL_METRICS}} for i in range(1000)]
    valuation, month = _month(rows)
    got = month.cohorts(list(DIMENSIONS))
    expected = summarize(valuation.cells, list(DIMENSIONS))
    for name in DIMENSIONS:
        assert got[name].tolist() == expected[name].astype(str).tolist()
    for name in ADDITIVE:
        _close(got[name], expected[name])
    detail = month.detail(list(DIMENSIONS))
    assert len(detail) == len(valuation.cells.groupby([*DIMENSIONS, "value_model", "model_version"]))


def test_the_file_form_keeps_every_value_and_refuses_a_damaged_one():
    rows = [{"day": date(2026, 1, 3), **{name: "" for name in DIMENSIONS}, "tenant": tenant,
             **{name: 2.0 for name in CELL_METRICS}} for tenant in ("acme", "acme\x00", "日本 ", "")]
    _, month = _month(rows)
    back = ValuedMonth.from_bytes(month.to_bytes(), FIXED)
    assert back.dims["tenant"].values.tolist() == month.dims["tenant"].values.tolist() == ["", "acme", "acme\x00",
                                                                                            "日本 "]
    assert back.cohorts(["tenant"]).equals(month.cohorts(["tenant"]))
    assert back.totals({"tenant": ["acme\x00"]}) == month.totals({"tenant": ["acme\x00"]})
    data = bytearray(month.to_bytes())
    for damaged in (bytes(data[: len(data) // 2]), b""):
        with pytest.raises(Exception):  # noqa: B017 - whatever numpy, zipfile or the checks raise
            ValuedMonth.from_bytes(damaged, FIXED)
    with pytest.raises(ValueError, match="do not match"):
        ValuedMonth.from_bytes(month.to_bytes(), FIXED[:1])  # fixed costs other than the file's shares
