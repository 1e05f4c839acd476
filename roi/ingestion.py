"""From canonical event frames to daily cells: dedup, pricing, day bucketing, sums.

Pure Arrow/numpy (deduplication keeps the older event ids' hashes in
temporary files: roi.dedup). Memory follows the chunk size and the number of
distinct cells (about 100 bytes each, plus their merge), not the rows read.
"""

from __future__ import annotations

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

if TYPE_CHECKING:  # pandas loads only where a function needs it
    import pandas as pd


_COMPACT_ROWS = 100_000  # rows of chunk sums that wait before merging into the cells
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
        if "day" in table.column_names:
            days = pc.cast(table.column("day"), pa.date32())
        else:
            ts = table.column("ts")
            if self.timezone != "UTC":
                ts = pc.local_timestamp(pc.cast(ts, pa.timestamp("ns", self.timezone)))
            days = pc.cast(ts, pa.date32())
        if days.null_count:
            raise ValueError("a row without a day cannot make a cell")  # (connectors validate days first)
        return pc.cast(days, pa.int32()).to_numpy().astype(np.int64)

    def cell_table(self) -> pa.Table | None:
        """The batch's cells as an Arrow table (None when it has none); ends the worker thread and
        deduplication (its temporary files and memory)."""
        try:
            self._drain(0)
        finally:
            self.close()
        return self._sums.table()

    def close(self) -> None:
        """End the worker thread (after what it is doing) and deduplication; idempotent. A batch that
        fails calls it so that its temporary files close now, not whenever its frames are collected."""
        if self._worker is not None:
            self._worker.shutdown(cancel_futures=True)
            self._worker = None
        self._pending.clear()
        self._seen.close()
        self._closed = True

    def cells(self) -> pd.DataFrame:
        import pandas as pd  # noqa: F401  (to_pandas needs it)

        table = self.cell_table()
        if table is None:
            return empty_cells()
        frame = table.to_pandas(date_as_object=True)
        for name in DIMENSIONS:
            frame[name] = frame[name].astype(object)
        return frame


def empty_cells() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({name: pd.Series([], dtype=object) for name in ("day", *DIMENSIONS)} | {
        name: pd.Series([], dtype="float64") for name in CELL_METRICS
    })


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


class _CellSums:
    """One batch's rows summed per cell (day and dimensions), in numpy.

    Each dimension value gets a batch-wide code, so a row's key is a few
    packed integers (_Encoding). A chunk's rows are summed into a sorted run;
    runs merge into the cells once they hold more rows than _COMPACT_ROWS or a
    quarter of the cells. Memory is the cells plus those runs, and a merge holds
    one new array of the cells' length at a time (_merged_into; with keys of
    more than one word, _merged sorts them one metric at a time).
    """

    def __init__(self, dimensions: tuple[str, ...], compact_rows: int = _COMPACT_ROWS):
        self._compact_rows = compact_rows
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
        """The waiting runs summed into one, then into the cells: in place where the keys are one
        word (a merge then holds the cells and one new array, not a copy of every column)."""
        run = _merged(self._runs)
        self._runs, self._run_rows = [], 0
        if self._cells is None:
            self._cells = run
        elif len(self._cells.keys) == 1:
            self._cells = _merged_into(self._cells, run)
        else:
            self._cells = _merged([self._cells, run])

    def table(self) -> pa.Table | None:
        """The cells: day (date32), every dimension (dictionary; "" where not stored), CELL_METRICS."""
        if self._runs:
            self._merge()
        if self._cells is None:
            return None
        fields = self._encoding.unpack(self._cells.keys, np.int32)  # (epoch days and codes fit int32)
        count = self._cells.rows
        columns: dict[str, pa.Array] = {"day": pa.array(fields[0], pa.int32()).cast(pa.date32())}
        stored = dict(zip(self._stored, fields[1:], strict=True))
        for name in DIMENSIONS:
            if name in stored:
                columns[name] = pa.DictionaryArray.from_arrays(
                    pa.array(stored[name]), pa.array(list(self._codes[name]), pa.string()))
            else:
                columns[name] = pa.DictionaryArray.from_arrays(
                    pa.array(np.zeros(count, dtype=np.int32)), pa.array([""], pa.string()))
        for name, values in zip(CELL_METRICS, self._cells.sums, strict=True):
            columns[name] = pa.array(values)
        return pa.table(columns)
