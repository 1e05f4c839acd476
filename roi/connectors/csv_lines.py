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

from ..errors import ConnectorError
from ..string_hashes import hash_strings
from .base import Chunk, Reject
from .event_columns import RawTable, to_chunk

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
    found = "an unbalanced quote" if fields is None else f"{len(fields)} columns"
    return Reject(path, number, f"expected {width} columns, found {found}", text[:2000])


def _inner_line_break(fields: list[str]) -> bool:
    """A value holding a line break followed by a delimiter: most likely a stray quote took whole rows in."""
    return any("\n" in value and "," in value[value.index("\n"):] for value in fields)


def records(path: str, width: int) -> Iterator[tuple[int, int, str, list[str]] | Reject]:
    """Records of the file after its header: (first line, lines spanned, text, fields), or a Reject for a
    line that cannot be read. A record spanning lines that fails is given back line by line. Empty
    lines are skipped (a record of empty fields is skipped later, as Arrow's reader does)."""
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
        if not held and not text:
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


def read_lines(path: str, names: list[str], wanted: list[str], chunk_rows: int) -> Iterator[Chunk]:
    """The events of a CSV that Arrow cannot be trusted with, read record by record (slow, exact)."""
    positions = [names.index(name) for name in wanted]
    width = len(names)
    pending: list[tuple[int, int, str, list[str]]] = []
    rejects: list[Reject] = []

    def chunk_of(rows: list[tuple[int, int, str, list[str]]], found: list[Reject]) -> Iterator[Chunk]:
        columns = {name: pa.array([row[3][position] or None for row in rows], pa.string())
                   for name, position in zip(wanted, positions, strict=True)}
        table = RawTable(columns, np.array([row[0] for row in rows], dtype=np.int64), path, [row[2] for row in rows])
        chunk = to_chunk(table, rows_read=len(rows) + len(found))
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
        for found in records(path, width):
            if isinstance(found, Reject):
                rejects.append(found)
            elif any(found[3][position] for position in positions):
                pending.append(found)  # (a record whose columns read are all empty is a blank line)
            if len(pending) + len(rejects) >= chunk_rows:
                yield from chunk_of(pending, rejects)
                pending, rejects = [], []
    except (OSError, UnicodeDecodeError) as exc:
        raise ConnectorError(f"{path}: cannot read the file: {exc}") from None
    if pending or rejects:
        yield from chunk_of(pending, rejects)
