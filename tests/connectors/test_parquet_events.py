"""Parquet files of events: the same columns and rules as CSV, a row's place is its index in the file (from 0)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roi import services
from roi.cli import main
from roi.connectors.events import read_csv
from roi.connectors.parquet_events import read_parquet

TEXT_ROWS = [  # event_id, ts, tenant, model, input, output, cached, cost, outcome, review
    ("e1", "2026-01-10T10:00:00Z", "acme", "gpt-4o-mini", "100", "20", "0", "0.25", "resolved", ""),
    ("e2", "2026-01-10T23:30:00-05:00", "beta", "gpt-4o-mini", "1000", "200", "100", "", "", "1.5"),
    ("e3", "not-a-date", "acme", "gpt-4o-mini", "1", "1", "0", "", "", ""),
    ("e4", "2026-01-11T10:00:00Z", " acme ", "gpt-4o-mini", "-5", "1", "0", "", "", ""),
    ("e1", "2026-01-12T10:00:00Z", "acme", "gpt-4o-mini", "7", "7", "0", "", "", ""),  # a repeated id: counts once
    ("e5", "2026-01-12T10:00:00Z", "acme", "gpt-4o-mini", "5", "5", "9", "", "Escalated", ""),
    ("e6", "2026-01-12T10:00:00Z", "acme", "no-such-model", "5", "5", "0", "", "escalated", ""),
    ("e7", "2026-01-12T11:00:00", "acme", "gpt-4o-mini", "5", "5", "0", "abc", "maybe", ""),
]
NAMES = ["event_id", "ts", "tenant", "model", "input_tokens", "output_tokens", "cached_input_tokens", "cost_usd",
         "outcome", "human_review_minutes"]
QUARANTINED = [  # (index in the file, reason); the CSV twin has the same at line index + 2 (the header is line 1)
    (2, "ts is not an ISO 8601 timestamp (got 'not-a-date')"),
    (3, "input_tokens is not a whole number >= 0 (got '-5')"),
    (5, "cached_input_tokens exceeds input_tokens (input_tokens includes the cached ones)"),
    (7, "ts has no UTC offset (write Z or +HH:MM) (got '2026-01-12T11:00:00'); cost_usd is not a number >= 0"
        " (got 'abc'); outcome is not one of resolved, escalated, abandoned, reopened (got 'maybe')"),
]


def _text_table() -> pa.Table:
    return pa.table({name: pa.array([row[index] or None for row in TEXT_ROWS], pa.string())
                     for index, name in enumerate(NAMES)} | {"provider": pa.array(["openai"] * len(TEXT_ROWS))})


def _ingest(project, runner, *args):
    result = runner.invoke(main, ["--config", str(project.config_path), "ingest", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result


def _state(project) -> tuple[list, list, list]:
    """(batches' counts, quarantine (file name, place, reason), cells) as stored."""
    store = services.store_for(project.settings())
    try:
        with store.engine.connect() as connection:
            batches = connection.execute(sa.text(
                "SELECT rows_read, rows_stored, duplicates, quarantined, unpriced, cells FROM roi_batches")).all()
            quarantine = connection.execute(sa.text(
                "SELECT file, line, reason FROM roi_quarantine ORDER BY line")).all()
            cells = connection.execute(sa.text(
                "SELECT day, tenant, model, requests, input_tokens, output_tokens, cached_input_tokens, token_cost,"
                " unpriced_requests, resolved, escalated, human_review_minutes FROM roi_cells"
                " ORDER BY day, tenant, model")).all()
    finally:
        store.close()
    return ([tuple(row) for row in batches], [(row[0].rsplit("/", 1)[-1], row[1], row[2]) for row in quarantine],
            [tuple(row) for row in cells])


def _use(project, pattern: str, **options) -> None:
    extra = "".join(f"\n{key} = {json.dumps(value)}" for key, value in options.items())
    project.write_config(body=project.config_path.read_text().replace('path = "data/*.csv"',
                                                                      f'path = "{pattern}"{extra}'))


def test_a_parquet_file_lands_as_its_csv_twin(any_project, runner):
    project = any_project
    (project.root / "csv").mkdir()
    (project.root / "pq").mkdir()
    pacsv.write_csv(_text_table(), project.root / "csv" / "a.csv")
    pq.write_table(_text_table(), project.root / "pq" / "a.parquet")
    base = project.config_path.read_text()
    _use(project, "csv/*.csv")
    _ingest(project, runner)
    batches, quarantine, cells = _state(project)
    assert batches[0][:4] == (8, 3, 1, 4)  # read = stored + duplicates + quarantined
    assert [(line, reason) for _, line, reason in quarantine] == [(index + 2, reason) for index, reason in QUARANTINED]

    # the same source, now reading the Parquet twin: its batch replaces nothing of the CSV's, so compare after a reset
    project.write_config(body=base.replace('path = "data/*.csv"', 'path = "pq/*.parquet"').replace(
        'name = "bot"', 'name = "bot2"'))
    store = services.store_for(project.settings())
    with store.engine.begin() as connection:
        for table in ("roi_cells", "roi_quarantine", "roi_batches"):
            connection.execute(sa.text(f"DELETE FROM {table}"))
    store.close()
    _ingest(project, runner)
    parquet_batches, parquet_quarantine, parquet_cells = _state(project)
    assert parquet_cells == cells
    assert parquet_batches == batches
    assert [(line, reason) for _, line, reason in parquet_quarantine] == QUARANTINED
    assert {name for name, _, _ in parquet_quarantine} == {"a.parquet"}


def test_typed_columns_read_as_their_text_would(project, runner):
    utc = UTC
    table = pa.table({
        "event_id": pa.array([1, 2, 3, 4, 5, 6], pa.int64()),  # a number as an id is its text
        "ts": pa.array([datetime(2026, 2, day, 10, tzinfo=utc) for day in (1, 2, 3, 4, 5, 6)],
                       pa.timestamp("us", "UTC")),
        "tenant": pa.array(["acme", "acme", "acme", "acme", "beta", "beta"]).dictionary_encode(),
        "input_tokens": pa.array([100, -3, 5, 8, 10, 10], pa.int32()),
        # a whole number in a float column is that number (pandas writes counts with gaps so); 2.5 is no count
        "output_tokens": pa.array([1.0, 2.0, 2.5, None, 4.0, 5.0], pa.float64()),
        "cost_usd": pa.array([0.5, None, 0.25, float("inf"), 0.1 + 0.2, -1.0], pa.float64()),
        "human_review_minutes": pa.array([2, None, None, None, 3, None], pa.int16()),
        "outcome": pa.array([True, None, None, None, None, None], pa.bool_()),
        "cached_input_tokens": pa.array([Decimal("0.00"), None, None, None, Decimal("2.00"), Decimal("0.50")],
                                        pa.decimal128(9, 2)),
    })
    pq.write_table(table, project.root / "data" / "typed.parquet")
    _use(project, "data/*.parquet")
    _ingest(project, runner)
    batches, quarantine, cells = _state(project)
    assert [(line, reason) for _, line, reason in quarantine] == [
        (0, "outcome is not one of resolved, escalated, abandoned, reopened (got 'true')"),
        (1, "input_tokens is not a whole number >= 0 (got '-3')"),
        (2, "output_tokens is not a whole number >= 0 (got '2.5')"),
        (3, "cost_usd is not a finite number (got 'inf')"),
        (5, "cached_input_tokens is not a whole number >= 0 (got '0.50'); cost_usd is not a number >= 0 (got '-1')"),
    ]
    assert batches[0][:4] == (6, 1, 0, 5)
    assert [(str(day), tenant, requests, input_tokens, output_tokens, cached, cost, review)
            for day, tenant, _, requests, input_tokens, output_tokens, cached, cost, _, _, _, review in cells] == [
        ("2026-02-05", "beta", 1, 10, 4, 2, 0.1 + 0.2, 3.0)]  # the amount exactly as written, not via its text


def test_timestamps_without_zone_and_dates_are_quarantined_as_in_csv(project, runner):
    table = pa.table({"event_id": ["n1", "n2"], "ts": pa.array([datetime(2026, 2, 1, 10), None], pa.timestamp("s")),
                      "day": pa.array([date(2026, 2, 1), None]), "input_tokens": [5, 5]})
    pq.write_table(table, project.root / "data" / "naive.parquet")
    pq.write_table(table.drop_columns(["ts"]).rename_columns(["event_id", "ts", "input_tokens"]),
                   project.root / "data" / "dates.parquet")
    _use(project, "data/*.parquet")
    _ingest(project, runner)
    _, quarantine, cells = _state(project)
    assert sorted(quarantine) == [
        ("dates.parquet", 0, "ts has no UTC offset (write Z or +HH:MM) (got '2026-02-01')"),
        ("dates.parquet", 1, "ts is missing"),
        ("naive.parquet", 0, "ts has no UTC offset (write Z or +HH:MM) (got '2026-02-01 10:00:00.000')"),  # (Parquet keeps seconds as ms)
        ("naive.parquet", 1, "ts is missing")]
    assert cells == []


def test_zoned_timestamps_are_instants_and_out_of_range_ones_quarantined(project, runner):
    tokyo = timezone(timedelta(hours=9))
    table = pa.table({
        "event_id": ["z1", "z2", "z3", "z4"],
        "ts": pa.array([datetime(2026, 2, 2, 8, 30, tzinfo=tokyo), datetime(1800, 1, 1, tzinfo=UTC),
                        datetime(2026, 2, 1, 23, 59, 59, 999000, tzinfo=UTC), None],
                       pa.timestamp("ms", "Asia/Tokyo")),
        "input_tokens": [1, 1, 1, 1]})
    pq.write_table(table, project.root / "data" / "zoned.parquet")
    _use(project, "data/*.parquet")
    _ingest(project, runner)
    _, quarantine, cells = _state(project)
    assert [(line, reason) for _, line, reason in quarantine] == [
        (1, "ts is out of range (accepted: 1900-01-02T00:00:00Z up to 2261-12-31T00:00:00Z)"
            " (got '1800-01-01 00:00:00.000Z')"),
        (3, "ts is missing")]
    # 08:30 in Tokyo is 23:30 UTC the day before; the days are UTC days (the config's timezone)
    assert [(str(day), requests) for day, _, _, requests, *_ in cells] == [("2026-02-01", 2)]


def _first_damage(table: pa.Table, change, breaks) -> bytes:
    """`table` as a Parquet file with its first byte whose `change(byte)` makes `breaks(file bytes)` true."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    data = sink.getvalue().to_pybytes()
    for at in range(4, len(data)):  # (after the magic number)
        candidate = data[:at] + bytes([change(data[at])]) + data[at + 1:]
        try:
            if breaks(candidate):
                return candidate
        except (pa.ArrowException, OSError):
            continue
    raise AssertionError("no byte of the file breaks it so")


def test_a_footer_naming_a_column_in_bytes_not_utf8_refuses_the_file(project, runner):
    good = pa.table({"event_id": ["f1"], "ts": ["2026-03-01T00:00:00Z"], "tenant": ["acme"]})
    def undecodable(candidate: bytes) -> bool:  # (a column's name in the footer's schema, not UTF-8 there)
        try:
            len(pq.ParquetFile(pa.BufferReader(candidate)).schema_arrow)  # (reading the schema decodes the names)
        except UnicodeDecodeError:  # (pyarrow's own: not an ArrowException)
            return True
        return False

    (project.root / "data" / "footer.parquet").write_bytes(_first_damage(good, lambda byte: 0xA9, undecodable))
    _use(project, "data/*.parquet")
    result = _ingest(project, runner)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "footer.parquet: cannot read as Parquet: 'utf-8' codec can't decode" in errors[0]


def test_an_instant_beyond_pythons_datetime_is_quarantined_not_a_crash(project, runner):
    """A damaged int64 of a timestamp column (year 25007): its row is quarantined with its text, the rest lands
    (the row's raw text had made Python datetimes of it, and the ingest crashed; found by the fuzz suite)."""
    table = pa.table({"event_id": ["y1", "y2"],
                      "ts": pa.array([1_767_225_600_000_000, 727_000_000_000_000_000], pa.timestamp("us", "UTC")),
                      "input_tokens": [1, 2]})
    pq.write_table(table, project.root / "data" / "far.parquet")
    _use(project, "data/*.parquet")
    assert _ingest(project, runner).exit_code == 0
    batches, quarantine, cells = _state(project)
    assert [(line, reason) for _, line, reason in quarantine] == [
        (1, "ts is out of range (accepted: 1900-01-02T00:00:00Z up to 2261-12-31T00:00:00Z)"
            " (got '25007-09-18 20:26:40.000000Z')")]
    assert [row[:4] for row in batches] == [(2, 1, 0, 1)]


def test_a_list_or_struct_column_is_refused_naming_the_file_and_column(project, runner):
    table = pa.table({"event_id": ["a"], "ts": ["2026-01-01T00:00:00Z"], "input_tokens": pa.array([[1, 2]])})
    pq.write_table(table, project.root / "data" / "nested.parquet")
    _use(project, "data/*.parquet")
    result = _ingest(project, runner)
    assert result.exit_code == 1
    assert "nested.parquet: column input_tokens is of type list<element: int64>, not a value (expected text, a number," in result.stderr
    assert _state(project)[2] == []


def test_a_parquet_file_without_ts_is_refused_whole(project, runner):
    pq.write_table(pa.table({"event_id": ["a"], "tenant": ["acme"]}), project.root / "data" / "bad.parquet")
    _use(project, "data/*.parquet")
    result = _ingest(project, runner)
    assert result.exit_code == 1
    assert "bad.parquet: the file lacks ts (found: event_id, tenant)" in result.stderr


@pytest.mark.parametrize("content", [b"PAR1 not really", b"event_id,ts\ne1,2026-01-01T00:00:00Z\n", b""])
def test_not_parquet_is_refused_naming_the_file(project, runner, content):
    (project.root / "data" / "x.parquet").write_bytes(content)
    _use(project, "data/*.parquet")
    result = _ingest(project, runner)
    assert result.exit_code == 1
    assert "x.parquet: cannot read as Parquet:" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_format_option_reads_parquet_under_any_name(project, runner):
    pq.write_table(_text_table(), project.root / "data" / "events.data")
    _use(project, "data/events.data", format="parquet")
    _ingest(project, runner)
    batches, _, _ = _state(project)
    assert batches[0][:4] == (8, 3, 1, 4)


def test_nulls_and_all_null_rows(project, runner):
    table = pa.table({
        "event_id": ["a", None, None, "c"],
        "ts": ["2026-03-01T00:00:00Z", "2026-03-01T00:00:00Z", None, "2026-03-01T00:00:00Z"],
        "tenant": [None, "acme", None, "acme"],
        "input_tokens": pa.array([None, 1, None, 2], pa.int64()),
        "cost_usd": pa.array([0.5, None, None, None], pa.float64()),
        "ignored": [1, 2, 3, 4]})  # a column roi does not read: a row null in every events column is no row
    pq.write_table(table, project.root / "data" / "nulls.pq")
    _use(project, "data/*.pq")
    _ingest(project, runner)
    batches, quarantine, cells = _state(project)
    assert batches[0][:4] == (3, 2, 0, 1)
    assert [(line, reason) for _, line, reason in quarantine] == [(1, "event_id is missing")]
    # no model: the row without a cost is a request that cannot be priced
    assert [(tenant, requests, input_tokens, cost, unpriced)
            for _, tenant, _, requests, input_tokens, _, _, cost, unpriced, *_ in cells] == [
        ("", 1, 0, 0.5, 0), ("acme", 1, 2, 0.0, 1)]


def test_a_file_of_many_row_groups_reads_in_chunks_and_reingests_idempotently(any_project, runner):
    project = any_project
    rows = 12_345
    table = pa.table({
        "event_id": [f"id{n % 10_000}" for n in range(rows)],  # 2,345 repeats, far apart
        "ts": pa.array([1_767_225_600_000_000 + n * 60_000_000 for n in range(rows)], pa.timestamp("us", "UTC")),
        "tenant": [f"t{n % 7}" for n in range(rows)],
        "input_tokens": pa.array([n % 50 if n % 1000 else -1 for n in range(rows)], pa.int64()),
        "cost_usd": pa.array([0.001] * rows)})
    path = project.root / "data" / "big.parquet"
    pq.write_table(table, path, row_group_size=3_000)
    assert pq.ParquetFile(path).num_row_groups == 5
    _use(project, "data/*.parquet", chunk_rows=1_000)
    _ingest(project, runner)
    batches, quarantine, cells = _state(project)
    bad = [n for n in range(rows) if n % 1000 == 0]
    assert [line for _, line, _ in quarantine] == bad
    stored = len({n % 10_000 for n in range(rows) if n % 1000})
    assert batches[0][:4] == (rows, stored, rows - stored - len(bad), len(bad))
    assert sum(cell[3] for cell in cells) == stored
    assert sum(cell[4] for cell in cells) == sum(n % 50 for n in range(10_000) if n % 1000)
    assert _ingest(project, runner, "--force").exit_code == 0
    assert _state(project) == (batches, quarantine, cells)


def test_text_stored_as_bytes_is_read_as_text_and_bad_bytes_refuse_the_file(project, runner):
    good = pa.table({"event_id": pa.array([b"b1"]), "ts": pa.array([b"2026-03-01T00:00:00Z"]),
                     "tenant": pa.array([b"acme"]), "input_tokens": [3]})
    pq.write_table(good, project.root / "data" / "bytes.parquet")
    bad = good.set_column(2, "tenant", pa.array([b"ac\xffme"]))
    pq.write_table(bad, project.root / "data" / "latin.parquet")
    _use(project, "data/*.parquet")
    result = _ingest(project, runner)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].endswith("latin.parquet: rows 0 to 0: cannot be read: Invalid UTF8 payload")
    batches, _, cells = _state(project)
    assert [(tenant, input_tokens) for _, tenant, _, _, input_tokens, *_ in cells] == [("acme", 3)]


def test_a_damaged_page_that_ends_the_rows_early_refuses_the_file(project, runner):
    """One byte of the first column's page changed: pyarrow then yields no batch at all, without an error;
    the file's own row count tells, and the file is refused whole (found by the ingest fuzz suite)."""
    good = pa.table({"event_id": [f"d{n}" for n in range(20)], "ts": ["2026-03-01T00:00:00Z"] * 20,
                     "input_tokens": list(range(20))})
    damaged = _first_damage(  # (the page's level data)
        good, lambda byte: byte ^ 0x24,
        lambda candidate: sum(batch.num_rows for batch in pq.ParquetFile(pa.BufferReader(candidate)).iter_batches()) == 0)
    (project.root / "data" / "damaged.parquet").write_bytes(damaged)
    pq.write_table(good.set_column(0, "event_id", pa.array([f"g{n}" for n in range(20)])),
                   project.root / "data" / "good.parquet")
    _use(project, "data/*.parquet")
    result = _ingest(project, runner)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].endswith(
        "damaged.parquet: cannot be read: the file holds 20 rows, but only 0 could be read (the file is damaged)")
    batches, _, _ = _state(project)
    assert [row[:2] for row in batches] == [(20, 20)]  # the good file landed


def _twins(project, runner, table: pa.Table | bytes, csv_text: str) -> tuple[tuple, tuple]:
    """The states stored from `table` as Parquet (or these bytes of a Parquet file) and from
    `csv_text`, its CSV twin, each alone."""
    states = []
    base = project.config_path.read_text()
    for name, write in (("a.parquet", lambda path: path.write_bytes(table) if isinstance(table, bytes)
                         else pq.write_table(table, path)),
                        ("a.csv", lambda path: path.write_text(csv_text))):
        folder = project.root / f"{name.replace('.', '-')}-{len(list(project.root.iterdir()))}"
        folder.mkdir()
        write(folder / name)
        project.write_config(body=base.replace('path = "data/*.csv"', f'path = "{folder.name}/*"'))
        result = _ingest(project, runner)
        assert result.exit_code == 0, result.output
        batches, quarantine, cells = _state(project)
        states.append((batches, [(line - (2 if name.endswith(".csv") else 0), reason) for _, line, reason in quarantine],
                       cells))
        store = services.store_for(project.settings())
        with store.engine.begin() as connection:
            for stored in ("roi_cells", "roi_quarantine", "roi_batches"):
                connection.execute(sa.text(f"DELETE FROM {stored}"))
        store.close()
    project.write_config(body=base)
    return states[0], states[1]


def test_amounts_of_any_numeric_type_read_as_their_csv_twin(project, runner):
    """Decimals (money in warehouse exports) and float32 read as written (Arrow's cast of a decimal to a
    double is off by one ulp for 0.1), and an integer beyond 2^53 is that row's problem, not the file's."""
    table = pa.table({
        "event_id": [f"n{n}" for n in range(6)],
        "ts": ["2026-03-01T10:00:00Z"] * 6,
        "tenant": ["a", "b", "c", "d", "e", "f"],
        "cost_usd": pa.array([Decimal("0.100000"), Decimal("0.000492"), Decimal("-5.000000"),
                              Decimal("12345678901234567.890000"), None, Decimal("0.000005")], pa.decimal128(38, 6)),
        "human_review_minutes": pa.array([1, 9007199254740993, 2**63 - 1, 3, 4, 5], pa.int64()),
    })
    csv_text = "event_id,ts,tenant,cost_usd,human_review_minutes\n" + "".join(
        f"n{n},2026-03-01T10:00:00Z,{tenant},{cost},{review}\n" for n, (tenant, cost, review) in enumerate(zip(
            "abcdef", ["0.100000", "0.000492", "-5.000000", "12345678901234567.890000", "", "0.000005"],
            [1, 9007199254740993, 2**63 - 1, 3, 4, 5], strict=True)))
    parquet, csv = _twins(project, runner, table, csv_text)
    assert parquet == csv
    batches, quarantine, cells = parquet
    assert [line for line, _ in quarantine] == [1, 2, 3]
    assert quarantine[0][1] == "human_review_minutes is too large (accepted: below 10^12) (got '9007199254740993')"
    assert quarantine[2][1].startswith("cost_usd is too large (accepted: below 10^12) (got '12345678901234567.890000')")
    assert [cell[7] for cell in cells] == [0.1, 0.0, 0.000005]  # (tenant e: no cost)

    floats = table.set_column(3, "cost_usd", pa.array([0.1, 0.000492, 0.5, 0.25, None, 1e-6], pa.float32()))
    floats = floats.set_column(4, "human_review_minutes", pa.array([1, 2, 3, 4, 5, 6], pa.uint8()))
    csv_text = "event_id,ts,tenant,cost_usd,human_review_minutes\n" + "".join(
        f"n{n},2026-03-01T10:00:00Z,{tenant},{cost},{n + 1}\n" for n, (tenant, cost) in enumerate(zip(
            "abcdef", ["0.1", "0.000492", "0.5", "0.25", "", "1e-06"], strict=True)))
    parquet, csv = _twins(project, runner, floats, csv_text)
    assert parquet == csv and parquet[1] == []
    assert [cell[7] for cell in parquet[2]] == [0.1, 0.000492, 0.5, 0.25, 0.0, 1e-06]


@pytest.mark.parametrize("neighbour", [5, 2**53 + 1, -1])
@pytest.mark.parametrize("kind", [pa.int64(), pa.int32(), pa.uint32(), pa.float16()])
def test_an_integer_amount_reads_the_same_whatever_else_its_chunk_holds(tmp_path, neighbour, kind):
    """The same rejected or accepted integer gets the same reason and value beside any other."""
    values = [5_000_000_000_000, 7, 0] if kind != pa.float16() else [0.1, 7.0, 0.0]
    found = []
    for other in (neighbour, 3):
        if (kind in (pa.int32(), pa.uint32(), pa.float16())) and not 0 <= other < 2**31:
            other = 3
        path = tmp_path / f"a{len(found)}.parquet"
        pq.write_table(pa.table({"event_id": ["a", "b", "c", "d"], "ts": ["2026-03-01T00:00:00Z"] * 4,
                                 "cost_usd": pa.array([other, *values], pa.int64()).cast(kind, safe=False)
                                 if kind != pa.float16() else pa.array([float(other), *values], pa.float16())}),
                       path)
        chunks = list(read_parquet(str(path), 2))
        rejects = {reject.line: reject.reason for chunk in chunks for reject in chunk.rejects}
        costs = [value for chunk in chunks for value in chunk.frame.column("cost").to_pylist()]
        ids = [value for chunk in chunks for value in chunk.frame.column("event_id").to_pylist()]
        found.append(({line: reason for line, reason in rejects.items() if line > 0},
                      {i: cost for i, cost in zip(ids, costs, strict=True) if i != "a"}))
    assert found[0] == found[1]
    if kind == pa.int64():
        assert found[0][0] == {1: "cost_usd is too large (accepted: below 10^12) (got '5000000000000')"}


def test_view_uuid_and_json_columns_and_spaced_names_read_as_their_csv_twin(project, runner):
    """Text in the types newer writers choose (string views: polars; UUID and JSON: DuckDB's exports) is
    text; a column name's surrounding spaces are trimmed, as a CSV header's."""
    import uuid

    ids = [uuid.UUID(int=n * 0x1234567890ABCDEF1234567890ABCDEF % 2**128) for n in range(1, 5)]
    table = pa.table({
        " event_id": pa.array([str(n) for n in range(4)], pa.string_view()),
        "ts ": pa.array(["2026-03-01T10:00:00Z"] * 4, pa.string_view()),
        "tenant": pa.array([b"acme", b"beta", b"acme", None], pa.binary_view()),
        "conversation_id": pa.ExtensionArray.from_storage(pa.uuid(), pa.array([u.bytes for u in ids[:3]] + [None],
                                                                              pa.binary(16))),
        "channel": pa.ExtensionArray.from_storage(pa.json_(), pa.array(['"web"', '{"a": 1}', None, "[]"])),
        " input_tokens ": pa.array([5, 6, 7, 8], pa.int64()),
    })
    csv_text = "event_id,ts,tenant,conversation_id,channel,input_tokens\n" + "".join(
        f'{n},2026-03-01T10:00:00Z,{tenant},{conversation},"{channel}",{n + 5}\n' for n, (tenant, conversation, channel)
        in enumerate(zip(["acme", "beta", "acme", ""], [str(u) for u in ids[:3]] + [""],
                         ['""web""', '{""a"": 1}', "", "[]"], strict=True)))
    parquet, csv = _twins(project, runner, table, csv_text)
    assert parquet == csv
    assert parquet[0][0][:4] == (4, 4, 0, 0) and sum(cell[4] for cell in parquet[2]) == 26


def test_a_row_of_empty_string_views_is_a_blank_line_as_in_csv(project, runner):
    """Empty texts in view columns (polars) make a blank row, skipped and not counted, as `,,` in CSV."""
    table = pa.table({"event_id": pa.array(["v1", "", None, "v2"], pa.string_view()),
                      "ts": pa.array(["2026-03-01T10:00:00Z", "", "", "2026-03-01T11:00:00Z"], pa.string_view()),
                      "tenant": pa.array([b"acme", b"", None, b"beta"], pa.binary_view())})
    twin = "event_id,ts,tenant\nv1,2026-03-01T10:00:00Z,acme\n,,\n,,\nv2,2026-03-01T11:00:00Z,beta\n"
    parquet, csv = _twins(project, runner, table, twin)
    assert parquet == csv
    assert parquet[0][0][:4] == (2, 2, 0, 0) and parquet[1] == []


def test_spark_int96_timestamps_are_instants_in_utc(project, runner):
    """Spark writes timestamps as INT96 by default, in UTC by convention; pyarrow reads them without a
    zone. They are those instants, so an export from Spark lands as its CSV twin (with Z) does."""
    stamps = [datetime(2026, 3, 1, 4, 30), datetime(2026, 3, 1, 5, 30), None]
    table = pa.table({"event_id": ["s1", "s2", "s3"], "ts": pa.array(stamps, pa.timestamp("us")),
                      "input_tokens": [1, 2, 3]})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, use_deprecated_int96_timestamps=True)
    assert pq.ParquetFile(pa.BufferReader(sink.getvalue())).schema.column(1).physical_type == "INT96"
    project.write_config(timezone="America/New_York")
    twin = "event_id,ts,input_tokens\ns1,2026-03-01T04:30:00Z,1\ns2,2026-03-01T05:30:00Z,2\ns3,,3\n"
    parquet, csv = _twins(project, runner, sink.getvalue().to_pybytes(), twin)
    assert parquet == csv
    # 04:30Z is still 28 February in New York, 05:30Z the 1st of March; the row without ts is quarantined
    assert [(str(cell[0]), cell[4]) for cell in parquet[2]] == [("2026-02-28", 1), ("2026-03-01", 2)]
    assert [line for line, _ in parquet[1]] == [2]


def test_instants_beyond_any_calendar_are_quoted_as_iso_8601(project, runner):
    """Arrow writes the largest instants with garbled hours; the reason quotes them as it writes others."""
    top, bottom = 2**63 - 1, -(2**63)
    table = pa.table({"event_id": ["x1", "x2", "x3", "x4"],
                      "ts": pa.array([top, bottom + 1, bottom, 1_772_323_200_000], pa.timestamp("ms", "UTC")),
                      "input_tokens": [1, 1, 1, 1]})
    pq.write_table(table, project.root / "data" / "far.parquet")
    _use(project, "data/*.parquet")
    _ingest(project, runner)
    _, quarantine, cells = _state(project)
    got = [reason.rpartition(" (got ")[2] for _, _, reason in quarantine]
    assert got == ["'292278994-08-17 07:12:55.807Z')", "'-292275055-05-16 16:47:04.193Z')",
                   "'9223372036854775808 ms before 1970-01-01T00:00:00Z')"]
    assert [(str(day), requests) for day, _, _, requests, *_ in cells] == [("2026-03-01", 1)]


def test_a_page_whose_checksum_fails_refuses_the_file(project, runner):
    """A writer's page checksums are checked: one flipped bit in a value refuses the file, never a
    wrong count stored."""
    good = pa.table({"event_id": [f"c{n}" for n in range(50)], "ts": ["2026-03-01T00:00:00Z"] * 50,
                     "input_tokens": list(range(1000, 1050))})
    sink = pa.BufferOutputStream()
    pq.write_table(good, sink, write_page_checksum=True, compression="NONE", use_dictionary=False)
    written = sink.getvalue().to_pybytes()
    value = (1049).to_bytes(8, "little")
    for at in (at for at in range(len(written)) if written.startswith(value, at)):  # (statistics hold it too)
        data = bytearray(written)
        data[at] ^= 0x01  # 1049 -> 1048
        if pq.read_table(pa.BufferReader(bytes(data))).column("input_tokens")[-1].as_py() == 1048:
            break  # the value in the page: unchecked, it reads as another number
    else:
        raise AssertionError("the value's bytes are not in the page")
    (project.root / "data" / "flipped.parquet").write_bytes(bytes(data))
    _use(project, "data/*.parquet")
    result = _ingest(project, runner)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "flipped.parquet" in errors[0] and "CRC checksum verification failed" in errors[0]
    assert _state(project) == ([], [], [])


VALUES = ["", " ", "e1", "e2", "acme", " Acme ", "resolved", "Escalated", "maybe", "2026-01-10T10:00:00Z",
          "2026-01-10T10:00:00", "2026-01-10", "2300-06-01T00:00:00Z", "0001-01-01T00:00:00Z", "not-a-date", "0", "5",
          "-5", "2.5", "412.0", "1e3", "0x10", "1_000", "inf", "NaN", "1e400", "99999999999999999999", "0.25", "=cmd()",
          "é", "\U0001f600", '"', 'a"b', "a,b", "\ufeff", "\u2028"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.fixed_dictionaries({name: st.one_of(st.none(), st.sampled_from(VALUES)) for name in NAMES}),
                     min_size=1, max_size=12))
def test_text_columns_give_what_their_csv_twin_gives(tmp_path, rows):
    """The same rows as CSV and as Parquet text columns: the same rows kept, reasons and rows read;
    a Parquet row's index is its CSV line less 2 (the header is line 1)."""
    table = pa.table({name: pa.array([row[name] for row in rows], pa.string()) for name in NAMES})
    pacsv.write_csv(table, tmp_path / "a.csv")
    pq.write_table(table, tmp_path / "a.parquet")
    csv_chunks = list(read_csv(str(tmp_path / "a.csv"), 1_000))
    parquet_chunks = list(read_parquet(str(tmp_path / "a.parquet"), 1_000))

    def summary(chunks, shift):
        frames = [chunk.frame for chunk in chunks if chunk.frame.num_rows]
        frame = pa.concat_tables(frames).to_pylist() if frames else []
        # an unpriced cost is NaN, never equal to another NaN: compared as a word
        frame = [{key: "NaN" if value != value else value for key, value in row.items()} for row in frame]
        return (sum(chunk.rows_read for chunk in chunks), frame,
                [(reject.line - shift, reject.reason) for chunk in chunks for reject in chunk.rejects])

    assert summary(parquet_chunks, 0) == summary(csv_chunks, 2), (rows, (tmp_path / "a.csv").read_text())


@pytest.mark.filterwarnings("error::ResourceWarning")
@pytest.mark.parametrize("reader, suffix", [(read_parquet, b".parquet"), (read_csv, b".csv")])
def test_a_file_whose_name_is_no_utf8_is_read_and_closed(tmp_path, reader, suffix):
    """Arrow cannot encode such a name (the system gives its bytes as lone surrogates): it reads the
    file opened by Python, closed as the read ends."""
    import gc
    import os

    path = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"caf\xe9" + suffix))
    with open(path, "wb") as handle:
        (pq.write_table if suffix == b".parquet" else pacsv.write_csv)(_text_table(), handle)
    chunks = list(reader(path, 1000))
    gc.collect()  # an unclosed file would warn now
    assert sum(len(chunk.frame) for chunk in chunks) == 4
    assert sorted(reject.line for chunk in chunks for reject in chunk.rejects) == [
        place + (2 if suffix == b".csv" else 0) for place, _reason in QUARANTINED]
