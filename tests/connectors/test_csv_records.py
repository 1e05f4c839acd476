"""A CSV with a value over several lines (or a stray quote): its quote-free lines split by Arrow, the
others record by record, with the same rows, lines and reasons as reading every line record by record.

`read_lines(..., arrow=False)` is the reference: every record put together and split by Python's csv
module. The files are generated with the odd lines that send a file to this reader among good ones.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roi.connectors import csv_lines
from roi.connectors.events import read_csv

HEADER = "event_id,ts,tenant,topic,input_tokens,output_tokens,cost_usd,outcome,region"
NAMES = HEADER.split(",")
WANTED = [name for name in NAMES if name != "region"]


def _good(number: int) -> str:
    return f"e{number % 97},2026-01-{1 + number % 28:02d}T10:00:00Z,t{number % 3},billing,{number},5,0.25,resolved,eu"


ODD = [
    '"multi",2026-01-10T10:00:00Z,acme,"two\nlines",1,2,,resolved,eu',  # a quoted value over two lines
    'stray,2026-01-10T10:00:00Z,acme,"never closed,1,2,,resolved,eu',  # a quote that never closes
    'q1,2026-01-10T10:00:00Z,"acme, inc",topic,1,2,,resolved,eu',  # a quoted comma on one line
    'q2,2026-01-10T10:00:00Z,acme,"say ""hi""",1,2,,,eu',  # doubled quotes
    'bad"quote,2026-01-10T10:00:00Z,acme,topic,1,2,,,eu',  # a quote inside a value: odd
    "short,2026-01-10T10:00:00Z,acme",
    "long,2026-01-10T10:00:00Z,acme,t,1,2,,,eu,extra",
    "",
    ",,,,,,,,",
    "   ",
    "neg,2026-01-10T10:00:00Z,acme,t,-1,2,,,eu",
    "dup,2026-01-10T10:00:00Z,acme,t,1,2,,,eu",
    "dup,2026-01-11T10:00:00Z,beta,t,3,4,,,eu",
    "nots,not a time,acme,t,1,2,,,eu",
    'inner,2026-01-10T10:00:00Z,acme,"a\nb,c,d",1,2,,,eu',  # a line break then commas in a value
    '"x',  # an opening quote alone
    'y"',  # a closing quote alone
    "nul,2026-01-10T10:00:00Z,ac\x00me,t,1,2,,,eu",
    "cr1,2026-01-10T10:00:00Z,acme,t,1,2,,,eu\rcr2,2026-01-10T10:00:00Z,acme,t,1,2,,,eu",  # a lone CR ends a line
    "\ufeffbom,2026-01-10T10:00:00Z,acme,t,1,2,,,eu",  # a byte order mark starting a line: part of its id
    '"inner2\nx",bad-ts,acme,t,1,2,,,eu',  # a record over lines that the checks refuse: read again line by line
    "x" * 140_000 + ",2026-01-10T10:00:00Z,acme,t,1,2,,,eu",  # a field longer than Python csv's default limit
]


def _read(path: str, chunk_rows: int, arrow: bool) -> tuple[list, list, int]:
    """Rows in order (the first of two equal ids wins later), rejects by line (a record over lines that
    the checks refuse has its lines' rejects in the chunk after it: where chunks end may differ)."""
    rows, rejects, read = [], [], 0
    for chunk in csv_lines.read_lines(path, NAMES, WANTED, chunk_rows, arrow=arrow):
        assert len(chunk.id_hashes) == chunk.frame.num_rows
        rows.extend(tuple("NaN" if isinstance(v, float) and np.isnan(v) else v for v in row.values())
                    for row in chunk.frame.to_pylist())
        rejects.extend((reject.line, reject.reason, reject.raw) for reject in chunk.rejects)
        read += chunk.rows_read
    return rows, sorted(rejects), read


@pytest.fixture(params=[4 << 20, 300], ids=["one block", "small blocks"])
def line_block(request, monkeypatch):
    """Blocks of whole lines handed to Arrow: the default, and a few lines each (so that blocks with and
    without a quote follow each other, and a quoted value spans blocks)."""
    monkeypatch.setattr(csv_lines, "_LINE_BLOCK", request.param)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    good=st.lists(st.integers(0, 10_000), max_size=120),
    odd=st.lists(st.tuples(st.integers(0, 120), st.integers(0, len(ODD) - 1)), max_size=6),
    ending=st.sampled_from(["\n", "\r\n", "\r"]), chunk_rows=st.sampled_from([1000, 7, 2]),
)
def test_quote_free_lines_by_arrow_read_as_record_by_record(tmp_path, line_block, good, odd, ending, chunk_rows):
    lines = [_good(number) for number in good]
    for position, index in odd:
        lines.insert(min(position, len(lines)), ODD[index])
    text = ending.join([HEADER, *lines]) + ending
    path = tmp_path / "events.csv"
    path.write_bytes(text.replace("\n", ending).encode() if ending != "\n" else text.encode())
    assert _read(str(path), chunk_rows, arrow=True) == _read(str(path), chunk_rows, arrow=False)


def test_one_multi_line_value_leaves_the_other_lines_to_arrow(tmp_path, monkeypatch):
    split = []
    by_arrow = csv_lines._split_by_arrow
    monkeypatch.setattr(csv_lines, "_split_by_arrow", lambda path, names, wanted, data, lines, text_of, **options:
                        split.append(len(lines)) or by_arrow(path, names, wanted, data, lines, text_of, **options))
    monkeypatch.setattr(csv_lines, "_LINE_BLOCK", 16_384)  # blocks of ~200 lines: most of them without a quote
    lines = [_good(number) for number in range(2_000)]
    lines[700] = ODD[0]  # lines 702-703 of the file
    lines[1500] = "neg,2026-01-10T10:00:00Z,acme,t,-1,2,,,eu"
    path = tmp_path / "events.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    chunks = list(read_csv(str(path), 50_000))
    assert sum(split) == 1_999 and len(split) > 5  # every line but the two of the quoted value, block by block
    assert sum(chunk.rows_read for chunk in chunks) == 2_000
    assert sum(chunk.frame.num_rows for chunk in chunks) == 1_999
    assert [(reject.line, reject.reason) for chunk in chunks for reject in chunk.rejects] == [
        (1503, "input_tokens is not a whole number >= 0 (got '-1')")]
    frame = pa.concat_tables(chunk.frame for chunk in chunks)
    assert frame.column("event_id")[700].as_py() == "multi"  # in its place among the rows
    assert frame.column("topic")[700].as_py() == "two\nlines"


@pytest.mark.parametrize("odd", range(len(ODD)), ids=lambda index: repr(ODD[index][:30]))
def test_each_odd_line_among_good_ones(tmp_path, line_block, odd):
    lines = [_good(number) for number in range(40)]
    lines[10] = ODD[odd]
    lines[20] = ODD[1] if odd != 1 else ODD[0]  # an odd line, so that the file is read this way
    lines[30] = "neg,2026-01-10T10:00:00Z,acme,t,-1,2,,,eu"
    path = tmp_path / "events.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    assert _read(str(path), 1000, arrow=True) == _read(str(path), 1000, arrow=False)


def test_a_line_of_megabytes_among_them(tmp_path):
    """Arrow splits a long line in one piece (its default blocks of 1 MiB refused a line straddling them)."""
    lines = [_good(number) for number in range(10)]
    lines[3] = ODD[0]
    lines[6] = "long" + "x" * (3 << 20) + ",2026-01-10T10:00:00Z,acme,t,1,2,,,eu"
    path = tmp_path / "events.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    rows, rejects, read = _read(str(path), 1000, arrow=True)
    assert (rows, rejects, read) == _read(str(path), 1000, arrow=False)
    assert read == 10 and rejects == [] and rows[6][0].startswith("longxxx")


def _read_file(path: str, chunk_rows: int) -> tuple[list, list, int]:
    """As _read, through read_csv: the file read by Arrow whole, or by the careful reader, as its scan decides."""
    rows, rejects, read = [], [], 0
    for chunk in read_csv(path, chunk_rows):
        rows.extend(tuple("NaN" if isinstance(v, float) and np.isnan(v) else v for v in row.values())
                    for row in chunk.frame.to_pylist())
        rejects.extend((reject.line, reject.reason, reject.raw) for reject in chunk.rejects)
        read += chunk.rows_read
    return rows, sorted(rejects), read


# lines with an even number of quotes: some plainly quoted (Arrow reads them as Python's csv does), some with
# a quote out of place (Arrow would read it leniently, or take the next lines into one field)
EVEN = [
    '"q1","2026-01-10T10:00:00Z","acme, inc","say ""hi""","1","2","","resolved","eu"',
    'q2,2026-01-10T10:00:00Z,"",topic,1,2,,"",eu',
    'q3,2026-01-10T10:00:00Z,a"b,"1,2,,,eu',  # two stray quotes: Arrow took every later line into one value
    'q4,2026-01-10T10:00:00Z,"a"b,t,1,2,,,eu',  # Arrow read `ab`; Python's csv refuses it
    'q5,2026-01-10T10:00:00Z,"a" ,t,1,2,,,eu',
    'q6,2026-01-10T10:00:00Z,""bb,t,1,2,,,eu',
    'q7,2026-01-10T10:00:00Z,acme, "t",1,2,,,eu',
    'q8,2026-01-10T10:00:00Z,ac""me,t,1,2,,,eu',
    'q9,2026-01-10T10:00:00Z,acme,"""",1,2,,,eu',
]


@settings(max_examples=100, deadline=None)
@given(
    good=st.lists(st.integers(0, 10_000), max_size=60),
    even=st.lists(st.tuples(st.integers(0, 60), st.integers(0, len(EVEN) - 1)), max_size=4),
    ending=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_a_file_reads_as_record_by_record_whichever_reader_its_scan_picks(tmp_path_factory, good, even, ending):
    """A value reads the same whatever the other lines hold: read_csv (Arrow over the whole file, unless
    the scan finds a line it would read otherwise) gives what reading every record with Python's csv gives."""
    lines = [_good(number) for number in good]
    for position, index in even:
        lines.insert(min(position, len(lines)), EVEN[index])
    path = tmp_path_factory.mktemp("even") / "events.csv"
    path.write_bytes((ending.join([HEADER, *lines]) + ending).encode())
    assert _read_file(str(path), 1000) == _read(str(path), 1000, arrow=False)


def test_a_line_of_megabytes_read_by_arrow_whole(tmp_path):
    """A file without a quote goes to Arrow whole, in blocks that hold its longest line (3 MiB here: Arrow's
    blocks of 1 MiB had refused the file)."""
    lines = [_good(number) for number in range(10)]
    lines[6] = "long" + "x" * (3 << 20) + ",2026-01-10T10:00:00Z,acme,t,1,2,,,eu"
    path = tmp_path / "events.csv"
    path.write_text("\n".join([HEADER, *lines]))  # (no line break after the last line)
    rows, rejects, read = _read_file(str(path), 1000)
    assert (rows, rejects, read) == _read(str(path), 1000, arrow=False)
    assert read == 10 and rejects == [] and rows[6][0].startswith("longxxx")


def test_a_line_longer_than_arrow_reads_refuses_its_file_by_name(tmp_path, monkeypatch):
    from roi.connectors import events
    from roi.errors import ConnectorError

    monkeypatch.setattr(events, "_LONGEST_LINE", 2 << 20)  # (2 GiB less a block, in truth)
    path = tmp_path / "events.csv"
    path.write_text("\n".join([HEADER, _good(1), "x" * (3 << 20) + ",2026-01-10T10:00:00Z,acme,t,1,2,,,eu"]) + "\n")
    with pytest.raises(ConnectorError, match=r"events.csv: a line of 3,145,765 bytes: longer than a CSV line may be"):
        list(read_csv(str(path), 1000))


def test_the_scan_keeps_no_copy_of_a_long_line_without_quotes(tmp_path):
    """Only a line's length is kept while it holds no quote (a 64 MiB line had been copied at every block);
    one with a quote is kept and checked whole across blocks."""
    path = tmp_path / "events.csv"
    for line, odd in [("x" * (9 << 20) + "," + '"a"', False), ("x" * (9 << 20) + '"a"', True),
                      ('"' + "x" * (9 << 20) + '"b', True), ('"' + "x" * (9 << 20) + '",b', False)]:
        path.write_bytes(("event_id,ts\n" + line + "\ne2,t\n").encode())
        pieces = []
        lines = csv_lines._lines
        found = csv_lines.Scan()

        def spy(found_, pending, body, last, lines=lines, pieces=pieces):
            pieces.append(sum(map(len, pending.parts)))
            return lines(found_, pending, body, last)

        csv_lines._lines = spy
        try:
            found = csv_lines.scan(str(path), 1 << 20)
        finally:
            csv_lines._lines = lines
        assert found.longest_line == len(line) and found.odd_quote is odd, line[-5:]
        if line.startswith("x"):
            assert max(pieces) <= 1  # the quote-free start of the line: its last byte alone


def test_a_refused_record_over_lines_gives_its_good_lines_in_their_place(tmp_path):
    """A record over two lines that the checks refuse is read again line by line; its good line is a row
    in its place, before later lines, so that of two equal event ids the first in the file wins."""
    path = tmp_path / "events.csv"
    path.write_bytes(b"topic,event_id,ts,input_tokens\n"
                     b'"\x00\n'  # line 2: opens a quote; the NUL gets the joined record refused
                     b'first",D,2026-01-10T10:00:00Z,5\n'  # line 3: alone, a good row D
                     b"second,D,2026-01-11T10:00:00Z,7\n")  # line 4: D again
    chunks = list(read_csv(str(path), 50_000))
    assert [(row["event_id"], row["topic"]) for chunk in chunks for row in chunk.frame.to_pylist()] == [
        ("D", 'first"'), ("D", "second")]
    assert [(reject.line, reject.reason) for chunk in chunks for reject in chunk.rejects] == [
        (2, "expected 4 columns, found an unbalanced quote")]
    assert sum(chunk.rows_read for chunk in chunks) == 3


@pytest.mark.parametrize("switch", [0, 150], ids=["lone CRs throughout", "lone CRs after LFs"])
def test_lines_ended_by_a_lone_cr_after_an_lf_header(tmp_path, monkeypatch, switch):
    """From the first block holding a lone CR on, the file is read as text (binary lines, split at LF, had
    made the rest of such a file one block: memory followed the file)."""
    monkeypatch.setattr(csv_lines, "_LINE_BLOCK", 2_000)
    lines = [_good(number) for number in range(400)]
    lines[40] = ODD[0]
    lines[300] = "neg,2026-01-10T10:00:00Z,acme,t,-1,2,,,eu"
    path = tmp_path / "events.csv"
    path.write_bytes((HEADER + "\n" + "".join(line + ("\n" if index < switch else "\r")
                                              for index, line in enumerate(lines))).encode())
    walked = []
    lines_in = csv_lines._lines_in
    monkeypatch.setattr(csv_lines, "_lines_in", lambda block, first: walked.append(len(block)) or lines_in(block, first))
    chunks = list(csv_lines.read_lines(str(path), NAMES, WANTED, 100))
    assert max(chunk.rows_read for chunk in chunks) <= 100
    assert max(walked, default=0) < 3 * 2_000  # blocks walked line by line stay blocks, not the rest of the file
    assert _read(str(path), 100, arrow=True) == _read(str(path), 100, arrow=False)
    assert [reject.line for chunk in chunks for reject in chunk.rejects] == [303]  # (the quoted value: 2 lines)


@pytest.mark.parametrize("ending", ["", "\n", "\r\n", "\r"])
@pytest.mark.parametrize("bom", ["", "\ufeff"])
def test_a_header_alone_holds_no_rows_whatever_ends_it(tmp_path, ending, bom):
    """An export of no rows: the header, with or without a line break after it (Arrow refused the
    file without one: "Could not skip initial 1 rows")."""
    path = tmp_path / "e.csv"
    path.write_text(bom + HEADER + ending, encoding="utf-8")
    chunks = list(read_csv(str(path), 1000))
    assert sum(chunk.frame.num_rows for chunk in chunks) == 0
    assert [reject for chunk in chunks for reject in chunk.rejects] == []


@pytest.mark.parametrize("arrow", [True, False])
@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_a_stray_quote_costs_its_own_line_even_before_a_value_over_lines(tmp_path, arrow, ending):
    """The stray quote pairs with the opening quote of a valid value over lines further down: the record
    they make fails, and its lines after the first are read again, so that valid value is still one row."""
    lines = [
        HEADER,
        'stray,2026-01-10T10:00:00Z,acme,"never closed,1,2,,resolved,eu',  # line 2: the stray quote
        _good(3),
        'multi,2026-01-10T10:00:00Z,acme,"two',  # lines 4-5: a valid value over two lines
        'lines",1,2,,resolved,eu',
        _good(6),
        'late"stray,2026-01-10T10:00:00Z,acme,t,1,2,,,eu',  # line 7: a quote inside a value (valid alone) that pairs
        _good(8),
        'multi2,2026-01-10T10:00:00Z,acme,"three',  # lines 9-11: ...with this quote, which opens a value over lines
        "lines",
        'here",1,2,,resolved,eu',
    ]
    path = tmp_path / "e.csv"
    path.write_bytes(ending.join(lines).encode() + ending.encode())
    rows, rejects, read = _read(str(path), 1000, arrow)
    assert [row[0] for row in rows] == ["e3", "multi", "e6", 'late"stray', "e8", "multi2"]
    assert "two\nlines" in rows[1] and "three\nlines\nhere" in rows[5]  # (the topic)
    assert [(line, reason) for line, reason, _ in rejects] == [(2, "expected 9 columns, found an unbalanced quote")]
    assert read == 7


@pytest.mark.parametrize("arrow", [True, False])
def test_a_line_of_spaces_in_a_refused_record_over_lines_is_blank_too(tmp_path, arrow):
    """The record's lines are read again one by one when the checks refuse it: a line of spaces among
    them is a blank line there too (not "expected 3 columns, found 1"), and is not counted."""
    path = tmp_path / "e.csv"
    path.write_text('event_id,ts,model\ne1,bad,"a\n   \nb"\ne2,2026-03-01T00:00:00Z,m\n')
    chunks = list(csv_lines.read_lines(str(path), ["event_id", "ts", "model"], ["event_id", "ts", "model"], 1000,
                                       arrow=arrow))
    rejects = [reject.line for chunk in chunks for reject in chunk.rejects]
    assert rejects == [2, 4]
    assert sum(chunk.rows_read for chunk in chunks) == 3
    assert [row for chunk in chunks for row in chunk.frame.column("event_id").to_pylist()] == ["e2"]


# rows the checks refuse, on lines Arrow splits as Python's csv does (so the file stays with Arrow): quoted
# values, doubled quotes, a column roi does not read, a blank line between them
REFUSED = [
    'b1,not a time,"acme, inc",t,1,2,,,"eu, west"',
    '"b2","2026-01-10T10:00:00Z","acme","say ""hi""","-1","2","","","eu"',
    "b3,2026-01-10T10:00:00Z,acme,t,1,2,,maybe,far  away ",
    "",
    ",2026-01-10T10:00:00Z,acme,t,1,2,,,eu",
]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    good=st.lists(st.integers(0, 10_000), max_size=150),
    refused=st.lists(st.tuples(st.integers(0, 150), st.integers(0, len(REFUSED) - 1)), max_size=8),
    ending=st.sampled_from(["\n", "\r\n"]), last_break=st.booleans(), chunk_rows=st.sampled_from([1000, 7, 2]),
    block=st.sampled_from([1 << 20, 64, 1]),
)
def test_a_quarantined_row_split_by_arrow_keeps_its_line_as_written(
        tmp_path_factory, monkeypatch, good, refused, ending, last_break, chunk_rows, block):
    """Arrow's rows lose their quoting and the columns roi does not read; a refused row's text is read
    back from its line, whatever blocks the file is read back in and wherever its chunks end: as the
    record-by-record reader, which keeps each line, has it."""
    monkeypatch.setattr(csv_lines, "_TEXT_BLOCK", block)
    lines = [_good(number) for number in good]
    for position, index in refused:
        lines.insert(min(position, len(lines)), REFUSED[index])
    path = tmp_path_factory.mktemp("refused") / "events.csv"
    path.write_bytes((ending.join([HEADER, *lines]) + (ending if last_break else "")).encode())
    scanned = csv_lines.scan(str(path))
    assert not (scanned.odd_quote or scanned.odd_line)  # read by Arrow
    found = _read_file(str(path), chunk_rows)
    assert found == _read(str(path), chunk_rows, arrow=False)
    assert len(found[1]) == sum(1 for _, index in refused if REFUSED[index])


def test_line_texts_give_each_line_asked_in_order_and_none_otherwise(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_lines, "_TEXT_BLOCK", 1)  # a line at a time: an earlier line is gone
    path = tmp_path / "lines.csv"
    path.write_bytes(b"h\r\na,1\n\nb,\"2\"\r\nlast")
    texts = csv_lines.LineTexts(str(path))
    try:
        assert [texts(number) for number in (2, 2, 4, 5)] == ["a,1", "a,1", 'b,"2"', "last"]
        assert texts(3) is None and texts(6) is None  # behind the last asked (gone); past the end
    finally:
        texts.close()
    lone = tmp_path / "lone.csv"
    lone.write_bytes(b"h\na\rb\n")  # a lone CR: lines split at LF would not be the file's
    texts = csv_lines.LineTexts(str(lone))
    assert texts(2) is None
    texts.close()
