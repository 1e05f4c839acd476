"""What an events CSV needs before Arrow reads it, and the careful reader for files Arrow cannot.

`scan` reads the file once (UTF-8 is validated here, so Arrow never meets bad bytes) and says
whether some line holds an odd number of quotes. Arrow is fast but, given such a line, takes
the following lines into one quoted field, so those files are read by `read_lines` instead:
records are put together from physical lines while a quote is open, and a record that spans
several lines and fails (wrong field count, a quote open to the end, a line of its own inside
a value, a value the checks refuse) is read again line by line, so that each good line is
counted and each bad one quarantined with its own line number.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from ..domain import DIMENSIONS
from ..errors import ConnectorError
from ..string_hashes import hash_strings
from .base import Chunk, Reject
from .event_columns import RawTable, to_chunk

_DICTIONARY = pa.dictionary(pa.int32(), pa.string())
BLOCK_BYTES = 8 << 20  # read at a time by the scan
_QUOTE, _LF, _CR = ord('"'), ord("\n"), ord("\r")
MAX_RECORD_LINES = 1_000  # a quoted value spanning more lines than this is taken for a stray quote
_MAX_HEADER = 1 << 20


@dataclass(slots=True)
class Scan:
    quotes: bool = False  # a quote character after the header
    odd_line: bool = False  # some line holds an odd number of quotes: a value may span lines


def read_header(path: str) -> str:
    """The first line (ended by LF, CRLF or a lone CR), without its BOM."""
    try:
        with open(path, "rb") as handle:
            first = handle.read(_MAX_HEADER)
    except OSError as exc:
        raise ConnectorError(f"{path}: cannot read the file: {exc}") from None
    cut = [index for index in (first.find(b"\n"), first.find(b"\r")) if index >= 0]
    if not cut and len(first) == _MAX_HEADER:
        raise ConnectorError(f"{path}: line 1: no line break in the first MB: not a CSV file of events")
    line = first[: min(cut)] if cut else first
    try:
        return line.decode("utf-8-sig").strip()
    except UnicodeDecodeError as exc:
        raise ConnectorError(f"{path}: line 1: not UTF-8 text (byte 0x{line[exc.start]:02x}); save the file as UTF-8") from None


def scan(path: str, block_bytes: int = BLOCK_BYTES) -> Scan:
    """One pass over the file, `block_bytes` at a time: UTF-8 checked (ConnectorError naming the line), quotes found."""
    found = Scan()
    carry = b""
    header = True
    offset = 0  # of `data` in the file
    parity = 0  # of the quotes in the line the last block ended in
    try:
        with open(path, "rb") as handle:
            block = handle.read(block_bytes)
            while block:
                following = handle.read(block_bytes)
                data = carry + block if carry else block
                carry = b""
                if not data.isascii():
                    try:
                        data.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        if exc.reason == "unexpected end of data" and following:  # a character cut by the block
                            carry, data = data[exc.start :], data[: exc.start]
                        else:
                            line = _line_at(path, offset + exc.start)
                            raise ConnectorError(f"{path}: line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x});"
                                                 " save the file as UTF-8") from None
                start = 0
                if header:
                    ends = [index for index in (data.find(b"\n"), data.find(b"\r")) if index >= 0]
                    start = min(ends) if ends else len(data)
                    header = not ends
                if b'"' in (data[start:] if start else data):
                    found.quotes = True
                    if not found.odd_line:
                        found.odd_line, parity = _odd_line(data, start, parity, last=not following)
                elif parity and (not following or b"\n" in data or b"\r" in data):
                    found.odd_line = True  # the line the last block ended in ends here, its quotes odd
                offset += len(data)
                block = following
    except OSError as exc:
        raise ConnectorError(f"{path}: cannot read the file: {exc}") from None
    return found


def _line_at(path: str, position: int) -> int:
    """The line holding the byte at `position` (read again: only to name a line in an error)."""
    line = 1
    ended_cr = False
    with open(path, "rb") as handle:
        while position > 0:
            data = handle.read(min(BLOCK_BYTES, position))
            if not data:
                break
            line += _breaks(data) - (ended_cr and data.startswith(b"\n"))  # a CRLF cut by the blocks
            ended_cr = data.endswith(b"\r")
            position -= len(data)
    return line


def _breaks(data: bytes) -> int:
    """Line breaks in `data`: LF, CRLF, or a lone CR."""
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


def _odd_line(data: bytes, start: int, parity: int, last: bool) -> tuple[bool, int]:
    """Whether a line of `data[start:]` has an odd number of quotes, counting `parity` for the line the
    previous block ended in; and the parity of the line this block ends in (unless `last`)."""
    view = np.frombuffer(data, dtype=np.uint8)[start:]
    quotes = np.cumsum(view == _QUOTE)
    breaks = np.flatnonzero((view == _LF) | (view == _CR))
    if not len(breaks):
        tail = (parity + int(quotes[-1])) % 2 if len(quotes) else parity
        return bool(last and tail), tail
    per_line = np.diff(quotes[breaks], prepend=0)
    per_line[0] += parity
    tail = int(quotes[-1] - quotes[breaks[-1]]) % 2
    return bool((per_line % 2).any() or (last and tail)), tail


# ------------------------------------------------------------------ the careful reader


def physical_lines(path: str) -> Iterator[tuple[int, str]]:
    """(line number, text without its line break); LF, CRLF and lone CR end a line, as Arrow reads them."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        for number, text in enumerate(handle, start=1):
            yield number, text.rstrip("\r\n")


def _split(text: str) -> list[str] | None:
    try:
        return next(csv.reader([text], strict=True), [])
    except csv.Error:
        return None


def _line_alone(number: int, text: str, width: int, path: str) -> tuple[int, str, list[str]] | Reject:
    fields = _split(text)
    if fields is not None and len(fields) == width:
        return number, text, fields
    found = "an unbalanced quote" if fields is None else str(len(fields))
    return Reject(path, number, f"expected {width} columns, found {found}", text[:2000])


def _inner_line_break(fields: list[str]) -> bool:
    """A value holding a line break followed by a delimiter: most likely a stray quote took whole rows in."""
    return any("\n" in value and "," in value[value.index("\n"):] for value in fields)


def records(path: str, width: int, quote_free: bool = False) -> Iterator[tuple[int, int, str, list[str] | None] | Reject]:
    """Records of the file after its header: (first line, lines spanned, text, fields), or a Reject for a
    line that cannot be read. A record spanning lines that fails is given back line by line. Empty
    lines are skipped (a record of empty fields is skipped later, as Arrow's reader does).

    `quote_free`: a line without a quote outside a record is given as (line, 0, text, None), for Arrow
    to split (read_lines): it is a record of its own, read as in a file where no value spans lines."""
    lines = physical_lines(path)
    next(lines, None)  # the header
    held: list[tuple[int, str]] = []
    quotes = 0

    def alone(taken: list[tuple[int, str]]) -> Iterator[tuple[int, int, str, list[str]] | Reject]:
        for number, text in taken:
            if text:
                found = _line_alone(number, text, width, path)
                yield found if isinstance(found, Reject) else (found[0], 1, found[1], found[2])

    for number, text in lines:
        if not held and (not text or (quote_free and '"' not in text)):
            if text:
                yield number, 0, text, None
            continue
        held.append((number, text))
        quotes += text.count('"')
        if quotes % 2 and len(held) < MAX_RECORD_LINES:
            continue  # a quoted value goes on on the next line
        if len(held) == 1:
            yield from alone(held)
        else:
            joined = "\n".join(part for _, part in held)
            fields = _split(joined) if quotes % 2 == 0 else None
            if fields is not None and len(fields) == width and not _inner_line_break(fields):
                yield held[0][0], len(held), joined, fields
            else:
                yield from alone(held)
        held, quotes = [], 0
    yield from alone(held)  # a quote still open at the end of the file


def convert_options(names: list[str], wanted: list[str], dictionaries: bool = True) -> pacsv.ConvertOptions:
    """How Arrow turns an events CSV's fields into columns: text (blank = null), dimensions and the
    outcome as dictionaries (small codes, not a string per row) unless `dictionaries` is False."""
    label = _DICTIONARY if dictionaries else pa.string()
    return pacsv.ConvertOptions(
        column_types={name: label if name in DIMENSIONS or name == "outcome" else pa.string() for name in names},
        include_columns=wanted,
        strings_can_be_null=True,
        null_values=[""],
        quoted_strings_can_be_null=True,
    )


def _split_by_arrow(path: str, names: list[str], wanted: list[str], lines: list[int], texts: list[str]
                    ) -> tuple[dict[str, pa.Array], np.ndarray, list[str], list[Reject]]:
    """Quote-free lines split by Arrow: their columns, lines and texts (blank-line twins left out),
    and a Reject for each line with the wrong number of fields."""
    invalid: list[int] = []
    found: list[int] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append(int(row.number) - 1)
        found.append(row.actual_columns)
        return "skip"

    table = pacsv.read_csv(
        pa.BufferReader("\n".join(texts).encode("utf-8", "surrogateescape")),
        read_options=pacsv.ReadOptions(use_threads=False, column_names=names),
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=False),
        convert_options=convert_options(names, wanted, dictionaries=False),
    )
    width = len(names)
    rejects = [Reject(path, lines[index], f"expected {width} columns, found {count}", texts[index][:2000])
               for index, count in zip(invalid, found, strict=True)]
    kept = np.ones(len(lines), dtype=bool)
    kept[invalid] = False
    rows = np.flatnonzero(kept)
    columns = {name: table.column(name).combine_chunks() for name in wanted}
    blank = np.ones(len(rows), dtype=bool)
    for column in columns.values():
        blank &= column.is_null().to_numpy(zero_copy_only=False)
    if blank.any():  # a line of nothing but commas is a blank line's twin: not a row
        keep = pa.array(~blank)
        columns = {name: column.filter(keep) for name, column in columns.items()}
        rows = rows[~blank]
    return columns, np.asarray(lines, dtype=np.int64)[rows], [texts[index] for index in rows.tolist()], rejects


def read_lines(path: str, names: list[str], wanted: list[str], chunk_rows: int,
               arrow: bool = True) -> Iterator[Chunk]:
    """The events of a CSV that Arrow cannot be trusted with as a whole, read record by record (exact).

    With `arrow`, the lines without a quote (most lines, in most files) are split by Arrow a chunk
    at a time, and only the others record by record; the rows of a chunk are put in line order."""
    positions = [names.index(name) for name in wanted]
    width = len(names)
    pending: list[tuple[int, int, str, list[str]]] = []
    rejects: list[Reject] = []
    plain_lines: list[int] = []
    plain_texts: list[str] = []

    def chunk_of(rows: list[tuple[int, int, str, list[str]]], found: list[Reject],
                 lines: list[int] | None = None, texts: list[str] | None = None) -> Iterator[Chunk]:
        columns = {name: pa.array([row[3][position] or None for row in rows], pa.string())
                   for name, position in zip(wanted, positions, strict=True)}
        numbers = np.array([row[0] for row in rows], dtype=np.int64)
        raw = [row[2] for row in rows]
        read = len(rows) + len(found)
        if lines:
            split, split_lines, split_texts, split_rejects = _split_by_arrow(path, names, wanted, lines, texts)
            found = found + split_rejects
            read += len(split_lines) + len(split_rejects)
            numbers = np.concatenate([numbers, split_lines])
            order = np.argsort(numbers, kind="stable")
            order_array = pa.array(order)
            columns = {name: pa.concat_arrays([columns[name], split[name]]).take(order_array) for name in wanted}
            if rows:
                both = raw + split_texts
                raw = [both[index] for index in order.tolist()]
            else:
                raw = split_texts
            numbers = numbers[order]
        table = RawTable(columns, numbers, path, raw)
        chunk = to_chunk(table, rows_read=read)
        spans = {row[0]: row for row in rows if row[1] > 1}
        again = [spans[reject.line] for reject in chunk.rejects if reject.line in spans]
        if again:
            # a record over several lines that the checks refuse: its lines are read again one by one
            failed = {row[0] for row in again}
            chunk.rejects = [reject for reject in chunk.rejects if reject.line not in failed]
            chunk.rows_read -= len(again)
        chunk.rejects = sorted(found + chunk.rejects, key=lambda reject: reject.line or 0)
        chunk.id_hashes = hash_strings(chunk.frame.column("event_id"))
        yield chunk
        if again:
            alone_rows, alone_rejects = [], []
            for first, _span, text, _ in again:
                for offset, part in enumerate(text.split("\n")):
                    found_line = _line_alone(first + offset, part, width, path) if part else None
                    if isinstance(found_line, Reject):
                        alone_rejects.append(found_line)
                    elif found_line and any(found_line[2][position] for position in positions):
                        alone_rows.append((found_line[0], 1, found_line[1], found_line[2]))
            yield from chunk_of(alone_rows, alone_rejects)

    try:
        for found in records(path, width, quote_free=arrow):
            if isinstance(found, Reject):
                rejects.append(found)
            elif found[3] is None:
                plain_lines.append(found[0])
                plain_texts.append(found[2])
            elif any(found[3][position] for position in positions):
                pending.append(found)  # (a record whose columns read are all empty is a blank line)
            if len(pending) + len(rejects) + len(plain_lines) >= chunk_rows:
                yield from chunk_of(pending, rejects, plain_lines, plain_texts)
                pending, rejects, plain_lines, plain_texts = [], [], [], []
    except (OSError, UnicodeDecodeError) as exc:
        raise ConnectorError(f"{path}: cannot read the file: {exc}") from None
    if pending or rejects or plain_lines:
        yield from chunk_of(pending, rejects, plain_lines, plain_texts)
