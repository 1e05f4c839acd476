"""Deduplication of event ids within a batch, in memory that does not grow with the batch.

`SeenIds` remembers the 64-bit hashes (roi.string_hashes) of the ids seen so far
and says, chunk by chunk, which ids are new. Three layers:

- a blocked Bloom filter: the three bits of an id sit in one 64-bit word
  (one memory access per id). 16 MiB answer "surely new" for all but 0.25%
  of new ids at 5M ids, 0.7% at 8M, 1.5% at 11M. Past 12 bits per id
  (11.2M ids) it doubles, rebuilt from the hashes (the old one let go
  first): the one part that grows, by 1.5 to 3 bytes per id, and only in
  batches of more than 11M ids;
- the latest ids in memory, as sorted arrays each more than twice as long
  as the next (merged when not), fewer than `memory_ids` in all (256k:
  2 MiB); an array of half that many goes to disk;
- the rest on disk, in anonymous temporary files: sorted runs of hashes,
  merged pairwise (streamed) whenever one is at most twice the next, so
  there are about log2(ids / 128k) + 1 of them at most. Of each run, every
  512th hash stays in memory (1/512 of its size): the ids of a chunk that
  the filter cannot clear cost a 4 KiB read per run and block they fall in
  (neighbours read together, at most 1 MiB at a time), or, when they fall
  in over an eighth of a run's blocks, reads of that stretch of the run in
  512 KiB pieces.

The files are anonymous (deleted as they are made) in the system's
temporary folder ($TMPDIR): 8 bytes per id, as much again while two runs
merge. The answer is exact for the hashes: an id is called a repeat only
when an equal hash was seen, and two distinct ids share a hash with
probability 2^-57 at most (roi.string_hashes).
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass

import numpy as np

from .temporary_files import on_temporary_file, read_exactly, temporary_folder

MEMORY_IDS = 1 << 18  # hashes kept in memory before they go to disk as a sorted run


@dataclass(frozen=True, slots=True)
class RunReads:
    """How runs on disk are read (the defaults; tests choose small ones to run every path on few ids)."""

    block_ids: int = 512  # hashes per read from a run on disk (4 KiB); each block's first stays in memory
    stream_ids: int = 1 << 16  # hashes per read while merging runs, or looking up many ids in one (512 KiB)
    buffer_blocks: int = 256  # blocks read at once for a few ids' lookup (1 MiB)


_FILTER_WORDS = 1 << 21  # 16 MiB to start with
_BITS_PER_ID = 12  # the filter doubles when fewer bits than this are left per id


def _mixed(hashes: np.ndarray) -> np.ndarray:
    """A mixed copy (splitmix64's finaliser): the ids' hashes are linear and their low bits
    structured, while the filter's three bits must look independent of each other and of the word."""
    x = hashes ^ (hashes >> np.uint64(30))
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


class _Filter:
    """A blocked Bloom filter over 64-bit hashes: 2**k words (k >= 1), three bits per hash in one word."""

    def __init__(self, words: int):
        if words < 2 or words & (words - 1):
            raise ValueError(f"filter words: a power of two from 2, not {words}")
        self.words = np.zeros(words, dtype=np.uint64)
        self._shift = np.uint64(64 - (words.bit_length() - 1))

    def _where(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # the word from the mixed value's top bits, its three bits from the low 18 (the ids' own
        # top bits cluster for some seeds: structured ids gave up to twice the false positives)
        x = _mixed(hashes)
        word = (x >> self._shift).astype(np.intp)
        six = np.uint64(63)
        one = np.uint64(1)
        bits = (one << (x & six)) | (one << ((x >> np.uint64(6)) & six)) | (one << ((x >> np.uint64(12)) & six))
        return word, bits

    def may_hold(self, hashes: np.ndarray) -> np.ndarray:
        word, bits = self._where(hashes)
        return (self.words[word] & bits) == bits

    def add(self, hashes: np.ndarray) -> None:
        word, bits = self._where(hashes)
        # one vectorised OR (three times faster than np.bitwise_or.at); where two hashes share a
        # word, the last write wins, so the bits it lost are ORed in again one by one
        self.words[word] |= bits
        lost = np.flatnonzero((self.words[word] & bits) != bits)
        if len(lost):
            np.bitwise_or.at(self.words, word[lost], bits[lost])


class _Run:
    """Sorted hashes in an anonymous temporary file, with every block_ids-th hash in memory."""

    def __init__(self, reads: RunReads = RunReads()) -> None:  # noqa: B008 - frozen, so one shared default
        self.reads = reads
        self.file = _temporary(tempfile.TemporaryFile, prefix="roi-dedup-", dir=temporary_folder())
        self.size = 0
        self._fences: list[np.ndarray] = []
        self.fences = np.empty(0, dtype=np.uint64)

    def write(self, hashes: np.ndarray) -> None:
        """Append hashes (sorted, and not below the last written)."""
        # a copy: a view would keep every piece written alive until the run is sealed
        block = self.reads.block_ids
        self._fences.append(hashes[(-self.size) % block :: block].copy())
        _temporary(self.file.write, np.ascontiguousarray(hashes).data)  # no copy of the bytes
        self.size += len(hashes)

    def sealed(self) -> _Run:
        _temporary(self.file.flush)
        self.fences = np.concatenate([self.fences, *self._fences])
        self._fences = []
        return self

    def read(self, start: int, count: int) -> np.ndarray:
        count = max(0, min(count, self.size - start))
        data = bytearray(count * 8)
        _read_exactly(self.file.fileno(), memoryview(data), start * 8)
        return np.frombuffer(data, dtype=np.uint64)

    def contains(self, needles: np.ndarray) -> np.ndarray:
        """Which of the needles are in the run.

        The blocks holding them are read, neighbours in one read, into a buffer of at most
        buffer_blocks blocks at a time, which is then one sorted array to search. When they are
        over an eighth of the run's blocks, the run is read from the first of them to the last in
        stream_ids reads instead: that costs less than a read per block."""
        if len(needles) > 1 and (needles[1:] < needles[:-1]).any():
            order = np.argsort(needles, kind="stable")
            found = np.empty(len(needles), dtype=bool)
            found[order] = self.contains(needles[order])
            return found
        found = np.zeros(len(needles), dtype=bool)
        block = np.searchsorted(self.fences, needles, side="right") - 1
        inside = np.flatnonzero(block >= 0)
        if not len(inside):
            return found
        block, wanted = block[inside], needles[inside]
        blocks = np.unique(block)
        if len(blocks) * 8 > len(self.fences):
            block_ids, stream_ids = self.reads.block_ids, self.reads.stream_ids
            end = min((int(blocks[-1]) + 1) * block_ids, self.size)
            for start in range(int(blocks[0]) * block_ids, end, stream_ids):
                hashes = self.read(start, min(stream_ids, end - start))
                lo = np.searchsorted(wanted, hashes[0], side="left")
                hi = np.searchsorted(wanted, hashes[-1], side="right")
                if hi > lo:
                    found[inside[lo:hi]] = _member(hashes, wanted[lo:hi])
            return found
        for group in range(0, len(blocks), self.reads.buffer_blocks):
            chosen = blocks[group : group + self.reads.buffer_blocks]
            buffer = self._blocks(chosen)
            lo = np.searchsorted(block, chosen[0], side="left")  # the needles in these blocks: sorted,
            hi = np.searchsorted(block, chosen[-1], side="right")  # so a slice
            found[inside[lo:hi]] = _member(buffer, wanted[lo:hi])
        return found

    def _blocks(self, blocks: np.ndarray) -> np.ndarray:
        """The hashes of these blocks (ascending), one after another: neighbouring blocks in one read."""
        first = blocks * self.reads.block_ids
        stop = np.minimum(first + self.reads.block_ids, self.size)
        breaks = np.flatnonzero(blocks[1:] != blocks[:-1] + 1) + 1  # where a stretch of neighbours ends
        starts, ends = np.split(first, breaks), np.split(stop, breaks)
        buffer = bytearray(int((stop - first).sum()) * 8)
        view = memoryview(buffer)
        filled = 0
        for begin, end in zip((part[0] for part in starts), (part[-1] for part in ends), strict=True):
            size = int(end - begin) * 8
            _read_exactly(self.file.fileno(), view[filled : filled + size], int(begin) * 8)
            filled += size
        return np.frombuffer(buffer, dtype=np.uint64)

    def chunks(self):
        for start in range(0, self.size, self.reads.stream_ids):
            yield self.read(start, self.reads.stream_ids)

    def close(self) -> None:
        """The run is dropped: its file goes, and bytes still buffered go with it. A disk that is full
        fails the flush that closing tries, and that must not hide the error that brought us here."""
        with contextlib.suppress(OSError):
            self.file.close()  # (the descriptor is closed even when the flush fails)


def _member(haystack: np.ndarray, needles: np.ndarray) -> np.ndarray:
    """Which needles are in the sorted haystack (not empty)."""
    at = np.minimum(np.searchsorted(haystack, needles), len(haystack) - 1)
    return haystack[at] == needles


_PURPOSE = "deduplicating event ids"
_NEED = "8 bytes per event id of the batch, twice that at times"


def _read_exactly(fd: int, view: memoryview, offset: int) -> None:
    read_exactly(_PURPOSE, _NEED, fd, view, offset)


def _temporary(operation, *args, **kwargs):
    """A temporary file's operation; a full or unwritable disk becomes an error that says where."""
    return on_temporary_file(_PURPOSE, _NEED, operation, *args, **kwargs)


def _merged(a: _Run, b: _Run) -> _Run:
    """Two runs merged into a new one, streamed: memory is a few reads, whatever their size.
    `a` and `b` are closed once the new run is whole; on an error it is closed instead."""
    out = _Run(a.reads)
    try:
        left, right = a.chunks(), b.chunks()
        x, y = next(left, None), next(right, None)
        while x is not None and y is not None:
            cut = min(x[-1], y[-1])  # everything up to the smaller last hash can be written now
            i, j = np.searchsorted(x, cut, side="right"), np.searchsorted(y, cut, side="right")
            out.write(np.sort(np.concatenate([x[:i], y[:j]]), kind="stable"))  # two sorted runs: linear
            x, y = x[i:], y[j:]
            if not len(x):
                x = next(left, None)
            if not len(y):
                y = next(right, None)
        for rest, chunks in ((x, left), (y, right)):
            while rest is not None:
                out.write(rest)
                rest = next(chunks, None)
        out.sealed()
    except BaseException:
        out.close()
        raise
    a.close()
    b.close()
    return out


class SeenIds:
    """The hashes of the event ids seen so far in one batch (see the module docstring)."""

    def __init__(self, memory_ids: int | None = None, filter_words: int = _FILTER_WORDS,
                 reads: RunReads = RunReads()):  # noqa: B008 - frozen, so one shared default
        self._memory_ids = MEMORY_IDS if memory_ids is None else memory_ids
        self._reads = reads
        self._filter = _Filter(filter_words)
        self._levels: list[np.ndarray] = []  # in memory, sorted, each more than twice as long as the next
        self._runs: list[_Run] = []  # on disk, sorted, each more than twice as long as the next
        self._closed = False
        self.count = 0

    def admit(self, hashes: np.ndarray) -> np.ndarray:
        """Mask of the hashes not seen before (of repeats within them, the first wins); remembers them."""
        if self._closed:
            raise RuntimeError("SeenIds is closed: it no longer knows what it saw")
        ordered = np.sort(hashes)
        if len(ordered) > 1 and (ordered[1:] == ordered[:-1]).any():
            _, first = np.unique(hashes, return_index=True)
            fresh = np.zeros(len(hashes), dtype=bool)
            fresh[first] = True
        else:
            fresh = np.ones(len(hashes), dtype=bool)
        if self.count:
            maybe = np.flatnonzero(fresh & self._filter.may_hold(hashes))
            if len(maybe):
                # sorted needles: each binary search starts where the previous one ended
                maybe = maybe[np.argsort(hashes[maybe])]
                fresh[maybe[self._contains(hashes[maybe])]] = False
        new = ordered if fresh.all() else np.sort(hashes[fresh])
        if len(new):
            try:
                self._remember(new)
            except BaseException:
                self.close()  # ids counted and filtered but not stored: this set can no longer answer
                raise
        return fresh

    def close(self) -> None:
        """Delete the runs on disk and let the filter and levels go (the batch is read, and its cells
        are about to be stored: the memory's peak). Idempotent; the temporary files would go anyway
        when the process ends."""
        self._closed = True
        for run in self._runs:
            run.close()
        self._runs, self._levels, self._filter = [], [], None

    def _contains(self, needles: np.ndarray) -> np.ndarray:
        found = np.zeros(len(needles), dtype=bool)
        for level in self._levels:
            found |= _member(level, needles)
        for run in self._runs:
            rest = np.flatnonzero(~found)
            if not len(rest):
                break
            found[rest[run.contains(needles[rest])]] = True
        return found

    def _remember(self, new: np.ndarray) -> None:
        self.count += len(new)
        if self.count * _BITS_PER_ID > len(self._filter.words) * 64:
            self._grow_filter()
        self._filter.add(new)
        while self._levels and len(self._levels[-1]) <= 2 * len(new):
            new = np.sort(np.concatenate([self._levels.pop(), new]), kind="stable")  # two sorted runs: linear
        if len(new) * 2 < self._memory_ids:
            self._levels.append(new)  # each level over twice the next: all of them less than twice the first
            return
        # half the budget in one array: it goes to disk, so the levels hold less than the budget
        run = _Run(self._reads)
        try:
            run.write(new)
            run.sealed()
        except BaseException:
            run.close()
            raise
        self._runs.append(run)
        while len(self._runs) > 1 and self._runs[-2].size <= 2 * self._runs[-1].size:
            self._runs[-2:] = [_merged(self._runs[-2], self._runs[-1])]

    def _grow_filter(self) -> None:
        """Twice the words, rebuilt from every hash (streamed from disk)."""
        words = len(self._filter.words) * 2
        while self.count * _BITS_PER_ID > words * 64:
            words *= 2
        self._filter = None  # before the new one is made: not both at once
        self._filter = _Filter(words)
        for level in self._levels:
            self._filter.add(level)
        for run in self._runs:
            for hashes in run.chunks():
                self._filter.add(hashes)
