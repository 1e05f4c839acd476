"""Issue 12, items 2-4: each damaged event file reproduced there, on SQLite and PostgreSQL.

Bad input is contained to its smallest unit: the row is quarantined with its own line and
reason, or the file is refused whole with one line naming it; the other files land, nothing
is moved to another date, and no traceback reaches the user.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import contextmanager
from datetime import date

import pytest

from roi import services
from roi.cli import main
from roi.connectors.event_columns import OUT_OF_RANGE
from roi.errors import ConnectorError

HEADER = ("event_id,ts,tenant,channel,topic,provider,model,input_tokens,output_tokens,cached_input_tokens,"
          "cost_usd,outcome,human_review_minutes")


def row(event_id: str, ts: str = "2026-01-10T10:00:00Z", tenant: str = "acme", cost: str = "0.5") -> str:
    return f"{event_id},{ts},{tenant},web,,openai,gpt-4o-mini,100,20,0,{cost},resolved,"


def use_every_file(project) -> None:
    project.write_config(body=project.config_path.read_text().replace('path = "data/*.csv"', 'path = "data/*.*"'))


def ingest(project, runner):
    return runner.invoke(main, ["--config", str(project.config_path), "ingest"])


@contextmanager
def opened(project):
    store = services.store_for(project.settings())
    try:
        yield store
    finally:
        store.close()


def counts(project) -> tuple[int, int, int, int]:
    """rows read, stored, duplicates, quarantined over the stored batches."""
    with opened(project) as store:
        batches = store.batches()
    return (sum(b.rows_read for b in batches), sum(b.rows_stored for b in batches),
            sum(b.duplicates for b in batches), sum(b.quarantined for b in batches))


def quarantine(project) -> list[tuple[str, int | None, str, str]]:
    with opened(project) as store:
        return [(os.path.basename(q.file), q.line, q.reason, q.raw) for q in store.quarantine(limit=10_000)]


def stored_days(project) -> set[date]:
    with opened(project) as store:
        return set(store.cells(date(1000, 1, 1), date(2999, 1, 1))["day"])


def assert_clean_exit(result, code: int) -> None:
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit) or result.exception is None, result.exception
    assert "Traceback" not in result.output


# ------------------------------------------------------------------ item 2: far timestamps


FAR = ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59-12:00", "2300-06-01T00:00:00Z",
       "1500-01-01T00:00:00Z",  # nanoseconds would wrap this one to 2084: inside the range, and wrong
       "1900-01-01T23:59:59Z", "1900-01-02T05:00:00+06:00", "2261-12-31T00:00:00Z", "2262-04-12T00:00:00Z"]
NEAR = ["1900-01-02T00:00:00Z", "2261-12-30T23:59:59.999999999Z"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_timestamp_out_of_range_is_quarantined_never_moved(any_project, runner, fmt):
    use_every_file(any_project)
    stamps = ["2026-01-10T10:00:00Z", *FAR, *NEAR]
    if fmt == "csv":
        any_project.write_data("a.csv", "\n".join([HEADER] + [row(f"e{n}", ts) for n, ts in enumerate(stamps)]) + "\n")
    else:
        any_project.write_data("a.jsonl", "".join(
            json.dumps({"event_id": f"e{n}", "ts": ts, "input_tokens": 5, "cost_usd": 0.5}) + "\n"
            for n, ts in enumerate(stamps)))
    assert_clean_exit(ingest(any_project, runner), 0)
    first = 2 if fmt == "csv" else 1
    assert [(line, reason) for _, line, reason, _ in quarantine(any_project)] == [
        (first + 1 + n, f"{OUT_OF_RANGE} (got {ts!r})") for n, ts in enumerate(FAR)]
    assert stored_days(any_project) == {date(2026, 1, 10), date(1900, 1, 2), date(2261, 12, 30)}
    assert counts(any_project) == (len(stamps), 1 + len(NEAR), 0, len(FAR))
    periods = runner.invoke(main, ["--config", str(any_project.config_path), "periods"])
    assert "1754" not in periods.output and "1816" not in periods.output and "1715" not in periods.output


# ------------------------------------------------------------------ item 3: an unbalanced quote


def test_an_unbalanced_quote_takes_no_good_row_with_it(any_project, runner):
    good = [row(f"e{n}") for n in range(12)]
    lines = [HEADER, good[0], 'q1,2026-01-10T10:00:00Z,"acme,web,,openai,gpt-4o-mini,1,1,0,0.5,,', *good[1:]]
    any_project.write_data("a.csv", "\n".join(lines) + "\n")
    assert_clean_exit(ingest(any_project, runner), 0)
    (found,) = quarantine(any_project)
    assert found[:3] == ("a.csv", 3, "expected 13 columns, found an unbalanced quote")
    assert counts(any_project) == (13, 12, 0, 1)  # every physical line: 12 stored + 1 quarantined


@pytest.mark.parametrize("damaged", [
    row("q1", tenant='"acme'),  # opens a quote that a later line closes: the lines between are whole rows
    row("q1") + '"',  # a quote in the last field, open to the end of the file
    row("q1").replace(",resolved,", ',"resolved,'),
])
def test_a_stray_quote_anywhere_costs_only_its_own_line(project, runner, damaged):
    good = [row(f"e{n}") for n in range(8)]
    lines = [HEADER, *good[:3], damaged, *good[3:6], row("q2", tenant='x"'), *good[6:]]
    project.write_data("a.csv", "\n".join(lines) + "\n")
    assert_clean_exit(ingest(project, runner), 0)
    rows_read, stored, duplicates, quarantined = counts(project)
    assert rows_read == len(lines) - 1 == stored + duplicates + quarantined
    assert stored == 9  # q2's quote inside its tenant is a character of the value, as in any CSV reader
    assert [line for _, line, _, _ in quarantine(project)] == [5]


def test_a_quoted_value_over_lines_still_reads_and_the_lines_after_it_keep_their_numbers(project):
    from roi.connectors.events import read_csv

    path = project.write_data("a.csv", "\n".join([
        HEADER, '"e1",2026-01-10T10:00:00Z,"acme\ncorp",web,,,,1,1,0,,,', row("e2"), row("e3", ts="nope")]) + "\n")
    chunks = list(read_csv(str(path), 1000))
    assert [c.frame.column("tenant").to_pylist() for c in chunks if c.frame.num_rows] == [["acme\ncorp", "acme"]]
    assert [(r.line, r.reason) for c in chunks for r in c.rejects] == [
        (5, "ts is not an ISO 8601 timestamp (got 'nope')")]
    assert sum(c.rows_read for c in chunks) == 3


# ------------------------------------------------------------------ item 4: one bad file blocks nothing


def test_cr_only_line_endings_read_with_their_line_numbers(any_project, runner):
    any_project.write_data("a.csv", "")
    (any_project.root / "data" / "a.csv").write_bytes(
        "\r".join([HEADER, row("e1"), row("e2", ts="nope"), row("e3")]).encode() + b"\r")
    assert_clean_exit(ingest(any_project, runner), 0)
    assert [(q[1], q[2]) for q in quarantine(any_project)] == [(3, "ts is not an ISO 8601 timestamp (got 'nope')")]
    assert counts(any_project) == (3, 2, 0, 1)


def test_a_duplicated_header_column_refuses_that_file_only(any_project, runner):
    any_project.write_data("a.csv", HEADER + ",tenant\n" + row("e1") + ",x\n")
    any_project.write_data("b.csv", HEADER + ",notes,notes\n" + row("e2") + ",a,b\n")  # columns roi ignores may repeat
    any_project.write_data("c.csv", HEADER + "\n" + row("e3") + "\n")
    result = ingest(any_project, runner)
    assert_clean_exit(result, 1)
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
        f"error: {any_project.root / 'data' / 'a.csv'}: line 1: the header names tenant more than once"]
    assert counts(any_project) == (2, 2, 0, 0)


def test_json_nested_deeply_or_with_a_lone_surrogate_quarantines_that_line(any_project, runner):
    use_every_file(any_project)
    any_project.write_data("a.jsonl", "\n".join([
        json.dumps({"event_id": "j1", "ts": "2026-01-10T10:00:00Z", "input_tokens": 5}),
        "[" * 1200 + "]" * 1200,
        '{"event_id":"j2","ts":"2026-01-10T10:00:00Z","tenant":' + "[" * 1100 + "]" * 1100 + "}",
        '{"event_id":"j6","ts":"2026-01-10T10:00:00Z","tenant":[[["acme"]]]}',
        '{"event_id":"j3","ts":"2026-01-10T10:00:00Z","tenant":"\\ud800","input_tokens":5}',
        '{"event_id":"\\udfff","ts":"2026-01-10T10:00:00Z"}',
        '{"event_id":"j4","ts":"2026-01-10T10:00:00Z","model":{"a":1},"input_tokens":5}',
        json.dumps({"event_id": "j5", "ts": "2026-01-10T10:00:00Z", "input_tokens": 5}),
    ]) + "\n")
    assert_clean_exit(ingest(any_project, runner), 0)
    assert [(q[1], q[2]) for q in quarantine(any_project)] == [
        (2, "not a JSON object: nested too deeply"),
        (3, "not a JSON object: nested too deeply"),
        (4, "tenant is a JSON array, not a value"),
        (5, "tenant holds a lone surrogate (not Unicode text)"),
        (6, "event_id holds a lone surrogate (not Unicode text)"),
        (7, "model is a JSON object, not a value"),
    ]
    assert counts(any_project) == (8, 2, 0, 6)


def test_a_nul_byte_is_quarantined_and_stored_escaped_on_both_stores(any_project, runner):
    use_every_file(any_project)
    any_project.write_data("a.csv", "\n".join([
        HEADER, row("n1"), row("n2", tenant="ac\x00me"), row("n3", ts="2026-01-10T10:00:00Z\x00")]) + "\n")
    any_project.write_data("b.jsonl", "\n".join([
        '{"event_id":"m1","ts":"2026-01-10T10:00:00Z","tenant":"a\\u0000b","input_tokens":5}',
        '{"event_id":"m2\\u0000","ts":"bad\\u0000"}',
        json.dumps({"event_id": "m3", "ts": "2026-01-10T10:00:00Z", "input_tokens": 5}),
    ]) + "\n")
    assert_clean_exit(ingest(any_project, runner), 0)
    found = quarantine(any_project)
    assert [(q[0], q[1], q[2]) for q in found] == [
        ("a.csv", 3, "tenant holds a NUL character"),
        ("a.csv", 4, "ts is not an ISO 8601 timestamp (got '2026-01-10T10:00:00Z\\x00')"),
        ("b.jsonl", 1, "tenant holds a NUL character"),
        # (as in a CSV file: a NUL in an event id is no reason, one in ts is its timestamp's)
        ("b.jsonl", 2, "ts is not an ISO 8601 timestamp (got 'bad\\x00')"),
    ]
    assert found[0][3] == row("n2", tenant="ac\\x00me")
    assert counts(any_project) == (6, 2, 0, 4)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_huge_and_non_finite_numbers_are_quarantined_not_stored(any_project, runner, fmt):
    use_every_file(any_project)
    bad = [("input_tokens", "1e400"), ("cost_usd", "inf"), ("cost_usd", "NaN"), ("cost_usd", "1e400"),
           ("human_review_minutes", "-Infinity"), ("output_tokens", "99999999999999999999")]
    if fmt == "csv":
        columns = HEADER.split(",")
        lines = [HEADER, row("e0")]
        for n, (name, value) in enumerate(bad, start=1):
            values = row(f"e{n}").split(",")
            values[columns.index(name)] = value
            lines.append(",".join(values))
        any_project.write_data("a.csv", "\n".join(lines) + "\n")
    else:
        lines = ['{"event_id":"e0","ts":"2026-01-10T10:00:00Z","input_tokens":5,"cost_usd":0.5}']
        lines += [f'{{"event_id":"e{n}","ts":"2026-01-10T10:00:00Z","{name}":{value}}}'
                  for n, (name, value) in enumerate(bad, start=1)]
        any_project.write_data("a.jsonl", "".join(line.replace("inf", "Infinity") + "\n" for line in lines))
    assert_clean_exit(ingest(any_project, runner), 0)
    assert [q[1] for q in quarantine(any_project)] == [n + (2 if fmt == "csv" else 1) for n in range(1, len(bad) + 1)]
    assert counts(any_project) == (len(bad) + 1, 1, 0, len(bad))
    with opened(any_project) as store:
        cells = store.cells(date(2026, 1, 1), date(2026, 2, 1))
    assert cells["token_cost"].sum() == pytest.approx(0.5)


def test_random_bytes_refuse_the_file_in_one_escaped_line_without_noise(project):
    """A real process: pyarrow's "Exception ignored" would go to the real stderr."""
    import random

    use_every_file(project)
    rng = random.Random(1)
    noise = bytes(rng.randrange(256) for _ in range(4000))
    (project.root / "data" / "a.csv").write_bytes(HEADER.encode() + b"\n" + noise)
    (project.root / "data" / "b.csv").write_bytes(noise)
    (project.root / "data" / "c.csv").write_bytes(f"{HEADER}\n{row('e1')}\n".encode())
    done = subprocess.run([sys.executable, "-m", "roi", "--config", str(project.config_path), "ingest"],
                          capture_output=True, timeout=120)
    assert done.returncode == 1
    stderr = done.stderr.decode("utf-8")  # strict: nothing but text
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2 and all(line.isprintable() for line in errors)
    assert "a.csv: line 2: not UTF-8 text" in errors[0] and "b.csv: line 1:" in errors[1]
    assert counts(project) == (1, 1, 0, 0)


@pytest.mark.parametrize("block", [1, 2, 3, 5, 8, 13, 64])
def test_the_scan_finds_an_odd_line_whatever_the_blocks(tmp_path, block):
    """Lines cut by the scan's blocks keep their quotes: a quoted file is not sent to the slow reader
    for a line that only looks odd because a block ended inside it, and a truly odd line is found."""
    from roi.connectors import csv_lines

    path = tmp_path / "a.csv"
    even = 'event_id,ts\n"e1","2026-01-10T10:00:00Z"\r\n"e2","2026-01-10T10:00:00Z"\n"e3","é"\nhello,"a""b"\n'
    for text, quotes, odd in [(even, True, False), (even + 'x,"y', True, True), (even.replace('"e2"', '"e2'), True, True),
                              ('event_id,"ts\ne1,x\n', False, False),  # (the header's quotes are not the rows')
                              ('event_id,ts\n"e1","2026-01-\n10T10:00:00Z"\n', True, True)]:
        path.write_bytes(text.encode())
        found = csv_lines.scan(str(path), block)
        assert (found.quotes, found.odd_line, found.odd_quote) == (quotes, odd, False), text
    path.write_bytes(even.encode() + b"\n\n\xff\n")
    with pytest.raises(ConnectorError, match=r"a.csv: line 8: not UTF-8 text \(byte 0xff\)"):
        csv_lines.scan(str(path), block)


@pytest.mark.parametrize("block", [1, 2, 3, 7, 64, 1 << 20])
def test_the_scan_finds_a_quote_out_of_place_whatever_the_blocks(tmp_path, block):
    """Lines with an even number of quotes that Arrow would read otherwise than Python's csv go to the careful
    reader; plainly quoted fields (doubled quotes inside, empty ones, every field quoted) stay with Arrow."""
    from roi.connectors import csv_lines

    path = tmp_path / "a.csv"
    plain = ['"e1","2026-01-10T10:00:00Z","a ""b"" c"', '"e2",,""', 'e3,"",x', '"""",""""""', 'e5,"a,b","""x"""']
    out_of_place = ['e1,a"b,"1', 'e1,"a"b,1', 'e1,"a" ,1', 'e1,""bb,1', 'e1, "a",1', 'e1,"a""b,"c', 'e1,a""b,1']
    for line, odd in [(line, False) for line in plain] + [(line, True) for line in out_of_place]:
        for ending in ("\n", "\r\n", "\r"):
            text = ending.join(["event_id,ts,tenant", "e0,2026-01-10T10:00:00Z,x", line, "e9,x,y", ""])
            path.write_bytes(text.encode())
            assert csv_lines.scan(str(path), block).odd_quote is odd, (line, ending)


@pytest.mark.parametrize(("block", "size"), [(1, 10), (5, 10), (5, 700), (4096, (1 << 20) - 3), (4096, 3 << 20),
                                             ((1 << 20) + 7, 3 << 20), (1 << 20, (1 << 20) - 3), (8 << 20, 3 << 20)])
def test_the_scan_measures_the_longest_line(tmp_path, block, size):
    from roi.connectors import csv_lines

    path = tmp_path / "a.csv"
    for lines in (["x" * size, "yy"], ["yy", "x" * size], ["yy", "x" * size, "yy"]):
        for ending in ("\n", "\r\n"):
            path.write_bytes(ending.join(["event_id,ts", *lines]).encode())
            found = csv_lines.scan(str(path), block).longest_line
            # exact from a stretch of 1 MiB without a break on; a shorter line may be measured short
            assert found == size if size > 1 << 20 else 0 < found <= size, (lines, ending)


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59-12:00", "2300-06-01T00:00:00Z",
                                   "1500-01-01T00:00:00Z", 1e20, -1e12, "99999999999999", 253402300800])
def test_pulled_connectors_refuse_a_timestamp_out_of_range_too(value):
    """The HTTP connectors' rows go through mapping.instant: a value that is quarantined, never moved."""
    from roi.connectors.mapping import instant

    with pytest.raises(ValueError, match=r"^created_at is out of range"):
        instant(value, "created_at")
    assert instant("2261-12-30T23:59:59Z", "created_at").year == 2261
    assert instant(-2208902400, "created_at").isoformat() == "1900-01-02T00:00:00+00:00"
