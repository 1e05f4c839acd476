"""The `events` connector: CSV, JSON Lines or Parquet files of model calls and outcomes.

One file is one batch. Files stream in chunks, so memory follows the chunk
size, not the file size.
"""

from __future__ import annotations

import csv
import os
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from pydantic import Field

from ..config import RelPath
from ..errors import ConnectorError
from ..string_hashes import hash_strings
from .base import Chunk, ConnectorOptions, FileConnector, Reject, arrow_input, register
from .csv_lines import FileRows, LineTexts, convert_options, read_header, read_lines, scan
from .event_columns import EVENT_COLUMNS, REQUIRED_COLUMNS, RawTable, to_chunk, without_blank_rows
from .json_lines import read_jsonl
from .parquet_events import read_parquet

_BLOCK_BYTES = 1 << 20
_LONGEST_LINE = (1 << 31) - 1 - _BLOCK_BYTES  # Arrow's blocks (which hold a line) are sized in an int32
_DICTIONARY = pa.dictionary(pa.int32(), pa.string())


class EventsOptions(ConnectorOptions):
    path: RelPath = Field(description="A file or a glob of files, relative to the config's folder.")
    format: Literal["auto", "csv", "jsonl", "parquet"] = "auto"
    chunk_rows: int = Field(default=50_000, ge=1_000)


def _file_format(path: str, configured: str) -> str:
    if configured != "auto":
        return configured
    suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    return "csv"


def _line_numbers(first_row: int, count: int, invalid_lines: list[int], header_lines: int) -> np.ndarray:
    """File lines of emitted rows, knowing which lines the parser skipped."""
    rows = np.arange(first_row, first_row + count)
    if not invalid_lines:
        return rows + header_lines + 1
    invalid = np.asarray(invalid_lines)
    # valid rows that come before the i-th skipped line
    before = invalid - header_lines - 1 - np.arange(len(invalid))
    return rows + header_lines + 1 + np.searchsorted(before, rows, side="right")


def read_ahead(items: Iterator, depth: int = 1) -> Iterator:
    """Iterate `items` in a background thread, `depth` items ahead.

    Arrow and numpy release the GIL for their heavy work, so the producer's
    parsing and validation overlap with the consumer's work on two cores.
    """
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        slots.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            slots.put(exc)

    worker = threading.Thread(target=produce, name="roi-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def _columns(path: str, header: str) -> list[str]:
    """The header's names, trimmed; an events column named twice is refused, other names made unique."""
    try:
        names = [name.strip() for name in next(csv.reader([header], strict=True), [])]
    except csv.Error as exc:
        raise ConnectorError(f"{path}: line 1: cannot read the header ({exc}): {header[:200]!r}") from None
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        raise ConnectorError(f"{path}: line 1: the header lacks {', '.join(missing)} (found: {header[:200]!r})")
    twice = sorted({name for name in names if name in EVENT_COLUMNS and names.count(name) > 1})
    if twice:
        raise ConnectorError(f"{path}: line 1: the header names {', '.join(twice)} more than once")
    seen: set[str] = set()
    unique = []
    for index, name in enumerate(names):  # columns roi does not read may repeat: they are never read
        unique.append(name if name not in seen else f"{name} (column {index + 1})")
        seen.add(name)
    return unique


def read_csv(path: str, chunk_rows: int) -> Iterator[Chunk]:
    texts = LineTexts(path)  # a quarantined row's line as written
    try:
        yield from _read_csv(path, chunk_rows, texts)
    finally:
        texts.close()


def _read_csv(path: str, chunk_rows: int, texts: LineTexts) -> Iterator[Chunk]:
    try:
        if os.path.getsize(path) == 0:
            return  # an empty file (e.g. still being created) holds no rows yet
    except OSError as exc:
        raise ConnectorError(f"{path}: cannot read the file: {exc}") from None
    header, ended = read_header(path)
    names = _columns(path, header)
    if not ended:
        return  # the header alone, without a line break after it: no rows (Arrow would refuse the file)
    wanted = [name for name in names if name in EVENT_COLUMNS]
    scanned = scan(path)  # UTF-8 checked, so Arrow never meets bad bytes
    if scanned.odd_line or scanned.odd_quote:
        # a quoted value over several lines, or a stray quote: Arrow would take the lines after it
        # into one field, or read a quote otherwise than Python's csv, so the file is read record by record
        yield from read_lines(path, names, wanted, chunk_rows)
        return
    if scanned.longest_line > _LONGEST_LINE:
        raise ConnectorError(f"{path}: a line of {scanned.longest_line:,} bytes: longer than a CSV line may be (2 GiB)")
    source = arrow_input(path)
    try:
        yield from _arrow_chunks(path, source, names, wanted, scanned.longest_line, chunk_rows, texts)
    finally:
        if not isinstance(source, str):
            source.close()


def _arrow_chunks(path: str, source, names: list[str], wanted: list[str], longest_line: int, chunk_rows: int,
                  texts: LineTexts) -> Iterator[Chunk]:
    """A file no line of which holds an odd number of quotes, read by Arrow's CSV reader."""
    invalid: list[Reject] = []
    invalid_lines: list[int] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:  # called by the thread Arrow reads in
        line = int(row.number) if row.number is not None else None
        if line is not None:
            invalid_lines.append(line)
        if not row.text.strip():
            return "skip"  # a line of nothing but spaces is a blank line (as in JSON Lines), not a row
        invalid.append(
            Reject(path, line, f"expected {row.expected_columns} columns, found {row.actual_columns}", row.text[:2000])
        )
        return "skip"

    try:
        reader = pacsv.open_csv(
            source,
            # our own (trimmed) header names, so " ts " in a header still means ts
            read_options=pacsv.ReadOptions(
                use_threads=False, encoding="utf-8", column_names=names, skip_rows=1,
                # a block holds whole lines: a longer line than a block would refuse the file
                block_size=max(_BLOCK_BYTES, longest_line + _BLOCK_BYTES),
            ),
            # no line holds an odd number of quotes (scanned): no value spans lines, a record is a line
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=False),
            convert_options=convert_options(names, wanted),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        raise ConnectorError(f"{path}: cannot read as CSV: {exc}") from None
    emitted = 0
    pending: list[pa.RecordBatch] = []
    pending_rows = 0

    def flush() -> Chunk:
        nonlocal emitted, pending, pending_rows
        if pending:
            table = pa.Table.from_batches(pending).combine_chunks()
            columns = {name: table.column(name).combine_chunks() for name in table.column_names}
        else:
            columns = {name: pa.array([], pa.string()) for name in wanted}
        count = len(next(iter(columns.values())))
        lines = _line_numbers(emitted, count, invalid_lines, 1)
        emitted += count
        columns, kept = without_blank_rows(columns)
        row_lines = lines if kept is None else lines[kept]
        raw = RawTable(columns, row_lines, path, FileRows(texts, row_lines))
        rejects = invalid[:]  # (copied, then taken out: a reject Arrow adds meanwhile stays for the next chunk)
        del invalid[:len(rejects)]
        chunk = to_chunk(raw, rows_read=len(raw.lines) + len(rejects))
        # hashed here, in the reading thread, so deduplication in the caller's thread is cheap
        chunk.id_hashes = hash_strings(chunk.frame.column("event_id"))
        chunk.rejects = sorted(rejects + chunk.rejects, key=lambda reject: reject.line or 0)
        pending, pending_rows = [], 0
        return chunk

    try:
        for record_batch in read_ahead(reader):  # Arrow parses the next block meanwhile
            pending.append(record_batch)
            pending_rows += record_batch.num_rows
            if pending_rows >= chunk_rows:
                yield flush()
    except (pa.ArrowInvalid, OSError) as exc:
        raise ConnectorError(f"{path}: cannot read as CSV: {exc}") from None
    if pending or invalid:
        yield flush()


@register("events")
class EventsConnector(FileConnector):
    """Files in the events format (DESIGN section 3), matched by a path or glob."""

    Options = EventsOptions
    options: EventsOptions

    def shape(self, path: str) -> dict[str, Any]:
        return {**super().shape(path), "format": _file_format(path, self.options.format)}

    def read_file(self, path: str) -> Iterator[Chunk]:
        # parse and validate the next chunk in a thread while this one is deduplicated and summed
        file_format = _file_format(path, self.options.format)
        if file_format == "jsonl":
            return read_ahead(read_jsonl(path, self.options.chunk_rows))
        if file_format == "parquet":
            return read_ahead(read_parquet(path, self.options.chunk_rows))
        return read_ahead(read_csv(path, self.options.chunk_rows))
