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


label = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6) | st.sampled_from(
    ['"', "\\\\", "a,b", "\\n", "", "=1+1", "日本"])
figure = st.one_of(st.floats(-1e15, 1e15), st.just(float("nan")), st.integers(0, 10**12).map(float))  # as stored


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(label, label), max_size=25), st.data(), st.sampled_from([(), ("tenant",),
                                                                                   ("tenant", "channel")]))
def test_the_compact_and_indented_cohorts_are_the_records_serialized(rows, data, group):
    from datetime import UTC, datetime

    import orjson
    import pandas as pd

    from roi.domain import Period
    from roi.reporting.frame import ReportFrame
    from roi.reporting.json_report import document_json, render_json, report_document

    count = 1 if not group else len(rows)
    figures = {name: np.array(data.draw(st.lists(figure, min_size=count, max_size=count)), dtype=np.float64)
               for name in REPORT_METRICS}
    labels = {name: np.array([row[index] for row in rows][:count], dtype=object) for index, name in enumerate(group)}
    frame = ReportFrame(period=Period(2026, 3), currency="USD", timezone="UTC", group_by=group, config_hash="c",
                        data_fingerprint="d", generated_at=datetime(2026, 4, 1, tzinfo=UTC),
                        table=CohortTable(labels, figures), totals={}, detail=pd.DataFrame(), unallocated={},
                        fixed_costs=(), versions=())
    assert orjson.loads(orjson.dumps(report_document(frame, compact=True))) == \
        orjson.loads(orjson.dumps(report_document(frame)))
    # the JSON file's indented cohorts, written a column at a time, are byte for byte orjson's indenting
    assert render_json(frame) == document_json(report_document(frame))
