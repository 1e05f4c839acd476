"""From canonical event frames to daily cells: dedup, pricing, day bucketing, sums.

Pure pandas/numpy: no I/O. Memory follows the number of cells plus eight
bytes per distinct event id (for deduplication within a batch).
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .connectors.base import Chunk
from .domain import CELL_METRICS, DIMENSIONS
from .hashing import hash_strings
from .pricing import Pricer
from .store import BatchResult

if TYPE_CHECKING:  # pandas loads only where a function needs it
    import pandas as pd


_LEVEL_CAP = 1 << 20  # ids per sorted array (or an 8th of all ids): merges copy little at once


class _SeenIds:
    """Hashes of event ids seen so far.

    A one-bit-per-slot filter (16 MiB, fixed) answers "surely new" for almost
    every id; only the few it cannot clear are looked up exactly in sorted
    arrays, merged like a binary counter as they grow up to _LEVEL_CAP ids or
    an eighth of them all (8 bytes per id, and no transient copy of them all).
    """

    _FILTER_BITS = 27

    def __init__(self) -> None:
        self._levels: list[np.ndarray] = []
        self._count = 0
        self._filter = np.zeros(1 << (self._FILTER_BITS - 3), dtype=np.uint8)

    def _slots(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        slot = hashes >> np.uint64(64 - self._FILTER_BITS)
        return (slot >> np.uint64(3)).astype(np.int64), np.left_shift(np.uint8(1), (slot & np.uint64(7)).astype(np.uint8))

    def _contains(self, hashes: np.ndarray) -> np.ndarray:
        found = np.zeros(len(hashes), dtype=bool)
        for level in self._levels:
            at = np.searchsorted(level, hashes)
            at[at == len(level)] = 0
            found |= level[at] == hashes
        return found

    def admit(self, hashes: np.ndarray) -> np.ndarray:
        """Mask of hashes not seen before (first occurrence wins), then remember them."""
        ordered = np.sort(hashes)
        if len(ordered) > 1 and (ordered[1:] == ordered[:-1]).any():
            _, first = np.unique(hashes, return_index=True)  # repeats inside the chunk: keep the first
            fresh = np.zeros(len(hashes), dtype=bool)
            fresh[first] = True
        else:
            fresh = np.ones(len(hashes), dtype=bool)
        if self._levels:
            byte, bit = self._slots(hashes)
            maybe = np.flatnonzero(fresh & ((self._filter[byte] & bit) != 0))
            if len(maybe):
                # sorted needles: each binary search starts where the previous one ended
                maybe = maybe[np.argsort(hashes[maybe])]
                fresh[maybe[self._contains(hashes[maybe])]] = False
        new = ordered if fresh.all() else np.sort(hashes[fresh])
        if not len(new):
            return fresh  # a chunk of nothing but repeats: nothing to remember
        byte, bit = self._slots(new)
        # `new` is sorted, so are its bytes: OR the bits of each run of equal bytes, then set them at once
        starts = np.flatnonzero(np.concatenate(([True], byte[1:] != byte[:-1])))
        self._filter[byte[starts]] |= np.bitwise_or.reduceat(bit, starts)
        cap = max(_LEVEL_CAP, self._count // 8)  # at most 8 big levels however many ids: lookups stay cheap
        self._count += len(new)
        while self._levels and len(self._levels[-1]) <= len(new) and len(self._levels[-1]) + len(new) <= cap:
            # two sorted runs: a stable sort (timsort) merges them in linear time
            new = np.sort(np.concatenate([self._levels.pop(), new]), kind="stable")
        self._levels.append(new)
        return fresh


_COMPACT_ROWS = 200_000
_COUNTS = ("requests", "input_tokens", "output_tokens", "cached_input_tokens",
           "resolved", "escalated", "abandoned", "reopened")


def as_arrow(frame: pd.DataFrame | pa.Table) -> pa.Table:
    """A canonical frame as an Arrow table (connectors may hand in pandas)."""
    if isinstance(frame, pa.Table):
        return frame
    import pandas as pd

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


def _use_jemalloc() -> None:
    """Arrow's jemalloc pool returns memory sooner than its default here: about 15% lower peaks."""
    try:
        if pa.default_memory_pool().backend_name != "jemalloc":
            pa.set_memory_pool(pa.jemalloc_memory_pool())
    except (NotImplementedError, pa.ArrowNotImplementedError):
        pass  # a pyarrow built without jemalloc keeps its default


class CellBuilder:
    """Accumulates one batch's chunks into cells (Arrow compute in the hot path)."""

    def __init__(
        self, *, dimensions: tuple[str, ...], timezone: str, pricer: Pricer, reprice: bool = False,
        usd_rate: float = 1.0,
    ):
        _use_jemalloc()
        self.usd_rate = usd_rate  # token costs arrive in USD; cells hold the service currency
        self.dimensions = dimensions
        self.timezone = timezone
        self.pricer = pricer
        self.reprice = reprice
        self._result = BatchResult()
        self._seen = _SeenIds()
        # summing runs in one worker thread while the caller deduplicates the next chunk
        self._worker: ThreadPoolExecutor | None = None
        self._pending: deque[Future] = deque()
        self._parts: list[pa.Table] = []
        self._part_rows = 0
        self._compacted_rows = 0

    @property
    def result(self) -> BatchResult:
        self._drain(0)
        return self._result

    def add(self, chunk: Chunk) -> None:
        self._result.rows_read += chunk.rows_read
        self._result.quarantined += len(chunk.rejects)
        table = as_arrow(chunk.frame)
        if table.num_rows and "event_id" in table.column_names:
            hashes = chunk.id_hashes if chunk.id_hashes is not None else hash_strings(table.column("event_id"))
            keep = self._seen.admit(hashes)
            self._result.duplicates += int((~keep).sum())
            if not keep.all():
                table = table.filter(pa.array(keep))
        self._result.rows_stored += table.num_rows
        if table.num_rows:
            if self._worker is None:
                self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="roi-cells")
            self._pending.append(self._worker.submit(self._cells, table))
            self._drain(2)

    def _drain(self, keep: int) -> None:
        """Collect finished sums until at most `keep` are in flight."""
        while len(self._pending) > keep:
            part = self._pending.popleft().result()
            self._parts.append(part)
            self._part_rows += part.num_rows
            # merge partial sums once they outgrow the merged cells: memory follows the cells, not the file
            # (+ half the cells: with many cells, merging stays linear in the rows read)
            if self._part_rows > self._compacted_rows + max(_COMPACT_ROWS, self._compacted_rows // 2):
                self._compact()

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
        self._result.unpriced += int(unpriced_requests.sum())

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

    def _compact(self) -> None:
        if len(self._parts) > 1:
            # dictionaries unified, not decoded: the dimensions stay small integer codes
            parts = [_dictionary_dims(part) for part in self._parts]
            combined = pa.concat_tables(parts).unify_dictionaries().combine_chunks()
            self._parts = [_sum_cells(combined)]
            pa.default_memory_pool().release_unused()
        self._part_rows = self._compacted_rows = self._parts[0].num_rows

    def cell_table(self) -> pa.Table | None:
        """The batch's cells as an Arrow table (None when it has none); ends the worker thread."""
        self._drain(0)
        if self._worker is not None:
            self._worker.shutdown()
            self._worker = None
        if not self._parts:
            return None
        self._compact()
        return self._parts[0]

    def cells(self) -> pd.DataFrame:
        import pandas as pd  # noqa: F401  (to_pandas needs it)

        table = self.cell_table()
        if table is None:
            return empty_cells()
        frame = table.to_pandas(date_as_object=True)
        for name in DIMENSIONS:
            frame[name] = frame[name].astype(object)
        return frame


def _as_dictionary(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        return column
    return column.dictionary_encode()


def _dictionary_dims(table: pa.Table) -> pa.Table:
    """Dimensions as dictionary<int32, string>, so parts concatenate and unify."""
    for name in DIMENSIONS:
        index = table.schema.get_field_index(name)
        column = table.column(index)
        if not pa.types.is_dictionary(column.type):
            table = table.set_column(index, name, column.combine_chunks().dictionary_encode())
        elif column.type.index_type != pa.int32():
            table = table.set_column(index, name, pc.cast(column, pa.dictionary(pa.int32(), pa.string())))
    return table


def empty_cells() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({name: pd.Series([], dtype=object) for name in ("day", *DIMENSIONS)} | {
        name: pd.Series([], dtype="float64") for name in CELL_METRICS
    })


_KEY_BITS = 62  # a packed cell key stays a positive int64


def _distinct_codes(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Codes (int64) into a dictionary of distinct values, a missing value being ""."""
    column = _as_dictionary(column)
    # a dictionary may repeat a value (after trimming) or hold a null: equal values share one code
    merged = column.dictionary.fill_null("").dictionary_encode()
    dictionary = merged.dictionary
    remap = merged.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    codes = column.indices.to_numpy(zero_copy_only=False)
    if column.indices.null_count:
        blank = dictionary.index("").as_py()
        if blank < 0:
            blank = len(dictionary)
            dictionary = pa.concat_arrays([dictionary, pa.array([""], dictionary.type)])
        remap = np.append(remap, blank)
        codes = np.where(column.is_null().to_numpy(zero_copy_only=False), len(remap) - 1,
                         column.indices.fill_null(0).to_numpy(zero_copy_only=False))
    return remap[codes], dictionary


def _sum_cells(cells: pa.Table) -> pa.Table:
    """Sum the rows of equal day and dimensions.

    The day and the dimensions' dictionary codes pack into one int64 key; one
    sort of the keys and one reduceat per metric do the rest. Transient memory
    is a few numpy arrays per row, where a hash aggregation holds several
    times the input (and keeps it as its high-water mark). Integer sums stay
    exact. Keys too wide to pack fall back to Arrow's group_by.
    """
    keys = ["day", *DIMENSIONS]
    if not cells.num_rows or cells.column("day").null_count:
        return _group_by(cells)  # (days are never missing here: timestamps are validated first)
    dimensions = {name: _distinct_codes(cells.column(name)) for name in DIMENSIONS}
    day = cells.column("day").combine_chunks().to_numpy(zero_copy_only=False).astype("datetime64[D]").astype(np.int64)
    first = int(day.min())
    widths = {"day": (int(day.max()) - first).bit_length()}
    widths.update({name: max(len(dictionary) - 1, 0).bit_length() for name, (_, dictionary) in dimensions.items()})
    if sum(widths.values()) > _KEY_BITS:
        normalized = cells
        for name, (codes, dictionary) in dimensions.items():
            index = normalized.schema.get_field_index(name)
            normalized = normalized.set_column(
                index, name, pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), dictionary))
        return _group_by(normalized)
    packed = day - first
    del day
    decode: list[tuple[str, object, int]] = [("day", first, widths["day"])]
    for name, (codes, dictionary) in dimensions.items():
        packed = (packed << np.int64(widths[name])) | codes
        decode.append((name, dictionary, widths[name]))
    order = np.argsort(packed)
    packed = packed[order]
    starts = np.flatnonzero(np.concatenate(([True], packed[1:] != packed[:-1])))
    unique = packed[starts]
    columns: dict[str, pa.Array] = {}
    for name, extra, width in reversed(decode):
        code = unique & np.int64((1 << width) - 1)
        unique = unique >> np.int64(width)
        if name == "day":
            columns[name] = pa.array((code + extra).astype(np.int32), pa.int32()).cast(pa.date32())
        else:
            columns[name] = pa.DictionaryArray.from_arrays(pa.array(code.astype(np.int32)), extra)
    result = {key: columns[key] for key in keys}
    for name in CELL_METRICS:
        values = cells.column(name).combine_chunks().to_numpy(zero_copy_only=False)
        result[name] = pa.array(np.add.reduceat(values[order], starts))
    return pa.table(result)


def _group_by(cells: pa.Table) -> pa.Table:
    keys = ["day", *DIMENSIONS]
    summed = cells.group_by(keys, use_threads=False).aggregate([(name, "sum") for name in CELL_METRICS])
    return pa.table({key: summed.column(key) for key in keys} | {
        name: summed.column(f"{name}_sum") for name in CELL_METRICS
    })
