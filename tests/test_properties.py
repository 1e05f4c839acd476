"""Invariants, checked on generated data (hypothesis).

- ingesting twice equals ingesting once;
- the totals equal the cohorts plus what is unallocated;
- a coarser group_by equals the sum of the finer one;
- shuffling the rows of a file changes nothing.
"""

from __future__ import annotations

import json
import random
import tempfile
import textwrap
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roi import services
from roi.config import Assignment, FixedCost, ModelVersion, ValueModel, load_config
from roi.domain import CELL_METRICS, DIMENSIONS, VALUED_METRICS, Period
from roi.reporting.json_report import render_json
from roi.services import ingest as ingesting
from roi.services import reports
from roi.valuation import summarize, totals, value_cells
from tests.conftest import fixture_text

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

HEADER = "event_id,ts,tenant,channel,provider,model,input_tokens,output_tokens,cached_input_tokens,cost_usd,outcome,human_review_minutes"

# the scenario's files; the config's {fixed} is filled in (FIXED, or a test's own fixed costs), literal
# braces are doubled
MODEL = fixture_text("properties/models/support.toml")
VOICE = fixture_text("properties/models/voice.toml")
CONFIG = fixture_text("properties/roi.toml")
FIXED = fixture_text("properties/fixed_costs.toml")

# ------------------------------------------------------------------ generated events

event_rows = st.lists(
    st.tuples(
        st.integers(0, 40),  # event id: a small pool so duplicates happen
        st.integers(0, 40 * 24 - 1),  # hour from 2025-12-31 00:00Z: crosses both month boundaries in Paris
        st.sampled_from(["a", "b", ""]),
        st.sampled_from(["web", "voice", ""]),
        st.sampled_from([("openai", "gpt-4o-mini"), ("mystery", "x-1"), ("", "")]),
        st.integers(0, 5000),
        st.integers(0, 900),
        st.integers(0, 100),
        st.sampled_from(["", "0", "0.25", "1.5"]),
        st.sampled_from(["", "resolved", "escalated", "abandoned", "reopened"]),
        st.sampled_from(["", "3", "7.5"]),
        st.sampled_from([None, None, None, None, "bad-ts", "neg", "short"]),
    ),
    max_size=40,
)


def render_row(spec) -> str:
    event, hour, tenant, channel, (provider, model), tokens_in, tokens_out, cached, cost, outcome, review, bad = spec
    ts = (pd.Timestamp("2025-12-31T00:00:00Z") + pd.Timedelta(hours=hour)).strftime("%Y-%m-%dT%H:%M:%SZ")
    cached = min(cached, tokens_in)
    if bad == "bad-ts":
        ts = "not-a-time"
    if bad == "neg":
        tokens_in = -1
    text = f"e{event},{ts},{tenant},{channel},{provider},{model},{tokens_in},{tokens_out},{cached},{cost},{outcome},{review}"
    if bad == "short":
        text = f"e{event},{ts},{tenant}"
    return text


class Folder:
    """A throwaway project folder (hypothesis runs many examples per test)."""

    def __init__(self, fixed: str = FIXED):
        self._temp = tempfile.TemporaryDirectory()
        self.root = Path(self._temp.name)
        (self.root / "models").mkdir()
        (self.root / "data").mkdir()
        (self.root / "models" / "support.toml").write_text(MODEL)
        (self.root / "models" / "voice.toml").write_text(VOICE)
        (self.root / "roi.toml").write_text(textwrap.dedent(CONFIG.format(fixed=fixed)))

    def write(self, name: str, rows: list[str]) -> None:
        (self.root / "data" / name).write_text("\n".join([HEADER, *rows]) + "\n")

    def ingest(self, **options):
        settings_ = load_config(self.root / "roi.toml")
        store = services.store_for(settings_)
        runs = ingesting.ingest(settings_, store, **options)
        store.engine.dispose()
        return runs

    def state(self):
        settings_ = load_config(self.root / "roi.toml")
        store = services.store_for(settings_)
        cells = store.cells(date(2000, 1, 1), date(2100, 1, 1))
        cells = cells.sort_values(["day", *DIMENSIONS]).reset_index(drop=True)
        batches = [(b.batch_key, b.rows_read, b.rows_stored, b.duplicates, b.quarantined, b.unpriced, b.cells)
                   for b in store.batches()]
        quarantine = sorted((q.file, q.line, q.reason, q.raw) for q in store.quarantine(limit=100_000))
        store.engine.dispose()
        return cells.to_dict("records"), batches, quarantine

    def report(self, period: str, group_by: list[str]) -> dict:
        settings_ = load_config(self.root / "roi.toml")
        store = services.store_for(settings_)
        frame = reports.build_report(settings_, store, Period.parse(period), group_by)
        store.engine.dispose()
        return json.loads(render_json(frame))

    def close(self) -> None:
        self._temp.cleanup()


def figures_equal(left: dict, right: dict) -> None:
    assert left.keys() == right.keys()
    for name, value in left.items():
        if value is None or right[name] is None:
            assert value is None and right[name] is None, name
        elif isinstance(value, dict):
            assert value == right[name]
        else:
            assert value == pytest.approx(right[name], rel=1e-12, abs=1e-9), name


def cohorts_by_key(document: dict) -> dict:
    return {tuple(sorted(c["cohort"].items())): c for c in document["cohorts"]}


@SETTINGS
@given(rows=event_rows, split=st.integers(0, 40))
def test_ingesting_twice_equals_once(rows, split):
    folder = Folder()
    try:
        lines = [render_row(spec) for spec in rows]
        folder.write("a.csv", lines[:split])
        folder.write("b.csv", lines[split:])
        folder.ingest()
        once = folder.state()
        folder.ingest()
        assert folder.state() == once
        folder.ingest(force=True)
        assert folder.state() == once
    finally:
        folder.close()


@SETTINGS
@given(rows=event_rows, seed=st.integers(0, 2**32 - 1))
def test_shuffling_rows_changes_nothing_but_which_duplicate_wins(rows, seed):
    # First occurrence wins, so give each event id one content: then order cannot matter.
    unique = list({spec[0]: spec for spec in rows}.values())
    lines = [render_row(spec) for spec in unique]
    shuffled = lines[:]
    random.Random(seed).shuffle(shuffled)
    documents = []
    for order in (lines, shuffled):
        folder = Folder()
        try:
            folder.write("a.csv", order)
            (run,) = folder.ingest()
            counts = (run.rows_read, run.stored, run.duplicates, run.quarantined, run.unpriced)
            documents.append((counts, [folder.report(p, ["tenant", "channel"]) for p in ("2026-01", "2026-02")]))
        finally:
            folder.close()
    (counts, reports), (shuffled_counts, shuffled_reports) = documents
    assert counts == shuffled_counts
    for report, other in zip(reports, shuffled_reports, strict=True):
        assert report["data_fingerprint"] == other["data_fingerprint"]
        assert cohorts_by_key(report).keys() == cohorts_by_key(other).keys()
        for key, cohort in cohorts_by_key(report).items():
            figures_equal(cohort, cohorts_by_key(other)[key])
        figures_equal(report["totals"], other["totals"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=event_rows)
def test_report_totals_and_groupings_through_the_store(rows):
    folder = Folder()
    try:
        folder.write("a.csv", [render_row(spec) for spec in rows])
        folder.ingest()
        fine = folder.report("2026-01", ["tenant", "channel", "model"])
        coarse = folder.report("2026-01", ["channel"])
        whole = folder.report("2026-01", [])
    finally:
        folder.close()
    additive = (*CELL_METRICS, *VALUED_METRICS)
    for document in (fine, coarse, whole):
        unallocated = document["totals"]["unallocated_fixed_cost"]
        assert unallocated == sum(item["amount"] for item in document["unallocated_fixed_costs"])
        for name in additive:
            summed = sum(cohort[name] for cohort in document["cohorts"])
            if name in ("fixed_cost", "total_cost"):
                summed += unallocated
            if name == "net_value":
                summed -= unallocated
            assert document["totals"][name] == pytest.approx(summed, abs=1e-9), name
        figures_equal(document["totals"], fine["totals"])
    # coarse cohorts are sums of the fine ones
    for cohort in coarse["cohorts"]:
        parts = [c for c in fine["cohorts"] if c["cohort"]["channel"] == cohort["cohort"]["channel"]]
        for name in additive:
            assert cohort[name] == pytest.approx(sum(part[name] for part in parts), abs=1e-9), name
    # fixed costs: every amount lands in a cohort or stays unallocated (540 configured)
    assert fine["totals"]["fixed_cost"] == pytest.approx(540.0)


# ------------------------------------------------------------------ valuation alone, on generated cells

dimension_values = {"tenant": ["a", "b", ""], "channel": ["web", "voice", ""], "topic": ["x", "y"],
                    "language": ["en"], "plan_tier": ["free", "pro"], "provider": ["openai"], "model": ["m1", "m2"]}
cell_rows = st.lists(
    st.fixed_dictionaries(
        {"day": st.dates(date(2026, 1, 1), date(2026, 1, 31))}
        | {name: st.sampled_from(values) for name, values in dimension_values.items()}
        | {name: st.integers(0, 50) for name in CELL_METRICS if name not in ("token_cost", "human_review_minutes")}
        | {"token_cost": st.floats(0, 100, allow_nan=False), "human_review_minutes": st.floats(0, 600, allow_nan=False)}
    ),
    max_size=30,
)
fixed_costs = st.lists(
    st.builds(
        lambda amount, driver, match, index: FixedCost(name=f"f{index}", amount=amount, allocate_by=driver,
                                                       match=match),
        st.floats(0, 10_000, allow_nan=False),
        st.sampled_from(["requests", "cases", "resolved", "token_cost"]),
        st.sampled_from([{}, {"channel": "web"}, {"tenant": ["a", "b"]}, {"channel": "phone"}, {"topic": "y"}]),
        st.integers(0, 10**6),
    ),
    max_size=4,
    unique_by=lambda cost: cost.name,
)
MODELS = {
    "support": ValueModel(name="support", versions=[
        ModelVersion(effective_from=date(2025, 1, 1), value_per_resolution=6.5, escalation_cost=2.0,
                     reopen_cost=9.0, abandonment_cost=0.5, review_cost_per_hour=45.0),
        ModelVersion(effective_from=date(2026, 1, 16), value_per_resolution=8.0, escalation_cost=3.0,
                     reopen_cost=1.0, abandonment_cost=0.0, review_cost_per_hour=60.0),
    ]),
    "voice": ValueModel(name="voice", versions=[
        ModelVersion(effective_from=date(2025, 1, 1), value_per_resolution=12.0, escalation_cost=5.0)]),
}
RULES = [Assignment(match={"channel": "voice"}, model="voice"), Assignment(match={}, model="support")]
groupings = st.lists(st.sampled_from(list(dimension_values)), unique=True, max_size=4)


@settings(max_examples=40, deadline=None)
@given(rows=cell_rows, costs=fixed_costs, fine=groupings, drop=st.integers(0, 4))
def test_totals_equal_cohorts_plus_unallocated_and_coarse_equals_fine(rows, costs, fine, drop):
    frame = pd.DataFrame(rows, columns=["day", *DIMENSIONS, *CELL_METRICS])
    valuation = value_cells(frame, models=MODELS, assignments=RULES, fixed_costs=costs)
    unallocated = valuation.unallocated_total
    result = totals(valuation.cells, unallocated)
    assert sum(costs_.amount for costs_ in costs) == pytest.approx(
        valuation.cells["fixed_cost"].sum() + unallocated, abs=1e-6)
    fine_cohorts = summarize(valuation.cells, fine)
    coarse = fine[: max(0, len(fine) - drop)]
    coarse_cohorts = summarize(valuation.cells, coarse)
    for name in (*CELL_METRICS, *VALUED_METRICS):
        expected = fine_cohorts[name].sum() if len(fine_cohorts) else 0.0
        if name in ("fixed_cost", "total_cost"):
            expected += unallocated
        elif name == "net_value":
            expected -= unallocated
        assert result[name] == pytest.approx(expected, rel=1e-9, abs=1e-6), name
    # each coarse cohort is the sum of the fine cohorts inside it
    if coarse:
        grouped = fine_cohorts.groupby(coarse, sort=True, dropna=False)[[*CELL_METRICS, *VALUED_METRICS]].sum()
        grouped = grouped.reset_index()
        pd.testing.assert_frame_equal(
            grouped[[*coarse, *CELL_METRICS, *VALUED_METRICS]].reset_index(drop=True),
            coarse_cohorts[[*coarse, *CELL_METRICS, *VALUED_METRICS]].reset_index(drop=True),
            check_exact=False, rtol=1e-9, atol=1e-6,
        )
    elif len(fine_cohorts):
        for name in (*CELL_METRICS, *VALUED_METRICS):
            assert coarse_cohorts[name].iloc[0] == pytest.approx(fine_cohorts[name].sum(), rel=1e-9, abs=1e-6)
