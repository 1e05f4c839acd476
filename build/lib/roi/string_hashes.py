"""Fast 64-bit hashes of event ids, for deduplication within a batch.

The hash of a string s of L bytes (UTF-8; a null counts as the empty string) is

    h(s) = U[L] + sum(s[i] * W[i] for i < L)    (mod 2**64)

where the position weights W[i] and the length weights U[L] are independent
uniform 64-bit random numbers, drawn from a seed chosen at random by each
process, 4096 at a time (block k of W is `_block(0, k)`, block k of U is
`_block(1, k)`), so every position and every length, however long, has its
own weight. The seed must stay secret to the process: the hash is linear, so
with known weights lattice reduction finds two ids that collide in seconds,
and one of them would be dropped as a duplicate.

Collision bound, for ANY two distinct strings s and t, the probability being
over the random weights:

- different lengths: h(s) - h(t) contains U[len(s)] - U[len(t)], each with
  coefficient +-1, so it is uniform: P[h(s) == h(t)] = 2**-64;
- same length: h(s) - h(t) = sum(d_i * W[i]) with d_i = s[i] - t[i] in
  (-256, 256) and some d_j != 0, whose 2-adic valuation v is at most 7.
  Whatever the other weights, d_j * W[j] == c (mod 2**64) has at most 2**v
  solutions W[j] out of 2**64: P[h(s) == h(t)] <= 2**-57.

The hashes are transient (never stored): the formula may change freely.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:  # pandas loads only where a function needs it
    import pandas as pd

_SEED = secrets.randbits(64)  # per process: see the module docstring
_BLOCK = 4096  # weights drawn per block
_CACHED = 16 * _BLOCK  # positions and lengths whose weights stay in memory (512 KiB each)
_EXACT_ROWS, _EXACT_BYTES = 16, 8192  # a length with this many rows and bytes in a call is a group of its own
_PAD_BYTES = 4  # up to this many padding bytes per row on average, all rows are hashed as one group
_BATCH_BYTES = 1 << 24  # bytes gathered at once (the gathered matrix is uint8)
_SMALL_CHUNKS = 1024  # chunked input with fewer rows per chunk on average is combined first


def _block(stream: int, k: int) -> np.ndarray:
    """Weights k*4096 .. k*4096+4095 of stream 0 (positions, W) or 1 (lengths, U)."""
    return np.random.default_rng([_SEED, stream, k]).bit_generator.random_raw(_BLOCK)


_W = np.concatenate([_block(0, k) for k in range(_CACHED // _BLOCK)])
_U = np.concatenate([_block(1, k) for k in range(_CACHED // _BLOCK)])


def _weights(stream: int, start: int, stop: int) -> np.ndarray:
    """W[start:stop] (stream 0) or U[start:stop] (stream 1), drawn beyond the cached part."""
    table = _W if stream == 0 else _U
    if stop <= len(table):
        return table[start:stop]
    first = start // _BLOCK
    drawn = np.concatenate([_block(stream, k) for k in range(first, (stop - 1) // _BLOCK + 1)])
    return drawn[start - first * _BLOCK : stop - first * _BLOCK]


def hash_strings(values: pd.Series | pa.Array | pa.ChunkedArray) -> np.ndarray:
    """64-bit hashes (numpy uint64, one per value) of strings: h(s) of the module docstring.

    `values` is an Arrow array or chunked array of strings (string or
    large_string, binary too; other types are cast to large_string), a slice
    of one, or anything `pa.array` takes (a pandas Series). A null hashes as
    "", whatever bytes its slot covers. Equal strings hash equal whatever the
    container; two distinct strings collide with probability at most 2**-57.

    The bytes are gathered into (rows, L) uint8 matrices (one copy of the
    bytes; none when all strings have the same length) and multiplied by
    W[:L] in one numpy pass each: all rows at once, padded to the longest
    and the padding masked, when lengths are close (ids mostly are); else a
    matrix per frequent length, and one per power of two for the others.
    Strings of 64 KiB or more are hashed one at a time.
    """
    array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values)
    if isinstance(array, pa.Array):
        return _hash_array(array)
    chunks = array.chunks
    if len(chunks) > 1 and len(array) < _SMALL_CHUNKS * len(chunks):
        # many small chunks: one pass over their concatenation costs less than a pass per chunk
        wide = pa.large_binary() if _is_binary(array.type) else pa.large_string()
        chunks = [array.cast(wide).combine_chunks()]
    if not chunks:
        return np.zeros(0, dtype=np.uint64)
    return np.concatenate([_hash_array(chunk) for chunk in chunks])


def _is_binary(kind: pa.DataType) -> bool:
    return pa.types.is_binary(kind) or pa.types.is_large_binary(kind)


def _hash_array(array: pa.Array) -> np.ndarray:
    kind = array.type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or _is_binary(kind)):
        array = pc.cast(array, pa.large_string())
        kind = array.type
    n = len(array)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    wide = pa.types.is_large_string(kind) or pa.types.is_large_binary(kind)
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64 if wide else np.int32)
    offsets = offsets[array.offset : array.offset + n + 1]
    lengths = np.diff(offsets)
    if array.null_count:
        lengths[~array.is_valid().to_numpy(zero_copy_only=False)] = 0  # a null hashes as ""
    starts = offsets[:-1]
    data = np.zeros(0, dtype=np.uint8) if buffers[2] is None else np.frombuffer(buffers[2], dtype=np.uint8)

    top = int(lengths.max())
    if top == 0:
        return np.full(n, _U[0])
    hashes = np.empty(n, dtype=np.uint64)
    if top < _CACHED and n * top <= int(offsets[-1] - offsets[0]) + _PAD_BYTES * n:
        # lengths close to the longest (ids mostly are): every row at once, padded to the longest
        _hash_rows(hashes, data, starts, lengths, None, int(lengths.min()), top)
        return hashes

    capped = lengths if top < _CACHED else np.minimum(lengths, _CACHED)  # _CACHED: hashed one at a time
    counts = np.bincount(capped)
    # groups: 0 = empty strings (U[0] and nothing else), then ranges of lengths
    present = np.flatnonzero(counts[1:_CACHED]) + 1
    frequent = (counts[present] >= _EXACT_ROWS) & (counts[present] * present >= _EXACT_BYTES)
    exact, rare = present[frequent], present[~frequent]
    groups = [(length, length) for length in exact.tolist()]
    group_of = np.zeros(len(counts), dtype=np.intp)
    group_of[exact] = np.arange(1, len(exact) + 1)
    if len(rare):  # rare lengths in (2**(c-1), 2**c] share one group, padded to its longest
        power = np.ceil(np.log2(rare)).astype(np.intp)
        _, first, which = np.unique(power, return_index=True, return_inverse=True)
        last = np.append(first[1:], len(rare)) - 1
        groups += list(zip(rare[first].tolist(), rare[last].tolist(), strict=True))
        group_of[rare] = len(exact) + 1 + which
    if top >= _CACHED:
        groups.append((_CACHED, _CACHED))
        group_of[_CACHED] = len(groups)

    small = np.uint8 if len(groups) < 256 else np.uint16 if len(groups) < 65536 else np.uint32
    key = group_of.astype(small)[capped]
    order = np.argsort(key, kind="stable")  # radix sort for 8 and 16 bits; starts stay ascending per group
    bounds = np.cumsum(np.bincount(key, minlength=len(groups) + 1)).tolist()
    hashes[order[: bounds[0]]] = _U[0]
    for group, (shortest, longest) in enumerate(groups, start=1):
        rows = order[bounds[group - 1] : bounds[group]]
        if shortest == _CACHED:
            for row in rows.tolist():
                hashes[row] = _hash_long(data, int(starts[row]), int(lengths[row]))
        else:
            _hash_rows(hashes, data, starts, lengths, rows, shortest, longest)
    return hashes


def _hash_rows(hashes: np.ndarray, data: np.ndarray, starts: np.ndarray, lengths: np.ndarray,
               rows: np.ndarray | None, shortest: int, width: int) -> None:
    """hashes[rows] = U[length] + sum(byte[i] * W[i] for i < length), for lengths in [shortest, width].

    `rows` (None: all) must have ascending starts, as Arrow offsets do.
    """
    weights = _W[:width]
    if rows is None and shortest == width:  # every row has this length: the bytes are the matrix
        first = int(starts[0])
        matrix = data[first : first + len(hashes) * width].reshape(-1, width)
        np.einsum("ij,j->i", matrix, weights, out=hashes)
        hashes += _U[width]
        return
    # the `width` bytes from each start, as one item each (a gather copies them into rows of a matrix)
    windows = np.ndarray((max(len(data) - width + 1, 0),), dtype=f"V{width}", buffer=data, strides=(1,))
    total = len(hashes) if rows is None else len(rows)
    step = max(1, _BATCH_BYTES // width)
    for at in range(0, total, step):
        part = slice(at, min(at + step, total)) if rows is None else rows[at : at + step]
        begin, size = starts[part], lengths[part]
        sums = hashes[part] if rows is None else np.empty(len(begin), dtype=np.uint64)
        # rows whose window ends inside the data (`begin` is ascending)
        fit = int(np.searchsorted(begin, begin.dtype.type(len(data) - width), side="right"))
        _sums(windows[begin[:fit]], size[:fit], shortest, weights, sums[:fit])
        if fit < len(begin):  # the last rows: their windows read past the data, into zeros
            cut = int(begin[fit])
            tail = np.zeros(len(data) - cut + width, dtype=np.uint8)
            tail[: len(data) - cut] = data[cut:]
            tail_windows = np.ndarray((len(tail) - width + 1,), dtype=f"V{width}", buffer=tail, strides=(1,))
            _sums(tail_windows[begin[fit:] - cut], size[fit:], shortest, weights, sums[fit:])
        sums += _U[width] if shortest == width else _U[size]
        if rows is not None:
            hashes[part] = sums


def _sums(windows: np.ndarray, size: np.ndarray, shortest: int, weights: np.ndarray, out: np.ndarray) -> None:
    """out = sum(byte[i] * W[i] for i < size), over gathered windows of len(weights) bytes."""
    width = len(weights)
    matrix = windows.view(np.uint8).reshape(len(windows), width)
    if shortest == width:
        np.einsum("ij,j->i", matrix, weights, out=out)
        return
    short = np.flatnonzero(size < width)
    if len(short) * 4 > len(matrix):  # mostly short rows: zero the bytes past each end, then sum
        _mask(matrix, size, shortest)
        np.einsum("ij,j->i", matrix, weights, out=out)
    else:  # mostly full rows: sum them all, then the short ones again, masked
        np.einsum("ij,j->i", matrix, weights, out=out)
        if len(short):
            matrix = matrix[short]
            _mask(matrix, size[short], shortest)
            out[short] = np.einsum("ij,j->i", matrix, weights)


def _mask(matrix: np.ndarray, size: np.ndarray, shortest: int) -> None:
    """Zero matrix[r, i] for i >= size[r] (i >= shortest: the first columns hold bytes in every row)."""
    width = matrix.shape[1]
    if width - shortest <= 16:  # a few columns: one long vector operation each
        for column in range(shortest, width):
            np.multiply(matrix[:, column], size > column, out=matrix[:, column])
    else:
        tail = matrix[:, shortest:]
        tail *= np.arange(shortest, width) < size[:, None]


def _hash_long(data: np.ndarray, start: int, length: int) -> int:
    """The hash of one string of 64 KiB or more, _CACHED bytes at a time."""
    total = int(_weights(1, length, length + 1)[0])
    for at in range(0, length, _CACHED):
        stop = min(length, at + _CACHED)
        total += int(np.einsum("i,i->", data[start + at : start + stop], _weights(0, at, stop)))
    return total & 0xFFFF_FFFF_FFFF_FFFF
