"""Parquet files of events: the same columns and rules as a CSV file, read in chunks.

pyarrow reads `chunk_rows` rows at a time (memory follows the chunk, not the file); each
batch becomes the text-like columns a CSV chunk has and goes through the same checks
(event_columns.to_chunk). A row's place is its index in the file, from 0.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..domain import AMOUNT_LIMIT, DIMENSIONS
from ..errors import ConnectorError
from ..string_hashes import hash_strings
from .base import Chunk, arrow_input
from .event_columns import (
    EVENT_COLUMNS,
    REQUIRED_COLUMNS,
    TOKEN_COLUMNS,
    RawTable,
    kept_rows,
    to_chunk,
)

_AMOUNTS = ("cost_usd", "human_review_minutes")
_WHOLE_LIMIT = 1e18  # a whole float below this is a count (int64 holds it exactly)
# pyarrow by default reads ahead every row group it is asked for (pre_buffer) and each column chunk whole:
# memory would follow the file. Read in 1 MiB pieces instead: the same speed, memory follows the chunk.
# A page that carries a checksum is checked against it: a damaged value is refused, not read.
_READING = {"pre_buffer": False, "buffer_size": 1 << 20, "page_checksum_verification": True}


def _kind(value_type: pa.DataType) -> str | None:
    """What a column of this type holds, None when it is not a single value (a list, a struct, bytes...)."""
    if pa.types.is_dictionary(value_type):
        return _kind(value_type.value_type)
    if isinstance(value_type, pa.UuidType):
        return "uuid"
    if isinstance(value_type, pa.BaseExtensionType):  # (JSON text, say): what it is stored as
        return _kind(value_type.storage_type)
    for kind, test in (("text", pa.types.is_string), ("text", pa.types.is_large_string),
                       ("text", pa.types.is_string_view), ("text", pa.types.is_binary_view),
                       ("text", pa.types.is_binary), ("text", pa.types.is_large_binary),  # (text unmarked as such)
                       ("integer", pa.types.is_integer), ("float", pa.types.is_floating),
                       ("decimal", pa.types.is_decimal), ("boolean", pa.types.is_boolean),
                       ("timestamp", pa.types.is_timestamp), ("date", pa.types.is_date),
                       ("null", pa.types.is_null)):
        if test(value_type):
            return kind
    return None


def _schema(path: str) -> tuple[pq.ParquetFile, list[str], list[str]]:
    """The open file, the events columns it has as the file names them, and their names trimmed
    of surrounding spaces, as a CSV header's are (ConnectorError when it cannot be read as events)."""
    try:
        handle = pq.ParquetFile(arrow_input(path), **_READING)
        schema = handle.schema_arrow
    except (pa.ArrowException, OSError, ValueError) as exc:  # (a damaged footer: UnicodeDecodeError)
        raise ConnectorError(f"{path}: cannot read as Parquet: {exc}") from None
    names = [name.strip() for name in schema.names]
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        handle.close(force=True)  # (and its file, when it was given open)
        raise ConnectorError(f"{path}: the file lacks {', '.join(missing)} (found: {', '.join(names)[:200]})")
    twice = sorted({name for name in names if name in EVENT_COLUMNS and names.count(name) > 1})
    if twice:
        handle.close(force=True)  # (and its file, when it was given open)
        raise ConnectorError(f"{path}: the file names {', '.join(twice)} more than once")
    fields = [(field, name) for field, name in zip(schema, names, strict=True) if name in EVENT_COLUMNS]
    for field, name in fields:
        if _kind(field.type) is None:
            handle.close(force=True)  # (and its file, when it was given open)
            raise ConnectorError(f"{path}: column {name} is of type {field.type}, not a value "
                                 "(expected text, a number, a boolean, a date or a timestamp)")
    wanted = [field.name for field, _ in fields]
    names = [name for _, name in fields]
    labels = [field.name for field, name in fields if (name in DIMENSIONS or name == "outcome")
              and any(test(field.type) for test in (pa.types.is_string, pa.types.is_large_string,
                                                    pa.types.is_binary, pa.types.is_large_binary))]
    if labels:  # dimensions read straight into dictionaries: small codes, not a string per row
        handle.close(force=True)  # (and its file, when it was given open)
        try:
            handle = pq.ParquetFile(arrow_input(path), read_dictionary=labels, **_READING)
        except (pa.ArrowException, OSError, ValueError) as exc:  # (a damaged footer: UnicodeDecodeError)
            raise ConnectorError(f"{path}: cannot read as Parquet: {exc}") from None
    return handle, wanted, names


def _text(column: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if isinstance(column.type, pa.UuidType):
        return _uuid_text(column.storage)
    if isinstance(column.type, pa.BaseExtensionType):
        column = column.storage
    return column.cast(pa.string())


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_UUID_DIGITS = [i for i in range(36) if i not in (8, 13, 18, 23)]  # where a UUID's 32 hex digits go


def _uuid_text(column: pa.FixedSizeBinaryArray) -> pa.Array:
    """UUIDs (16 bytes each) as their canonical text, 8-4-4-4-12 lower-case hex digits."""
    count = len(column)
    raw = np.frombuffer(column.buffers()[1], dtype=np.uint8)[column.offset * 16 : (column.offset + count) * 16]
    raw = raw.reshape(count, 16)
    text = np.full((count, 36), ord("-"), dtype=np.uint8)
    digits = np.empty((count, 32), dtype=np.uint8)
    digits[:, 0::2], digits[:, 1::2] = _HEX[raw >> 4], _HEX[raw & 15]
    text[:, _UUID_DIGITS] = digits
    strings = pa.FixedSizeBinaryArray.from_buffers(pa.binary(36), count, [None, pa.py_buffer(text.tobytes())])
    return pc.if_else(column.is_valid(), strings.cast(pa.binary()).cast(pa.string()), pa.scalar(None, pa.string()))


def _count(column: pa.Array) -> pa.Array:
    """A token column: integers as they are, a whole float as that number (as in JSON Lines), else text."""
    kind = _kind(column.type)
    if kind == "integer" and not pa.types.is_dictionary(column.type):
        return column.cast(pa.int64()) if not pa.types.is_uint64(column.type) else _text(column)
    if kind == "decimal":  # a whole amount such as 5.00 is that count; 5.50 stays as it is and is no count
        return pc.replace_substring_regex(_text(column), r"\.0+$", "")
    if kind != "float":
        return _text(column)
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(values) & (values == np.trunc(values)) & (np.abs(values) < _WHOLE_LIMIT)
    present = column.is_valid().to_numpy(zero_copy_only=False)
    if whole[present].all():
        return pa.array(np.where(whole, values, 0).astype(np.int64), pa.int64(), mask=~present)
    as_whole = pa.array(np.where(whole, values, 0).astype(np.int64)).cast(pa.string())
    return pc.if_else(pa.array(whole), as_whole, column.cast(pa.string()))


def _amount(column: pa.Array) -> pa.Array:
    """cost_usd or human_review_minutes: a double (or a float16, exactly) keeps its value, and so do
    integers when every one of the chunk's is an accepted amount (then a double holds each exactly);
    the rest reads as its text, as in the CSV twin: a decimal (Arrow's cast to a double is not
    correctly rounded: 0.1 would be 0.09999999999999999), a float32 (0.1 as written, not
    0.10000000149011612), and integers of a chunk holding one out of range, so that a rejected
    value is quoted as written (`5000000000000`, not `5e+12`) whatever else its chunk holds."""
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_float64(column.type) or pa.types.is_float16(column.type):
        return column.cast(pa.float64())
    if _kind(column.type) == "integer" and not pa.types.is_uint64(column.type):
        wide = column.cast(pa.int64())
        low, high = (value.as_py() for value in pc.min_max(wide).values())
        if low is None or (low >= 0 and high < AMOUNT_LIMIT):
            return wide.cast(pa.float64())
    return _text(column)


def _label(column: pa.Array) -> pa.Array:
    """A dimension or the outcome: dictionaries of text stay dictionaries (small codes), the rest is text."""
    if pa.types.is_dictionary(column.type) and _kind(column.type.value_type) == "text":
        return pa.DictionaryArray.from_arrays(column.indices, column.dictionary.cast(pa.string()))
    return _text(column)


def _column(name: str, column: pa.Array) -> pa.Array:
    if name in TOKEN_COLUMNS:
        return _count(column)
    if name in _AMOUNTS:
        return _amount(column)
    if name in DIMENSIONS or name == "outcome":
        return _label(column)
    if name == "ts" and pa.types.is_timestamp(column.type) and column.type.tz is not None:
        return column  # an instant: used as it is (a timestamp without a zone is read as its text)
    return _text(column)


def _int96_ts(handle: pq.ParquetFile, wanted: list[str], names: list[str]) -> bool:
    """Whether ts is stored as INT96: Spark's default for timestamps, UTC by convention, which pyarrow
    reads as a timestamp without a zone."""
    stored = {column.path: column.physical_type for column in map(handle.schema.column, range(len(handle.schema)))}
    return any(name == "ts" and stored.get(field) == "INT96" for field, name in zip(wanted, names, strict=True))


def _chunk(path: str, batch: pa.RecordBatch, names: list[str], first_row: int, ts_in_utc: bool = False) -> Chunk:
    read = list(batch.columns)
    if ts_in_utc:
        at = names.index("ts")
        if pa.types.is_timestamp(read[at].type) and read[at].type.tz is None:
            read[at] = read[at].cast(pa.timestamp(read[at].type.unit, "UTC"))  # (the same numbers, said to be UTC)
    columns = {name: _column(name, column) for name, column in zip(names, read, strict=True)}
    rows = np.arange(first_row, first_row + batch.num_rows, dtype=np.int64)
    # (the file's own columns judge what is blank: a row of nulls or empty texts is not a row)
    kept = kept_rows(dict(zip(names, batch.columns, strict=True)))
    if kept is not None:
        keep = pa.array(kept)
        columns = {name: column.filter(keep) for name, column in columns.items()}
        rows = rows[kept]
    chunk = to_chunk(RawTable(columns, rows, path), rows_read=len(rows))
    # hashed here, in the reading thread, so deduplication in the caller's thread is cheap
    chunk.id_hashes = hash_strings(chunk.frame.column("event_id"))
    return chunk


def read_parquet(path: str, chunk_rows: int) -> Iterator[Chunk]:
    """The file's rows in chunks of `chunk_rows`; a file that is not Parquet or lacks a column is refused whole."""
    handle, wanted, names = _schema(path)
    ts_in_utc = _int96_ts(handle, wanted, names)
    first_row = 0
    try:
        for batch in handle.iter_batches(batch_size=chunk_rows, columns=wanted, use_threads=False):
            try:
                batch.validate(full=True)  # Parquet text is meant to be UTF-8; a file can break that
                chunk = _chunk(path, batch, names, first_row, ts_in_utc)  # (bytes become text here, checked as UTF-8)
            except pa.ArrowInvalid as exc:
                raise ConnectorError(f"{path}: rows {first_row} to {first_row + batch.num_rows - 1}: cannot be read: {exc}") from None
            yield chunk
            first_row += batch.num_rows
        if first_row != handle.metadata.num_rows:  # (a damaged page can end the batches early, silently)
            raise ConnectorError(f"{path}: cannot be read: the file holds {handle.metadata.num_rows} rows, but only"
                                 f" {first_row} could be read (the file is damaged)")
    except (pa.ArrowException, OSError, ValueError) as exc:  # (a damaged footer: UnicodeDecodeError)
        raise ConnectorError(f"{path}: cannot read as Parquet: {exc}") from None
    finally:
        handle.close(force=True)  # (and its file, when it was given open)
