"""JSON Lines files of events: Arrow's JSON reader for the blocks it reads as Python's json would.

The file is read in blocks of whole lines (about 16 MiB, at most `chunk_rows` lines). Arrow's
multi-threaded JSON reader parses a block into typed columns (text, int64 tokens, float64
amounts), which go through the same checks as a CSV chunk (event_columns.to_chunk). A block
Arrow would read differently from a line-by-line `json.loads` goes line by line instead:

- bytes that are not UTF-8, or a line break that is a lone CR;
- a line that is not one JSON object (Arrow refuses it, reads two objects from it, or takes it:
  a top-level `null`, a byte order mark, `Inf`, `-NaN`; found before Arrow parses, as a `null`
  first in a block crashes pyarrow 26), or one json.loads cannot read (nested 900 levels and
  more, an integer of more than 4,300 digits);
- a value of another JSON type than its column's (a number as `event_id`, `1.5` or `"5"` as a
  token count, `true` as an amount): its text, as the line reader makes it, is what is checked;
- a count of 2^53 or more (a float64 would round it), an amount that is negative, not finite
  or too large (its reason quotes the text), or a count or amount of -0.0 (written -0 it is 0,
  written -1e-400 a negative number the parser rounded);
- an object that holds nothing in the events columns: `{}` and an object of nulls or empty
  texts are skipped as blank lines are, but one holding other keys only (`{"eventId": ...}`)
  is quarantined (`event_id is missing; ts is missing`), never dropped.

So a block of well-formed events costs Arrow's parse, and a damaged line still names its line
and reason exactly as before. Rows are the non-blank lines, numbered from 1 as in the file.
"""

from __future__ import annotations

import decimal
import io
import itertools
import json
import math
import re
from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from ..domain import AMOUNT_LIMIT
from ..errors import ConnectorError
from ..string_hashes import hash_strings
from .base import Chunk, Reject, line_blocks
from .event_columns import EVENT_COLUMNS, TOKEN_COLUMNS, RawTable, kept_rows, to_chunk

_BLOCK_BYTES = 16 << 20  # a block of lines read at a time (Arrow parses it in 4 MiB pieces on its threads)
_AMOUNTS = ("cost_usd", "human_review_minutes")
_EVENT_KEYS = frozenset(EVENT_COLUMNS)
_EXACT = float(2**53)  # a float64 below this holds every whole number exactly
_SCHEMA = pa.schema(
    # counts as float64: `412` and `412.0` (pandas writes counts with gaps so) parse alike (_whole_counts)
    [(name, pa.float64() if name in TOKEN_COLUMNS or name in _AMOUNTS else pa.string())
     for name in EVENT_COLUMNS]
)
_PARSE = pajson.ParseOptions(explicit_schema=_SCHEMA, unexpected_field_behavior="ignore", newlines_in_values=False)
_READ = pajson.ReadOptions(use_threads=True, block_size=4 << 20)
_LONG_LINE = 1_800  # bytes: a shorter line cannot nest _DEEP levels (nor hold a 4,301-digit integer)
_DEEP = 900  # brackets in a line that json.loads may find nested too deeply (Python's recursion limit)
_LONG_DIGITS = re.compile(rb"\d{4301}")  # an integer Python refuses to read (its int digit limit)
# numbers Arrow reads and json.loads does not (it reads NaN, Infinity and -Infinity, as Arrow does)
_NOT_JSON_NUMBER = re.compile(rb"[\[:,][ \t\r]*(?:-?Inf(?!inity)|-NaN)")


# ------------------------------------------------------------------ one line at a time


class _Written(str):
    """A JSON number that is no finite float (1e400) or a constant (NaN, Infinity), as the line wrote
    it: checked as text, it gets the reason its CSV twin gets (`not a finite number (got '1e400')`)."""


def _float(text: str) -> float | str:
    value = float(text)
    if not math.isfinite(value):
        return _Written(text)
    if (abs(value) >= _EXACT or (value == 0 and text.startswith("-"))) and decimal.Decimal(text) != decimal.Decimal(value):
        # a float would round it (9007199254740993.0, or -1e-400 to -0.0): read as written, as in CSV
        return _Written(text)
    return value


def _json_text(value: object) -> str | None:
    if value is None or value.__class__ is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"  # a boolean is never a valid count or text here
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, dict)):
        raise ValueError(f"a JSON {'array' if isinstance(value, list) else 'object'}, not a value")
    return str(value)


def _not_unicode(value: str) -> bool:
    """Whether a text holds a lone surrogate, which no Arrow (UTF-8) text can (a NUL it can: the checks
    judge it as they judge a CSV file's, quarantining a dimension that holds one)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _json_record(text: str) -> dict:
    """A line's JSON object; ValueError saying why the line cannot be read."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:  # a byte that is not UTF-8, kept as a surrogate escape
            raise ValueError(f"not UTF-8 text (byte 0x{ord(text[exc.start]) - 0xDC00:02x})") from None
    try:
        record = json.loads(text, parse_float=_float, parse_constant=_Written)
    except RecursionError:
        raise ValueError("not a JSON object: nested too deeply") from None
    except ValueError as exc:
        raise ValueError(f"not a JSON object: {exc}") from None
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    if "\\u" in text:  # only an escape can put a lone surrogate in a value (the line is UTF-8)
        for name in EVENT_COLUMNS:
            value = record.get(name)
            if value.__class__ is str and _not_unicode(value):
                raise ValueError(f"{name} holds a lone surrogate (not Unicode text)")
    return record


def _line_by_line(path: str, block: bytes, first_line: int) -> tuple[Chunk, int]:
    """A block read line by line with json.loads: (its chunk, how many lines it held)."""
    # a byte that is not UTF-8 becomes a surrogate escape: that line is quarantined, not the file refused;
    # newline=None splits lines as iterating the open file does (LF, CRLF, or a lone CR)
    return _lines_chunk(path, io.TextIOWrapper(io.BytesIO(block), encoding="utf-8", errors="surrogateescape",
                                               newline=None), first_line)


def _lines_chunk(path: str, handle: Iterable[str], first_line: int) -> tuple[Chunk, int]:
    """Lines of text read with json.loads, the first numbered `first_line`: (their chunk, how many there were)."""
    columns: dict[str, list[str | None]] = {name: [] for name in EVENT_COLUMNS}
    lines: list[int] = []
    texts: list[str] = []
    rejects: list[Reject] = []
    read = 0
    number = first_line - 1
    for number, text in enumerate(handle, start=first_line):
        if not text.strip():
            continue
        read += 1
        try:
            record = _json_record(text.rstrip("\r\n"))  # (its line break is no part of a reason: LF and CRLF alike)
        except ValueError as exc:
            raw = text.strip()[:2000].encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            rejects.append(Reject(path, number, str(exc), raw))  # (bytes not UTF-8 shown as \xff)
            continue
        if all(key in _EVENT_KEYS and (value is None or value == "") for key, value in record.items()):
            read -= 1  # {} or an object of nulls and empty texts: a blank line's twin, not a row (one holding
            continue   # other keys only, {"eventId": ...}, is a row without event_id and ts: quarantined)
        try:
            for name, values in columns.items():
                values.append(_json_text(record.get(name)))
        except ValueError as exc:  # (rare: an array or object as a value) this row's values go again
            for values in columns.values():
                del values[len(lines):]
            rejects.append(Reject(path, number, f"{name} is {exc}", text.strip()[:2000]))
            continue
        lines.append(number)
        texts.append(text.strip())
    arrays = {name: pa.array(values, pa.string()) for name, values in columns.items()}
    chunk = to_chunk(RawTable(arrays, np.asarray(lines, dtype=np.int64), path, texts), rows_read=read)
    chunk.rejects = sorted(rejects + chunk.rejects, key=lambda reject: reject.line or 0)
    return chunk, number - first_line + 1


# ------------------------------------------------------------------ a block at a time, by Arrow


class _BlockLines:
    """The stripped text of a block's i-th row, made only for the rows a check rejects."""

    def __init__(self, block: bytes, starts: np.ndarray, ends: np.ndarray):
        self.block, self.starts, self.ends = block, starts, ends

    def __getitem__(self, index: int) -> str:
        return self.block[int(self.starts[index]) : int(self.ends[index])].decode("utf-8").strip()


def _line_bounds(block: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive, before the LF) of each line of the block."""
    ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 0x0A)
    if not block.endswith(b"\n"):
        ends = np.append(ends, len(block))
    starts = np.empty_like(ends)
    starts[:1] = 0
    starts[1:] = ends[:-1] + 1
    return starts, ends




def _whole_counts(column: pa.Array) -> pa.Array | None:
    """A token column as int64 where every value is whole, finite and below 2^53 (exact as a
    float); None otherwise (a fraction, or a count whose digits a float would round)."""
    values = column.to_numpy(zero_copy_only=False)
    null = column.is_null().to_numpy(zero_copy_only=False) if column.null_count else None
    given = values if null is None else values[~null]  # (a JSON NaN is a value, and not whole)
    if not (np.all(np.abs(given) < _EXACT) and np.all(given == np.trunc(given))):
        return None
    return pa.array(np.nan_to_num(values).astype(np.int64), pa.int64(), mask=null)


def _plain_amounts(column: pa.Array) -> bool:
    """Amounts whose checks pass as numbers: finite, not negative, below the limit (or absent)."""
    if column.null_count == len(column):
        return True
    if not pc.all(pc.is_finite(column)).as_py():  # (NaN is not finite; min_max would skip it)
        return False
    low, high = (value.as_py() for value in pc.min_max(column).values())
    return low >= 0 and high < AMOUNT_LIMIT


def _negative_zeros(column: pa.Array) -> bool:
    """Whether a number column holds a -0.0: written -0 it is 0, but -1e-400 is a negative number that
    the parser rounded (the line reader, which keeps the text, tells them apart)."""
    values = column.to_numpy(zero_copy_only=False)
    return bool(((values == 0) & np.signbit(values)).any())


def _holds_odd_numbers(block: bytes) -> bool:
    """Whether a line may hold `Inf`, `-Inf` or `-NaN` as a value (Arrow reads them, json.loads does not):
    a memchr for I and N first (most files have neither), then a search of the lines around each find."""
    for letter, word in ((b"I", b"Inf"), (b"N", b"-NaN")):
        if letter not in block:
            continue
        position = block.find(word)
        while position >= 0:
            line_end = block.find(b"\n", position)
            line = block[block.rfind(b"\n", 0, position) + 1 : line_end if line_end >= 0 else len(block)]
            if _NOT_JSON_NUMBER.search(line):
                return True
            position = block.find(word, line_end) if line_end >= 0 else -1
    return False


def _rows_of(block: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Each row's (non-blank line's) index among the block's lines, start and end; None where some
    line must be read by json.loads to be read as it reads it (checked before Arrow parses)."""
    starts, ends = _line_bounds(block)
    data = np.frombuffer(block, dtype=np.uint8)
    filled = ends > starts
    # a line that does not start with "{": blank, an indented object, or one json.loads refuses that
    # Arrow would take (a top-level null, a byte order mark; a `null` first in a block crashes Arrow)
    first = np.full(len(starts), ord("{"), dtype=np.uint8)
    first[filled] = data[starts[filled]]
    for index in np.flatnonzero(first != ord("{")).tolist():
        text = block[starts[index] : ends[index]].strip(b" \t\r")
        if text and not text.startswith(b"{"):
            return None
        filled[index] = bool(text)
    # a long line may nest deeper than json.loads can, or hold an integer longer than Python reads
    for index in np.flatnonzero(ends - starts > _LONG_LINE).tolist():
        line = block[starts[index] : ends[index]]
        if line.count(b"[") + line.count(b"{") >= _DEEP or (len(line) > 4300 and _LONG_DIGITS.search(line)):
            return None
    return np.flatnonzero(filled), starts[filled], ends[filled]


def _by_arrow(path: str, block: bytes, first_line: int) -> Chunk | None:
    """The block's chunk parsed by Arrow, or None where Arrow would not read it as json.loads does."""
    if b"\r" in block and block.count(b"\r") != block.count(b"\r\n"):
        return None  # a lone CR ends a line for Python's reader, not for Arrow's
    if not block.isascii():
        try:
            block.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if _holds_odd_numbers(block):
        return None
    rows = _rows_of(block)
    if rows is None:
        return None
    indices, starts, ends = rows
    try:
        table = pajson.read_json(pa.BufferReader(block), read_options=_READ, parse_options=_PARSE)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):
        return None
    if table.num_rows != len(indices):
        return None  # a line held two objects: json.loads refuses the line
    columns = {name: table.column(name).combine_chunks() for name in table.column_names}
    if not all(_plain_amounts(columns[name]) for name in _AMOUNTS) or any(
            _negative_zeros(columns[name]) for name in (*_AMOUNTS, *TOKEN_COLUMNS)):
        return None
    for name in TOKEN_COLUMNS:
        columns[name] = _whole_counts(columns[name])
        if columns[name] is None:
            return None
    if kept_rows(columns) is not None:
        return None  # an object with nothing in the events columns: the line reader sees whether it holds other keys
    return to_chunk(RawTable(columns, first_line + indices, path, _BlockLines(block, starts, ends)),
                    rows_read=len(indices))


def _blocks(handle, chunk_rows: int) -> Iterator[tuple[int, bytes | None, int]]:
    """The file as blocks of whole lines: (offset, bytes, LFs), about _BLOCK_BYTES and at most `chunk_rows`
    lines each; (offset, None, 0) where lone CRs end lines, from which the file is read as text."""
    for offset, block in line_blocks(handle, _BLOCK_BYTES):
        if block is None:
            yield offset, None, 0
            return
        breaks = block.count(b"\n")
        if breaks > chunk_rows:  # (small rows, or a small chunk_rows) cut after every chunk_rows-th line
            ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 0x0A)[chunk_rows - 1 :: chunk_rows] + 1
            start = 0
            for end in ends.tolist():
                yield offset + start, block[start:end], chunk_rows
                start = end
            block, breaks, offset = block[start:], breaks - chunk_rows * len(ends), offset + start
        if block:
            yield offset, block, breaks


def _text_chunks(path: str, handle, offset: int, first_line: int, chunk_rows: int) -> Iterator[Chunk]:
    """The file from `offset` on read as text (LF, CRLF and a lone CR end lines), `chunk_rows` lines a chunk."""
    handle.seek(offset)
    text = io.TextIOWrapper(handle, encoding="utf-8-sig" if offset == 0 else "utf-8", errors="surrogateescape",
                            newline=None)
    while lines := list(itertools.islice(text, chunk_rows)):
        chunk, count = _lines_chunk(path, lines, first_line)
        first_line += count
        yield chunk
    text.detach()  # (the caller closes the file)


def read_jsonl(path: str, chunk_rows: int) -> Iterator[Chunk]:
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise ConnectorError(f"{path}: cannot read the file: {exc}") from None
    with handle:
        line = 1
        try:
            for offset, block, breaks in _blocks(handle, chunk_rows):
                if block is None:  # lone CRs end lines from here on
                    chunks = _text_chunks(path, handle, offset, line, chunk_rows)
                else:
                    if offset == 0 and block.startswith(b"\xef\xbb\xbf"):
                        block = block[3:]  # a byte order mark is not part of the first line
                    count = breaks + (0 if block.endswith(b"\n") else 1)  # its lines (the last may lack its LF)
                    chunk = _by_arrow(path, block, line)
                    if chunk is None:
                        chunk, count = _line_by_line(path, block, line)
                    line += count
                    chunks = [chunk]
                for chunk in chunks:
                    # hashed here, in the reading thread, so deduplication in the caller's thread is cheap
                    chunk.id_hashes = hash_strings(chunk.frame.column("event_id"))
                    if chunk.rows_read or chunk.rejects:  # (a block of blank lines holds no rows)
                        yield chunk
        except OSError as exc:
            raise ConnectorError(f"{path}: cannot read the file: {exc}") from None
