"""The report frame's cohort table: ordering by a metric equals ordering its JSON records."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from roi.domain import REPORT_METRICS
from roi.reporting.frame import CohortTable
from roi.services.reports import sort_records

value = st.one_of(st.floats(-5, 5, allow_nan=False), st.just(float("nan")), st.sampled_from([0.0, 1.0, 2.0]))


@settings(max_examples=80, deadline=None)
@given(st.lists(value, min_size=0, max_size=30), st.sampled_from(["roi", "-roi", "requests", "-requests", None]),
       st.one_of(st.none(), st.integers(0, 40)))
def test_ordering_the_table_equals_ordering_its_records(roi, sort, limit):
    count = len(roi)
    figures = {name: np.arange(count, dtype=np.float64) % 3 for name in REPORT_METRICS}
    figures["roi"] = np.array(roi, dtype=np.float64)
    table = CohortTable({"tenant": np.array([f"t{i}" for i in range(count)], dtype=object)}, figures)
    records = [{"cohort": {"tenant": f"t{i}"}, "roi": None if np.isnan(roi[i]) else roi[i],
                "requests": float(i % 3)} for i in range(count)]
    expected = [record["cohort"]["tenant"] for record in sort_records(records, sort, limit)]
    assert table.ordered(sort, limit).labels["tenant"].tolist() == expected
