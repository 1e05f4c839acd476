"""What an events CSV needs before Arrow reads it, and the careful reader for files Arrow cannot.

`scan` reads the file once (UTF-8 is validated here, so Arrow never meets bad bytes), measures
its longest line (Arrow's blocks must hold one) and says whether some line holds an odd number
of quotes, or a quote that is not where a plainly quoted field puts it (`a"b`, `"a"b`). Arrow is
fast but, given such a line, takes the following lines into one quoted field or reads the quote
leniently, so those files are read by `read_lines` instead:
records are put together from physical lines while a quote is open, and a record that spans
several lines and fails (wrong field count, a quote open to the end, a line of its own inside
a value, a value the checks refuse) is read again line by line, so that each good line is
counted and each bad one quarantined with its own line number. Only the quotes need that care:
a block of lines without one goes to Arrow whole, and so, a batch at a time, do the lines
without one in the other blocks (`tests/connectors/test_csv_records.py` holds both ways equal).
"""

from __future__ import annotations

import csv
import io
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from ..domain import DIMENSIONS
from ..errors import ConnectorError
from ..string_hashes import hash_strings
from .base import Chunk, Reject, line_blocks
from .event_columns import RawTable, to_chunk, without_blank_rows

_DICTIONARY = pa.dictionary(pa.int32(), pa.string())
BLOCK_BYTES = 8 << 20  # read at a time by the scan
_QUOTE, _LF, _CR = ord('"'), ord("\n"), ord("\r")
MAX_RECORD_LINES = 1_000  # a quoted value spanning more lines than this is taken for a stray quote
_MAX_HEADER = 1 << 20


@dataclass(slots=True)
class Scan:
    quotes: bool = False  # a quote character after the header
    odd_line: bool = False  # some line holds an odd number of quotes: a value may span lines
    # some quote is not where a plainly quoted field puts it (`a"b`, `"a"b`, `"a" ,`): Arrow would read
    # its line otherwise than Python's csv (leniently, or into the next lines), so the careful reader reads it
    odd_quote: bool = False
    longest_line: int = 0  # in bytes, without its line break; at least this long (exact beyond _LONG_LINE)


def read_header(path: str) -> tuple[str, bool]:
    """The first line (ended by LF, CRLF or a lone CR), without its BOM; and whether a line break
    ends it (a file of a header alone, without one, holds no rows)."""
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
        return line.decode("utf-8-sig").strip(), bool(cut)
    except UnicodeDecodeError as exc:
        raise ConnectorError(f"{path}: line 1: not UTF-8 text (byte 0x{line[exc.start]:02x}); save the file as UTF-8") from None


def scan(path: str, block_bytes: int = BLOCK_BYTES) -> Scan:
    """One pass over the file, `block_bytes` at a time: UTF-8 checked (ConnectorError naming the line), quotes
    found and checked, long lines measured."""
    found = Scan()
    carry = b""
    header = True
    offset = 0  # of `data` in the file
    pending = _Partial([])  # the line the last block ended in, so far
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
                body = data[start:] if start else data
                found.quotes = found.quotes or b'"' in body
                pending = _lines(found, pending, body, last=not following)
                offset += len(data)
                block = following
    except OSError as exc:
        raise ConnectorError(f"{path}: cannot read the file: {exc}") from None
    return found


_LONG_LINE = 1 << 19  # a stretch this long without a line break is looked at closely
_FIELD_EDGE = np.zeros(256, dtype=bool)
_FIELD_EDGE[[ord(","), _LF, _CR]] = True


@dataclass(slots=True)
class _Partial:
    """The start of a line that a block ended in: its length, and its bytes while they hold a quote (else
    only its last byte, all the quote check needs of it): a long line is never copied again and again."""

    parts: list[bytes]
    length: int = 0
    quoted: bool = False

    def add(self, data: bytes) -> None:
        if not data:
            return
        self.length += len(data)
        if self.quoted or b'"' in data:
            self.quoted = True
            self.parts.append(data)
        else:
            self.parts = [data[-1:]]


def _lines(found: Scan, pending: _Partial, body: bytes, last: bool) -> _Partial:
    """Measure the lines `body` ends (`pending`: the start of the first) and check their quotes (while
    the file may still go to Arrow); the start of the line it ends in, for the next block."""
    cut = max(body.rfind(b"\n"), body.rfind(b"\r")) + 1 if not last else len(body)
    if not cut:  # no line ends here
        found.longest_line = max(found.longest_line, pending.length + len(body))
        pending.add(body)
        return pending
    ends = [index for index in (body.find(b"\n"), body.find(b"\r")) if index >= 0]
    found.longest_line = max(found.longest_line, pending.length + (min(ends) if ends else len(body)))
    if any(body.find(b"\n", at, at + _LONG_LINE) < 0 and body.find(b"\r", at, at + _LONG_LINE) < 0
           for at in range(0, cut, _LONG_LINE)):  # (memchr finds a break at once in a file of short lines)
        view = np.frombuffer(body, dtype=np.uint8, count=cut)
        breaks = np.flatnonzero((view == _LF) | (view == _CR))
        if len(breaks) > 1:
            found.longest_line = max(found.longest_line, int(np.diff(breaks).max()) - 1)
        if last:
            found.longest_line = max(found.longest_line, cut - 1 - int(breaks[-1]) if len(breaks) else cut)
    if found.quotes and not (found.odd_line or found.odd_quote) and (pending.quoted or body.find(b'"', 0, cut) >= 0):
        _check_quotes(found, b"".join(pending.parts) + body[:cut])
    rest = _Partial([])
    rest.add(body[cut:])
    return rest


def _check_quotes(found: Scan, lines: bytes) -> None:
    """Whether one of these whole lines holds an odd number of quotes (a value may span lines), else
    whether a quote is not where a plainly quoted field puts it: an opening one first in its field, a
    closing one last, others doubled inside. Runs of quotes are read in order: a run of odd length opens
    or closes a quoted field, an even one inside it is its doubled quotes, and one of even length outside
    opens and closes (`""`, an empty value)."""
    view = np.frombuffer(lines, dtype=np.uint8)
    at = np.flatnonzero(view == _QUOTE)
    if not len(at):
        return
    counted = np.append(np.searchsorted(at, np.flatnonzero((view == _LF) | (view == _CR))), len(at))
    if (np.diff(counted, prepend=0) & 1).any():  # (the last "line": after the last break, at the end of a file)
        found.odd_line = True
        return
    first = np.empty(len(at), dtype=bool)
    first[0] = True
    np.not_equal(np.diff(at), 1, out=first[1:])
    runs = np.flatnonzero(first)
    starts = at[runs]
    odd = (np.diff(runs, append=len(at)) & 1).astype(bool)
    ends = at[np.append(runs[1:], len(at)) - 1] + 1  # one past each run
    inside = ((np.cumsum(odd, dtype=np.int64) - odd) & 1).astype(bool)  # a quoted field is open before the run
    before = view[starts - 1]  # (starts[0] - 1 may be -1: set below)
    if starts[0] == 0:
        before[0] = _LF  # the lines start a line
    after = view[np.minimum(ends, len(view) - 1)]
    if ends[-1] == len(view):
        after[-1] = _LF
    opening = ~inside
    closing = inside == odd  # an odd run inside, or an even one outside
    found.odd_quote = bool((opening & ~_FIELD_EDGE[before]).any() or (closing & ~_FIELD_EDGE[after]).any())


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


# ------------------------------------------------------------------ the careful reader


def physical_lines(path: str, offset: int = 0, first: int = 1) -> Iterator[tuple[int, str]]:
    """(line number, text without its line break), from the byte `offset` on, whose line is `first`;
    LF, CRLF and lone CR end a line, as Arrow reads them."""
    with open(path, "rb") as binary:
        binary.seek(offset)
        handle = io.TextIOWrapper(binary, encoding="utf-8-sig" if offset == 0 else "utf-8", newline="")
        for number, text in enumerate(handle, start=first):
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


# Python's csv reads a field of any length, as Arrow does (its default limit, 131,072 characters,
# had a longer value quarantined as "an unbalanced quote" by the careful reader alone)
csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
_LINE_BLOCK = 4 << 20  # bytes of whole lines that read_lines hands Arrow at once, when none holds a quote


def _line_blocks(path: str, chunk_rows: int) -> Iterator[tuple[int, bytes | int]] | None:
    """The file after its header as (first line, bytes of whole LF-ended lines): about _LINE_BLOCK bytes
    and at most `chunk_rows` lines each; where lone CRs end lines, (first line, the file offset there)
    and no more (the rest is read as text). None when the header itself does not end with LF or CRLF."""
    with open(path, "rb") as handle:
        header = handle.readline(_MAX_HEADER)
    if not header.endswith(b"\n") or b"\r" in header[:-2]:
        return None

    def blocks() -> Iterator[tuple[int, bytes | int]]:
        line = 2
        with open(path, "rb") as handle:
            handle.readline()
            for offset, block in line_blocks(handle, _LINE_BLOCK):
                if block is None:
                    yield line, offset
                    return
                pieces = [block]
                if block.count(b"\n") > chunk_rows:
                    ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == _LF)[chunk_rows - 1 :: chunk_rows] + 1
                    pieces = [block[start:end] for start, end in zip([0, *ends.tolist()], [*ends.tolist(), None], strict=True)]
                for piece in pieces:
                    if piece:
                        yield line, piece
                        line += piece.count(b"\n") + (not piece.endswith(b"\n"))

    return blocks()


def _lines_in(block: bytes, first: int) -> Iterator[tuple[int, str]]:
    """A block's lines as physical_lines gives them (LF, CRLF and a lone CR end a line)."""
    text = io.StringIO(block.decode("utf-8", "surrogateescape"), newline="")
    for number, line in enumerate(text, start=first):
        yield number, line.rstrip("\r\n")


def records(path: str, width: int, quote_free: bool = False, chunk_rows: int = 0
            ) -> Iterator[tuple[int, int, str | bytes, list[str] | None] | Reject]:
    """Records of the file after its header: (first line, lines spanned, text, fields), or a Reject for a
    line that cannot be read. Empty lines are skipped (a record of empty fields is skipped later, as
    Arrow's reader does).

    A record spanning lines that fails (a stray quote paired with a later one) gives back its first
    line alone, and its other lines are read again as if they came next: a valid value over lines
    among them is still a record (one stray quote costs its own line, whatever follows it).

    `quote_free`: what holds no quote outside a record is given for Arrow to split (read_lines), each
    line a record of its own, read as in a file where no value spans lines: a block of the file
    without a quote as (first line, -1, bytes, None), at most `chunk_rows` lines; and, elsewhere
    (blocks with a quote, and the text after a lone CR), a line without a quote as (line, 0, text, None)."""
    held: list[tuple[int, str]] = []
    quotes = 0
    again: deque[tuple[int, str]] = deque()  # lines to read (again, after a failed record's first line)

    def alone(taken: list[tuple[int, str]]) -> Iterator[tuple[int, int, str, list[str]] | Reject]:
        for number, text in taken:
            if text.strip():  # (a line of nothing but spaces is a blank line)
                found = _line_alone(number, text, width, path)
                yield found if isinstance(found, Reject) else (found[0], 1, found[1], found[2])

    def settle() -> Iterator[tuple[int, int, str, list[str]] | Reject]:
        """The held lines as one record, or else their first line alone and the others read again."""
        nonlocal held, quotes
        taken, even, held, quotes = held, quotes % 2 == 0, [], 0
        if len(taken) > 1:
            joined = "\n".join(part for _, part in taken)
            fields = _split(joined) if even else None
            if fields is not None and len(fields) == width and not _inner_line_break(fields):
                yield taken[0][0], len(taken), joined, fields
                return
        yield from alone(taken[:1])
        again.extendleft(reversed(taken[1:]))

    def drain() -> Iterator[tuple[int, int, str, list[str] | None] | Reject]:
        nonlocal quotes
        while again:
            number, text = again.popleft()
            if not held:
                if not text.strip():
                    continue  # a blank line (empty, or nothing but spaces)
                if quote_free and '"' not in text:
                    yield number, 0, text, None
                    continue
            held.append((number, text))
            quotes += text.count('"')
            if quotes % 2 and len(held) < MAX_RECORD_LINES:
                continue  # a quoted value goes on on the next line
            yield from settle()

    def step(number: int, text: str) -> Iterator[tuple[int, int, str, list[str] | None] | Reject]:
        again.append((number, text))
        yield from drain()

    blocks = _line_blocks(path, chunk_rows) if quote_free and chunk_rows else None
    if blocks is None:
        lines = physical_lines(path)
        next(lines, None)  # the header
        for number, text in lines:
            yield from step(number, text)
    else:
        for first, block in blocks:
            if isinstance(block, int):  # lone CRs end lines from this offset on: the rest as text
                for number, text in physical_lines(path, block, first):
                    yield from step(number, text)
            elif not held and b'"' not in block:
                yield first, -1, block, None
            else:
                for number, text in _lines_in(block, first):
                    yield from step(number, text)
    while held:  # a quote still open at the end of the file
        yield from settle()
        yield from drain()


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


def _split_by_arrow(path: str, names: list[str], wanted: list[str], data: bytes, lines: np.ndarray, text_of,
                    dictionaries: bool = False) -> tuple[dict[str, pa.Array], np.ndarray, list[Reject]]:
    """Lines without a quote split by Arrow, each line a record (`lines`: the file line of each;
    `text_of(i)`: the text of the i-th): the columns of the rows, which of the lines they are
    (blank-line twins left out), and a Reject for each line with the wrong number of fields.
    `dictionaries`: the dimensions as dictionaries, as the fast path reads them (a block's chunk is
    its own; lines merged with records put together in Python stay plain text)."""
    invalid: list[int] = []
    found: list[int] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append(int(row.number) - 2)  # (numbered from 1, after the empty first line put in front)
        found.append(row.actual_columns)
        return "skip"

    table = pacsv.read_csv(
        # an empty first line, skipped: Arrow drops a byte order mark that starts its input, and a line
        # may start with one (kept, as the careful reader keeps it); one block, however long a line is
        pa.BufferReader(b"\n" + data),
        read_options=pacsv.ReadOptions(use_threads=False, column_names=names, skip_rows=1, block_size=len(data) + 2),
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=False),
        convert_options=convert_options(names, wanted, dictionaries=dictionaries),
    )
    width = len(names)
    rejects = [Reject(path, int(lines[index]), f"expected {width} columns, found {count}", text[:2000])
               for index, count in zip(invalid, found, strict=True) if (text := text_of(index)).strip()]
    kept = np.ones(len(lines), dtype=bool)
    kept[invalid] = False
    rows = np.flatnonzero(kept)
    columns, kept = without_blank_rows({name: table.column(name).combine_chunks() for name in wanted})
    return columns, rows if kept is None else rows[kept], rejects


class _BlockTexts:
    """The text of a block's rows (by row), split into lines only when a check rejects one."""

    def __init__(self, block: bytes, rows: np.ndarray):
        self.block, self.rows, self.lines = block, rows, None

    def __getitem__(self, index: int) -> str:
        if self.lines is None:
            self.lines = [text for _, text in _lines_in(self.block, 0)]
        return self.lines[int(self.rows[index])]


_TEXT_BLOCK = 1 << 20  # bytes of whole lines LineTexts reads at once


class LineTexts:
    """A file's lines as written, by number, asked in increasing order (the quarantined rows of a file
    Arrow split, whose columns lost the row's quoting and the columns roi does not read): at most one
    pass over the file, as far as the last line asked, a block of whole lines at a time. None for a
    line it cannot give (in a block already passed, past the end, or after a lone CR: then lines split
    at LF are not the file's)."""

    def __init__(self, path: str):
        """Opens the file now, as its read starts: a file replaced under its name meanwhile (a
        rename over it) cannot give its lines for the file read."""
        try:
            self._handle = open(path, "rb")  # noqa: SIM115 - closed by close(), as the read ends
        except OSError:
            self._handle = None
        self._blocks: Iterator[tuple[int, bytes | None]] = iter(()) if self._handle is None else \
            line_blocks(self._handle, _TEXT_BLOCK)
        self._first, self._count = 1, 0  # the block's first line's number, and how many lines it holds
        self._block, self._lines = b"", None

    def __call__(self, number: int) -> str | None:
        while number >= self._first + self._count:
            _, block = next(self._blocks, (0, b""))
            if not block:  # the end, or a lone CR
                self._count = 0
                self._blocks = iter(())
                return None
            self._first += self._count
            self._block, self._lines = block, None
            self._count = block.count(b"\n") + (not block.endswith(b"\n"))
        if number < self._first:
            return None
        if self._lines is None:
            self._lines = [text for _, text in _lines_in(self._block, 0)]
        return self._lines[number - self._first]

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


class FileRows:
    """A chunk's rows as written (RawTable.raw), looked up by their lines only when one is quarantined."""

    def __init__(self, texts: LineTexts, lines: np.ndarray):
        self.texts, self.lines = texts, lines

    def __getitem__(self, index: int) -> str | None:
        return self.texts(int(self.lines[index]))


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

    def checked(rows: list[tuple[int, int, str, list[str]]], found: list[Reject],
                lines: list[int] | None, texts: list[str] | None) -> Chunk:
        """The records and quote-free lines of a chunk checked together, in line order."""
        columns = {name: pa.array([row[3][position] or None for row in rows], pa.string())
                   for name, position in zip(wanted, positions, strict=True)}
        numbers = np.array([row[0] for row in rows], dtype=np.int64)
        raw = [row[2] for row in rows]
        read = len(rows) + len(found)
        if lines:
            split, kept, split_rejects = _split_by_arrow(
                path, names, wanted, "\n".join(texts).encode("utf-8", "surrogateescape"), np.asarray(lines),
                texts.__getitem__)
            split_lines = np.asarray(lines, dtype=np.int64)[kept]
            split_texts = [texts[index] for index in kept.tolist()]
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
        chunk = to_chunk(RawTable(columns, numbers, path, raw), rows_read=read)
        chunk.rejects = sorted(found + chunk.rejects, key=lambda reject: reject.line or 0)
        return chunk

    def chunk_of(rows: list[tuple[int, int, str, list[str]]], found: list[Reject],
                 lines: list[int] | None = None, texts: list[str] | None = None) -> Iterator[Chunk]:
        chunk = checked(rows, found, lines, texts)
        spans = {row[0]: row for row in rows if row[1] > 1}
        failed = {reject.line for reject in chunk.rejects if reject.line in spans}
        if failed:
            # a record over several lines that the checks refuse: its lines are read again one by one,
            # and the chunk checked again with them in their places (the first of two equal ids wins)
            alone_rows, alone_rejects = [], []
            for first in sorted(failed):
                for offset, part in enumerate(spans[first][2].split("\n")):
                    found_line = _line_alone(first + offset, part, width, path) if part.strip() else None
                    if isinstance(found_line, Reject):
                        alone_rejects.append(found_line)
                    elif found_line and any(found_line[2][position] for position in positions):
                        alone_rows.append((found_line[0], 1, found_line[1], found_line[2]))
            rows = sorted([row for row in rows if row[0] not in failed] + alone_rows, key=lambda row: row[0])
            chunk = checked(rows, found + alone_rejects, lines, texts)
        chunk.id_hashes = hash_strings(chunk.frame.column("event_id"))
        yield chunk

    def block_chunk(first: int, block: bytes) -> Chunk:
        count = block.count(b"\n") + (not block.endswith(b"\n"))
        columns, rows, found = _split_by_arrow(path, names, wanted, block, first + np.arange(count),
                                               _BlockTexts(block, np.arange(count)).__getitem__, dictionaries=True)
        chunk = to_chunk(RawTable(columns, first + rows, path, _BlockTexts(block, rows)),
                         rows_read=len(rows) + len(found))
        chunk.rejects = sorted(found + chunk.rejects, key=lambda reject: reject.line or 0)
        chunk.id_hashes = hash_strings(chunk.frame.column("event_id"))
        return chunk

    try:
        for found in records(path, width, quote_free=arrow, chunk_rows=chunk_rows):
            if isinstance(found, Reject):
                rejects.append(found)
            elif found[1] == -1:  # a block of lines without a quote: after what came before it
                if pending or rejects or plain_lines:
                    yield from chunk_of(pending, rejects, plain_lines, plain_texts)
                    pending, rejects, plain_lines, plain_texts = [], [], [], []
                yield block_chunk(found[0], found[2])
                continue
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
