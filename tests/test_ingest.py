"""`roi ingest` and services.ingest: counts, quarantine, dedup, idempotence, days, dimensions."""

from __future__ import annotations

import gc
import json
import threading
from datetime import date

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roi import services
from roi.cli import main
from roi.services import batches
from roi.services import ingest as ingesting

BASE_MODEL_EUR = """
name = "support"
currency = "EUR"
[[versions]]
effective_from = 2025-01-01
value_per_resolution = 6.0
"""

HEADER = "event_id,ts,tenant,channel,topic,provider,model,input_tokens,output_tokens,cached_input_tokens,cost_usd,outcome,human_review_minutes"


def row(event_id: str, ts: str = "2026-01-10T10:00:00Z", tenant: str = "acme", channel: str = "web",
        topic: str = "", provider: str = "openai", model: str = "gpt-4o-mini", tokens: str = "100,20,0",
        cost: str = "0.5", outcome: str = "resolved", review: str = "") -> str:
    return f"{event_id},{ts},{tenant},{channel},{topic},{provider},{model},{tokens},{cost},{outcome},{review}"


def write_csv(project, name: str, *rows: str):
    return project.write_data(name, "\n".join([HEADER, *rows]) + "\n")


def ingest(project, runner, *args: str):
    return runner.invoke(main, ["--config", str(project.config_path), "ingest", *args])


def table(output: str) -> dict[str, list[str]]:
    lines = output.splitlines()
    assert lines[0].split() == ["source", "files", "unchanged", "rows", "read", "stored", "duplicates",
                                "quarantined", "unpriced"]
    return {line.split()[0]: line.split()[1:] for line in lines[1:]}


def errors(stderr: str) -> list[str]:
    """The error lines of stderr (progress lines may be there too)."""
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def stored_cells(project, start=date(1900, 1, 1), end=date(2262, 1, 1)) -> pd.DataFrame:
    cells = services.store_for(project.settings()).cells(start, end)
    return cells.sort_values(list(cells.columns[:8])).reset_index(drop=True)


def store_state(project):
    store = services.store_for(project.settings())
    batches = [(b.source, b.batch_key, b.rows_read, b.rows_stored, b.duplicates, b.quarantined, b.unpriced, b.cells)
               for b in store.batches()]
    quarantine = [(q.source, q.file, q.line, q.reason, q.raw) for q in store.quarantine(limit=10_000)]
    return stored_cells(project).to_dict("records"), batches, sorted(quarantine)


# ------------------------------------------------------------------ counts and quarantine


def test_ingest_prints_counts_per_source(project, runner):
    write_csv(
        project, "a.csv",
        row("e1"), row("e2", model="no-such-model", cost=""), row("e1", cost="9"),
        row("e3", ts="bad"), row("e4", tokens="-1,0,0"),
    )
    write_csv(project, "b.csv", row("e1"), row("e5", outcome="won"))
    result = ingest(project, runner)
    assert result.exit_code == 0, result.output
    # files, unchanged, rows read, stored, duplicates, quarantined, unpriced
    assert table(result.stdout) == {"bot": ["2", "0", "7", "3", "1", "3", "1"]}
    assert errors(result.stderr) == []


def test_bad_rows_are_quarantined_and_good_rows_land(project, runner):
    path = write_csv(
        project, "a.csv",
        row("e1"), row("e2", ts="2026-01-10T10:00:00"), row("e3", outcome="closed"), row("", cost="1"),
        "e5,2026-01-10T10:00:00Z,acme", row("e6", tokens="1,x,0"), row("e7", cost="0.25"),
        # an unreadable input_tokens is no number to compare the cached ones with: one reason, not two
        row("e8", tokens="x,1,3"), row("e9", tokens="2,1,3"),
    )
    result = ingest(project, runner)
    assert result.exit_code == 0
    store = services.store_for(project.settings())
    found = [(q.source, q.file, q.line, q.reason) for q in store.quarantine()]
    file = str(path)
    assert found == [
        ("bot", file, 3, "ts has no UTC offset (write Z or +HH:MM) (got '2026-01-10T10:00:00')"),
        ("bot", file, 4, "outcome is not one of resolved, escalated, abandoned, reopened (got 'closed')"),
        ("bot", file, 5, "event_id is missing"),
        ("bot", file, 6, "expected 13 columns, found 3"),
        ("bot", file, 7, "output_tokens is not a whole number >= 0 (got 'x')"),
        ("bot", file, 9, "input_tokens is not a whole number >= 0 (got 'x')"),
        ("bot", file, 10, "cached_input_tokens exceeds input_tokens (input_tokens includes the cached ones)"),
    ]
    cells = stored_cells(project)
    assert cells["requests"].sum() == 2
    assert cells["token_cost"].sum() == pytest.approx(0.75)
    assert cells["resolved"].sum() == 2


def test_unreadable_file_exits_1_and_the_rest_lands(project, runner):
    project.write_config(
        """
        [[sources]]
        name = "other"
        type = "events"
        path = "other/*.jsonl"
        """
    )
    (project.root / "other").mkdir()
    (project.root / "other" / "x.jsonl").write_text(json.dumps({"event_id": "o1", "ts": "2026-01-10T10:00:00Z",
                                                                 "outcome": "escalated"}) + "\n")
    write_csv(project, "a.csv", row("e1"))
    broken = project.write_data("b.csv", "id,ts,tenant\n1,2026-01-10T10:00:00Z,acme\n")
    write_csv(project, "c.csv", row("e3"))
    result = ingest(project, runner)
    assert result.exit_code == 1
    assert errors(result.stderr) == [f"error: {broken}: line 1: the header lacks event_id (found: 'id,ts,tenant')"]
    counts = table(result.stdout)
    assert counts["bot"] == ["3", "0", "2", "2", "0", "0", "0"]
    assert counts["other"] == ["1", "0", "1", "1", "0", "0", "0"]
    cells = stored_cells(project)
    assert cells["requests"].sum() == 2
    assert cells["escalated"].sum() == 1


def test_source_with_no_file_fails_the_run_but_not_the_others(project, runner):
    project.write_config(
        """
        [[sources]]
        name = "empty"
        type = "events"
        path = "nothing/*.csv"
        """
    )
    write_csv(project, "a.csv", row("e1"))
    result = ingest(project, runner)
    assert result.exit_code == 1
    assert errors(result.stderr) == [f"error: source 'empty': no file matches path '{project.root / 'nothing' / '*.csv'}'"]
    assert table(result.stdout)["bot"][3] == "1"
    assert stored_cells(project)["requests"].sum() == 1


def test_only_the_named_source(project, runner):
    project.write_config(
        """
        [[sources]]
        name = "other"
        type = "events"
        path = "nothing/*.csv"
        """
    )
    write_csv(project, "a.csv", row("e1"))
    result = ingest(project, runner, "--source", "bot")
    assert result.exit_code == 0
    assert list(table(result.stdout)) == ["bot"]
    unknown = ingest(project, runner, "--source", "nope")
    assert unknown.exit_code == 2
    assert errors(unknown.stderr) == [f"error: {project.config_path}: no source named 'nope' (sources: bot, other)"]


def test_disabled_sources_are_skipped(project, runner):
    project.write_config(
        """
        [[sources]]
        name = "off"
        type = "events"
        path = "nothing/*.csv"
        enabled = false
        """
    )
    write_csv(project, "a.csv", row("e1"))
    result = ingest(project, runner)
    assert result.exit_code == 0
    assert list(table(result.stdout)) == ["bot"]


def test_outcome_only_rows_count_outcomes_but_not_requests(project, runner):
    write_csv(
        project, "a.csv",
        row("e1", tokens="100,20,0", cost="", outcome=""),
        row("e2", provider="", model="", tokens=",,", cost="", outcome="resolved", review="4"),
        row("e3", provider="", model="", tokens="0,0,0", cost="", outcome="reopened"),
        row("e4", provider="", model="", tokens="0,0,0", cost="0", outcome="escalated"),
    )
    assert ingest(project, runner).exit_code == 0
    cells = stored_cells(project)
    # e1 is a priced request; e2 and e3 only outcomes; e4 has a cost (0), so it is a request
    assert cells["requests"].sum() == 2
    assert cells["unpriced_requests"].sum() == 0
    assert (cells["resolved"].sum(), cells["reopened"].sum(), cells["escalated"].sum()) == (1, 1, 1)
    assert cells["human_review_minutes"].sum() == 4.0
    outcome_only = cells[cells["model"] == ""]
    assert outcome_only["requests"].sum() == 1  # e4


# ------------------------------------------------------------------ days and timezone


@pytest.mark.parametrize(
    ("timezone", "ts", "day"),
    [
        ("Europe/Paris", "2026-01-31T23:30:00Z", date(2026, 2, 1)),
        ("Europe/Paris", "2026-01-31T22:59:59Z", date(2026, 1, 31)),
        ("Europe/Paris", "2026-02-01T00:30:00+01:00", date(2026, 2, 1)),
        ("UTC", "2026-01-31T23:30:00Z", date(2026, 1, 31)),
        ("UTC", "2026-02-01T00:30:00+01:00", date(2026, 1, 31)),
        ("America/New_York", "2026-02-01T03:00:00Z", date(2026, 1, 31)),
        ("America/New_York", "2026-02-01T05:00:00Z", date(2026, 2, 1)),
        # summer time: Paris is UTC+2 from 29 March 2026
        ("Europe/Paris", "2026-06-30T22:30:00Z", date(2026, 7, 1)),
        ("Europe/Paris", "2026-06-30T21:30:00Z", date(2026, 6, 30)),
        ("Asia/Kolkata", "2026-03-31T18:30:00Z", date(2026, 4, 1)),
        # beyond 2037, where Arrow's zone data ends: the zone's daylight-saving rule still holds
        ("America/New_York", "2038-08-01T04:30:00Z", date(2038, 8, 1)),
        ("America/New_York", "2037-08-01T04:30:00Z", date(2037, 8, 1)),
        ("Europe/Berlin", "2040-06-30T22:30:00Z", date(2040, 7, 1)),
        ("America/New_York", "2100-12-01T04:30:00Z", date(2100, 11, 30)),
        ("Australia/Sydney", "2050-07-01T13:30:00Z", date(2050, 7, 1)),  # winter there: UTC+10, not +11
    ],
)
def test_days_are_in_the_configured_timezone(project, runner, timezone, ts, day):
    project.write_config(timezone=timezone)
    write_csv(project, "a.csv", row("e1", ts=ts))
    assert ingest(project, runner).exit_code == 0
    cells = stored_cells(project)
    assert list(cells["day"]) == [day]


@settings(max_examples=60, deadline=None)
@given(
    timezone=st.sampled_from(["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Pacific/Chatham",
                              "America/St_Johns", "Asia/Kolkata", "Africa/Casablanca"]),
    seconds=st.lists(st.integers(-2_208_988_800, 9_183_110_400), min_size=1, max_size=40),
)
def test_local_days_agree_with_zoneinfo_from_1900_to_2261(timezone, seconds):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    import pyarrow as pa

    from roi.ingestion import _local_days

    zone = ZoneInfo(timezone)
    # the ends of the years around 2037 and their summer midnights, where Arrow's own zone data goes wrong
    seconds = seconds + [2_145_916_800 + 86_400 * day + 60 * minute for day in (0, 180, 200, 364) for minute in
                         range(0, 1440, 90)]
    instants = pa.array([value * 10**9 for value in seconds], pa.int64()).cast(pa.timestamp("ns", "UTC"))
    expected = [(datetime.fromtimestamp(value, zone).date() - date(1970, 1, 1)).days for value in seconds]
    assert _local_days(instants, timezone).tolist() == expected


def test_month_boundary_moves_a_row_between_reports(project, runner):
    project.write_config(timezone="Europe/Paris")
    write_csv(project, "a.csv", row("e1", ts="2026-01-31T23:30:00Z"), row("e2", ts="2026-01-31T12:00:00Z"))
    assert ingest(project, runner).exit_code == 0
    for period, requests in (("2026-01", 1), ("2026-02", 1)):
        result = runner.invoke(main, ["--config", str(project.config_path), "report", "--period", period])
        assert json.loads(result.stdout)["totals"]["requests"] == requests


# ------------------------------------------------------------------ the dimensions knob


def test_store_dimensions_drop_the_others_and_merge_cells(project, runner):
    project.write_config(
        body=project.config_path.read_text().replace("[report]", '[store]\ndimensions = ["tenant"]\n\n[report]')
        .replace('group_by = ["tenant", "channel"]', 'group_by = ["tenant"]')
    )
    write_csv(
        project, "a.csv",
        row("e1", channel="web", topic="billing", cost="1"),
        row("e2", channel="voice", topic="login", model="gpt-4o", cost="2"),
        row("e3", tenant="beta", cost="4"),
    )
    assert ingest(project, runner).exit_code == 0
    cells = stored_cells(project)
    assert len(cells) == 2
    assert list(cells["tenant"]) == ["acme", "beta"]
    for name in ("channel", "topic", "language", "plan_tier", "provider", "model"):
        assert set(cells[name]) == {""}
    assert list(cells["token_cost"]) == [3.0, 4.0]
    assert list(cells["requests"]) == [2, 1]


def test_dimensions_are_kept_as_written(project, runner):
    write_csv(project, "a.csv", row("e1", tenant="Acme Corp", channel="", topic="Billing/Refunds"))
    assert ingest(project, runner).exit_code == 0
    cells = stored_cells(project)
    assert (cells["tenant"][0], cells["channel"][0], cells["topic"][0]) == ("Acme Corp", "", "Billing/Refunds")
    assert cells["language"][0] == ""


def test_pricing_uses_the_stored_row_not_the_dropped_dimensions(project, runner):
    # provider and model are dropped from the store but still price the row
    project.write_config(
        body=project.config_path.read_text().replace("[report]", '[store]\ndimensions = ["tenant", "channel"]\n\n[report]'),
        extra='[pricing.overrides]\n"openai/gpt-4o-mini" = { input_per_mtok = 1.0, output_per_mtok = 2.0 }\n',
    )
    write_csv(project, "a.csv", row("e1", tokens="1000000,1000000,0", cost=""))
    assert ingest(project, runner).exit_code == 0
    cells = stored_cells(project)
    assert cells["token_cost"].sum() == pytest.approx(3.0)
    assert cells["model"][0] == ""


# ------------------------------------------------------------------ dedup and idempotence


def test_duplicate_event_ids_within_a_batch_first_wins(project, runner):
    write_csv(
        project, "a.csv",
        row("e1", cost="1", outcome="resolved"),
        row("e2", cost="2"),
        row("e1", cost="100", outcome="escalated", tenant="beta"),
        row("e1", cost="1000", outcome="abandoned"),
    )
    result = ingest(project, runner)
    assert table(result.stdout)["bot"][4] == "2"
    cells = stored_cells(project)
    assert list(cells["tenant"]) == ["acme"]
    assert cells["token_cost"].sum() == 3.0
    assert (cells["resolved"].sum(), cells["escalated"].sum(), cells["abandoned"].sum()) == (2, 0, 0)


def test_duplicates_across_chunks_count_once(project, runner):
    project.write_config(body=project.config_path.read_text().replace('path = "data/*.csv"',
                                                                      'path = "data/*.jsonl"\nchunk_rows = 1000'))
    lines = [json.dumps({"event_id": f"j{n % 1800}", "ts": "2026-01-10T10:00:00Z", "cost_usd": n})
             for n in range(2500)]
    project.write_data("a.jsonl", "\n".join(lines) + "\n")
    result = ingest(project, runner)
    assert table(result.stdout)["bot"][2:5] == ["2,500", "1,800", "700"]
    cells = stored_cells(project)
    assert cells["requests"].sum() == 1800
    assert cells["token_cost"].sum() == sum(range(1800))  # the first occurrence of each id


def test_a_chunk_of_nothing_but_repeats_then_new_rows(project, runner):
    project.write_config(body=project.config_path.read_text().replace('path = "data/*.csv"',
                                                                      'path = "data/*.jsonl"\nchunk_rows = 1000'))
    # the second chunk repeats the first whole; the third is new again, but for one more repeat
    ids = [*range(1000), *range(1000), *range(1000, 1499), 0]
    lines = [json.dumps({"event_id": f"k{n}", "ts": "2026-01-10T10:00:00Z", "cost_usd": 1}) for n in ids]
    project.write_data("a.jsonl", "\n".join(lines) + "\n")
    result = ingest(project, runner)
    assert result.exit_code == 0, result.output
    assert table(result.stdout)["bot"][2:5] == ["2,500", "1,499", "1,001"]
    assert stored_cells(project)["requests"].sum() == 1499


def test_the_same_event_id_in_two_files_is_two_events(project, runner):
    write_csv(project, "a.csv", row("e1", cost="1"))
    write_csv(project, "b.csv", row("e1", cost="2"))
    assert ingest(project, runner).exit_code == 0
    assert stored_cells(project)["token_cost"].sum() == 3.0


def test_ingesting_twice_equals_once(project, runner):
    write_csv(project, "a.csv", row("e1"), row("e2", ts="nope"), row("e1"), row("e3", tenant="beta"))
    write_csv(project, "b.csv", row("x1", outcome="escalated", review="3"))
    first = ingest(project, runner)
    once = store_state(project)
    second = ingest(project, runner)
    assert second.exit_code == 0
    assert table(second.stdout)["bot"] == ["2", "2", "0", "0", "0", "0", "0"]
    assert store_state(project) == once
    forced = ingest(project, runner, "--force")
    assert table(forced.stdout) == table(first.stdout)
    assert store_state(project) == once


def test_a_changed_file_replaces_what_it_stored(project, runner):
    path = write_csv(project, "a.csv", row("e1", cost="1"), row("e2", ts="bad"))
    assert ingest(project, runner).exit_code == 0
    path.write_text("\n".join([HEADER, row("e1", cost="5"), row("e3", cost="7", tenant="beta")]) + "\n")
    result = ingest(project, runner)
    assert table(result.stdout)["bot"][:4] == ["1", "0", "2", "2"]
    cells = stored_cells(project)
    assert list(cells["token_cost"]) == [5.0, 7.0]
    store = services.store_for(project.settings())
    assert store.quarantine() == []
    assert len(store.batches()) == 1


def test_a_config_change_that_shapes_cells_rereads(project, runner):
    write_csv(project, "a.csv", row("e1", ts="2026-01-31T23:30:00Z"))
    assert ingest(project, runner).exit_code == 0
    project.write_config(timezone="Europe/Paris")
    result = ingest(project, runner)
    assert table(result.stdout)["bot"][1] == "0"  # not "unchanged": the timezone moved its day
    assert list(stored_cells(project)["day"]) == [date(2026, 2, 1)]


def test_services_ingest_returns_runs(project):
    write_csv(project, "a.csv", row("e1"), row("e1"), row("e2", ts="x"), row("e3", model="mystery", cost=""))
    settings = project.settings()
    (run,) = ingesting.ingest(settings, services.store_for(settings))
    assert (run.source, run.files, run.batches, run.rows_read, run.stored, run.duplicates, run.quarantined,
            run.unpriced, run.failed) == ("bot", 1, 1, 4, 2, 1, 1, 1, False)


def test_duplicates_across_chunks_with_a_very_long_id(project, runner):
    project.write_config(body=project.config_path.read_text().replace('path = "data/*.csv"',
                                                                      'path = "data/*.jsonl"\nchunk_rows = 1000'))
    lines = [json.dumps({"event_id": f"e{n}", "ts": "2026-01-10T10:00:00Z", "cost_usd": 1}) for n in range(1000)]
    lines.append(json.dumps({"event_id": "e1", "ts": "2026-01-10T10:00:00Z", "cost_usd": 1}))
    lines.append(json.dumps({"event_id": "x" * 5000, "ts": "2026-01-10T10:00:00Z", "cost_usd": 1}))
    project.write_data("a.jsonl", "\n".join(lines) + "\n")
    result = ingest(project, runner)
    assert table(result.stdout)["bot"][2:5] == ["1,002", "1,001", "1"]


# ------------------------------------------------------------------ currency


def test_another_currency_needs_an_exchange_rate(project, runner):
    project.write_model("support", BASE_MODEL_EUR)
    project.write_config(body=project.config_path.read_text().replace('currency = "USD"', 'currency = "EUR"'))
    result = runner.invoke(main, ["--config", str(project.config_path), "config", "check"])
    assert result.exit_code == 2
    assert errors(result.stderr) == [
        f"error: {project.config_path}: pricing.usd_exchange_rate: required when service.currency is 'EUR' "
        "(token costs arrive in USD); give EUR per USD, e.g. 0.92"
    ]


def test_token_costs_are_converted_to_the_service_currency(project, runner):
    project.write_model("support", BASE_MODEL_EUR)
    text = project.config_path.read_text().replace('currency = "USD"', 'currency = "EUR"')
    project.write_config(body=text + '\n[pricing]\nusd_exchange_rate = 0.5\n'
                         '[pricing.overrides]\n"openai/gpt-4o-mini" = { input_per_mtok = 1.0, output_per_mtok = 2.0 }\n')
    # one call with a reported cost of 0.5 USD, one priced: (1000 x 1.0 + 500 x 2.0) / 1e6 = 0.002 USD
    write_csv(project, "a.csv", row("e1", cost="0.5"), row("e2", tokens="1000,500,0", cost=""))
    assert ingest(project, runner).exit_code == 0
    cells = stored_cells(project)
    assert cells["token_cost"].sum() == pytest.approx((0.5 + 0.002) * 0.5, abs=1e-12)


def _sum_cells(cells):
    """Sum a table of rows (day, every dimension, CELL_METRICS) per cell in one go, through the
    ingest's _CellSums."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from roi.domain import CELL_METRICS, DIMENSIONS
    from roi.ingestion import _CellSums

    sums = _CellSums(DIMENSIONS)
    day = pc.cast(cells.column("day").combine_chunks(), pa.int32()).to_numpy(zero_copy_only=False)
    sums.add(day.astype(np.int64), {name: cells.column(name) for name in DIMENSIONS},
             [cells.column(name).combine_chunks().to_numpy(zero_copy_only=False) for name in CELL_METRICS])
    return sums.table() or cells.slice(0, 0)


def _cells_input(dictionaries: dict[str, list[str]], codes: dict[str, list[int]], days: list[str]):
    import numpy as np
    import pyarrow as pa

    from roi.domain import CELL_METRICS, DIMENSIONS

    count = len(days)
    columns = {"day": pa.array([date.fromisoformat(day) for day in days], pa.date32())}
    for name in DIMENSIONS:
        values = dictionaries.get(name, [""])
        columns[name] = pa.DictionaryArray.from_arrays(
            pa.array(codes.get(name, [0] * count), pa.int32()), pa.array(values, pa.string())
        )
    for index, name in enumerate(CELL_METRICS):
        dtype = np.float64 if name in ("token_cost", "human_review_minutes") else np.int64
        columns[name] = pa.array((np.arange(count) + 1 + index).astype(dtype))
    return pa.table(columns)


def _as_rows(table) -> list[tuple]:
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = [pc.cast(table.column(name), pa.string()) if pa.types.is_dictionary(table.column(name).type)
               else table.column(name) for name in table.column_names]
    return sorted(zip(*(column.to_pylist() for column in columns), strict=True))


def _reference_sums(cells) -> list[tuple]:
    """Arrow's hash aggregation on the decoded values (nulls as ""): the sums to expect."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from roi.domain import CELL_METRICS, DIMENSIONS

    decoded = {"day": cells.column("day")} | {
        name: pc.cast(cells.column(name), pa.string()).fill_null("") for name in DIMENSIONS
    } | {name: cells.column(name) for name in CELL_METRICS}
    keys = ["day", *DIMENSIONS]
    summed = pa.table(decoded).group_by(keys).aggregate([(name, "sum") for name in CELL_METRICS])
    return _as_rows(summed.select([*keys, *(f"{name}_sum" for name in CELL_METRICS)]))


def test_cell_sums_merge_dictionary_values_that_are_equal():
    # "acme" twice in one dictionary (two spellings trimmed to one): one cell, not two
    cells = _cells_input({"tenant": ["acme", "acme", "beta"]}, {"tenant": [0, 1, 2, 0]},
                         ["2026-01-01", "2026-01-01", "2026-01-01", "2026-01-02"])
    summed = _sum_cells(cells)
    assert summed.num_rows == 3
    first = [row for row in _as_rows(summed) if row[0] == date(2026, 1, 1) and row[1] == "acme"]
    assert first[0][8] == 1 + 2  # requests of the first two rows
    assert first[0][12] == 5.0 + 6.0  # token_cost
    assert _as_rows(summed) == _reference_sums(cells)


def test_cell_sums_count_a_missing_dimension_as_blank():
    import pyarrow as pa

    cells = _cells_input({"tenant": ["", "acme"]}, {"tenant": [0, 1, 0]}, ["2026-01-01"] * 3)
    index = cells.schema.get_field_index("tenant")
    with_null = pa.DictionaryArray.from_arrays(pa.array([None, 1, 0], pa.int32()), pa.array(["", "acme"]))
    summed = _as_rows(_sum_cells(cells.set_column(index, "tenant", with_null)))
    assert [(row[1], row[8]) for row in summed] == [("", 1 + 3), ("acme", 2)]


def test_cell_sums_count_a_null_dictionary_value_as_blank():
    import pyarrow as pa

    cells = _cells_input({"tenant": ["", "acme"]}, {"tenant": [0, 1, 0]}, ["2026-01-01"] * 3)
    index = cells.schema.get_field_index("tenant")
    with_null = pa.DictionaryArray.from_arrays(pa.array([0, 1, 2], pa.int32()), pa.array([None, "acme", ""]))
    summed = _as_rows(_sum_cells(cells.set_column(index, "tenant", with_null)))
    assert [(row[1], row[8]) for row in summed] == [("", 1 + 3), ("acme", 2)]


def test_cell_sums_too_wide_for_one_key_word_still_merge_equal_values():
    from roi.domain import DIMENSIONS

    wide = {name: [f"{name}-{i}" for i in range(2**9)] for name in DIMENSIONS}
    wide["tenant"][5] = wide["tenant"][4]  # one value twice in the dictionary
    codes = {name: [4, 4, 6] for name in DIMENSIONS} | {"tenant": [4, 5, 6]}
    summed = _as_rows(_sum_cells(_cells_input(wide, codes, ["2026-01-01"] * 3)))
    assert [row[8] for row in summed] == [1 + 2, 3]


def test_cell_sums_with_keys_wider_than_one_word():
    import numpy as np

    from roi.domain import DIMENSIONS

    # seven dictionaries of 2**9 values used in full need 63 bits before the day: two key words
    wide = {name: [f"{name}-{i}" for i in range(2**9)] for name in DIMENSIONS}
    rng = np.random.default_rng(3)
    codes = {name: rng.integers(0, 2**9, 3000).tolist() for name in DIMENSIONS}
    codes = {name: [*values, *values[:1000]] for name, values in codes.items()}  # 1000 cells twice
    days = [f"2026-01-{day:02d}" for day in rng.integers(1, 29, 3000)]
    cells = _cells_input(wide, codes, [*days, *days[:1000]])
    summed = _sum_cells(cells)
    assert summed.num_rows == 3000
    assert _as_rows(summed) == _reference_sums(cells)


def _chunk_of(rng, rows: int, values: int, first_day: int, days: int):
    """Rows of random cells: dimension values drawn from `values` names, days from a range."""
    import numpy as np
    import pyarrow as pa

    from roi.domain import CELL_METRICS, DIMENSIONS

    columns = {"day": pa.array(rng.integers(first_day, first_day + days, rows).astype(np.int32)).cast(pa.date32())}
    for name in DIMENSIONS:
        columns[name] = pa.array([f"{name[:2]}{i}" if i else "" for i in rng.integers(0, values, rows)]
                                 ).dictionary_encode()
    for name in CELL_METRICS:
        if name in ("token_cost", "human_review_minutes"):
            columns[name] = pa.array(np.round(rng.random(rows) * 10, 2))
        else:
            columns[name] = pa.array(rng.integers(0, 1000, rows))
    return pa.table(columns)


def _close_rows(found: list[tuple], expected: list[tuple]) -> None:
    assert len(found) == len(expected)
    for got, want in zip(found, expected, strict=True):
        assert got[:8] == want[:8]
        assert got[8:] == pytest.approx(want[8:], rel=1e-12)


@pytest.mark.parametrize("dimensions", [None, ("tenant", "model")])
def test_cells_of_many_chunks_whose_dictionaries_and_days_grow(dimensions):
    """Keys are re-packed wider as values and days keep arriving (earlier and later), through merges."""
    import numpy as np
    import pyarrow as pa

    from roi import ingestion
    from roi.domain import DIMENSIONS

    stored = dimensions or DIMENSIONS
    rng = np.random.default_rng(11)
    sums = ingestion._CellSums(stored)
    chunks = []
    # values per dimension grow 2 -> 700 (past many powers of two); days move both ways from 20,500
    for step, (values, first_day, days) in enumerate([(2, 20_500, 1), (3, 20_500, 3), (40, 20_490, 20),
                                                      (700, 20_400, 300), (5, 20_480, 900)]):
        for _ in range(3):
            chunk = _chunk_of(rng, 4000 + 1000 * step, values, first_day, days)
            chunks.append(chunk)
            sums.add(chunk.column("day").cast(pa.int32()).to_numpy().astype(np.int64),
                     {name: chunk.column(name) for name in stored},
                     [chunk.column(name).to_numpy() for name in ingestion.CELL_METRICS])
    whole = pa.concat_tables(chunks).unify_dictionaries()
    for name in DIMENSIONS:
        if name not in stored:  # a dimension the store drops is blank in every cell
            index = whole.schema.get_field_index(name)
            whole = whole.set_column(index, name, pa.array([""] * whole.num_rows).dictionary_encode())
    _close_rows(_as_rows(sums.table()), _reference_sums(whole))


def test_cells_merge_into_few_runs_as_they_come():
    """Chunk sums wait in runs and merge once they outgrow the threshold: few runs at any time."""
    import numpy as np
    import pyarrow as pa

    from roi import ingestion

    rng = np.random.default_rng(5)
    sums = ingestion._CellSums(ingestion.DIMENSIONS, compact_rows=3000)
    chunks = []
    merges = 0
    for _ in range(30):
        chunk = _chunk_of(rng, 1000, 6, 20_000, 30)
        chunks.append(chunk)
        sums.add(chunk.column("day").cast(pa.int32()).to_numpy().astype(np.int64),
                 {name: chunk.column(name) for name in ingestion.DIMENSIONS},
                 [chunk.column(name).to_numpy() for name in ingestion.CELL_METRICS])
        waiting = sum(run.rows for run in sums._runs)
        assert waiting <= max(3000, sums._cells.rows // 4 if sums._cells else 0)
        merges += not sums._runs
    assert 4 <= merges < 30
    _close_rows(_as_rows(sums.table()), _reference_sums(pa.concat_tables(chunks).unify_dictionaries()))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), values=st.sampled_from([2, 5, 40, 700]), chunks=st.integers(2, 12),
       rows=st.integers(1, 600), days=st.sampled_from([1, 7, 400]))
def test_cells_merged_as_they_come_equal_the_reference_sums(seed, values, chunks, rows, days):
    """Runs merge into the cells after almost every chunk: in place when a key is one word (few values
    and days), by a sort of everything when it is two (700 values in seven dimensions: 70 bits and more)."""
    import pyarrow as pa

    sums, added = _random_sums(seed, values, chunks, rows, days, compact_rows=rows // 2)
    _close_rows(_as_rows(sums.table()), _reference_sums(pa.concat_tables(added).unify_dictionaries()))


def _random_sums(seed, values, chunks, rows, days, **options):
    """_CellSums (made with `options`) of random chunks, and the chunks; days drift back and forth,
    so keys are packed wider now and then (before a merge, too)."""
    import numpy as np
    import pyarrow as pa

    from roi import ingestion

    rng = np.random.default_rng(seed)
    sums = ingestion._CellSums(ingestion.DIMENSIONS, **options)
    added = []
    for _ in range(chunks):
        chunk = _chunk_of(rng, int(rng.integers(1, rows + 1)), values, 20_000 + int(rng.integers(-days, days + 1)), days)
        added.append(chunk)
        sums.add(chunk.column("day").cast(pa.int32()).to_numpy().astype(np.int64),
                 {name: chunk.column(name) for name in ingestion.DIMENSIONS},
                 [chunk.column(name).to_numpy() for name in ingestion.CELL_METRICS])
    return sums, added


# ------------------------------------------------------------------ fingerprints


def test_a_new_file_is_hashed_beside_its_read_and_then_left_alone(project, runner):
    from roi.connectors import registry
    from roi.connectors.base import file_fingerprint

    path = write_csv(project, "a.csv", row("e1"), row("e2"))
    assert table(ingest(project, runner).stdout)["bot"][:4] == ["1", "0", "2", "2"]
    store = services.store_for(project.settings())
    stored = store.batch_fingerprint("bot", "file:data/a.csv")
    # the fingerprint kept is that of the content (with what shaped it): the same file again is unchanged
    settings = project.settings()
    connector = registry.create(settings.sources[0], settings.base_dir)
    (batch,) = connector.file_batches({connector.batch_key(str(path)): str(path)})
    assert batch.shape == {"format": "csv"}
    assert stored == batches._ingest_fingerprint(settings, settings.sources[0], batch, file_fingerprint(str(path)))
    assert table(ingest(project, runner).stdout)["bot"][:2] == ["1", "1"]


@settings(max_examples=40, deadline=None)
@given(size=st.sampled_from([0, 1, 65_535, 65_536, 65_537, 1 << 20, (1 << 20) + 65_537]), extra=st.integers(0, 3))
def test_a_file_s_start_has_the_fingerprint_of_a_file_holding_just_it(tmp_path_factory, size, extra):
    """What a moved file that grew since is recognised by: its first bytes hashed as a file of their own."""
    import os

    from roi.connectors.base import bytes_fingerprint, file_fingerprint, prefix_fingerprint

    folder = tmp_path_factory.mktemp("starts")
    data = os.urandom(size)
    (folder / "whole").write_bytes(data)
    (folder / "grown").write_bytes(data + b"x" * extra)
    assert file_fingerprint(str(folder / "whole")) == bytes_fingerprint(data) == \
        prefix_fingerprint(str(folder / "grown"), size)
    assert prefix_fingerprint(str(folder / "grown"), size + extra + 1) is None


def test_a_file_whose_hash_fails_is_reported_and_the_others_land(project, runner, monkeypatch):
    from roi.connectors import base
    from roi.errors import ConnectorError

    write_csv(project, "a.csv", row("e1"))
    write_csv(project, "b.csv", row("e2"))
    real = base.file_fingerprint

    def failing(path: str, *listed) -> str:
        if path.endswith("a.csv"):
            raise ConnectorError(f"{path}: cannot read the file: gone")
        return real(path, *listed)

    monkeypatch.setattr(base, "file_fingerprint", failing)
    result = ingest(project, runner)
    assert result.exit_code == 1
    assert any("a.csv: cannot read the file: gone" in line for line in errors(result.stderr))
    assert stored_cells(project)["requests"].sum() == 1  # b.csv landed
    assert [batch.batch_key for batch in services.store_for(project.settings()).batches()] == ["file:data/b.csv"]


def test_cells_of_a_file_in_reverse_time_order():
    """Each chunk a day earlier than the last: the day field grows with the days seen, no faster."""
    import numpy as np
    import pyarrow as pa

    from roi import ingestion

    sums = ingestion._CellSums(ingestion.DIMENSIONS)
    for back in range(150):
        day = 20_600 - back
        tenant = pa.array([f"t{back % 3}"]).dictionary_encode()
        sums.add(np.array([day, day], dtype=np.int64), {name: tenant for name in ingestion.DIMENSIONS},
                 [np.array([1, 2], dtype=np.float64 if name in ("token_cost", "human_review_minutes") else np.int64)
                  for name in ingestion.CELL_METRICS])
        assert sums._encoding.widths[0] == back.bit_length()
    table = sums.table()
    assert table.num_rows == 150
    days = table.column("day").cast(pa.int32()).to_numpy()
    assert sorted(days.tolist()) == list(range(20_600 - 149, 20_601))
    assert set(table.column("requests").to_pylist()) == {3}


def test_a_file_that_grows_while_it_is_read_is_read_again(project, runner, monkeypatch):
    """The hash beside the read may see rows the read did not: then the next run reads the file again."""
    import threading

    from roi.connectors import base

    path = write_csv(project, "a.csv", row("e1"))
    read_done = threading.Event()
    real_hash = base.file_fingerprint

    def late_hash(file: str, *listed) -> str:
        assert read_done.wait(10)  # the hash runs after the read, and after the append below
        return real_hash(file, *listed)

    def grow(source: str, label: str, rows: int) -> None:  # the ingest's progress hook: the file's rows are read by now
        if not read_done.is_set():
            with open(path, "a") as handle:
                handle.write(row("e2") + "\n")
            read_done.set()

    monkeypatch.setattr(base, "file_fingerprint", late_hash)
    settings = project.settings()
    store = services.store_for(settings)
    try:
        (run,) = ingesting.ingest(settings, store, progress=grow)
    finally:
        store.close()
    assert (run.files, run.unchanged, run.rows_read, run.stored) == (1, 0, 1, 1)
    monkeypatch.setattr(base, "file_fingerprint", real_hash)
    # not "unchanged": e2 lands; then the file has settled
    assert table(ingest(project, runner).stdout)["bot"][:4] == ["1", "0", "2", "2"]
    assert table(ingest(project, runner).stdout)["bot"][:2] == ["1", "1"]
    assert stored_cells(project)["requests"].sum() == 2


def test_a_tmpdir_that_fills_midway_stops_the_ingest_and_closes_its_temporary_files_at_once(project, monkeypatch, tmp_path):
    """TMPDIR fills while a file's ids go to disk: the ingest stops with an error naming TMPDIR (as
    docs/connectors.md says), and the file's temporary files are closed at once, not by the collector."""
    from roi import dedup
    from roi.errors import RoiError
    from tests.mounts import fill, tmpfs

    monkeypatch.setattr(dedup, "MEMORY_IDS", 64)  # ids go to disk after the first chunk
    project.write_config(body=project.config_path.read_text().replace('path = "data/*.csv"',
                                                                      'path = "data/*.jsonl"\nchunk_rows = 1000'))
    lines = [json.dumps({"event_id": f"b{n}", "ts": "2026-01-10T10:00:00Z", "cost_usd": 1}).encode()
             for n in range(5000)]
    (project.root / "data").mkdir(exist_ok=True)
    (project.root / "data" / "a.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    with tmpfs(tmp_path / "small", size_kib=256) as folder:
        monkeypatch.setenv("TMPDIR", str(folder))
        fill(folder, leave=24 << 10)  # room for a chunk's run or two of 8 KiB, not for their merge
        gc.disable()  # nothing may rely on the cyclic collector to close them
        try:
            with pytest.raises(RoiError, match=f"cannot use a temporary file in {folder} \\(TMPDIR\\)"):
                ingesting.ingest(project.settings(), services.store_for(project.settings()))
            assert _open_files_in(folder) == 0
            assert not [thread for thread in threading.enumerate() if thread.name.startswith("roi-cells")]
        finally:
            gc.enable()


def _open_files_in(folder) -> int:
    """This process's open files in `folder` (anonymous temporary files too: /proc shows their folder)."""
    import contextlib
    import os

    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}").startswith(f"{folder}/")
    return count


def test_a_closed_builder_takes_no_more_rows(project):
    from roi.connectors.events import read_csv
    from roi.ingestion import CellBuilder
    from roi.pricing import Pricer

    path = write_csv(project, "a.csv", row("e1"), row("e2"))
    builder = CellBuilder(dimensions=("tenant",), timezone="UTC", pricer=Pricer({}))
    chunk = next(read_csv(str(path), 1000))
    builder.add(chunk)
    assert [table.num_rows for table in builder.cell_tables()] == [1]  # the two rows make one cell
    with pytest.raises(RuntimeError, match="CellBuilder is closed: its batch is done"):
        builder.add(chunk)


def test_a_file_whose_counts_would_wrap_a_cell_is_refused_and_the_others_land(project, runner):
    """Each row below 10^18 tokens, eleven of them beyond 2^63: the cell's int64 sum would wrap around
    to a negative count, so the file is refused in one line and stores nothing."""
    huge = "999999999999999999"
    write_csv(project, "a.csv", *(row(f"e{n}", tokens=f"{huge},1,0") for n in range(11)))
    write_csv(project, "b.csv", row("b1"))
    result = ingest(project, runner)
    assert result.exit_code == 1
    [line] = errors(result.stderr)
    assert "a.csv: its input_tokens add up to" in line and "nothing of it is stored" in line
    cells = stored_cells(project)
    assert cells["requests"].sum() == 1 and cells["input_tokens"].tolist() == [100]  # b.csv landed, whole


def test_files_each_below_the_batch_limit_that_together_pass_int64_still_report(project, runner, tmp_path):
    """Three files of 4 x (10^18 - 1) tokens in one cell: each lands, their stored cells add up beyond
    int64 (1.2e19), and the store's sums (SQLite's sum() raised "integer overflow") and reports go on."""
    from roi.cli import main

    huge = "999999999999999999"
    for name in ("a.csv", "b.csv", "c.csv"):
        write_csv(project, name, *(row(f"{name}{n}", tokens=f"{huge},1,0") for n in range(4)))
    assert ingest(project, runner).exit_code == 0
    summed = services.store_for(project.settings()).cells_by(date(2026, 1, 1), date(2026, 2, 1), ["tenant"])
    assert summed["input_tokens"].tolist() == [12 * float(huge)]
    for options in (["--format", "csv"], ["--format", "xlsx", "--output", str(tmp_path / "r.xlsx")]):
        report = runner.invoke(main, ["--config", str(project.config_path), "report", "--period", "2026-01", *options])
        assert report.exit_code == 0, report.stderr


# ------------------------------------------------------------------ cells beyond memory (the spill)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), values=st.sampled_from([2, 5, 40, 700]), chunks=st.integers(2, 12),
       rows=st.integers(1, 600), days=st.sampled_from([1, 7, 400]), memory=st.integers(1, 300))
def test_cells_spilled_to_disk_equal_the_reference_sums_in_key_order(seed, values, chunks, rows, days, memory):
    """Past `memory_cells` the cells go to disk in partitions and the sums start again; the tables
    then come partition by partition. Whatever spilled when (keys widened after a spill too, one word
    or two), the tables hold each cell once (in one table only), each table in key order, with the
    reference sums."""
    import numpy as np
    import pyarrow as pa

    from roi import ingestion

    sums, added = _random_sums(seed, values, chunks, rows, days, compact_rows=rows // 3, memory_cells=memory)
    tables = list(sums.tables())
    assert list(sums.tables())[-1].equals(tables[-1])  # read again (a store that tries again): the same
    whole = pa.concat_tables(tables)
    _close_rows(_as_rows(whole), _reference_sums(pa.concat_tables(added).unify_dictionaries()))
    for table in tables:  # key order within a table: day, then each dimension's batch code
        codes = [table.column("day").cast(pa.int32()).to_numpy()] + [
            table.column(name).combine_chunks().indices.to_numpy() for name in ingestion.DIMENSIONS]
        order = np.lexsort(codes[::-1])
        assert (order == np.arange(len(order))).all()
    sums.close()


@pytest.mark.parametrize("shape", ["days in order", "one day, one value of the first dimension"])
def test_spilled_cells_spread_evenly_over_the_partitions(shape):
    """Partitions go by a hash of the whole key: a file in time order, or a batch of one day whose
    first dimension holds one value, still spreads its cells about evenly (by day, or by the first
    dimension, all of them would land in one partition, and memory at the end would be the batch's)."""
    import numpy as np
    import pyarrow as pa

    from roi import ingestion

    sums = ingestion._CellSums(("tenant", "topic"), compact_rows=2000, memory_cells=3000)
    for step in range(40):
        rows = 2000
        day = np.full(rows, 20_000 + (step if shape == "days in order" else 0), dtype=np.int64)
        tenant = pa.array(["only"] * rows).dictionary_encode()
        topic = pa.array([f"t{step * rows + n}" for n in range(rows)]).dictionary_encode()
        sums.add(day, {"tenant": tenant, "topic": topic},
                 [np.ones(rows, dtype=np.float64 if name in ("token_cost", "human_review_minutes") else np.int64)
                  for name in ingestion.CELL_METRICS])
    sizes = [table.num_rows for table in sums.tables()]
    assert sum(sizes) == 80_000 and len(sizes) == ingestion._PARTITIONS
    assert max(sizes) < 1.2 * 80_000 / len(sizes)
    sums.close()


def test_a_spilled_batch_writes_its_partitions_to_one_temporary_file_and_closing_deletes_it(monkeypatch, tmp_path):
    import numpy as np
    import pyarrow as pa

    from roi import ingestion

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    rng = np.random.default_rng(3)
    sums = ingestion._CellSums(ingestion.DIMENSIONS, compact_rows=500, memory_cells=1000)
    for _ in range(10):
        chunk = _chunk_of(rng, 1000, 40, 20_000, 30)
        sums.add(chunk.column("day").cast(pa.int32()).to_numpy().astype(np.int64),
                 {name: chunk.column(name) for name in ingestion.DIMENSIONS},
                 [chunk.column(name).to_numpy() for name in ingestion.CELL_METRICS])
    assert sums._spill is not None and sums._cells is None or sums._cells.rows <= 1000 + 500
    assert _open_files_in(tmp_path) == 1
    parts = list(sums.tables())
    assert len(parts) > 1  # one table per partition
    sums.close()
    assert _open_files_in(tmp_path) == 0
    with pytest.raises(RuntimeError, match="closed"):
        list(sums.tables())


def _spilling_soon(monkeypatch, tmp_path, *, memory_cells: int, compact_rows: int):
    """Cells spill past `memory_cells`, into a fresh TMPDIR; returns it and a list that grows a 1 per spill."""
    from roi import ingestion

    monkeypatch.setattr(ingestion, "_MEMORY_CELLS", memory_cells)
    monkeypatch.setattr(ingestion, "_COMPACT_ROWS", compact_rows)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    spilled = []
    real = ingestion._Spill.write
    monkeypatch.setattr(ingestion._Spill, "write", lambda self, *args: spilled.append(1) or real(self, *args))
    return scratch, spilled


def test_a_batch_whose_cells_spill_stores_the_same_cells_and_counts(any_project, runner, monkeypatch, tmp_path):
    """A file of many cells with memory for a few hundred: the stored cells, the batch's cell count and
    days equal those of the same file ingested in memory, on SQLite and PostgreSQL; the temporary file
    is gone once the batch is stored."""

    project = any_project
    lines = [json.dumps({"event_id": f"e{n}", "ts": f"2026-01-{1 + n % 28:02d}T{n % 24:02d}:00:00Z",
                         "tenant": f"t{n % 37}", "channel": "web", "model": f"m{n % 3}", "input_tokens": n % 5,
                         "output_tokens": n % 7, "cost_usd": (n % 9) / 1000}) for n in range(12_000)]
    project.write_data("a.jsonl", "\n".join(lines) + "\n")
    project.write_config(body=project.config_path.read_text().replace('path = "data/*.csv"',
                                                                      'path = "data/*.jsonl"\nchunk_rows = 1000'))
    def state():
        store = services.store_for(project.settings())
        try:
            cells = store.cells(date(2026, 1, 1), date(2026, 2, 1)).sort_values(["day", "tenant", "model"])
            [batch] = store.batches()
            return cells.reset_index(drop=True), (batch.rows_read, batch.cells, batch.first_day, batch.last_day)
        finally:
            store.close()

    assert ingest(project, runner).exit_code == 0
    cells, counts = state()
    assert counts == (12_000, len(cells), date(2026, 1, 1), date(2026, 1, 28)) and len(cells) > 3000
    scratch, spilled = _spilling_soon(monkeypatch, tmp_path, memory_cells=300, compact_rows=200)
    assert ingest(project, runner, "--force").exit_code == 0
    assert len(spilled) > 3
    spilled_cells, spilled_counts = state()
    pd.testing.assert_frame_equal(spilled_cells, cells)
    assert spilled_counts == counts
    assert _open_files_in(scratch) == 0


def test_a_tmpdir_that_fills_while_cells_spill_stops_the_ingest_naming_it(project, monkeypatch, tmp_path):
    from roi import ingestion
    from roi.errors import RoiError
    from tests.mounts import fill, tmpfs

    monkeypatch.setattr(ingestion, "_MEMORY_CELLS", 100)
    monkeypatch.setattr(ingestion, "_COMPACT_ROWS", 100)
    project.write_config(body=project.config_path.read_text().replace('path = "data/*.csv"',
                                                                      'path = "data/*.jsonl"\nchunk_rows = 1000'))
    lines = [json.dumps({"event_id": f"e{n}", "ts": f"2026-01-{1 + n % 28:02d}T10:00:00Z", "tenant": f"t{n}",
                         "cost_usd": 0.001}) for n in range(4000)]
    project.write_data("a.jsonl", "\n".join(lines) + "\n")
    with tmpfs(tmp_path / "small", size_kib=256) as folder:
        monkeypatch.setenv("TMPDIR", str(folder))
        fill(folder, leave=40 << 10)  # the cells' partitions outgrow it (the ids stay in memory)
        gc.disable()
        try:
            with pytest.raises(RoiError, match=f"holding a big batch's cells: cannot use a temporary file in "
                                               f"{folder} \\(TMPDIR\\)"):
                ingesting.ingest(project.settings(), services.store_for(project.settings()))
            assert _open_files_in(folder) == 0
        finally:
            gc.enable()
    assert services.store_for(project.settings()).batches() == []


def test_a_quarantined_row_claims_no_event_id_and_ids_match_trimmed(project, runner):
    """docs/connectors.md: the first valid occurrence wins; a bad row is no occurrence. ' e2' is e2."""
    write_csv(project, "a.csv", row("e1", ts="not-a-date", cost="9"), row("e1", cost="0.5"), row("e2", cost="0.25"),
              row(" e2 ", cost="7"))
    counts = table(ingest(project, runner).stdout)["bot"]
    assert counts[2:6] == ["4", "2", "1", "1"]  # read, stored, duplicates, quarantined
    assert stored_cells(project)["token_cost"].sum() == 0.75


def test_a_window_that_fails_on_a_later_day_closes_the_earlier_days_spilled_cells(project, monkeypatch, tmp_path):
    """A pulled window's day batches wait to be stored together; when a later day fails with an error
    that ends the ingest (a full TMPDIR), the earlier days' spilled cells close at once."""
    from roi.connectors.base import Batch, Chunk
    from roi.errors import RoiError

    class Pulled:
        retries_requests = True
        timezone = "UTC"

        def batches(self, window):
            def first_day():
                n = 3000
                yield Chunk.of_pandas(pd.DataFrame({
                    "ts": pd.to_datetime(["2026-01-01T10:00:00Z"] * n), "tenant": [f"t{i}" for i in range(n)],
                    "requests": 1, "cost": 0.001}), rows_read=n)

            def second_day():
                raise RoiError("deduplicating event ids: cannot use a temporary file (No space left on device)")
                yield

            yield Batch.of_day(date(2026, 1, 1), "day 1", "f1", first_day)
            yield Batch.of_day(date(2026, 1, 2), "day 2", "f2", second_day)

    monkeypatch.setattr(batches.registry, "create", lambda source, base: Pulled())
    scratch, spilled = _spilling_soon(monkeypatch, tmp_path, memory_cells=100, compact_rows=100)
    settings = project.settings()
    store = services.store_for(settings)
    gc.disable()  # nothing may rely on the collector
    try:
        with pytest.raises(RoiError, match="No space left"):
            batches.ingest_source(settings, store, settings.sources[0])
        assert spilled and _open_files_in(scratch) == 0
    finally:
        gc.enable()
        store.close()
