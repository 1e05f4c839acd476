"""The store on SQLite and PostgreSQL (the `database_url` fixture runs each test on both)."""

from __future__ import annotations

import gc
import json
import warnings
from datetime import UTC, date, datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from roi.cli import main
from roi.domain import CELL_METRICS, DIMENSIONS, Reject
from roi.errors import RoiError
from roi.store import BatchResult, open_store
from tests.conftest import cell_frame

FAR = (date(2000, 1, 1), date(2100, 1, 1))


def invoke(runner, args: list[str]):
    """Run the CLI, then collect the engines it left open.

    The CLI does not dispose its engines (see test_the_cli_leaves_no_connection_open), and psycopg
    warns when it garbage-collects an open connection; collected here, quietly, the warning cannot
    fail a later test."""
    result = runner.invoke(main, args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    return result


def cells(*rows: dict) -> pd.DataFrame:
    return cell_frame(*rows)


def put(store, key: str, frame: pd.DataFrame, *, source: str = "bot", rejects=(), fingerprint: str = "f1",
        result: BatchResult | None = None) -> int:
    return store.replace_batch(
        source=source, key=key, label=key, fingerprint=fingerprint, started_at=datetime.now(UTC),
        cells=frame, rejects=list(rejects), result=result or BatchResult(rows_read=len(frame)),
    )


def test_schema_is_created_on_first_use_and_reopening_is_harmless(database_url):
    store = open_store(database_url)
    names = set(sa.inspect(store.engine).get_table_names())
    assert {"roi_cells", "roi_batches", "roi_quarantine"} <= names
    store.engine.dispose()
    again = open_store(database_url)
    assert again.cells(*FAR).empty
    assert again.batches() == [] and again.quarantine() == [] and again.days_with_data() == []
    again.engine.dispose()


@pytest.mark.parametrize("count", [1, 399, 400, 401, 20_000 + 801])
def test_many_cells_round_trip_across_statement_and_slice_edges(database_url, count):
    """Inserts go 400 rows a statement and 20,000 a slice: every cell lands once, in its own columns."""
    import numpy as np

    rng = np.random.default_rng(count)
    frame = pd.DataFrame({
        "day": [date(2026, 1, 1 + int(day)) for day in rng.integers(0, 28, count)],
        **{name: [f"{name}-{i}" for i in range(count)] if name == "tenant"
           else [f"{name}-{v}" for v in rng.integers(0, 5, count)] for name in DIMENSIONS},
        **{name: rng.integers(0, 10**12, count) for name in CELL_METRICS},
    })
    for name in ("token_cost", "human_review_minutes"):
        frame[name] = rng.random(count) * 1000
    store = open_store(database_url)
    put(store, "k1", frame)
    found = store.cells(*FAR).sort_values("tenant").reset_index(drop=True)
    expected = frame.sort_values("tenant").reset_index(drop=True)
    assert len(found) == count
    pd.testing.assert_frame_equal(found, expected[found.columns], check_dtype=False)
    store.engine.dispose()


def test_cells_round_trip_exactly(database_url):
    store = open_store(database_url)
    frame = cells(
        {"tenant": "acme", "channel": "web", "model": "gpt-4o-mini", "requests": 3, "input_tokens": 5_000_000_000,
         "output_tokens": 7, "cached_input_tokens": 11, "token_cost": 0.1 + 0.2, "unpriced_requests": 1,
         "resolved": 2, "escalated": 1, "abandoned": 1, "reopened": 1, "human_review_minutes": 7.25},
        {"tenant": "Ünïcode ☃", "day": date(2026, 2, 1), "token_cost": 1e-9},
    )
    put(store, "k1", frame)
    found = store.cells(*FAR).sort_values("day").reset_index(drop=True)
    assert list(found.columns) == ["day", *DIMENSIONS, *CELL_METRICS]
    assert list(found["day"]) == [date(2026, 1, 10), date(2026, 2, 1)]
    assert found["input_tokens"][0] == 5_000_000_000  # beyond 32 bits
    # fractions are summed in whole nano-units, so the same cells give the same bits in any row order:
    # 0.30000000000000004 comes back as the nano-unit it is nearest, 0.3 (docs/metrics.md)
    assert found["token_cost"][0] == 0.3
    assert found["token_cost"][1] == 1e-9
    assert found["human_review_minutes"][0] == 7.25
    assert found["tenant"][1] == "Ünïcode ☃"
    assert found["channel"][1] == ""
    for name in CELL_METRICS:
        assert found[name].dtype == "float64"
    store.engine.dispose()


def test_cells_sum_over_batches_and_sources_within_the_range(database_url):
    store = open_store(database_url)
    put(store, "a", cells({"tenant": "x", "requests": 1, "token_cost": 0.5},
                          {"tenant": "x", "day": date(2026, 1, 31), "requests": 10}))
    put(store, "b", cells({"tenant": "x", "requests": 2, "token_cost": 0.25}))
    put(store, "a", cells({"tenant": "x", "requests": 4}), source="other")
    put(store, "c", cells({"tenant": "x", "day": date(2026, 2, 1), "requests": 100}))
    january = store.cells(date(2026, 1, 1), date(2026, 2, 1)).sort_values("day").reset_index(drop=True)
    assert list(january["requests"]) == [7.0, 10.0]
    assert january["token_cost"][0] == 0.75
    assert list(store.cells(date(2026, 2, 1), date(2026, 3, 1))["requests"]) == [100.0]
    assert store.days_with_data() == [date(2026, 1, 10), date(2026, 1, 31), date(2026, 2, 1)]
    store.engine.dispose()


def test_replacing_a_batch_replaces_its_cells_and_quarantine(database_url):
    store = open_store(database_url)
    reject = Reject("data/a.csv", 3, "ts is missing", "e1,,acme")
    first = put(store, "a", cells({"requests": 5}), rejects=[reject],
                result=BatchResult(rows_read=6, rows_stored=5, quarantined=1))
    put(store, "b", cells({"requests": 1}))
    assert store.batch_fingerprint("bot", "a") == "f1"
    assert store.batch_fingerprint("bot", "zzz") is None
    assert store.batch_fingerprint("other", "a") is None
    put(store, "a", cells({"requests": 2}), fingerprint="f2", result=BatchResult(rows_read=2, rows_stored=2))
    assert store.cells(*FAR)["requests"].sum() == 3
    assert store.quarantine() == []
    batches = {batch.batch_key: batch for batch in store.batches()}
    assert sorted(batches) == ["a", "b"]
    assert batches["a"].fingerprint == "f2"
    assert (batches["a"].rows_read, batches["a"].rows_stored, batches["a"].quarantined) == (2, 2, 0)
    assert batches["a"].first_day == batches["a"].last_day == date(2026, 1, 10)
    assert batches["a"].cells == 1
    assert store.batch_fingerprint("bot", "a") == "f2"
    assert first is not None
    store.engine.dispose()


def test_quarantine_keeps_where_and_why_and_pages(database_url):
    store = open_store(database_url)
    rejects = [Reject(f"data/{name}.csv", line, f"reason {line}", "x" * 3000 if line == 2 else "raw")
               for name in ("a",) for line in range(2, 7)]
    put(store, "a", cells(), rejects=rejects)
    put(store, "b", cells(), rejects=[Reject("o.jsonl", None, "not UTF-8", "")], source="other")
    everything = store.quarantine(limit=100)
    assert [(q.source, q.file, q.line, q.reason) for q in everything] == [
        *[("bot", "data/a.csv", line, f"reason {line}") for line in range(2, 7)],
        ("other", "o.jsonl", None, "not UTF-8"),
    ]
    assert len(everything[0].raw) == 3000
    page = store.quarantine(limit=2)
    assert [q.line for q in page] == [2, 3]
    after = store.quarantine(after_id=page[-1].id, limit=2)
    assert [q.line for q in after] == [4, 5]
    assert [q.source for q in store.quarantine(source="other")] == ["other"]
    store.engine.dispose()


def test_an_empty_batch_is_recorded(database_url):
    store = open_store(database_url)
    put(store, "empty", cells(), result=BatchResult())
    (batch,) = store.batches()
    assert (batch.cells, batch.first_day, batch.last_day) == (0, None, None)
    assert store.cells(*FAR).empty
    store.engine.dispose()


def test_dimension_values(database_url):
    store = open_store(database_url)
    put(store, "a", cells({"tenant": "b", "channel": "web"}, {"tenant": "a"}, {"tenant": "b", "channel": "voice"}))
    assert store.dimension_values(["tenant", "channel"]) == {"tenant": ["a", "b"], "channel": ["", "voice", "web"]}
    store.engine.dispose()


def test_a_database_that_cannot_be_opened(tmp_path):
    with pytest.raises(RoiError) as caught:
        open_store(f"sqlite:///{tmp_path}/missing-folder/roi.db")
    assert str(caught.value).startswith(f"database: cannot open sqlite:///{tmp_path}/missing-folder/roi.db: ")


def test_a_password_never_shows_in_errors():
    with pytest.raises(RoiError) as caught:
        open_store("postgresql+psycopg://roi:hunter2-secret@127.0.0.1:1/roi")
    assert "hunter2-secret" not in str(caught.value)
    assert "***" in str(caught.value)


# ------------------------------------------------------------------ the whole path on both stores


def test_ingest_and_report_agree_on_both_stores(any_project, runner):
    any_project.write_data(
        "a.csv",
        """
        event_id,ts,tenant,channel,provider,model,input_tokens,output_tokens,cached_input_tokens,cost_usd,outcome,human_review_minutes
        e1,2026-01-10T10:00:00Z,acme,web,openai,gpt-4o-mini,1000,200,0,0.1,resolved,
        e2,2026-01-10T11:00:00Z,acme,web,openai,gpt-4o-mini,1000,200,0,0.2,escalated,30
        e3,2026-01-11T11:00:00Z,,voice,mystery,m,10,10,0,,abandoned,
        e4,bad,acme,web,,,,,,,,
        e2,2026-01-12T11:00:00Z,acme,web,openai,gpt-4o-mini,1000,200,0,9,resolved,
        """,
    )
    config = ["--config", str(any_project.config_path)]
    first = invoke(runner, [*config, "ingest"])
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[1].split() == ["bot", "1", "0", "5", "3", "1", "1", "1"]
    again = invoke(runner, [*config, "ingest", "--force"])
    assert again.exit_code == 0, again.output
    result = invoke(runner, [*config, "report", "--period", "2026-01"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    cohorts = {(c["cohort"]["tenant"], c["cohort"]["channel"]): c for c in document["cohorts"]}
    assert sorted(cohorts) == [("", "voice"), ("acme", "web")]
    web = cohorts[("acme", "web")]
    # BASE_MODEL: 6.50 per resolution, escalation 2.00, abandonment 0.50, review 45/h
    assert web["token_cost"] == pytest.approx(0.3, abs=1e-12)
    assert web["review_cost"] == pytest.approx(22.5)
    assert web["net_value"] == pytest.approx(6.5 - 0.3 - 22.5 - 2.0)
    voice = cohorts[("", "voice")]
    assert (voice["unpriced_requests"], voice["abandoned"], voice["failure_cost"]) == (1, 1, 0.5)
    assert document["totals"]["requests"] == 3


def test_the_cli_leaves_no_connection_open(pg_settings, runner, tmp_path):
    url = pg_settings.service.database_url
    name = sa.engine.make_url(url).database
    (tmp_path / "data" / "a.csv").write_text("event_id,ts,outcome\ne1,2026-01-10T10:00:00Z,resolved\n")
    watcher = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        result = runner.invoke(main, ["--config", pg_settings.path, "ingest"])
        assert result.exit_code == 0, result.output
        with watcher.connect() as connection:
            others = connection.execute(
                sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"),
                {"name": name},
            ).scalar_one()
        assert others == 0
    finally:
        watcher.dispose()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()


def test_a_replaced_batch_changes_the_data_version_even_when_the_clock_stands_still(database_url):
    """The version counts and maxes batch ids: a replacement gets a new id, so caches keyed by the
    version never serve the replaced batch's figures (SQLite would otherwise hand the old id back)."""
    import time_machine

    store = open_store(database_url)
    try:
        with time_machine.travel(datetime(2026, 3, 1, 12, tzinfo=UTC), tick=False):
            first = put(store, "a.csv", cells({"requests": 1}), fingerprint="f1")
            before = store.data_version()
            second = put(store, "a.csv", cells({"requests": 2}), fingerprint="f2")
            assert second != first and store.data_version() != before
    finally:
        store.close()


def test_cells_read_back_exactly_whatever_the_text_holds(database_url):
    """PostgreSQL's cells come through COPY as CSV (store.cell_reads): quotes, commas, line breaks,
    empty and non-ASCII text and every bit of a float come back as stored, on both databases."""
    store = open_store(database_url)
    tenants = ['a,b', 'say "hi"', "two\nlines", "", "naïve ünïcode", " padded ", "NULL", "\\N"]
    try:
        put(store, "a.csv", cells(*({"tenant": tenant, "requests": index + 1, "token_cost": 0.1 + index / 3,
                                     "human_review_minutes": 1e-9 * (index + 1)}
                                    for index, tenant in enumerate(tenants))))
        found = store.cells(*FAR).set_index("tenant")
        assert sorted(found.index) == sorted(tenants)
        for index, tenant in enumerate(tenants):
            row = found.loc[tenant]
            assert row["requests"] == index + 1 and row["day"] == date(2026, 1, 10)
            # fractions pass through whole nano-units (store._NANO): the nearest nano, exactly
            assert row["token_cost"] == round(0.1 + index / 3, 9)
            assert row["human_review_minutes"] == (index + 1) / 1e9
    finally:
        store.close()
