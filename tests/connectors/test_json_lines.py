"""JSON Lines through Arrow's reader: the same rows, lines and reasons as reading line by line with json.loads.

Every file here is read twice: by `read_jsonl` (Arrow for each block it can read as json.loads
would, line by line for the rest) and wholly line by line (`_line_by_line`, the reference).
The canonical frames, each reject (line, reason, raw text) and the rows read must be equal.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roi.connectors import json_lines
from roi.connectors.json_lines import read_jsonl


def _record(number: int, **values) -> dict:
    record = {"event_id": f"e{number}", "ts": "2026-01-10T10:00:00Z", "tenant": f"t{number % 3}",
              "input_tokens": 100 + number, "output_tokens": 20, "cached_input_tokens": 0, "cost_usd": 0.25,
              "outcome": "resolved", "human_review_minutes": 1.5, "latency_ms": 300}
    record.update(values)
    return record


# lines that Arrow reads as json.loads does, and lines where it would not (each must end as the reference does)
ODD_LINES = [
    b"",  # blank
    b"   \t ",  # blank with white space
    b"\r",  # a CRLF blank line (with the LF added; with CRLF lines, a lone CR, then a blank line)
    b'{"event_id": "cr", "ts": "2026-01-10T10:00:00Z"}\r',  # (with CRLF lines: a lone CR, then a blank line)
    b'  {"event_id": "indented", "ts": "2026-01-10T10:00:00Z"}',
    b'{"event_id": "a", "ts": "2026-01-10T10:00:00Z"} {"event_id": "b", "ts": "2026-01-10T10:00:00Z"}',
    b"{not json",
    b"[1, 2]",
    b'"text"',
    b"{}",
    b'{"event_id": 17, "ts": "2026-01-10T10:00:00Z"}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "input_tokens": 3.0}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "input_tokens": 1.5}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "input_tokens": "7"}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "input_tokens": -1}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "input_tokens": true}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "input_tokens": 99999999999999999999}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "input_tokens": 9223372036854775807}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "input_tokens": 9007199254740993}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "input_tokens": 9007199254740991}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "input_tokens": NaN, "output_tokens": null}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "input_tokens": 412.0, "output_tokens": -2.0}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "input_tokens": 5e2, "output_tokens": -0.0}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "cost_usd": -0.5}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "cost_usd": NaN}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "cost_usd": Infinity}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "cost_usd": 1e400}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "cost_usd": 1e13}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "cost_usd": "0.5"}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "cost_usd": -0.0}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "tenant": [1]}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "tenant": {"a": 1}}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "tenant": "a\\u0000b"}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "tenant": "a\\ud800b"}',
    b'{"event_id": "n\\u0000", "ts": "2026-01-10T10:00:00Z"}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "outcome": "resolved\\u0000"}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "conversation_id": "\\u0000"}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "tenant": "Z\\u00fcrich"}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "tenant": "Z\xc3\xbcrich"}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "tenant": "bad \xff byte"}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "region": "bad \xff byte"}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "tenant": "a", "tenant": "b"}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "region": [1, {"x": null}]}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "outcome": "maybe"}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00"}',
    b'{"event_id": "n", "ts": 1767000000}',
    b'{"event_id": "lone CR", "ts": "2026-01-10T10:00:00Z"}\r{"event_id": "after CR", "ts": "2026-01-10T10:00:00Z"}',
    b'{"event_id": "form feed", "ts": "2026-01-10T10:00:00Z"}\x0c',
    b"\x0c",
    b"null",
    b"  null",
    b"\xef\xbb\xbf{}",
    b'\xef\xbb\xbf{"event_id": "bom", "ts": "2026-01-10T10:00:00Z"}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "x": Inf}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "x": -Inf}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "x": -NaN}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "x": [NaN, Infinity, -Infinity]}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "x": ' + b"[" * 1000 + b"]" * 1000 + b"}",
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "x": ' + b"[" * 400 + b"]" * 400 + b"}",
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "x": 1' + b"0" * 5000 + b"}",
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "x": "' + b"0" * 5000 + b'"}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "cost_usd": -0, "human_review_minutes": -0.0}',
    b'{"event_id": "n", "ts": "2026-01-10T10:00:00Z", "human_review_minutes": 2}',
]


def _good_line(number: int) -> bytes:
    return json.dumps(_record(number)).encode()


def _reference(path: str) -> tuple[list, list, int]:
    """The file read line by line, as one block (no Arrow)."""
    with open(path, "rb") as handle:
        data = handle.read()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    chunk, _ = json_lines._line_by_line(path, data, 1)
    return _rows(chunk.frame), [(r.line, r.reason, r.raw) for r in chunk.rejects], chunk.rows_read


def _rows(frame: pa.Table) -> list:
    return [tuple(row.values()) for row in frame.to_pylist()]


def _read(path: str, chunk_rows: int) -> tuple[list, list, int]:
    rows, rejects, read = [], [], 0
    for chunk in read_jsonl(path, chunk_rows):
        assert chunk.id_hashes is not None and len(chunk.id_hashes) == chunk.frame.num_rows
        rows.extend(_rows(chunk.frame))
        rejects.extend((r.line, r.reason, r.raw) for r in chunk.rejects)
        read += chunk.rows_read
    return rows, rejects, read


def _nan_free(rows: list) -> list:
    """Rows with NaN (an unpriced cost) made comparable, and -0.0 told from 0.0."""
    return [tuple("NaN" if isinstance(v, float) and np.isnan(v) else ("-0.0" if isinstance(v, float) and v == 0
                  and np.signbit(v) else v) for v in row) for row in rows]


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(json_lines, "_BLOCK_BYTES", 1 << 12)  # many blocks, so odd lines fall in some, not all


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    good=st.lists(st.integers(0, 400), min_size=0, max_size=150),
    odd=st.lists(st.tuples(st.integers(0, 150), st.integers(0, len(ODD_LINES) - 1)), min_size=0, max_size=4),
    crlf=st.booleans(), bom=st.booleans(), last_newline=st.booleans(), chunk_rows=st.sampled_from([1000, 7, 3]),
)
def test_arrow_blocks_read_every_file_as_the_line_reader_does(tmp_path, good, odd, crlf, bom, last_newline, chunk_rows):
    lines = [_good_line(number) for number in good]
    for position, index in odd:  # a few odd lines among good ones: most blocks hold one or none
        lines.insert(min(position, len(lines)), ODD_LINES[index])
    if not lines:
        lines = [b""]
    data = (b"\r\n" if crlf else b"\n").join(lines) + ((b"\r\n" if crlf else b"\n") if last_newline else b"")
    path = tmp_path / "events.jsonl"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    expected_rows, expected_rejects, expected_read = _reference(str(path))
    rows, rejects, read = _read(str(path), chunk_rows)
    assert _nan_free(rows) == _nan_free(expected_rows)
    assert rejects == expected_rejects
    assert read == expected_read


def test_a_clean_file_is_read_by_arrow_with_its_lines(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(json_lines, "_line_by_line", lambda *args: calls.append(args))  # must not be needed
    lines = [_good_line(n) for n in range(300)]
    lines[150] = json.dumps(_record(150, input_tokens=-1)).encode()  # rejected by the checks, not by the reader
    lines[200] = json.dumps(_record(200, outcome="maybe")).encode()
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n\n")  # a blank last line too
    rows, rejects, read = _read(str(path), 1000)
    assert calls == []
    assert read == 300 and len(rows) == 298
    assert [(line, reason) for line, reason, _ in rejects] == [
        (151, "input_tokens is not a whole number >= 0 (got '-1')"),
        (201, "outcome is not one of resolved, escalated, abandoned, reopened (got 'maybe')"),
    ]
    assert rejects[0][2] == lines[150].decode()


def test_one_bad_line_sends_only_its_block_line_by_line(tmp_path, monkeypatch):
    monkeypatch.setattr(json_lines, "_BLOCK_BYTES", 1 << 20)  # blocks of chunk_rows lines
    seen = []
    line_by_line = json_lines._line_by_line
    monkeypatch.setattr(json_lines, "_line_by_line",
                        lambda path, block, first: seen.append(first) or line_by_line(path, block, first))
    lines = [_good_line(n) for n in range(500)]
    lines[321] = b"{not json"
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    rows, rejects, read = _read(str(path), 100)
    assert seen == [301]  # the block of lines 301-400, and no other
    assert [(line, reason[:18]) for line, reason, _ in rejects] == [(322, "not a JSON object:")]
    assert read == 500 and len(rows) == 499


@pytest.mark.parametrize("crlf", [False, True], ids=["LF", "CRLF"])
@pytest.mark.parametrize("odd", range(len(ODD_LINES)), ids=lambda index: repr(ODD_LINES[index][:40]))
def test_each_odd_line_among_good_ones(tmp_path, odd, crlf):
    """Each odd line amid good ones, with a rejected line after it (its line number must follow)."""
    end = b"\r\n" if crlf else b"\n"
    lines = [_good_line(n) for n in range(30)]
    lines[12] = ODD_LINES[odd]
    lines[25] = json.dumps(_record(25, input_tokens=-1)).encode()
    path = tmp_path / "events.jsonl"
    path.write_bytes(end.join(lines) + end)
    expected = _reference(str(path))
    rows, rejects, read = _read(str(path), 1000)
    assert (_nan_free(rows), rejects, read) == (_nan_free(expected[0]), expected[1], expected[2])
    assert rejects[-1][0] in (26, 27)  # the line of the rejected row (27 where the odd line held a lone CR)


@pytest.mark.parametrize("switch", [0, 2_600], ids=["lone CRs throughout", "lone CRs after LFs"])
def test_lines_ended_by_a_lone_cr_are_read_as_text_a_chunk_at_a_time(tmp_path, switch):
    """From the first block holding a lone CR on, the file is read as text, chunk_rows lines a chunk: memory
    follows the chunk (binary lines, split at LF, had made the rest of such a file one block)."""
    lines = [_good_line(n) for n in range(5_000)]
    lines[3_333] = json.dumps(_record(3_333, input_tokens=-1)).encode()
    data = b"".join(line + (b"\n" if index < switch else b"\r") for index, line in enumerate(lines))
    path = tmp_path / "events.jsonl"
    path.write_bytes(data)
    chunks = list(read_jsonl(str(path), 1_000))
    assert max(chunk.rows_read for chunk in chunks) <= 1_000
    assert [(reject.line, reject.reason) for chunk in chunks for reject in chunk.rejects] == [
        (3_334, "input_tokens is not a whole number >= 0 (got '-1')")]
    assert _read(str(path), 1_000) == _reference(str(path))
