"""From canonical event frames to daily cells: dedup, pricing, day bucketing, sums.

Pure pandas/numpy: no I/O. Memory follows the number of cells plus eight
bytes per distinct event id (for deduplication within a batch).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .connectors.base import Chunk
from .domain import CELL_METRICS, DIMENSIONS
from .pricing import Pricer
from .store import BatchResult

_WEIGHTS = np.random.default_rng(0x5EED).integers(0, 2**63, size=4096, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_LENGTH_MIX = np.uint64(0x9E3779B97F4A7C15)


def hash_strings(values: pd.Series | pa.Array | pa.ChunkedArray) -> np.ndarray:
    """64-bit hashes of strings, vectorised over the bytes of the Arrow buffer.

    A random-weight linear hash (sum of byte x weight[position]) mixed with the
    length: distinct ids collide with probability about 2**-57, and it costs a
    few numpy passes instead of a Python object per id.
    """
    array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    array = pc.cast(array, pa.large_string())
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    first, last = int(offsets[0]), int(offsets[-1])
    lengths = np.diff(offsets)
    if len(lengths) == 0:
        return np.zeros(0, dtype=np.uint64)
    data = np.frombuffer(array.buffers()[2], dtype=np.uint8)[first:last].astype(np.uint64) + np.uint64(1)
    starts = offsets[:-1] - first
    marker = np.zeros(len(data), dtype=np.int64)
    marker[starts[lengths > 0]] = starts[lengths > 0]
    position = np.arange(len(data), dtype=np.int64) - np.maximum.accumulate(marker)
    weights = _WEIGHTS[position % len(_WEIGHTS)]
    if len(position) and position.max() >= len(_WEIGHTS):
        # very long ids: later 4 KiB blocks get their own odd multiplier, so weights stay distinct
        weights = weights * (np.uint64(2) * (position // len(_WEIGHTS)).astype(np.uint64) + np.uint64(1))
    sums = np.add.reduceat(data * weights, np.minimum(starts, max(len(data) - 1, 0))) if len(data) else \
        np.zeros(len(lengths), dtype=np.uint64)
    sums = np.where(lengths > 0, sums, np.uint64(0))
    return sums ^ (lengths.astype(np.uint64) * _LENGTH_MIX)


class _SeenIds:
    """Hashes of event ids seen so far, as sorted arrays merged like a binary counter."""

    def __init__(self) -> None:
        self._levels: list[np.ndarray] = []

    def __contains_many(self, hashes: np.ndarray) -> np.ndarray:
        found = np.zeros(len(hashes), dtype=bool)
        for level in self._levels:
            at = np.searchsorted(level, hashes)
            at[at == len(level)] = 0
            found |= level[at] == hashes
        return found

    def admit(self, hashes: np.ndarray) -> np.ndarray:
        """Mask of hashes not seen before (first occurrence wins), then remember them."""
        unique, first = np.unique(hashes, return_index=True)
        fresh = np.zeros(len(hashes), dtype=bool)
        fresh[first] = True
        if self._levels:
            fresh &= ~self.__contains_many(hashes)
        new = hashes[fresh]
        new.sort()
        while self._levels and len(self._levels[-1]) <= len(new):
            new = np.sort(np.concatenate([self._levels.pop(), new]))
        self._levels.append(new)
        return fresh


_COUNTS = ("requests", "input_tokens", "output_tokens", "cached_input_tokens",
           "resolved", "escalated", "abandoned", "reopened")


def as_arrow(frame: pd.DataFrame | pa.Table) -> pa.Table:
    """A canonical frame as an Arrow table (connectors may hand in pandas)."""
    if isinstance(frame, pa.Table):
        return frame
    frame = frame.copy()
    if "ts" in frame:
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True).astype("datetime64[ns, UTC]")
    for name in DIMENSIONS:
        frame[name] = frame[name].fillna("").astype(str) if name in frame else ""
    for name in _COUNTS:
        frame[name] = frame[name].fillna(0).astype(np.int64) if name in frame else 0
    frame["cost"] = frame["cost"].astype(np.float64) if "cost" in frame else np.nan
    frame["human_review_minutes"] = (
        frame["human_review_minutes"].fillna(0.0).astype(np.float64) if "human_review_minutes" in frame else 0.0
    )
    if "event_id" in frame:
        frame["event_id"] = frame["event_id"].astype(str)
    return pa.Table.from_pandas(frame, preserve_index=False)


def _numpy(table: pa.Table, name: str, dtype) -> np.ndarray:
    return table.column(name).to_numpy().astype(dtype, copy=False)


class CellBuilder:
    """Accumulates one batch's chunks into cells (Arrow compute in the hot path)."""

    def __init__(
        self, *, dimensions: tuple[str, ...], timezone: str, pricer: Pricer, reprice: bool = False,
        usd_rate: float = 1.0,
    ):
        self.usd_rate = usd_rate  # token costs arrive in USD; cells hold the service currency
        self.dimensions = dimensions
        self.timezone = timezone
        self.pricer = pricer
        self.reprice = reprice
        self.result = BatchResult()
        self._seen = _SeenIds()
        self._parts: list[pa.Table] = []

    def add(self, chunk: Chunk) -> None:
        self.result.rows_read += chunk.rows_read
        self.result.quarantined += len(chunk.rejects)
        table = as_arrow(chunk.frame)
        if table.num_rows and "event_id" in table.column_names:
            keep = self._seen.admit(hash_strings(table.column("event_id")))
            self.result.duplicates += int((~keep).sum())
            if not keep.all():
                table = table.filter(pa.array(keep))
        self.result.rows_stored += table.num_rows
        if table.num_rows:
            self._parts.append(self._cells(table))

    def _cells(self, table: pa.Table) -> pa.Table:
        count = table.num_rows
        requests = _numpy(table, "requests", np.int64)
        given = _numpy(table, "cost", np.float64)
        to_price = (requests > 0) & (np.isnan(given) | self.reprice)
        aggregated = "unpriced_requests" in table.column_names
        if aggregated:
            # pre-aggregated rows (sql) bring their own cost and unpriced count: a sum of calls
            # cannot be priced like one call (tiered prices), so they are never priced here
            to_price[:] = False
        priced, unpriced = self.pricer.price(table, to_price)
        cost = np.where(to_price, priced, np.nan_to_num(given, nan=0.0))
        if self.reprice:
            # A billed amount without requests (openai_usage cost = "billed") stays, unless the
            # source asks to price tokens instead; outcome-only rows have NaN, hence 0, anyway.
            cost[requests == 0] = 0.0
        unpriced_requests = np.where(unpriced, requests, 0)
        if self.usd_rate != 1.0:
            cost = cost * self.usd_rate
        if aggregated:
            unpriced_requests = _numpy(table, "unpriced_requests", np.int64)
        self.result.unpriced += int(unpriced_requests.sum())

        columns: dict[str, pa.Array] = {"day": self._days(table)}
        blank = pa.DictionaryArray.from_arrays(pa.array(np.zeros(count, dtype=np.int32)), pa.array([""]))
        for name in DIMENSIONS:
            columns[name] = _as_dictionary(table.column(name)) if name in self.dimensions else blank
        for name in _COUNTS:
            columns[name] = table.column(name)
        columns["token_cost"] = pa.array(cost)
        columns["unpriced_requests"] = pa.array(unpriced_requests.astype(np.int64))
        columns["human_review_minutes"] = table.column("human_review_minutes")
        return _sum_cells(pa.table(columns))

    def _days(self, table: pa.Table) -> pa.Array:
        if "day" in table.column_names:
            return pc.cast(table.column("day"), pa.date32())
        ts = table.column("ts")
        if self.timezone != "UTC":
            ts = pc.local_timestamp(pc.cast(ts, pa.timestamp("ns", self.timezone)))
        return pc.cast(ts, pa.date32())

    def cells(self) -> pd.DataFrame:
        if not self._parts:
            return empty_cells()
        parts = [_plain(part) for part in self._parts]
        cells = _sum_cells(pa.concat_tables(parts)) if len(parts) > 1 else parts[0]
        frame = cells.to_pandas(date_as_object=True)
        for name in DIMENSIONS:
            frame[name] = frame[name].astype(object)
        return frame


def _as_dictionary(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        return column
    return column.dictionary_encode()


def _plain(table: pa.Table) -> pa.Table:
    """Dictionary columns as plain strings, so parts with different dictionaries concatenate."""
    for index, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            table = table.set_column(index, field.name, pc.cast(table.column(index), pa.string()))
    return table


def empty_cells() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series([], dtype=object) for name in ("day", *DIMENSIONS)} | {
        name: pd.Series([], dtype="float64") for name in CELL_METRICS
    })


def _sum_cells(cells: pa.Table) -> pa.Table:
    keys = ["day", *DIMENSIONS]
    summed = cells.group_by(keys, use_threads=False).aggregate([(name, "sum") for name in CELL_METRICS])
    return pa.table({key: summed.column(key) for key in keys} | {
        name: summed.column(f"{name}_sum") for name in CELL_METRICS
    })
