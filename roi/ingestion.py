"""From canonical event frames to daily cells: dedup, pricing, day bucketing, sums.

Pure Arrow/numpy. Memory follows the chunk size and the number of distinct
cells (about 100 bytes each, plus their merge), not the rows read, and the
cells themselves are held up to about 16 MiB: a batch with more goes on in
partitions on disk (_Spill), as deduplication keeps the older event ids'
hashes in temporary files (roi.dedup).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .connectors.base import Chunk
from .dedup import SeenIds
from .dictionary_codes import dictionary_codes
from .domain import CELL_METRICS, DIMENSIONS, EVENT_COUNTS
from .errors import ConnectorError
from .pricing import Pricer
from .store import BatchResult
from .string_hashes import hash_strings
from .temporary_files import on_temporary_file, read_exactly, temporary_folder

if TYPE_CHECKING:  # pandas loads only where a function needs it
    import pandas as pd


_COMPACT_ROWS = 100_000  # rows of chunk sums that wait before merging into the cells
# the cells one batch holds in memory, about 16 MiB of them (a one-word key and the metrics: 96 bytes
# a cell, so 174,762); past that they go to disk in partitions (_Spill)
_MEMORY_CELLS = (16 << 20) // (8 * (1 + len(CELL_METRICS)))
_PARTITIONS = 16  # a spilled batch's cells are summed again and stored one partition at a time
_COUNTS = EVENT_COUNTS
_SUMMED_COUNTS = (*EVENT_COUNTS, "unpriced_requests")
_SUM_LIMIT = float(2**62)  # a batch's total of any count stays below this (half of int64's range: a margin)


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
    """Accumulates one batch's chunks into cells.

    The caller's thread deduplicates each chunk; one worker thread prices it and adds it to the
    sums (_CellSums) while the caller goes on to the next chunk."""

    def __init__(
        self, *, dimensions: tuple[str, ...], timezone: str, pricer: Pricer, reprice: bool = False,
        usd_rate: float = 1.0, label: str = "the batch",
    ):
        _use_jemalloc()
        self.label = label  # the batch, as its errors name it
        self.usd_rate = usd_rate  # token costs arrive in USD; cells hold the service currency
        self.dimensions = dimensions
        self.timezone = timezone
        self.pricer = pricer
        self.reprice = reprice
        self._result = BatchResult()
        self._seen = SeenIds()
        # pricing and summing run in one worker thread while the caller deduplicates the next chunk;
        # the sums belong to that thread alone
        self._worker: ThreadPoolExecutor | None = None
        self._pending: deque[Future] = deque()
        self._sums = _CellSums(dimensions)
        self._totals = dict.fromkeys(_SUMMED_COUNTS, 0.0)  # each count over the batch so far (worker thread)
        self._closed = False
        self._handed_over = False  # cell_tables() gave the cells (and a spilled batch's file) away

    @property
    def result(self) -> BatchResult:
        self._drain(0)
        return self._result

    @property
    def rows_read(self) -> int:
        """Rows read so far (for progress: unlike `result`, it does not wait for the worker)."""
        return self._result.rows_read

    def add(self, chunk: Chunk) -> None:
        if self._closed:
            raise RuntimeError("CellBuilder is closed: its batch is done")
        self._result.rows_read += chunk.rows_read
        self._result.quarantined += len(chunk.rejects)
        table = chunk.frame
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
        """Wait for the worker until at most `keep` chunks are in flight (raising what it raised)."""
        while len(self._pending) > keep:
            self._pending.popleft().result()

    def _cells(self, table: pa.Table) -> None:
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

        metrics = {name: _numpy(table, name, np.int64) for name in _COUNTS} | {
            "token_cost": cost,
            "unpriced_requests": unpriced_requests.astype(np.int64),
            "human_review_minutes": _numpy(table, "human_review_minutes", np.float64),
        }
        self._check_totals(metrics)
        self._sums.add(self._days(table), {name: table.column(name) for name in self.dimensions},
                       [metrics[name] for name in CELL_METRICS])

    def _check_totals(self, metrics: dict[str, np.ndarray]) -> None:
        """Refuse the batch before a count's sum could wrap around in int64: a cell's sum is at most
        the batch's, so while the batch's stays below the limit no cell's can wrap (each row is
        below 10^18, but a few such rows sum beyond 2^63)."""
        for name in _SUMMED_COUNTS:
            self._totals[name] += float(metrics[name].sum(dtype=np.float64))
            if self._totals[name] >= _SUM_LIMIT:
                raise ConnectorError(f"{self.label}: its {name} add up to at least {self._totals[name]:.3g}, beyond the "
                                     f"{_SUM_LIMIT:.3g} one batch may sum (a cell's count is an int64): nothing of it "
                                     "is stored")

    def _days(self, table: pa.Table) -> np.ndarray:
        """Each row's day in the service timezone, as days since 1970-01-01 (int64)."""
        dated = "day" in table.column_names
        column = table.column("day" if dated else "ts")
        if column.null_count:
            raise ValueError("a row without a day cannot make a cell")  # (connectors validate days first)
        if not dated and self.timezone != "UTC":
            return _local_days(column, self.timezone)
        return _epoch_days(pc.cast(column, pa.date32()))

    def cell_tables(self) -> BatchCells:
        """The batch's cells, for the store; ends the worker thread and deduplication (its temporary
        files and memory). The cells are the caller's from now on: it closes them once stored."""
        try:
            self._drain(0)
        finally:
            self._stop()
        self._handed_over = True
        return BatchCells(self._sums)

    def close(self) -> None:
        """End the worker thread (after what it is doing), deduplication, and the cells unless they
        were handed over; idempotent. A batch that fails calls it so that its temporary files close
        now, not whenever its frames are collected."""
        self._stop()
        if not self._handed_over:
            self._sums.close()

    def _stop(self) -> None:
        if self._worker is not None:
            self._worker.shutdown(cancel_futures=True)
            self._worker = None
        self._pending.clear()
        self._seen.close()
        self._closed = True

    def cells(self) -> pd.DataFrame:
        """The batch's cells as one pandas frame (all of them in memory: for tests and small batches)."""
        import pandas as pd  # noqa: F401  (to_pandas needs it)

        cells = self.cell_tables()
        try:
            tables = list(cells)
        finally:
            cells.close()
        if not tables:
            return empty_cells()
        frame = pa.concat_tables(tables).to_pandas(date_as_object=True)
        for name in DIMENSIONS:
            frame[name] = frame[name].astype(object)
        return frame


def empty_cells() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({name: pd.Series([], dtype=object) for name in ("day", *DIMENSIONS)} | {
        name: pd.Series([], dtype="float64") for name in CELL_METRICS
    })


_ZONE_RULES_FROM = 2_145_916_800 * 10**9  # 2038-01-01T00:00:00Z in ns
_DAY_NS = 86_400 * 10**9


def _epoch_days(days: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return pc.cast(days, pa.int32()).to_numpy().astype(np.int64)


def _local_days(ts: pa.ChunkedArray | pa.Array, timezone: str) -> np.ndarray:
    """Each instant's local day in `timezone` (days since 1970-01-01, int64; no instant missing).

    Arrow's zone data lists a zone's transitions only up to 2037 and then keeps the last offset,
    ignoring the rule that continues them (daylight saving, say), so a New York summer day of 2038
    would start at 05:00 UTC, not 04:00. Instants from 2038 on take their offset from zoneinfo
    instead, looked up once per distinct minute (every offset since 1972 is whole minutes)."""
    result = _epoch_days(pc.cast(pc.local_timestamp(pc.cast(ts, pa.timestamp("ns", timezone))), pa.date32()))
    nanos = pc.cast(pc.cast(ts, pa.timestamp("ns", "UTC")), pa.int64()).to_numpy()
    late = np.flatnonzero(nanos >= _ZONE_RULES_FROM)
    if len(late):
        from datetime import datetime
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(timezone)
        minutes, which = np.unique(nanos[late] // (60 * 10**9), return_inverse=True)
        # (fromtimestamp with a zone converts from UTC; zone.utcoffset(dt) would read dt as local time)
        offsets = np.array([datetime.fromtimestamp(minute * 60, zone).utcoffset().total_seconds()
                            for minute in minutes.tolist()], dtype=np.int64) * 10**9
        result[late] = (nanos[late] + offsets[which]) // _DAY_NS
    return result


class BatchCells:
    """A read batch's cells for the store: iterated, its tables (one, or one per partition of a
    batch whose cells went to disk), read again on each pass (a store that tries again). Closing
    it lets a spilled batch's temporary file go."""

    def __init__(self, sums: _CellSums):
        self._sums = sums

    def __iter__(self) -> Iterator[pa.Table]:
        return self._sums.tables()

    def close(self) -> None:
        self._sums.close()


class _Encoding:
    """How a cell's day and dimension codes pack into int64 key words.

    Fields take the bits they need (the day counted from `first_day`) and fill
    words in order, at most 62 bits each: comparing words in order compares
    the fields in order, so a word-wise sort is the (day, dimensions) order.
    Seven small dimensions and a month of days fit in one word.
    """

    def __init__(self, first_day: int, last_day: int, widths: tuple[int, ...]):
        self.first_day = first_day
        self.last_day = last_day  # the latest day seen (the day field may hold later ones)
        self.widths = widths
        self.words: list[list[int]] = [[]]
        used = 0
        for field, width in enumerate(widths):
            if used + width > _WORD_BITS:
                self.words.append([])
                used = 0
            self.words[-1].append(field)
            used += width

    def holds(self, first_day: int, last_day: int, sizes: list[int]) -> bool:
        return (first_day >= self.first_day and last_day - self.first_day < 1 << self.widths[0]
                and all(size <= 1 << width for size, width in zip(sizes, self.widths[1:], strict=True)))

    def widened(self, first_day: int, last_day: int, sizes: list[int]) -> _Encoding:
        """The smallest encoding holding the days seen so far and these, and codes below these sizes.

        (The days seen, not the day field's capacity: a file in reverse time order moves the
        first day back chunk after chunk, and the field must not gain a bit each time.)"""
        first, last = min(first_day, self.first_day), max(last_day, self.last_day)
        widths = [max(size - 1, 0).bit_length() for size in sizes]
        return _Encoding(first, last, (
            (last - first).bit_length(), *(max(a, b) for a, b in zip(widths, self.widths[1:], strict=True))
        ))

    def pack(self, fields: list[np.ndarray]) -> np.ndarray:
        """Fields (day as epoch days, then codes) -> keys of shape (words, rows)."""
        keys = np.zeros((len(self.words), len(fields[0])), dtype=np.int64)
        for word, members in zip(keys, self.words, strict=True):
            for field in members:
                value = fields[field] - self.first_day if field == 0 else fields[field]
                word <<= self.widths[field]
                word |= value
        return keys

    def unpack(self, keys: np.ndarray, dtype: type = np.int64) -> list[np.ndarray]:
        """Keys -> fields (day as epoch days, then codes), each made `dtype` as it comes out
        (int32 for the cell table: the int64 fields of 905k cells would take 58 MB at once)."""
        fields: list[np.ndarray] = [np.empty(0)] * len(self.widths)
        for word, members in zip(keys, self.words, strict=True):
            word = word.copy()
            for field in reversed(members):
                fields[field] = (word & np.int64((1 << self.widths[field]) - 1)).astype(dtype, copy=False)
                word >>= self.widths[field]
        fields[0] = fields[0] + dtype(self.first_day)
        return fields


_WORD_BITS = 62  # a packed key word stays a positive int64


@dataclass(slots=True)
class _Run:
    """Cells sorted by key, each key once: keys (words, rows) and one sum array per metric."""

    keys: np.ndarray
    sums: list[np.ndarray]

    @property
    def rows(self) -> int:
        return self.keys.shape[1]


def _sort_order(keys: np.ndarray, runs: bool) -> np.ndarray:
    """The order that sorts keys. Over concatenated sorted runs a stable sort (timsort) merges
    them in linear time; over a chunk's rows in no order, quicksort is twice as fast."""
    if len(keys) > 1:
        return np.lexsort(keys[::-1])  # the first word decides first
    return np.argsort(keys[0], kind="stable" if runs else "quicksort")


def _starts(sorted_keys: np.ndarray) -> np.ndarray:
    """Where each run of equal keys starts, in keys sorted already."""
    same = np.ones(sorted_keys.shape[1], dtype=bool)
    same[0] = False
    for word in sorted_keys:
        same[1:] &= word[1:] == word[:-1]
    return np.flatnonzero(~same)


def _reduce(keys: np.ndarray, metrics: Iterable[np.ndarray], runs: bool = False) -> _Run:
    """Sum the rows of equal keys; `metrics` may be a generator, so that one is made at a time.
    `runs`: the keys are sorted runs one after another (a merge)."""
    order = _sort_order(keys, runs)
    keys = keys[:, order]
    starts = _starts(keys)
    keys = keys[:, starts]
    sums = []
    for values in metrics:
        sums.append(np.add.reduceat(values[order], starts))
        del values  # before the generator makes the next one
    return _Run(keys, sums)


def _merged(runs: list[_Run]) -> _Run:
    """Sorted runs summed into one; each run's arrays are let go as they are used."""
    if len(runs) == 1:
        return runs[0]
    keys = np.concatenate([run.keys for run in runs], axis=1)
    for run in runs:
        run.keys = None

    def metrics() -> Iterator[np.ndarray]:
        # each metric's inputs are let go once it is summed: the merged run replaces them
        for m in range(len(CELL_METRICS)):
            values = np.concatenate([run.sums[m] for run in runs])
            for run in runs:
                run.sums[m] = None
            yield values
            del values

    return _reduce(keys, metrics(), runs=True)


def _merged_into(cells: _Run, run: _Run) -> _Run:
    """`run` summed into `cells`, both sorted with one-word keys: the run's keys that the cells hold
    add to them in place; the others are inserted where they sort (one new array at a time)."""
    big, small = cells.keys[0], run.keys[0]
    at = np.searchsorted(big, small)
    held = at < len(big)
    held[held] = big[at[held]] == small[held]
    places = at[held]
    for total, part in zip(cells.sums, run.sums, strict=True):
        total[places] += part[held]  # (keys are unique in a run: no place twice)
    new = ~held
    if not new.any():
        return cells
    places = at[new]
    keys = np.insert(big, places, small[new])[np.newaxis, :]
    cells.keys = None
    sums = cells.sums
    for m, part in enumerate(run.sums):
        sums[m] = np.insert(sums[m], places, part[new])
    return _Run(keys, sums)


def _summed(cells: _Run, run: _Run) -> _Run:
    """A sorted run summed into the cells: in place where the keys are one word (a merge then holds
    the cells and one new array, not a copy of every column)."""
    return _merged_into(cells, run) if len(cells.keys) == 1 else _merged([cells, run])


_SPILLING = "holding a big batch's cells"
_SPILL_ROOM = "up to 100 bytes per event of the batch"


def _spilling(operation, *args, **kwargs):
    return on_temporary_file(_SPILLING, _SPILL_ROOM, operation, *args, **kwargs)


@dataclass(slots=True)
class _Piece:
    """A sorted run of cells in the spill file: its cells, key words and their encoding, and where
    each key word and each sum of it starts."""

    rows: int
    words: int
    encoding: _Encoding
    offsets: list[int]
    dtypes: tuple[np.dtype, ...]  # of the sums, in CELL_METRICS order


_MIX = np.uint64(0x9E3779B97F4A7C15)


def _partitions(fields: list[np.ndarray], count: int) -> np.ndarray:
    """Each cell's partition, from a hash of its day and codes: the same in any encoding, and
    about even whatever order the cells came in (a file in time order, a batch of one day)."""
    mixed = np.zeros(len(fields[0]), dtype=np.uint64)
    for field in fields:
        mixed ^= field.astype(np.uint64)
        mixed *= _MIX
        mixed ^= mixed >> np.uint64(29)
    return (mixed % np.uint64(count)).astype(np.intp)


class _Spill:
    """A batch's cells on disk, in partitions by a hash of their key (_partitions), so that a key is
    in one partition only. Each write adds to every partition a piece (a sorted run, in the encoding
    of its time); reading a partition sums its pieces, `memory_cells` of them at a time, into its
    cells, so memory at the end is one partition's cells, not the batch's."""

    def __init__(self, memory_cells: int):
        self.memory_cells = memory_cells
        self.pieces: list[list[_Piece]] = [[] for _ in range(_PARTITIONS)]
        self.file = _spilling(tempfile.TemporaryFile, prefix="roi-cells-", dir=temporary_folder())
        self.size = 0

    def write(self, run: _Run, encoding: _Encoding) -> None:
        """The run's cells, partition by partition: each array gathered in partition order (stable:
        each partition's cells stay sorted) and written at once, one array at a time."""
        part = _partitions(encoding.unpack(run.keys), _PARTITIONS)
        order = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[order], np.arange(_PARTITIONS + 1)).tolist()
        offsets: list[list[int]] = [[] for _ in range(_PARTITIONS)]
        for array in (*run.keys, *run.sums):  # (each key word an array of its own)
            gathered = array[order]
            start = self.size
            _spilling(self.file.write, gathered.data)
            self.size += gathered.nbytes
            for index in range(_PARTITIONS):
                offsets[index].append(start + bounds[index] * gathered.itemsize)
        dtypes = tuple(values.dtype for values in run.sums)
        for index, pieces in enumerate(self.pieces):  # (recorded once all of it is written)
            rows = bounds[index + 1] - bounds[index]
            if rows:
                pieces.append(_Piece(rows, len(run.keys), encoding, offsets[index], dtypes))

    def partitions(self, encoding: _Encoding) -> Iterator[_Run]:
        """Each partition's cells, keys in `encoding`: its pieces read and merged `memory_cells` at a
        time, each lot then summed into the partition's cells."""
        _spilling(self.file.flush)
        for pieces in self.pieces:
            cells, lot, rows = None, [], 0
            for index, piece in enumerate(pieces):
                lot.append(self._read(piece, encoding))
                rows += piece.rows
                if rows >= self.memory_cells or index == len(pieces) - 1:
                    run = _merged(lot)
                    cells = run if cells is None else _summed(cells, run)
                    lot, rows = [], 0
            if cells is not None:
                yield cells

    def _read(self, piece: _Piece, encoding: _Encoding) -> _Run:
        rows, words = piece.rows, piece.words
        keys = np.stack([self._array(offset, np.dtype(np.int64), rows) for offset in piece.offsets[:words]])
        sums = [self._array(offset, dtype, rows)
                for offset, dtype in zip(piece.offsets[words:], piece.dtypes, strict=True)]
        if piece.encoding is not encoding:  # keys packed before the encoding widened
            keys = encoding.pack(piece.encoding.unpack(keys))
        return _Run(keys, sums)

    def _array(self, offset: int, dtype: np.dtype, count: int) -> np.ndarray:
        """`count` values from the file at `offset`, in a writable array (a merge sums into it)."""
        buffer = bytearray(count * dtype.itemsize)
        read_exactly(_SPILLING, _SPILL_ROOM, self.file.fileno(), memoryview(buffer), offset)
        return np.frombuffer(buffer, dtype=dtype)

    def close(self) -> None:
        with contextlib.suppress(OSError):  # a full disk fails the flush; the descriptor closes anyway
            self.file.close()


class _CellSums:
    """One batch's rows summed per cell (day and dimensions), in numpy.

    Each dimension value gets a batch-wide code, so a row's key is a few
    packed integers (_Encoding). A chunk's rows are summed into a sorted run;
    runs merge into the cells once they hold more rows than _COMPACT_ROWS or a
    quarter of the cells. Memory is the cells plus those runs, and a merge holds
    one new array of the cells' length at a time (_merged_into; with keys of
    more than one word, _merged sorts them one metric at a time). Past
    `memory_cells` the cells go to disk (_Spill) and the sums start again:
    memory then stays at that many cells, whatever the batch holds.
    """

    def __init__(self, dimensions: tuple[str, ...], compact_rows: int | None = None,
                 memory_cells: int | None = None):
        self._compact_rows = _COMPACT_ROWS if compact_rows is None else compact_rows
        self._memory_cells = _MEMORY_CELLS if memory_cells is None else memory_cells
        self._spill: _Spill | None = None
        self._closed = False
        self._stored = [name for name in DIMENSIONS if name in dimensions]
        self._codes: dict[str, dict[str, int]] = {name: {} for name in self._stored}
        self._encoding: _Encoding | None = None
        self._cells: _Run | None = None
        self._runs: list[_Run] = []
        self._run_rows = 0

    def add(self, days: np.ndarray, dimensions: dict[str, pa.Array | pa.ChunkedArray],
            metrics: list[np.ndarray]) -> None:
        """Rows of one chunk: epoch days (int64), the stored dimensions' columns, CELL_METRICS arrays."""
        if not len(days):
            return
        fields = [days]
        for name in self._stored:
            codes, values = dictionary_codes(dimensions[name])
            known = self._codes[name]
            # a chunk's dictionary is small: its values map to the batch's codes one by one
            # (equal values, e.g. two spellings trimmed alike, to one code)
            lookup = np.fromiter((known.setdefault(value, len(known)) for value in values),
                                 dtype=np.int64, count=len(values))
            fields.append(lookup[codes])
        first, last = int(days.min()), int(days.max())
        sizes = [len(self._codes[name]) for name in self._stored]
        if self._encoding is None:
            self._encoding = _Encoding(first, last, (0,) * (1 + len(sizes))).widened(first, last, sizes)
        elif not self._encoding.holds(first, last, sizes):
            self._repack(self._encoding.widened(first, last, sizes))
        self._encoding.last_day = max(self._encoding.last_day, last)
        self._runs.append(_reduce(self._encoding.pack(fields), metrics))
        self._run_rows += self._runs[-1].rows
        if self._run_rows > max(self._compact_rows, (self._cells.rows if self._cells else 0) // 4):
            self._merge()

    def _repack(self, encoding: _Encoding) -> None:
        """Keys in a wider encoding; the order of fields, hence of keys, is kept."""
        old, self._encoding = self._encoding, encoding
        for run in [self._cells, *self._runs] if self._cells else self._runs:
            run.keys = encoding.pack(old.unpack(run.keys))

    def _merge(self) -> None:
        """The waiting runs summed into one, then into the cells; cells beyond memory_cells go to disk."""
        run = _merged(self._runs)
        self._runs, self._run_rows = [], 0
        self._cells = run if self._cells is None else _summed(self._cells, run)
        if self._cells.rows > self._memory_cells:
            if self._spill is None:
                self._spill = _Spill(self._memory_cells)
            self._spill.write(self._cells, self._encoding)
            self._cells = None

    def tables(self) -> Iterator[pa.Table]:
        """The cells: one table, or one per partition once they went to disk (each in key order, a
        cell in one of them only); each has day (date32), every dimension (dictionary; "" where not
        stored) and CELL_METRICS."""
        if self._closed:
            raise RuntimeError("the cells were closed: a spilled batch's file is gone")
        if self._runs:
            self._merge()
        if self._spill is not None and self._cells is not None:
            self._spill.write(self._cells, self._encoding)
            self._cells = None
        if self._encoding is None:
            return
        dictionaries = {name: pa.array(list(self._codes[name]), pa.string()) for name in self._stored}
        runs = self._spill.partitions(self._encoding) if self._spill is not None else [self._cells]
        for run in runs:
            yield self._table(run, dictionaries)

    def table(self) -> pa.Table | None:
        """The cells as one table (all in memory), None when there are none."""
        tables = list(self.tables())
        return pa.concat_tables(tables) if tables else None

    def _table(self, run: _Run, dictionaries: dict[str, pa.Array]) -> pa.Table:
        fields = self._encoding.unpack(run.keys, np.int32)  # (epoch days and codes fit int32)
        columns: dict[str, pa.Array] = {"day": pa.array(fields[0], pa.int32()).cast(pa.date32())}
        stored = dict(zip(self._stored, fields[1:], strict=True))
        for name in DIMENSIONS:
            if name in stored:
                columns[name] = pa.DictionaryArray.from_arrays(pa.array(stored[name]), dictionaries[name])
            else:
                columns[name] = pa.DictionaryArray.from_arrays(
                    pa.array(np.zeros(run.rows, dtype=np.int32)), pa.array([""], pa.string()))
        for name, values in zip(CELL_METRICS, run.sums, strict=True):
            columns[name] = pa.array(values)
        return pa.table(columns)

    def close(self) -> None:
        """Let a spilled batch's temporary file go; idempotent."""
        self._closed = True
        if self._spill is not None:
            self._spill.close()
